"""Tagging events, kept as data, and the folded edges Cypher users query.

A tagging event is one user applying one tag to one item at a time ``ts``. Loaders keep every
event as ``(:User)-[:TAGGED {interest, ts, count}]->(:Item)`` (one relationship per user, item
and tag: ``ts`` is the first application, ``count`` how often it was applied), and derive from
the same events the two folded edges:

- ``(:User)-[:INTERESTED_IN {source:'tagging', weight: applications, ts: first}]->(:Interest)``
- ``(:Item)-[:HAS_INTEREST {source:'user_tag', weight: distinct taggers}]->(:Interest)``

The folded edges are convenient for Cypher but mix every event together; training rebuilds them
per split from the events it may see (``training.context``), which is why the events are kept.
An event whose item is not in the catalogue still counts towards the user's interest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from graphdb.loaders.plan import RelSet
from graphdb.schema import Label, RelType


@dataclass
class TagEvents:
    """Collects ``(user, item, interest, ts)`` events and folds them into relationship sets."""

    applied: Counter[tuple[str, str | None, str]] = field(default_factory=Counter)
    first: dict[tuple[str, str | None, str], int | None] = field(default_factory=dict)

    def add(self, user_id: str, item_id: str | None, interest_id: str, ts: int | None) -> None:
        """One application; ``item_id`` None = an item the catalogue lacks (interest only)."""
        key = (user_id, item_id, interest_id)
        self.applied[key] += 1
        earlier = self.first.get(key)
        self.first[key] = ts if earlier is None else (earlier if ts is None else min(earlier, ts))

    def relationships(self) -> list[RelSet]:
        """TAGGED events, INTERESTED_IN {tagging} and HAS_INTEREST {user_tag}, in that order."""
        tagged = RelSet(RelType.TAGGED, Label.USER, Label.ITEM, identity="interest")
        user_count: Counter[tuple[str, str]] = Counter()
        user_first: dict[tuple[str, str], int | None] = {}
        item_taggers: dict[tuple[str, str], set[str]] = {}
        for (user_id, item_id, interest_id), count in self.applied.items():
            ts = self.first[(user_id, item_id, interest_id)]
            pair = (user_id, interest_id)
            user_count[pair] += count
            earlier = user_first.get(pair)
            user_first[pair] = (
                ts if earlier is None else (earlier if ts is None else min(earlier, ts))
            )
            if item_id is None:
                continue
            tagged.add(user_id, item_id, interest=interest_id, ts=ts, count=count)
            item_taggers.setdefault((item_id, interest_id), set()).add(user_id)
        tagging = RelSet(RelType.INTERESTED_IN, Label.USER, Label.INTEREST, source="tagging")
        for pair, count in user_count.items():
            tagging.add(*pair, weight=float(count), ts=user_first[pair])
        user_tag = RelSet(RelType.HAS_INTEREST, Label.ITEM, Label.INTEREST, source="user_tag")
        for pair, taggers in item_taggers.items():
            user_tag.add(*pair, weight=float(len(taggers)))
        return [rel for rel in (tagged, tagging, user_tag) if rel.rows]
