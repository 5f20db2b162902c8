"""``generate-profiles`` and ``load-profiles``: LLM-written profiles into ``User.text`` /
``Item.text``, through one path (prompts → cache → generator → write-back)."""

from __future__ import annotations

import time
from typing import Any

from neo4j import Driver

from features.profiles import (
    ITEM_PROMPT,
    USER_PROMPT,
    PrecomputedProfiles,
    ProfileCache,
    ProfileGenerator,
    generate_profiles,
)
from features.texts import weighted_names
from graphdb.profiles import nodes_with_text, write_texts
from graphdb.schema import Label
from graphdb.vectors import node_facts
from interestgraph.embedding_job import node_text


def prompt_for(label: Label, facts: dict[str, Any]) -> str:
    """The prompt of one node, from the same facts its text is built from."""
    if label is Label.USER:
        interests = ", ".join(n.name for n in weighted_names(facts["interests"])) or "unknown"
        items = "; ".join(n.name for n in weighted_names(facts["items"])) or "nothing yet"
        return USER_PROMPT.format(interests=interests, items=items)
    return ITEM_PROMPT.format(text=node_text(Label.ITEM, facts))


def write_profiles(
    driver: Driver,
    label: Label,
    generator: ProfileGenerator,
    cache: ProfileCache,
    overwrite: bool = False,
    batch_size: int = 8,
    database: str | None = None,
) -> dict[str, Any]:
    """Generate (or look up) a profile for every ``label`` node without one (all with
    ``overwrite``) and write it back. Precomputed profiles are keyed by node id instead of a
    prompt, and cover only the nodes they name."""
    started = time.perf_counter()
    skip = set() if overwrite else nodes_with_text(driver, label, database)
    facts = [f for f in node_facts(driver, label, database) if f["id"] not in skip]
    if isinstance(generator, PrecomputedProfiles):
        facts = [f for f in facts if f["id"] in generator.texts]
        prompts = [f["id"] for f in facts]
    else:
        prompts = [prompt_for(label, f) for f in facts]
    texts, generated = generate_profiles(prompts, generator, cache, batch_size)
    rows = [
        {"id": f["id"], "text": t, "source": generator.id}
        for f, t in zip(facts, texts, strict=True)
    ]
    written = write_texts(driver, label, rows, database)
    return {
        "label": label.value,
        "generator": generator.id,
        "nodes": len(facts),
        "generated": generated,
        "cached": len(facts) - generated,
        "written": written,
        "skipped_with_text": len(skip),
        "seconds": round(time.perf_counter() - started, 3),
    }
