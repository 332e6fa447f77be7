"""The one place counts and lists are spelt in English."""

import pytest

from amnesia.words import count, listing


@pytest.mark.parametrize(
    ("number", "noun", "plural", "expected"),
    [(0, "movie", None, "0 movies"), (1, "movie", None, "1 movie"), (2, "movie", None, "2 movies"),
     (1204, "user", None, "1,204 users"), (1, "person", "people", "1 person"), (5, "person", "people", "5 people")],
)
def test_count_puts_the_noun_in_the_number_it_counts(number, noun, plural, expected):
    assert count(number, noun, plural) == expected


@pytest.mark.parametrize(
    ("parts", "expected"),
    [([], ""), (["a"], "a"), (["a", "b"], "a and b"), (["a", "b", "c"], "a, b and c"), ([1, 3, 4, 9], "1, 3, 4 and 9")],
)
def test_listing_joins_as_a_sentence_does(parts, expected):
    assert listing(parts) == expected


def test_the_report_lists_three_certified_models_with_one_and():
    # the report had read "Item-CF forget (Amnesia) and Item-kNN forget (exact lists) and EASE forget (exact) score F = 1"
    from pathlib import Path

    text = Path(__file__).resolve().parents[1].joinpath("docs", "lab.md").read_text()
    assert "Item-CF forget (Amnesia), Item-kNN forget (exact lists) and EASE forget (exact) score F = 1" in text
    assert ") and Item-kNN forget (exact lists) and EASE" not in text


@pytest.mark.parametrize(
    ("n_bytes", "expected"),
    [(0, "0 bytes"), (1, "1 byte"), (840, "840 bytes"), (999, "999 bytes"), (1_000, "1.0 kB"), (12_345, "12 kB"),
     (999_400, "999 kB"), (999_600, "1.0 MB"), (1_440_000, "1.4 MB"), (9_960_000, "10 MB"), (250_000_000, "250 MB"),
     (3_200_000_000, "3.2 GB"), (4_000_000_000_000, "4,000 GB")],
)
def test_size_never_reads_zero_for_a_few_bytes(n_bytes, expected):
    from amnesia.words import size

    assert size(n_bytes) == expected
