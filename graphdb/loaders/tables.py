"""Validated reading of delimited files with file:line:column errors.

pandas would be faster to parse, but it cannot say which line and column is wrong; these files
are small enough (100k–200k rows) for the csv module, which can.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphdb.errors import DataValidationError

Parser = Callable[[str], Any]


def parse_int(value: str) -> int:
    """An integer field; raises ValueError with what was found."""
    try:
        return int(value.strip())
    except ValueError:
        raise ValueError(f"expected an integer, got {value!r}") from None


def parse_float(value: str) -> float:
    """A finite number."""
    try:
        number = float(value.strip())
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def parse_text(value: str) -> str:
    """A non-empty string, kept exactly as written apart from surrounding whitespace."""
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    return text


#: Neo4j's range indexes refuse keys over about 8 KB; ids, titles and interest names are
#: indexed, so longer values are rejected while validating, before anything is written.
MAX_KEY_BYTES = 4096


def parse_key(value: str) -> str:
    """An indexed value (id, title, interest): non-empty text of at most ``MAX_KEY_BYTES``."""
    text = parse_text(value)
    size = len(text.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise ValueError(f"{size} bytes; ids, titles and interests hold at most {MAX_KEY_BYTES}")
    return text


def parse_optional_key(value: str) -> str | None:
    """An indexed value that may be empty (then None)."""
    return parse_key(value) if value.strip() else None


def parse_optional_text(value: str) -> str | None:
    """A string that may be empty (then None)."""
    return value.strip() or None


def bounded(parser: Parser, low: float, high: float) -> Parser:
    """Wrap a numeric parser with an inclusive range check."""

    def parse(value: str) -> Any:
        number = parser(value)
        if not low <= number <= high:
            raise ValueError(f"{number} is outside [{low}, {high}]")
        return number

    return parse


@dataclass(frozen=True)
class Column:
    """One expected column: its header name, its parser, and whether it may be absent."""

    name: str
    parse: Parser
    required: bool = True


@dataclass(frozen=True)
class TableFormat:
    """How a file is laid out."""

    delimiter: str = ","
    encoding: str = "utf-8"
    quoting: int = csv.QUOTE_MINIMAL


COMMA = TableFormat()
TAB = TableFormat(delimiter="\t", quoting=csv.QUOTE_NONE)


#: what an attribute column is called (``attr_country``): a property name Cypher can hold as is
ATTRIBUTE_NAME = re.compile(r"^attr_[A-Za-z0-9_]{1,64}$")


def read_rows(
    path: Path,
    columns: Sequence[Column],
    fmt: TableFormat = COMMA,
    *,
    exact_header: bool = True,
    attributes: bool = False,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, parsed_row)`` for each data row, validating as it goes.

    With ``exact_header`` the header must list exactly ``columns`` in order (the public datasets);
    without it, columns are matched by name, optional ones may be missing and unknown ones are an
    error (the generic CSV format, where a typo such as ``wieght`` must not be silently ignored).
    With ``attributes``, columns named like :data:`ATTRIBUTE_NAME` are accepted too and come back
    as ``row["attributes"]``: name → text, empty cells left out.
    """
    name = str(path)
    try:
        handle = open(path, newline="", encoding=fmt.encoding)  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        raise DataValidationError(name, "file not found") from None
    with handle:
        reader = csv.reader(handle, delimiter=fmt.delimiter, quoting=fmt.quoting)
        try:
            header = [h.strip().lstrip("\ufeff") for h in next(reader)]
        except StopIteration:
            raise DataValidationError(name, "file is empty (no header line)", line=1) from None
        except UnicodeDecodeError as e:
            raise DataValidationError(
                name, f"not {fmt.encoding} text: {e.reason}", line=1
            ) from None
        extra = _attribute_columns(name, header) if attributes else []
        positions = _match_header(name, header, columns, exact_header, {h for h, _ in extra})
        try:
            for fields in reader:
                line = reader.line_num
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                if len(fields) != len(header):
                    raise DataValidationError(
                        name, f"expected {len(header)} fields, found {len(fields)}", line=line
                    )
                row: dict[str, Any] = {}
                for column, index in positions:
                    try:
                        row[column.name] = column.parse(fields[index])
                    except ValueError as e:
                        raise DataValidationError(
                            name, str(e), line=line, column=f"{index + 1} ({column.name})"
                        ) from None
                if attributes:
                    row["attributes"] = _attribute_values(name, line, fields, extra)
                yield line, row
        except UnicodeDecodeError as e:
            raise DataValidationError(
                name, f"not {fmt.encoding} text: {e.reason}", line=reader.line_num + 1
            ) from None
        except csv.Error as e:
            raise DataValidationError(name, f"malformed CSV: {e}", line=reader.line_num) from None


def _attribute_columns(name: str, header: list[str]) -> list[tuple[str, int]]:
    """The header's ``attr_*`` columns with their positions; a malformed one is an error."""
    found = [(h, i) for i, h in enumerate(header) if h.startswith("attr_")]
    for column, index in found:
        if not ATTRIBUTE_NAME.match(column):
            raise DataValidationError(
                name,
                f"attribute column {column!r} must be attr_ followed by 1-64 letters, digits or _",
                line=1,
                column=str(index + 1),
            )
    return found


def _attribute_values(
    name: str, line: int, fields: list[str], columns: list[tuple[str, int]]
) -> dict[str, str]:
    values = {}
    for column, index in columns:
        value = fields[index].strip()
        if len(value.encode()) > MAX_KEY_BYTES:
            raise DataValidationError(
                name,
                f"longer than {MAX_KEY_BYTES} bytes",
                line=line,
                column=f"{index + 1} ({column})",
            )
        if value:
            values[column] = value
    return values


def _match_header(
    name: str,
    header: list[str],
    columns: Sequence[Column],
    exact: bool,
    extra: Collection[str] = (),
) -> list[tuple[Column, int]]:
    if exact:
        expected = [c.name for c in columns]
        if header != expected:
            raise DataValidationError(name, f"header is {header}, expected {expected}", line=1)
        return [(c, i) for i, c in enumerate(columns)]
    known = {c.name for c in columns}
    unknown = [h for h in header if h not in known and h not in extra]
    if unknown:
        raise DataValidationError(
            name, f"unknown column(s) {unknown}; allowed: {sorted(known)}", line=1
        )
    missing = [c.name for c in columns if c.required and c.name not in header]
    if missing:
        raise DataValidationError(name, f"missing required column(s) {missing}", line=1)
    return [(c, header.index(c.name)) for c in columns if c.name in header]


def require_files(data_dir: Path, dataset: str, required: Sequence[str]) -> None:
    """Fail before reading anything if the folder lacks files, naming every expected one."""
    if not data_dir.is_dir():
        raise DataValidationError(str(data_dir), f"not a directory (expected the {dataset} files)")
    missing = [f for f in required if not (data_dir / f).is_file()]
    if missing:
        raise DataValidationError(
            str(data_dir),
            f"missing {', '.join(missing)}; a {dataset} folder holds {', '.join(required)}",
        )
