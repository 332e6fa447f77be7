"""User display names in one comparable form: NFKC, invisible characters stripped, space collapsed.

Two names are the same name when :func:`name_key` gives the same key: ``"Alice"``,
``"ALICE"``, ``"Ａｌｉｃｅ"`` (full width) and ``"Alice\\u034F"`` (an invisible combining
grapheme joiner) are one name. :func:`clean_name` is the form a name is stored and shown in.

Invisible means one of two sets:

* Unicode's *default-ignorable code points* (``Default_Ignorable_Code_Point`` in the Unicode
  Character Database's DerivedCoreProperties.txt): characters a renderer shows as nothing when it
  does not support them, such as U+200B ZERO WIDTH SPACE, U+034F COMBINING GRAPHEME JOINER,
  U+FE0F VARIATION SELECTOR-16, the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0, and the
  tag characters. The standard defines the set as

      Other_Default_Ignorable_Code_Point + Cf (format characters) + Variation_Selector
      - White_Space - FFF9..FFFB (interlinear annotation) - 13430..13440 (Egyptian hieroglyph
      format controls) - Prepended_Concatenation_Mark

  :data:`DEFAULT_IGNORABLE` lists the resulting ranges, written out from that definition (Unicode
  15.1; tests check them against the definition with the ``Cf`` category of Python's
  ``unicodedata``).
* :data:`BLANK_GLYPHS`: characters that are not default-ignorable but are drawn as an empty
  glyph, so a name made of them looks blank: U+2800 BRAILLE PATTERN BLANK, U+1D159 MUSICAL
  SYMBOL NULL NOTEHEAD, U+16FE4 KHITAN SMALL SCRIPT FILLER.

White space of any kind (``str.isspace``: U+00A0, U+3000, U+2028, ...) is collapsed to one space.
"""

from __future__ import annotations

import bisect
import unicodedata

#: Default_Ignorable_Code_Point as inclusive (first, last) code point ranges, merged and sorted.
#: From the definition above: Cf characters less the exceptions (U+00AD, U+061C, U+180E,
#: U+200B-U+200F, U+202A-U+202E, U+2060-U+2064, U+2066-U+206F, U+FEFF, U+1BCA0-U+1BCA3,
#: U+1D173-U+1D17A, U+E0001, U+E0020-U+E007F), Other_Default_Ignorable_Code_Point (U+034F,
#: U+115F-U+1160, U+17B4-U+17B5, U+2065, U+3164, U+FFA0, U+FFF0-U+FFF8, U+E0000, U+E0002-U+E001F,
#: U+E0080-U+E00FF, U+E01F0-U+E0FFF) and Variation_Selector (U+180B-U+180D, U+180F,
#: U+FE00-U+FE0F, U+E0100-U+E01EF).
DEFAULT_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
#: Characters drawn as an empty glyph that are not default-ignorable.
BLANK_GLYPHS = frozenset({0x2800, 0x1D159, 0x16FE4})

_STARTS = [first for first, _ in DEFAULT_IGNORABLE]
#: Categories of characters a name may not keep once invisible ones are gone: controls (other
#: than white space), format characters that are not default-ignorable (they are drawn, e.g.
#: U+0600 ARABIC NUMBER SIGN, or control layout, e.g. U+FFF9), private use, surrogates, unassigned.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})
_VISIBLE_CATEGORIES = ("L", "N", "P", "S")  # letters, numbers, punctuation, symbols


def is_default_ignorable(char: str) -> bool:
    """Whether ``char`` (one character) is a default-ignorable code point."""
    code = ord(char)
    index = bisect.bisect_right(_STARTS, code) - 1
    return index >= 0 and code <= DEFAULT_IGNORABLE[index][1]


def is_invisible(char: str) -> bool:
    """Whether ``char`` is default-ignorable or one of :data:`BLANK_GLYPHS`."""
    return ord(char) in BLANK_GLYPHS or is_default_ignorable(char)


def strip_invisible(text: str) -> str:
    """``text`` without its invisible characters (nothing else changes)."""
    if text.isascii():
        return text  # no ASCII character is invisible in this sense
    return "".join(char for char in text if not is_invisible(char))


def clean_name(name: str) -> str:
    """The form a name is stored in: invisible characters removed, NFKC, white space collapsed.

    Idempotent: ``clean_name(clean_name(x)) == clean_name(x)`` (the invisible characters go
    before NFKC, so a character they separated composes, and again after it)."""
    text = strip_invisible(unicodedata.normalize("NFKC", strip_invisible(str(name))))
    return " ".join(text.split())


def name_key(name: str) -> str:
    """The form two user names are compared in: :func:`clean_name`, case-folded, NFKC again.

    ``"Ｍａｙａ"`` (full-width), ``"MAYA"``, ``"maya"`` and ``"Maya\\uFE0F"`` share a key."""
    return unicodedata.normalize("NFKC", clean_name(name).casefold())


def refused_characters(name: str) -> list[str]:
    """The characters of ``name`` a name may not contain (see :data:`REFUSED_CATEGORIES`),
    each once, in order; white space and invisible characters are not among them."""
    return list(dict.fromkeys(
        char for char in name
        if unicodedata.category(char) in REFUSED_CATEGORIES and not char.isspace() and not is_invisible(char)
    ))


def has_visible_character(name: str) -> bool:
    """Whether ``name`` has a letter, number, punctuation or symbol that is drawn (a name of
    combining marks alone, or of blank glyphs, has none)."""
    return any(unicodedata.category(char).startswith(_VISIBLE_CATEGORIES) and not is_invisible(char) for char in name)
