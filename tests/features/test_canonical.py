"""Canonicalisation with the real MiniLM: known synonym groups merge, known non-synonyms stay
apart."""

from __future__ import annotations

from features.canonical import InterestName, canonical_groups, is_abbreviation, spelling_key
from features.encoder import TextEncoder

SYNONYMS = [
    ["sci-fi", "scifi", "Sci Fi", "science fiction"],
    ["hip hop", "hip-hop", "hiphop"],
    ["female vocalists", "female vocalist"],
    ["rock n roll", "rock and roll", "rock & roll"],
    ["indie rock", "indierock", "Indie-Rock"],
]
APART = [
    "indie",
    "synth",
    "synthpop",
    "electro",
    "electronic",
    "dance",
    "danceable",
    "indie pop",
    "metal",
    "heavy metal",
    "death metal",
    "black metal",
    "drama",
    "dramatic",
    "punk",
    "post-punk",
    "romance",
    "romantic comedy",
    "jazz",
    "acid jazz",
    "horror",
    "thriller",
]


def test_spelling_keys_and_abbreviations() -> None:
    assert spelling_key("Sci-Fi") == spelling_key("scifi") == spelling_key("sci fi") == "scifi"
    assert spelling_key("Rock 'n' Roll") == spelling_key("rock and roll")
    assert spelling_key("80s") == "80s"
    assert is_abbreviation("sci fi", "science fiction")
    assert not is_abbreviation("indie rock", "indie pop")
    assert not is_abbreviation("punk", "post punk")
    assert not is_abbreviation("synth", "synthpop")  # one-word prefixes are siblings


def test_synonyms_merge_and_non_synonyms_stay_apart(encoder: TextEncoder) -> None:
    names = [n for group in SYNONYMS for n in group] + APART
    interests = [InterestName(f"id{i}", n, "tag", uses=i) for i, n in enumerate(names)]
    vectors = encoder.encode(names, progress=False)
    groups = canonical_groups(interests, vectors)
    found = sorted(sorted(i.name for i in g) for g in groups)
    assert found == sorted(sorted(g) for g in SYNONYMS)


def test_canonical_member_prefers_genre_then_usage(encoder: TextEncoder) -> None:
    interests = [
        InterestName("sci fi", "sci fi", "tag", uses=50),
        InterestName("science fiction", "science fiction", "tag", uses=90),
        InterestName("scifi", "scifi", "genre", uses=1),
    ]
    vectors = encoder.encode([i.name for i in interests], progress=False)
    (group,) = canonical_groups(interests, vectors)
    assert group[0].id == "scifi"
    tags_only = [i for i in interests if i.kind == "tag"]
    (group,) = canonical_groups(
        tags_only, encoder.encode([i.name for i in tags_only], progress=False)
    )
    assert group[0].id == "science fiction"
