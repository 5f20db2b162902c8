"""What ``demo`` prints to show the point: for a few users of the current run, what they
showed, what the run opens up for them and which items follow, each with its best reason."""

from __future__ import annotations

from typing import Any

from serving.lookups import Lookups


def showcase(lookups: Lookups, users: int = 3, k: int = 3) -> dict[str, Any]:
    """The first ``users`` of the current run that have both known and expanded interests,
    with their top ``k`` of each and their top ``k`` items, each item with the sentence of its
    best explanation path."""
    run = lookups.run_details(samples=20)
    shown = []
    for user in run.sample_users:
        interests = lookups.interests(user, k)
        if not interests.known or not interests.expanded:
            continue
        items = lookups.recommendations(user, "item", k, explain=True, paths=1)
        shown.append(
            {
                "user": user,
                "known": [i.name or i.id for i in interests.known],
                "expanded": [
                    {"name": i.name or i.id, "score": i.score} for i in interests.expanded
                ],
                "items": [
                    {
                        "title": r.name or r.id,
                        "score": r.score,
                        "why": r.explanations[0].sentence if r.explanations else None,
                    }
                    for r in items.recommendations
                ],
            }
        )
        if len(shown) == users:
            break
    return {"run": run.id, "users": shown}
