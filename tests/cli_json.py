"""Run the ``interestgraph`` CLI in-process with ``--json`` and read its one JSON object."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from interestgraph.cli import app

_runner = CliRunner()


def run_json(args: list[str]) -> tuple[int, dict]:
    """Exit code and the JSON object the command printed last on stdout."""
    result = _runner.invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])
