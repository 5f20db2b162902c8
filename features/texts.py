"""Deterministic node texts: the same graph facts always give the same text (and cache key).

Texts are plain sentences, strongest signals first, capped so that a 256-token encoder sees
what matters:

- Item: ``"{title} ({year}). {description} Genres: a, b. Tags: x, y."``
- Interest: ``"{name}: a {kind}. {description}"``
- User: the supplied profile text if any; otherwise built from the interests and items given,
  which lets training code pass only its training edges, so held-out edges never leak into
  a feature.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_TAGS = 12
MAX_USER_INTERESTS = 15
MAX_USER_ITEMS = 20


@dataclass(frozen=True)
class WeightedName:
    """A neighbour's display name with the edge weight that ranks it."""

    name: str
    weight: float = 1.0


def weighted_names(entries: Iterable[Mapping[str, Any]]) -> list[WeightedName]:
    """``[{name, weight}]`` records (as graph queries return them) → names; nameless dropped."""
    return [WeightedName(e["name"], e.get("weight") or 0.0) for e in entries if e.get("name")]


def _strongest(names: Iterable[WeightedName], limit: int) -> list[str]:
    """Names by weight (desc), ties by name, de-duplicated, at most ``limit``."""
    ranked = sorted(names, key=lambda n: (-n.weight, n.name))
    seen: list[str] = []
    for entry in ranked:
        if entry.name not in seen:
            seen.append(entry.name)
        if len(seen) == limit:
            break
    return seen


def item_text(
    title: str | None,
    year: int | None = None,
    genres: Sequence[str] = (),
    tags: Iterable[WeightedName] = (),
    description: str | None = None,
) -> str:
    """Text of an item from its catalogue facts, strongest tags and optional description."""
    parts = [f"{title or 'Untitled'}" + (f" ({year})." if year else ".")]
    if description:
        parts.append(description.strip())
    if genres:
        parts.append("Genres: " + ", ".join(genres) + ".")
    top_tags = _strongest(tags, MAX_TAGS)
    if top_tags:
        parts.append("Tags: " + ", ".join(top_tags) + ".")
    return " ".join(parts)


def listed_tags(text: str) -> set[str]:
    """The tag names an :func:`item_text` lists, for audits of what a text reveals."""
    marker = text.rfind("Tags: ")
    if marker < 0 or not text.endswith("."):
        return set()
    return {t.strip() for t in text[marker + len("Tags: ") : -1].split(", ")}


def interest_text(name: str, kind: str, description: str | None = None) -> str:
    """Text of an interest: its name and kind, plus a description when one is known."""
    text = f"{name}: a {kind}."
    return f"{text} {description.strip()}" if description else text


def user_text(
    profile: str | None = None,
    interests: Iterable[WeightedName] = (),
    items: Iterable[WeightedName] = (),
) -> str:
    """A supplied profile wins; else a summary of the strongest interests and items given."""
    if profile and profile.strip():
        return profile.strip()
    parts: list[str] = []
    top_interests = _strongest(interests, MAX_USER_INTERESTS)
    if top_interests:
        parts.append("Interested in " + ", ".join(top_interests) + ".")
    top_items = _strongest(items, MAX_USER_ITEMS)
    if top_items:
        parts.append("Liked " + "; ".join(top_items) + ".")
    return " ".join(parts) or "A new user with no history yet."
