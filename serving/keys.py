"""API keys: created once by ``interestgraph serve --create-key``, stored only as hashes.

A key is 32 random bytes (URL-safe base64, prefixed ``igk_``), shown once. The key file holds
``{"keys": [{"id", "sha256", "created", "admin"?}]}`` (an admin key may also erase users);
SHA-256 suffices for keys of that entropy (no
password-style stretching needed) and lets every request be checked in microseconds. The file
is re-read when it changes, so a new key works without restarting the service.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

KEY_PREFIX = "igk_"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(path: Path, admin: bool = False) -> dict[str, str]:
    """Add a new key to ``path`` (created with mode 0600) and return ``{"id", "key"}``; the
    key itself is not stored anywhere. An ``admin`` key may also erase users."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    entry: dict[str, Any] = {
        "id": secrets.token_hex(4),
        "sha256": _digest(key),
        "created": datetime.now(UTC).isoformat(),
    }
    if admin:
        entry["admin"] = True
    stored = _read(path)
    stored.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"keys": stored}, out, indent=1)
    partial.replace(path)
    return {"id": entry["id"], "key": key}


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        return list(json.loads(path.read_text())["keys"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not an interestgraph key file ({e})") from None


class KeyStore:
    """Checks keys against the hashes in one key file (re-read when its mtime changes)."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._digests: list[str] = []
        self._admin: list[str] = []

    def _current(self, admin: bool = False) -> list[str]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return []
        with self._lock:
            if mtime != self._mtime:
                entries = _read(self.path)
                self._digests = [entry["sha256"] for entry in entries]
                self._admin = [entry["sha256"] for entry in entries if entry.get("admin")]
                self._mtime = mtime
            return self._admin if admin else self._digests

    def has_keys(self) -> bool:
        return bool(self._current())

    def verify(self, key: str | None, admin: bool = False) -> bool:
        """Whether ``key`` is one of the stored keys (an admin one, with ``admin``), in constant
        time per comparison."""
        if not key:
            return False
        digest = _digest(key)
        return any(hmac.compare_digest(digest, known) for known in self._current(admin))
