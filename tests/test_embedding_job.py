"""``embed`` against a real Neo4j: every node gets a unit 384-dim vector, the vector index answers,
and a re-run encodes and writes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from neo4j import Driver

from features.cache import EmbeddingCache
from features.encoder import TextEncoder
from graphdb.loaders import generic_csv
from graphdb.loaders.plan import write_plan
from graphdb.schema import Label
from graphdb.vectors import similar_nodes
from interestgraph.embedding_job import embed_graph


def _small_graph(driver: Driver, folder: Path) -> None:
    (folder / "interactions.csv").write_text(
        "user_id,item_id\nu1,alien\nu1,blade\nu2,pasta\nu2,pizza\n"
    )
    (folder / "items.csv").write_text(
        "item_id,title\nalien,Alien\nblade,Blade Runner\npasta,Pasta cookbook\n"
        "pizza,Pizza at home\n"
    )
    (folder / "item_interests.csv").write_text(
        "item_id,interest\nalien,science fiction\nblade,science fiction\npasta,cooking\n"
        "pizza,cooking\n"
    )
    write_plan(driver, generic_csv.parse(folder), progress=False)


def test_embed_writes_unit_vectors_and_reruns_are_free(driver: Driver, tmp_path: Path) -> None:
    _small_graph(driver, tmp_path)
    encoder = TextEncoder(device="cpu")
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    report = embed_graph(driver, encoder, cache, progress=False)
    assert report["labels"]["Item"] == {"nodes": 4, "written": 4, "encoded": 4, "cached": 0}
    assert report["encoded"] == 4 + 2 + 2

    vectors = driver.execute_query(
        "MATCH (n) WHERE n:User OR n:Item OR n:Interest RETURN n.embedding AS e"
    ).records
    matrix = np.array([r["e"] for r in vectors])
    assert matrix.shape == (8, 384)
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)

    nearest = similar_nodes(driver, Label.ITEM, "alien", 1)
    assert nearest[0]["id"] == "blade"
    user_interest = similar_nodes(driver, Label.USER, "u2", 1, target=Label.INTEREST)
    assert user_interest[0]["id"] == "cooking"

    again = embed_graph(driver, encoder, cache, progress=False)
    assert again["encoded"] == 0
    assert all(v["written"] == 0 for v in again["labels"].values())

    driver.execute_query("MATCH (i:Item {id: 'pizza'}) SET i.title = 'Neapolitan pizza'")
    changed = embed_graph(driver, encoder, cache, progress=False)
    # the renamed item, and u2, whose text lists the titles it liked
    assert changed["labels"]["Item"]["written"] == 1
    assert changed["labels"]["User"]["written"] == 1 and changed["encoded"] == 2
    cache.close()
