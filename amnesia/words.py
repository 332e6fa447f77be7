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


def size(n_bytes: int | float) -> str:
    """``"840 bytes"``, ``"12 kB"``, ``"1.4 MB"``, ``"250 MB"``: a byte count in decimal units, with
    two significant figures below ten and none above, so that a small size never reads as
    "0.0 MB" (a Change log whose users were all erased offered "about 0.0 MB" to download)."""
    if n_bytes < 1_000:
        return count(int(n_bytes), "byte")
    for unit, scale in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9)):
        value = n_bytes / scale
        if value < 999.5 or unit == "GB":
            return f"{value:,.1f} {unit}" if value < 9.95 else f"{value:,.0f} {unit}"
    raise AssertionError("unreachable")
