"""Node texts are deterministic, strongest-first, and built only from what they are given."""

from __future__ import annotations

from features.texts import WeightedName, interest_text, item_text, user_text


def test_item_text_orders_tags_by_weight_then_name() -> None:
    text = item_text(
        "Toy Story",
        1995,
        ["Animation", "Comedy"],
        [WeightedName("pixar", 3), WeightedName("fun", 1), WeightedName("cgi", 3)],
    )
    assert text == "Toy Story (1995). Genres: Animation, Comedy. Tags: cgi, pixar, fun."


def test_item_text_without_year_or_tags() -> None:
    assert item_text("Babylon 5") == "Babylon 5."
    assert item_text(None, description="A film.") == "Untitled. A film."


def test_interest_text() -> None:
    assert interest_text("Sci-Fi", "genre") == "Sci-Fi: a genre."
    assert interest_text("jazz", "tag", "Improvised music.") == "jazz: a tag. Improvised music."


def test_user_text_prefers_profile_and_uses_only_given_edges() -> None:
    assert user_text("  Loves jazz. ", [WeightedName("rock")]) == "Loves jazz."
    text = user_text(
        None,
        [WeightedName("rock", 2), WeightedName("jazz", 5)],
        [WeightedName("Kind of Blue", 1.0)],
    )
    assert text == "Interested in jazz, rock. Liked Kind of Blue."
    # a held-out item that is not passed in cannot appear in the text
    assert "Giant Steps" not in text
    assert user_text() == "A new user with no history yet."


def test_listed_tags_inverts_item_text() -> None:
    from features.texts import WeightedName, item_text, listed_tags

    text = item_text("Heat", 1995, ["Crime"], [WeightedName("heist", 3), WeightedName("la", 1)])
    assert listed_tags(text) == {"heist", "la"}
    assert listed_tags(item_text("Heat", 1995, ["Crime"])) == set()
