"""Interest canonicalisation: which interest names are spellings of the same interest.

Two names join one group when

1. their *spelling key* is equal: case, punctuation and spacing removed, ``&``/``n``/``'n'``
   read as ``and``, a plural ``s`` dropped (``Sci-Fi`` = ``sci fi`` = ``scifi``;
   ``female vocalists`` = ``female vocalist``; ``rock n roll`` = ``rock and roll``); or
2. one is an *abbreviation* of the other (two or more words, the same number, each word of one
   a prefix of the other's: ``sci fi`` → ``science fiction``) **and** their name embeddings agree
   (cosine ≥ ``min_similarity``), so ``drama``/``dramatic`` (0.72 with MiniLM) stay apart.

Embedding similarity alone is not used: MiniLM puts ``indie rock`` and ``indie pop`` (0.90)
closer than ``sci-fi`` and ``science fiction`` (0.82), so no threshold separates synonyms from
siblings. Groups close transitively (union-find); the canonical member is a catalogue genre if
there is one, else the most used, then the shortest name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_SIMILARITY = 0.75
_AND = re.compile(r"(?:^|\s)(?:&|n|'n'|'n|n')(?=\s|$)")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
KIND_PRIORITY = {"genre": 0, "topic": 1, "tag": 2}


@dataclass(frozen=True)
class InterestName:
    """An interest as the canonicaliser sees it."""

    id: str
    name: str
    kind: str = "tag"
    uses: int = 0


def words(name: str) -> list[str]:
    lowered = _AND.sub(" and ", f" {name.casefold()} ")
    return [w for w in _NON_ALNUM.split(lowered) if w]


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss") and not word[:-1].isdigit():
        return word[:-1]
    return word


def spelling_key(name: str) -> str:
    """``Sci-Fi`` → ``scifi``; ``Female Vocalists`` → ``femalevocalist``."""
    return "".join(_singular(w) for w in words(name))


def is_abbreviation(a: str, b: str) -> bool:
    """At least two words each, the same number, each word of one a prefix of the other's, and
    not the same words. One-word prefixes (``synth``/``synthpop``, ``indie``/``indierock``)
    are siblings far more often than synonyms, and would chain whole families together."""
    wa, wb = words(a), words(b)
    if len(wa) < 2 or len(wa) != len(wb) or wa == wb:
        return False
    return all(x.startswith(y) or y.startswith(x) for x, y in zip(wa, wb, strict=True))


def canonical_groups(
    interests: Sequence[InterestName],
    name_vectors: np.ndarray,
    min_similarity: float = MIN_SIMILARITY,
) -> list[list[InterestName]]:
    """Groups of two or more interests to merge, canonical member first.

    ``name_vectors[i]`` is the unit embedding of ``interests[i].name`` alone.
    """
    parent = list(range(len(interests)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        parent[find(i)] = find(j)

    by_key: dict[str, int] = {}
    for index, interest in enumerate(interests):
        key = spelling_key(interest.name)
        if key in by_key:
            union(index, by_key[key])
        else:
            by_key[key] = index
    # abbreviations: candidates share a first letter per word, so bucket by initials
    buckets: dict[str, list[int]] = {}
    for index, interest in enumerate(interests):
        initials = "".join(w[0] for w in words(interest.name))
        if initials:
            buckets.setdefault(initials, []).append(index)
    for members in buckets.values():
        for a_pos, a in enumerate(members):
            for b in members[a_pos + 1 :]:
                if find(a) == find(b):
                    continue
                if (
                    is_abbreviation(interests[a].name, interests[b].name)
                    and float(name_vectors[a] @ name_vectors[b]) >= min_similarity
                ):
                    union(a, b)
    groups: dict[int, list[InterestName]] = {}
    for index, interest in enumerate(interests):
        groups.setdefault(find(index), []).append(interest)
    ordered = [
        sorted(g, key=lambda i: (KIND_PRIORITY.get(i.kind, 3), -i.uses, len(i.name), i.id))
        for g in groups.values()
        if len(g) > 1
    ]
    return sorted(ordered, key=lambda g: g[0].id)
