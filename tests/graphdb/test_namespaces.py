"""``ingest --namespace NS``: every loader keys users and items as ``NS:raw`` and leaves interests
alone, so two datasets share one database without their ids colliding."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphdb.loaders.registry import DATASETS
from graphdb.schema import Label

GENERIC = {
    "interactions.csv": "user_id,item_id,ts\nu1,i1,10\nu2,i1,20\nu2,i2,30\n",
    "users.csv": "user_id,name\nu1,Ada\n",
    "items.csv": "item_id,title\ni1,Kind of Blue\ni3,Unrated\n",
    "item_interests.csv": "item_id,interest\ni1,Jazz\n",
    "user_interests.csv": "user_id,interest\nu2,Blue Note\n",
    "tag_events.csv": "user_id,item_id,interest,ts\nu1,i1,cool,40\n",
}


def _folder(name: str, datasets_dir: Path, tmp_path: Path) -> Path:
    if name != "csv":
        return datasets_dir / {"lastfm-hetrec": "lastfm-hetrec-2k"}.get(name, name)
    for file_name, body in GENERIC.items():
        (tmp_path / file_name).write_text(body, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_namespace_prefixes_users_and_items_only(
    name: str, datasets_dir: Path, tmp_path: Path
) -> None:
    folder = _folder(name, datasets_dir, tmp_path)
    plain, spaced = DATASETS[name](folder, None), DATASETS[name](folder, "ns")
    plain_nodes = {n.label: n.rows for n in plain.nodes}
    spaced_nodes = {n.label: n.rows for n in spaced.nodes}
    for label in (Label.USER, Label.ITEM):
        assert plain_nodes[label], f"{name}: no {label.value} nodes to check"
        assert set(spaced_nodes[label]) == {f"ns:{i}" for i in plain_nodes[label]}
        assert list(spaced_nodes[label].values()) == list(plain_nodes[label].values())
    assert spaced.interests.kinds == plain.interests.kinds
    plain_rels = {(r.rel_type, r.source): r for r in plain.relationships}
    assert len(spaced.relationships) == len(plain_rels)
    for rels in spaced.relationships:
        before = plain_rels[(rels.rel_type, rels.source)]
        assert len(rels.rows) == len(before.rows)
        expected = {
            (_prefix(start, rels.start), _prefix(end, rels.end), *rest)
            for start, end, *rest in before.rows
        }
        assert set(rels.rows) == expected, f"{name}: {rels.rel_type.value} ends not namespaced"


def _prefix(node_id: str, label: Label) -> str:
    return f"ns:{node_id}" if label in (Label.USER, Label.ITEM) else node_id
