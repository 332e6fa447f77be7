"""English for counts and lists, the one place messages, reports and pages spell them.

Two hand-spelt versions of each had drifted apart: a report sentence read "Item-CF forget and
Item-kNN forget and EASE forget score F = 1", where a reader expects "A, B and C".
"""

from __future__ import annotations

from collections.abc import Iterable


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``"1 user"``, ``"1,204 users"``: ``number`` with thousands separators and ``noun`` in the
    right number (``plural`` for irregular nouns, e.g. ``count(3, "person", "people")``)."""
    return f"{number:,} {noun if number == 1 else (plural or noun + 's')}"


def listing(parts: Iterable[object]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``: ``parts`` as text, joined as a sentence joins
    them (no serial comma, as elsewhere in the project's prose). Empty gives ``""``."""
    words = [str(part) for part in parts]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"
