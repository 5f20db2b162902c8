"""How commands print: one JSON object on stdout with ``--json``, readable text otherwise.

Progress bars and logs go to stderr so that ``--json`` output can always be piped into ``jq``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table


def emit(
    payload: dict[str, Any], as_json: bool, render: Callable[[Console], None] | None = None
) -> None:
    """Print ``payload`` as JSON, or hand a console to ``render`` (default: key: value lines)."""
    if as_json:
        sys.stdout.write(json.dumps(payload, default=str) + "\n")
        return
    console = Console()
    if render is not None:
        render(console)
        return
    for key, value in payload.items():
        console.print(f"[bold]{key}[/bold]: {value}", highlight=False)


def table(
    console: Console,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    title: str | None = None,
) -> None:
    """Render rows as a table."""
    grid = Table(title=title)
    for column in columns:
        grid.add_column(str(column))
    for row in rows:
        grid.add_row(*(json.dumps(v, default=str) if not isinstance(v, str) else v for v in row))
    console.print(grid)


def fail(message: str, as_json: bool, code: int = 1) -> typer.Exit:
    """Report an error (stderr, and as ``{"error": …}`` on stdout with --json); return the Exit."""
    if as_json:
        sys.stdout.write(json.dumps({"error": message}) + "\n")
    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)
