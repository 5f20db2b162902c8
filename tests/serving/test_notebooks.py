"""The notebooks run from top to bottom against the served test graph (a real Neo4j with a
current prediction run), in a fresh kernel of this environment, as a reader would run them."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from graphdb.connection import Neo4jTarget

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _outputs(notebook: nbformat.NotebookNode, kind: str) -> list[dict]:
    return [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if kind in output.get("data", {})
    ]


@pytest.mark.parametrize(
    ("name", "images"),
    [
        ("01_graph_tour", 1),
        ("02_train_and_evaluate", 2),
        ("03_interest_expansion_explained", 2),
    ],
)
def test_notebook_runs_and_shows_its_results(
    name: str,
    images: int,
    served_graph: dict,
    target: Neo4jTarget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTERESTGRAPH_HOME", str(served_graph["home"]))
    monkeypatch.setenv("NEO4J_URI", target.uri)
    monkeypatch.setenv("NEO4J_USER", target.user)
    monkeypatch.setenv("NEO4J_PASSWORD", target.password)
    monkeypatch.setenv("NOTEBOOK_EPOCHS", "2")
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": "."}}
    ).execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    assert len(_outputs(notebook, "image/png")) >= images
    assert _outputs(notebook, "text/html"), "no table was displayed"
