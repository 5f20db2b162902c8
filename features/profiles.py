"""Generated profiles: an LLM writes a short natural-language profile of a user or an item, and
that text feeds the node text (``User.text`` is the profile ``features.texts.user_text`` prefers;
``Item.text`` is the item's description).

One small interface, :class:`ProfileGenerator` (``generate(prompts) -> texts``), three sources:

- :class:`TransformersGenerator`: a local causal LM through ``transformers`` (batched, greedy,
  left padding), from a local folder;
- :class:`OpenAICompatibleGenerator`: any OpenAI-compatible ``/chat/completions`` endpoint
  given by URL (vLLM, llama.cpp server, Ollama, a hosted API), with retries and backoff;
- :class:`PrecomputedProfiles`: profiles written elsewhere (the CoLaKG JSON files), keyed by
  node id, so they travel the same path (cache, write-back) as generated ones.

:func:`generate_profiles` batches prompts, skips what the :class:`ProfileCache` already holds
(keyed by generator id and prompt hash), and stores each batch as it completes, so a killed job
resumes without paying for the same prompts twice.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

USER_PROMPT = (
    "Write a two-sentence profile of a user's tastes for a recommender system. "
    "They are interested in: {interests}. They liked: {items}.\nProfile:"
)
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
ITEM_PROMPT = "Describe in two sentences, for a recommender system: {text}\nDescription:"


class ProfileGenerator(Protocol):
    """Anything that turns prompts into texts; ``id`` keys the cache."""

    id: str

    def generate(self, prompts: Sequence[str]) -> list[str]: ...


class ProfileCache:
    """Generated texts by (generator id, sha256 of the prompt), in one SQLite file."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS profiles (generator TEXT, hash TEXT, text TEXT, "
            "PRIMARY KEY (generator, hash))"
        )

    def __enter__(self) -> ProfileCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()

    def get_many(self, generator: str, hashes: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for start in range(0, len(hashes), 500):
            chunk = list(hashes[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT hash, text FROM profiles WHERE generator = ? AND hash IN ({marks})",
                [generator, *chunk],
            )
            out.update(dict(rows.fetchall()))
        return out

    def forget_texts(self, texts: Sequence[str]) -> int:
        """Delete every cached profile equal to one of ``texts`` and compact the file (so the
        text's bytes leave the disk); returns the rows deleted."""
        with self._db:
            deleted = sum(
                self._db.execute("DELETE FROM profiles WHERE text = ?", [t]).rowcount for t in texts
            )
        self._db.execute("VACUUM")
        return deleted

    def put_many(self, generator: str, items: Mapping[str, str]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO profiles VALUES (?, ?, ?)",
                [(generator, h, t) for h, t in items.items()],
            )


def _prompt_hash(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


def generate_profiles(
    prompts: Sequence[str],
    generator: ProfileGenerator,
    cache: ProfileCache,
    batch_size: int = 8,
    progress: bool = True,
) -> tuple[list[str], int]:
    """Texts for ``prompts`` in order, and how many were generated now (the rest were cached)."""
    hashes = [_prompt_hash(p) for p in prompts]
    known = cache.get_many(generator.id, sorted(set(hashes)))
    todo = sorted({h: p for h, p in zip(hashes, prompts, strict=True) if h not in known}.items())
    with tqdm(
        total=len(todo), desc="profiles", unit="text", file=sys.stderr, disable=not progress or None
    ) as bar:
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            texts = generator.generate([p for _, p in batch])
            fresh = {h: t.strip() for (h, _), t in zip(batch, texts, strict=True)}
            cache.put_many(generator.id, fresh)
            known.update(fresh)
            bar.update(len(batch))
    return [known[h] for h in hashes], len(todo)


class PrecomputedProfiles:
    """Profiles keyed by node id; the "prompt" is the node id itself."""

    def __init__(self, texts: Mapping[str, str], name: str):
        self.texts = dict(texts)
        self.id = f"precomputed:{name}"

    def generate(self, prompts: Sequence[str]) -> list[str]:
        missing = [p for p in prompts if p not in self.texts]
        if missing:
            raise KeyError(f"no precomputed profile for {missing[0]!r}")
        return [self.texts[p] for p in prompts]


def read_colakg_profiles(json_path: Path, map_path: Path, id_prefix: str = "") -> dict[str, str]:
    """A CoLaKG ``llm_response_*.json`` (keys = remapped indices) joined through its
    ``*_map.txt`` (``original_id index``) to original ids."""
    try:
        raw = json.loads(Path(json_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{json_path}: cannot read profiles: {e}") from None
    index_to_id: dict[str, str] = {}
    for number, line in enumerate(Path(map_path).read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise ValueError(f"{map_path}:{number}: expected 'original_id index', got {line!r}")
        index_to_id[fields[1]] = f"{id_prefix}{fields[0]}"
    unknown = [k for k in raw if k not in index_to_id]
    if unknown:
        raise ValueError(f"{json_path}: key {unknown[0]!r} is not an index in {map_path}")
    return {index_to_id[k]: str(v) for k, v in raw.items()}


class TransformersGenerator:
    """Greedy decoding with a local causal LM (left-padded batches)."""

    def __init__(self, model_path: str, device: str = "cpu", max_new_tokens: int = 80):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_path, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.model = AutoModelForCausalLM.from_pretrained(model_path).to(device).eval()
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.id = f"transformers:{Path(model_path).name}:{max_new_tokens}"

    def generate(self, prompts: Sequence[str]) -> list[str]:
        import torch

        batch = self.tokenizer(
            list(prompts), return_tensors="pt", padding=True, truncation=True, max_length=512
        )
        batch = {
            k: v.to(self.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")
        }
        with torch.inference_mode():
            out = self.model.generate(
                **batch,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new_tokens = out[:, batch["input_ids"].shape[1] :]
        return self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)


class OpenAICompatibleGenerator:
    """``POST {url}/chat/completions``, one request per prompt, retried on 429/5xx/network
    errors with exponential backoff."""

    def __init__(
        self,
        url: str,
        model: str,
        api_key: str | None = None,
        retries: int = 4,
        backoff_seconds: float = 1.0,
        timeout: float = 60.0,
        max_tokens: int = 120,
    ):
        self.url = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.id = f"openai:{model}:{max_tokens}"

    def generate(self, prompts: Sequence[str]) -> list[str]:
        return [self._one(p) for p in prompts]

    def _one(self, prompt: str) -> str:
        body = json.dumps(
            {
                "model": self.model,
                "messages": [{"role": "user", "content": prompt}],
                "temperature": 0,
                "max_tokens": self.max_tokens,
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    payload = json.loads(response.read())
                return str(payload["choices"][0]["message"]["content"])
            except urllib.error.HTTPError as e:
                if e.code not in RETRY_STATUS or attempt == self.retries:
                    raise RuntimeError(f"{self.url}: HTTP {e.code}: {e.read()[:200]!r}") from None
            except (urllib.error.URLError, TimeoutError) as e:
                if attempt == self.retries:
                    raise RuntimeError(f"{self.url}: {e}") from None
            time.sleep(self.backoff_seconds * 2**attempt)
        raise AssertionError("unreachable")
