"""Resolving what people type, with real titles from the bundled MovieLens data."""

from __future__ import annotations

import pytest

from amnesia import APP_LIMITS, AmbiguousTitleError, AmnesiaError, LimitError, TitleError, UnknownTitleError
from amnesia.data.catalog import display_title, free_id, name_key, normalize, split_year
from amnesia.data.datasets import load


@pytest.fixture(scope="module")
def catalog():
    """MovieLens's catalog, knowing how many people watched each movie (as the app's is)."""
    data = load("movielens-small")
    data.catalog.set_popularity(data.interactions["item"].value_counts().to_dict())
    return data.catalog


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
        ("fellowship of the ring", 4993),  # a whole subtitle
        ("empire strikes back", 1196),  # the subtitle after " - "
        ("the two towers", 5952),  # was "The Out-of-Towners" by a fuzzy match
        ("two towers", 5952),
        ("return of the king", 7153),
        ("nemo", 6377),  # a word of exactly one popular title: Finding Nemo (141 viewers), not Little Nemo (1)
        ("slumberland", 2800),  # a word of one title only
        ("lord of the rings", 2116),  # an exact title still wins: the 1978 film (the preview shows it)
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
    assert typo.value.candidates == [(1721, "Titanic (1997)"), (3404, "Titanic (1953)")]


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


def test_word_matches_rank_whole_words_before_fuzzy_characters(catalog):
    # unknown as a whole, but two titles have the word "nemo": they come first, never "Enemy"
    with pytest.raises(UnknownTitleError) as raised:
        catalog.resolve("xyzzy nemo")
    assert [item for item, _ in raised.value.candidates[:2]] == [6377, 2800]
    assert 108729 not in [item for item, _ in raised.value.candidates]  # Enemy (2013)
    # several popular titles with the words: ambiguous, most watched first
    with pytest.raises(AmbiguousTitleError, match="11 movies have every word of 'potter'") as potter:
        catalog.resolve("potter")
    assert potter.value.candidates[0] == (
        4896, "Harry Potter and the Sorcerer's Stone (a.k.a. Harry Potter and the Philosopher's Stone) (2001)"
    )


def test_without_popularity_word_matches_offer_the_candidates():
    plain = load("movielens-small").catalog  # nobody told it how popular the movies are
    with pytest.raises(AmbiguousTitleError) as raised:
        plain.resolve("nemo")
    assert sorted(item for item, _ in raised.value.candidates) == [2800, 6377]


def test_ids_are_ascii_digits_and_lines_are_bounded(catalog):
    with pytest.raises(UnknownTitleError, match="'#²' is not an id: write an id as # and the digits 0-9, e.g. #42."):
        catalog.resolve("#²")
    with pytest.raises(UnknownTitleError, match="No movie has an id with 4400 digits; ids have at most 10."):
        catalog.resolve("#" + "9" * 4400)
    with pytest.raises(LimitError, match="A typed title line has 4,401 characters; the limit is 200 \\(title_chars\\)"):
        catalog.resolve("#" + "9" * 4400, APP_LIMITS)
    with pytest.raises(LimitError, match="201 title lines were typed; the limit is 200"):
        catalog.resolve_many(["toy story"] * 201, APP_LIMITS)
    assert catalog.resolve("#0001") == 1


def test_preview_says_what_each_line_became(catalog):
    lines = catalog.preview("fellowship of the ring\n\nxyzzy qwerty\n#2571", APP_LIMITS)
    assert [(line.number, line.item, line.how) for line in lines] == [
        (1, 4993, "subtitle"), (3, None, ""), (4, 2571, "id")
    ]
    assert lines[1].problem.startswith("No movie matches 'xyzzy qwerty'. Did you mean") and len(lines[1].candidates) == 3


def test_look_alike_names_are_one_name():
    catalog = load("toy").catalog.fork()
    assert name_key("  ＭＡＹＡ ") == name_key("maya") == "maya"  # full-width letters, case
    catalog.add_user("Maya", taken_ids=[0, 1, 2, 3])
    for look_alike in ("MAYA", "Ｍａｙａ", "ma\u200bya", "M\u0430ya"):  # case, full width, zero-width space, Cyrillic a
        with pytest.raises(AmnesiaError):
            catalog.check_new_user_name(look_alike)
    with pytest.raises(AmnesiaError, match="invisible or control characters \\(U\\+200B\\)"):
        catalog.check_new_user_name("Zo\u200be")
    with pytest.raises(AmnesiaError, match="mixes Cyrillic and Latin letters"):
        catalog.check_new_user_name("B\u043eb")
    with pytest.raises(AmnesiaError, match="already a user called 'Ｕｓｅｒ ７'"):
        catalog.check_new_user_name("Ｕｓｅｒ ７")  # NFKC: "User 7", reserved
    with pytest.raises(LimitError, match="The name has 61 characters; the limit is 60"):
        catalog.check_new_user_name("x" * 61)
    assert catalog.check_new_user_name("Zoë  Müller") == "Zoë Müller"
    assert catalog.check_new_user_name("Дмитрий") == "Дмитрий"  # one alphabet is fine


def test_new_user_ids_stay_in_range():
    assert free_id([0, 1, 5]) == 6
    assert free_id([0, 1, 2**31 - 1]) == 2  # past the largest id: the smallest free one
    assert free_id([1, 2, 2**31 - 1]) == 0
    assert free_id([0, 2, 3], max_id=3) == 1
    with pytest.raises(AmnesiaError, match="Every user id is taken"):
        free_id([0, 1, 2, 3], max_id=3)
