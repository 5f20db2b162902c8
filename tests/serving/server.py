"""``interestgraph serve`` as a real process on a free port, for the tests that need HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from graphdb.connection import Neo4jTarget


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_process(home: Path, target: Neo4jTarget, ready: str = "/readyz") -> Iterator[str]:
    """Start ``serve`` against ``target`` with ``home``'s keys; yield its base URL once
    ``ready`` answers (any status when ``ready`` is ``/livez``: Neo4j may be meant to be down)."""
    port = free_port()
    env = {
        **os.environ,
        "NEO4J_URI": target.uri,
        "NEO4J_USER": target.user,
        "NEO4J_PASSWORD": target.password,
        "INTERESTGRAPH_HOME": str(home),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "interestgraph.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}{ready}").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"serve did not become ready at {base}{ready}: {stderr}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
