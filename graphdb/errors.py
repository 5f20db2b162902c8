"""One root error for the graph layer, with narrow subclasses the CLI turns into clear messages."""

from __future__ import annotations


class GraphDBError(Exception):
    """Root of every error raised by the graph layer."""


class LocalNeo4jError(GraphDBError):
    """The local Neo4j could not be built, started, found or stopped."""


class ConnectionNotConfigured(GraphDBError):
    """No Neo4j to talk to: neither NEO4J_URI nor a running local Neo4j."""


class DataValidationError(GraphDBError):
    """A dataset file is missing or malformed; nothing has been written to the graph.

    The message always names the file and, for a bad row, the line (1-based, header = line 1)
    and the column, as ``file:line: column 'name': problem``.
    """

    def __init__(self, path: str, problem: str, line: int | None = None, column: str | None = None):
        self.path = path
        self.line = line
        self.column = column
        self.problem = problem
        where = path if line is None else f"{path}:{line}"
        what = problem if column is None else f"column '{column}': {problem}"
        super().__init__(f"{where}: {what}")
