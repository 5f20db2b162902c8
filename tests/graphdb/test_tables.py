"""File validation: every bad row is reported as file:line with its column, before any write."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphdb.errors import DataValidationError
from graphdb.loaders import movielens
from graphdb.loaders.plan import normalize_interest
from graphdb.loaders.tables import Column, bounded, parse_float, parse_int, read_rows


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


COLUMNS = [Column("a", parse_int), Column("b", bounded(parse_float, 0, 5))]


def test_rows_are_parsed_with_line_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "a,b\n1,2.5\n\n3,4\n")
    assert list(read_rows(path, COLUMNS)) == [(2, {"a": 1, "b": 2.5}), (4, {"a": 3, "b": 4.0})]


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        ("a,b\n1,2\nx,3\n", 3, "column '1 (a)': expected an integer, got 'x'"),
        ("a,b\n1,2\n2,9\n", 3, "column '2 (b)': 9.0 is outside [0, 5]"),
        ("a,b\n1,2\n2\n", 3, "expected 2 fields, found 1"),
        ("a,b\n1,nan\n", 2, "expected a finite number"),
    ],
)
def test_bad_rows_name_file_line_and_column(
    tmp_path: Path, body: str, line: int, needle: str
) -> None:
    path = _write(tmp_path / "t.csv", body)
    with pytest.raises(DataValidationError) as info:
        list(read_rows(path, COLUMNS))
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert needle in str(info.value)


def test_wrong_header_is_reported_on_line_1(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "a,c\n1,2\n")
    with pytest.raises(DataValidationError, match=r"t\.csv:1: header is \['a', 'c'\]"):
        list(read_rows(path, COLUMNS))


def test_named_columns_reject_unknown_and_missing(tmp_path: Path) -> None:
    columns = [Column("a", parse_int), Column("b", parse_float, required=False)]
    typo = _write(tmp_path / "typo.csv", "a,wieght\n1,2\n")
    with pytest.raises(DataValidationError, match="unknown column"):
        list(read_rows(typo, columns, exact_header=False))
    missing = _write(tmp_path / "missing.csv", "b\n2\n")
    with pytest.raises(DataValidationError, match=r"missing required column\(s\) \['a'\]"):
        list(read_rows(missing, columns, exact_header=False))
    ok = _write(tmp_path / "ok.csv", "b,a\n2,1\n")
    assert list(read_rows(ok, columns, exact_header=False)) == [(2, {"a": 1, "b": 2.0})]


def test_missing_files_are_all_named(tmp_path: Path) -> None:
    _write(tmp_path / "movies.csv", "movieId,title,genres\n")
    with pytest.raises(DataValidationError) as info:
        movielens.parse(tmp_path)
    assert "missing ratings.csv, tags.csv" in str(info.value)
    assert "movies.csv, ratings.csv, tags.csv" in str(info.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Sci-Fi", "sci fi"),
        ("  SCI_FI! ", "sci fi"),
        ("Film-Noir", "film noir"),
        ("x'}) DETACH DELETE n //", "x detach delete n"),
        ("Beyoncé", "beyoncé"),
        ("!!!", ""),
    ],
)
def test_normalize_interest(raw: str, expected: str) -> None:
    assert normalize_interest(raw) == expected


@pytest.mark.parametrize(
    ("raw", "title", "year"),
    [
        ("Toy Story (1995)", "Toy Story", 1995),
        ("Babylon 5", "Babylon 5", None),
        ("Death Note: Desu nôto (2006–2007)", "Death Note: Desu nôto", 2006),
        (
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
            "City of Lost Children, The (Cité des enfants perdus, La)",
            1995,
        ),
    ],
)
def test_split_title(raw: str, title: str, year: int | None) -> None:
    assert movielens.split_title(raw) == (title, year)
