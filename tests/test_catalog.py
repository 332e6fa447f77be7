"""Resolving what people type, with real titles from the bundled MovieLens data."""

from __future__ import annotations

import pytest

from amnesia import AmbiguousTitleError, AmnesiaError, TitleError, UnknownTitleError
from amnesia.data.catalog import display_title, normalize, split_year
from amnesia.data.datasets import load


@pytest.fixture(scope="module")
def catalog():
    return load("movielens-small").catalog


@pytest.mark.parametrize(
    "typed, item",
    [
        ("Toy Story (1995)", 1),
        ("toy story", 1),
        ("TOY STORY 1995", 1),
        ("Matrix, The (1999)", 2571),  # MovieLens's own spelling
        ("the matrix", 2571),  # trailing article in front
        ("matrix", 2571),  # or left out
        ("The Godfather: Part II", 1221),  # article after a subtitle
        ("les miserables 1995", 73),  # accents and foreign articles
        ("Misérables, Les (1995)", 73),
        ("se7en", 47),  # an alternative title in parentheses
        ("Amelie", 4973),
        ("e.t. the extra-terrestrial", 1097),  # punctuation ignored
        ("shawshank", 318),  # the only title starting with these words
        ("42", 42),  # a bare id
        ("#2571", 2571),
        ("# 1", 1),
        ("godfater", 858),  # typos with one clearly best candidate
        ("forest gump", 356),
        ("pulp fictoin", 296),
        ("the matirx", 2571),
        ("Psycho 1960", 1219),  # the year settles a remake
    ],
)
def test_resolves(catalog, typed, item):
    assert catalog.resolve(typed) == item


def test_remakes_are_ambiguous_and_list_years(catalog):
    with pytest.raises(AmbiguousTitleError) as raised:
        catalog.resolve("psycho")
    assert raised.value.candidates == [(1219, "Psycho (1960)"), (2389, "Psycho (1998)")]
    assert str(raised.value) == (
        "'psycho' matches 2 movies: Psycho (1960) (#1219); Psycho (1998) (#2389). "
        "Add the year, e.g. 'psycho (1960)', or use the id, e.g. #1219."
    )
    with pytest.raises(AmbiguousTitleError) as typo:
        catalog.resolve("titanik")
    assert [year for _, year in typo.value.candidates] == ["Titanic (1953)", "Titanic (1997)"][::-1] or {
        c[0] for c in typo.value.candidates
    } == {1721, 3404}


def test_many_titles_with_the_same_start_ask_for_more(catalog):
    with pytest.raises(AmbiguousTitleError, match="10 movies start with 'star wars'") as raised:
        catalog.resolve("star wars")
    assert (260, "Star Wars: Episode IV - A New Hope (1977)") in raised.value.candidates


def test_unknown_lists_the_three_closest(catalog):
    with pytest.raises(UnknownTitleError) as raised:
        catalog.resolve("xyzzy qwerty")
    assert len(raised.value.candidates) == 3
    assert str(raised.value).startswith("No movie matches 'xyzzy qwerty'. Did you mean ")
    with pytest.raises(UnknownTitleError) as wrong_year:
        catalog.resolve("the matrix 2005")
    assert str(wrong_year.value) == "No 'the matrix' from 2005; the catalog has it from 1999."
    assert wrong_year.value.candidates == [(2571, "The Matrix (1999)")]
    with pytest.raises(UnknownTitleError, match="No movie has id 999999"):
        catalog.resolve("#999999")
    with pytest.raises(UnknownTitleError, match="The movie name is empty"):
        catalog.resolve("   ")
    assert issubclass(TitleError, AmnesiaError) and issubclass(AmnesiaError, ValueError)


def test_resolve_many_is_all_or_nothing(catalog):
    assert catalog.resolve_many(["toy story", "", "#2571"]) == [1, 2571]
    with pytest.raises(UnknownTitleError):
        catalog.resolve_many(["toy story", "xyzzy qwerty"])


def test_search_suggests_prefix_matches_first(catalog):
    assert [item for item, _ in catalog.search("godf", limit=3)] == [858, 1221, 2023]
    harry = catalog.search("harry poter", limit=8)
    assert all(title.startswith("Harry Potter") for _, title in harry)
    assert catalog.search("", limit=3) == []


def test_text_helpers():
    assert normalize("  Amélie: L'été!  ") == "amelie lete"
    assert split_year("Heat (1995)") == ("Heat", 1995) and split_year("The OA") == ("The OA", None)
    assert display_title("Godfather: Part II, The (1974)") == "The Godfather: Part II (1974)"
    assert display_title("Misérables, Les (1995)") == "Les Misérables (1995)"


def test_user_names_are_unique_and_forkable():
    catalog = load("toy").catalog
    visitor = catalog.fork()
    maya = visitor.add_user("  Maya ", taken_ids=[0, 1, 2, 3])
    assert maya == 4 and visitor.user_name(4) == "Maya" and visitor.find_user("maya") == 4
    assert catalog.find_user("Maya") is None  # the shared catalog never sees a visitor's users
    with pytest.raises(AmnesiaError, match="There is already a user called 'ALICE'; pick another name"):
        visitor.add_user("ALICE")
    with pytest.raises(AmnesiaError, match="The user's name is empty"):
        visitor.add_user("  ")
    with pytest.raises(AmnesiaError, match="already a user called 'User 7'"):
        visitor.add_user("User 7")  # reserved for MovieLens-style default names
    visitor.remove_user(maya)
    assert visitor.find_user("Maya") is None and visitor.user_name(4) == "User 4"
