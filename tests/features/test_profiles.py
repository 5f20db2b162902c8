"""Generated profiles through one path: a tiny randomly initialised local LM, a local
OpenAI-compatible HTTP endpoint that fails before it answers, and the CoLaKG JSON."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from features.encoder import default_model_path
from features.profiles import (
    OpenAICompatibleGenerator,
    ProfileCache,
    TransformersGenerator,
    generate_profiles,
    read_colakg_profiles,
)


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer GPT-2 with random weights and MiniLM's tokenizer, saved locally."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("tiny-lm")
    tokenizer = AutoTokenizer.from_pretrained(str(default_model_path()))
    config = GPT2Config(vocab_size=len(tokenizer), n_layer=1, n_head=2, n_embd=16, n_positions=256)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


class Counting:
    def __init__(self, inner):
        self.inner, self.id, self.calls = inner, inner.id, []

    def generate(self, prompts):
        self.calls.append(len(prompts))
        return self.inner.generate(prompts)


def test_local_lm_batches_and_caches(tiny_lm: Path, tmp_path: Path) -> None:
    generator = Counting(TransformersGenerator(str(tiny_lm), max_new_tokens=6))
    prompts = [f"A user who likes {g} movies." for g in ("horror", "comedy", "drama")] * 2
    with ProfileCache(tmp_path / "p.sqlite") as cache:
        texts, generated = generate_profiles(
            prompts, generator, cache, batch_size=2, progress=False
        )
        assert generated == 3 and generator.calls == [2, 1]  # duplicates generated once
        assert texts[:3] == texts[3:] and all(isinstance(t, str) for t in texts)
        again, generated = generate_profiles(prompts, generator, cache, progress=False)
    assert generated == 0 and again == texts and generator.calls == [2, 1]


@pytest.fixture()
def endpoint() -> Iterator[tuple[str, list[int]]]:
    """A local OpenAI-compatible server: 503 on the first request, then answers."""
    hits: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            hits.append(1)
            if len(hits) == 1:
                self.send_response(503)
                self.end_headers()
                return
            reply = {
                "choices": [
                    {"message": {"content": f"profile of {body['messages'][0]['content']}"}}
                ]
            }
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1", hits
    server.shutdown()


def test_openai_compatible_endpoint_retries(
    endpoint: tuple[str, list[int]], tmp_path: Path
) -> None:
    url, hits = endpoint
    generator = OpenAICompatibleGenerator(url, "any-model", backoff_seconds=0.01)
    with ProfileCache(tmp_path / "p.sqlite") as cache:
        texts, generated = generate_profiles(["u1 likes jazz"], generator, cache, progress=False)
    assert texts == ["profile of u1 likes jazz"] and generated == 1 and len(hits) == 2


def test_colakg_profiles_join_through_the_maps(datasets_dir: Path) -> None:
    folder = datasets_dir / "colakg-lastfm"
    users = read_colakg_profiles(folder / "llm_response_user.json", folder / "user_map.txt")
    items = read_colakg_profiles(folder / "llm_response_item.json", folder / "item_map.txt")
    assert len(users) == 1859 and len(items) == 2813
    assert users["2"].startswith("The user has a strong preference")  # index 0 is HetRec user 2
