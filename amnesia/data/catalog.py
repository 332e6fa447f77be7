"""The catalog: movie and user names <-> ids, and resolving what people type.

``Catalog.resolve("the matrix")`` returns the item id of "Matrix, The (1999)". Titles and typed
text are compared as keys: normalised (case, accents, punctuation) and also in *sequel form*
(:func:`sequel_key`: "Godfather: Part II", "godfather ii" and "godfather part 2" are all
"godfather 2"). Resolution rules, in order:

1. ``#42`` is always an id; a bare ``42`` is an id when an item has it, else a title.
2. Exact title, case-, accent- and punctuation-insensitive; MovieLens's trailing article
   ("Matrix, The") also matches with the article in front or left out; alternative titles in
   parentheses ("Seven (a.k.a. Se7en)") match too. A year, "(1999)" or "1999", narrows it (a
   number that is part of a title, "Death Race 2000", stays part of it). When the name is also
   that of a series whose best-known film is better known ("lord of the rings": the trilogy
   and the 1978 film), the series is offered, best known first, instead. Remakes that share the
   title (the same words, article and all) resolve to the best known when it is the only popular
   one (as in 5: "titanic" is the 1997 film); else they are offered with their years.
3. The start of a title ("shawshank", "star wars 4"), when one title starts with those words;
   several are offered best known first.
4. A whole subtitle ("the two towers", "empire strikes back"): the part after a ``:`` or ``-``.
5. Distinctive words ("nemo"): titles that contain every word typed (small words such as
   "the" and "of" aside) as whole words; it resolves when exactly one of them is popular
   (watched by at least a quarter as many people as the most watched of them), and a typed
   number stands after the same word as in the title ("deathly hallows 2", not "harry potter 2").
6. A typo resolves when one movie is clearly the best fuzzy match (or one title is, and of
   its remakes one is meant, as in 2). A typed number must be in
   the title: "godfather 4" is no typo of "The Godfather", and with no number typed a film's
   numbered sequels are no rivals to it.

Several equally good matches raise :class:`AmbiguousTitleError`; no good match raises
:class:`UnknownTitleError`. Both carry ``candidates`` [(item_id, display title)], the best known
first among equals. An unknown line offers only related titles: those sharing its words (a
word with a typo counts) or close to it as a whole; with none, the message says so and offers
nothing ("star wars" in the 5-movie toy world).

User names are cleaned (invisible characters such as U+200B, U+034F, U+FE0F, U+3164 and U+2800
removed, NFKC, white space collapsed: :mod:`amnesia.data.names`) and compared case-folded, so
look-alikes made of full-width letters, ligatures, different case or invisible characters are the
same name; names with nothing visible, control characters or a mix of Latin, Greek and Cyrillic
letters are refused.
"""

from __future__ import annotations

import bisect
import heapq
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from rapidfuzz import fuzz, process

from ..words import listing
from ..errors import AmbiguousTitleError, AmnesiaError, TitleError, UnknownTitleError
from ..limits import APP_LIMITS, MAX_ID, Limits
from .names import clean_name, has_visible_character, name_key, refused_characters, strip_invisible

__all__ = ["Catalog", "Movie", "TypedLine", "display_title", "free_id", "name_key", "normalize", "sequel_key", "split_year"]

_ARTICLES = ("the", "a", "an", "les", "la", "le", "l'", "il", "el", "los", "las", "das", "der", "die", "den", "det")
_YEAR = re.compile(r"\s*\((\d{4})(?:[–-]\d{4})?\)\s*$")
_TRAILING_ARTICLE = re.compile(r"^(.*?), (" + "|".join(re.escape(a) for a in _ARTICLES) + r")(\s*[:(].*)?$", re.IGNORECASE)
_PARENS = re.compile(r"\s*\(([^()]*)\)")
_TYPED_YEAR = re.compile(r"^(.*?)[\s,]*\(?\b(1[89]\d\d|20\d\d)\)?\s*$")
#: what people put between titles typed on one line
_SEPARATORS = re.compile(r"\s*(?:;|,(?![0-9])|(?<![0-9]),)\s*")  # not a number's comma: "20,000 Leagues"
_BRACKETED = re.compile(r"\([^()]*\)")
#: the parts of such a line looked up to tell a list from one title with a comma (each a lookup: ms)
_PARTS_TRIED = 4
_ID = re.compile(r"^\s*(#)?\s*([0-9]+)\s*$", re.ASCII)  # ids are ASCII digits only ("²" is not 2)
_ID_DIGITS = len(str(MAX_ID))
_SUBTITLE_SPLIT = re.compile(r"\s*:\s+|\s+-\s+")
_GLUED_NUMBER = re.compile(r"\b([a-z]{3,})([0-9]+)\b")  # "hard2" -> "hard 2" ("se7en", "x2" stay)
_SUPERSCRIPT = re.compile("[\u00b2\u00b3\u00b9\u2070-\u2079\u2080-\u2089]")  # ² ³ ¹ ⁰-⁹ ₀-₉
#: Words too common to tell titles apart: ignored when matching distinctive words.
STOP_WORDS = frozenset(_ARTICLES) | {"of", "and", "in", "on", "to", "for", "with", "at", "by", "from", "is", "it", "part", "vs", "or"}
#: A title counts as popular among word matches when watched by at least this share of the
#: most watched match's viewers.
POPULAR_SHARE = 0.25
#: Candidates offered for a title that does not resolve.
CANDIDATES = 8

#: A fuzzy match must score at least this (0-100) to be taken for a typo ...
TYPO_MIN_SCORE = 80.0
#: ... and beat every other movie by at least this much to count as "clearly best".
TYPO_MARGIN = 6.0
#: Weight of a match against a title's beginning, below a whole-title match.
PREFIX_WEIGHT = 0.9
#: Lengths the title keys are cut to for prefix matching; a query uses the next one up.
PREFIX_LENGTHS = (6, 9, 12, 16, 20, 26, 34)
#: Typed text is compared by at most its first this many characters in fuzzy matching.
FUZZY_CHARS = 48
#: Matches scoring below this are not even suggested (lets the matcher prune early).
SUGGEST_MIN_SCORE = 40.0
#: A title is offered for text it shares no word with only when its fuzzy score is at least
#: this: below it, random letters find "Crazy Heart" for "xyzzy qwerty" (measured: the best
#: score of 40 random strings of 8 letters was up to 73, of 12 up to 64).
RELATED_MIN_SCORE = 75.0
#: Words of a typed line that no title has, looked up as typos when suggesting titles (the
#: first ones: each costs ~0.1 ms on MovieLens, and a 200-character line of random letters has 30).
RELATED_TYPO_WORDS = 4


def normalize(text: str) -> str:
    """Lower case, accents removed, punctuation dropped, white space collapsed.

    A superscript or subscript digit is a word of its own ("Alien³" -> "alien 3")."""
    if not text.isascii():
        text = _SUPERSCRIPT.sub(lambda m: f" {unicodedata.digit(m.group())} ", text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ").replace("'", "")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def split_year(title: str) -> tuple[str, int | None]:
    """``"Matrix, The (1999)"`` -> ``("Matrix, The", 1999)``; no year -> ``(title, None)``."""
    match = _YEAR.search(title)
    if not match:
        return title.strip(), None
    return title[: match.start()].strip(), int(match.group(1))


def display_title(title: str) -> str:
    """Human word order: ``"Godfather: Part II, The (1974)"`` -> ``"The Godfather: Part II (1974)"``."""
    base, year = split_year(title)
    match = _TRAILING_ARTICLE.match(base)
    if match:
        base = f"{match.group(2)} {match.group(1)}{match.group(3) or ''}"
        base = base[0].upper() + base[1:]
    return f"{base} ({year})" if year else base


def _title_keys(title: str) -> set[str]:
    """Normalised strings a person may type for this title (without the year)."""
    base, _ = split_year(title)
    variants = {base}
    alternatives = _PARENS.findall(base)
    without_parens = _PARENS.sub("", base).strip()
    variants.add(without_parens)
    for alt in alternatives:
        variants.add(re.sub(r"^(a\.k\.a\.|aka)\s*", "", alt.strip(), flags=re.IGNORECASE))
    keys = set()
    for variant in variants:
        match = _TRAILING_ARTICLE.match(variant)
        if match:
            rest = f"{match.group(1)}{match.group(3) or ''}"
            keys.add(normalize(f"{match.group(2)} {rest}"))
            keys.add(normalize(rest))
        else:
            keys.add(normalize(variant))
            words = normalize(variant).split(" ", 1)
            if len(words) == 2 and words[0] in _ARTICLES:
                keys.add(words[1])  # "The OA" is also found by "oa"
    keys.discard("")
    return keys


def _subtitle_keys(title: str) -> set[str]:
    """Normalised subtitles of a title: the parts after ``:`` or `` - `` ("The Two Towers")."""
    base, _ = split_year(display_title(title))
    keys = set()
    for part in _SUBTITLE_SPLIT.split(_PARENS.sub("", base))[1:]:
        keys |= _title_keys(part)
    return keys


def _roman(value: int) -> str:
    """``value`` (1-39) in Roman numerals, lower case."""
    tens, ones = divmod(value, 10)
    return "x" * tens + ("", "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix")[ones]


#: Words that introduce a sequel's number: "Part II", "Vol. 2", "Chapter Two", "Episode IV".
SEQUEL_MARKERS = frozenset({"part", "pt", "vol", "volume", "chapter", "episode"})
_NUMBER_WORDS = {word: value for value, word in enumerate(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty".split(), start=1)} | {"deux": 2}  # "Hot Shots! Part Deux"
_ROMANS = {_roman(value): value for value in range(1, 40)}
_SINGLE_ROMANS = {"i", "v", "x"}  # also words or letters ("X-Men", "I, Robot"): numbers only in a number's place


def _number_value(token: str, position: int, last: int, after_marker: bool) -> int | None:
    """The number a word of a normalised title stands for in that place, or None."""
    if after_marker and token in _NUMBER_WORDS:  # "Chapter Two"; elsewhere a word ("Four Rooms", "Ocean's Eleven")
        return _NUMBER_WORDS[token]
    if token in _ROMANS and position > 0:
        if token not in _SINGLE_ROMANS or after_marker or position == last:  # "Rocky V", "Episode I"
            return _ROMANS[token]
    return None


def sequel_key(key: str) -> str:
    """A normalised title with its numbers in one form: ``"godfather part ii"`` -> ``"godfather 2"``.

    Roman numerals after the first word and number words after a marker become digits, and the
    marker ("part", "vol", "chapter", "episode") is dropped after the first word, so "Godfather 2",
    "Godfather II", "Godfather Part 2" and "Godfather: Part II" share a key. Single letters
    (i, v, x) count as numbers only after a marker or at the end ("Rocky V"); digits typed
    against a word are split off ("die hard2")."""
    tokens = _GLUED_NUMBER.sub(r"\1 \2", key).split()
    if not tokens:
        return key
    last = len(tokens) - 1
    out = []
    for position, token in enumerate(tokens):
        after_marker = position > 0 and tokens[position - 1] in SEQUEL_MARKERS
        if (token in SEQUEL_MARKERS and 0 < position < last
                and (tokens[position + 1].isdigit() or _number_value(tokens[position + 1], position + 1, last, True))):
            continue  # "part ii" -> "2"
        value = _number_value(token, position, last, after_marker)
        out.append(str(value) if value is not None else token)
    return " ".join(out)


def _numbers(key: str) -> list[str]:
    """The numbers of a :func:`sequel_key`, as digit strings in order."""
    return [word for word in key.split() if word.isdigit()]


def _series_keys(title: str, sequels: Iterable[str]) -> set[str]:
    """Names of the series a title belongs to: its main title when it has a subtitle
    ("The Lord of the Rings: The Two Towers" -> "lord of the rings") and the words before its
    first number ("Terminator 2: Judgment Day" -> "terminator")."""
    base, _ = split_year(display_title(title))
    parts = _SUBTITLE_SPLIT.split(_PARENS.sub("", base))
    keys = set()
    if len(parts) > 1:
        main = _title_keys(parts[0])
        keys |= main | {sequel_key(key) for key in main}
    for key in sequels:
        words = key.split()
        first = next((position for position, word in enumerate(words) if word.isdigit()), 0)
        if first > 0 and len(" ".join(words[:first])) >= 3:  # "M (1931)" is no series of "M.III.B."
            keys.add(" ".join(words[:first]))
            if words[0] in _ARTICLES and first > 1:
                keys.add(" ".join(words[1:first]))
    return keys


def _typed_keys(name: str) -> set[str]:
    """The keys typed text is looked up by: as typed and in its sequel form."""
    keys = _title_keys(name)
    return keys | {sequel_key(key) for key in keys}


def _content_words(key: str) -> set[str]:
    """The words of a normalised key that can tell titles apart (no "the", "of"...)."""
    return {word for word in key.split() if word not in STOP_WORDS}


_CONFUSABLE_SCRIPTS = {"LATIN", "GREEK", "CYRILLIC"}  # alphabets with look-alike letters ("а" and "a")


def _scripts(text: str) -> set[str]:
    return {unicodedata.name(ch, "?").split(" ")[0] for ch in text if ch.isalpha()} & _CONFUSABLE_SCRIPTS


@dataclass(frozen=True)
class TypedLine:
    """What one typed line resolves to: ``item`` and ``how`` ("id", "title", "start of a
    title", "subtitle", "words", "typo"; a remake picked as the best known of its title adds
    ", the best known of N"), or ``problem`` with ``candidates``."""

    number: int
    text: str
    item: int | None
    how: str = ""
    problem: str = ""
    candidates: tuple[tuple[int, str], ...] = ()
    #: ``problem`` without its list of the candidates, for a UI that shows them as choices after it
    summary: str = ""

    @property
    def ok(self) -> bool:
        return self.item is not None


class _NotFromThatYear(Exception):
    """No title close to the typed text is from the typed year (internal: then the number is tried
    as part of the title)."""


#: Answers of :meth:`Catalog.names_another` kept, at most.
NAMES_MEMO = 1 << 16


@dataclass(frozen=True)
class _Match:
    item: int
    how: str


@dataclass(frozen=True)
class Movie:
    """One catalog item: id, title as the data spells it, year (or None), genres."""

    id: int
    title: str
    year: int | None
    genres: tuple[str, ...]

    @property
    def display(self) -> str:
        """Title in human word order with its year, e.g. "The Matrix (1999)"."""
        return display_title(self.title)


class Catalog:
    """Items (id, title, year, genres) and users (id, display name), with name resolution.

    Items are immutable and shared; users can be added (names must be unique after
    NFKC normalisation and case folding). :meth:`fork` gives a copy with its own user
    directory, so a visitor's new users stay with that visitor. :meth:`set_popularity`
    tells the catalog how many people watched each movie, to rank candidates.
    """

    def __init__(self, movies: Iterable[Movie], users: dict[int, str] | None = None):
        self._movies: dict[int, Movie] = {movie.id: movie for movie in movies}
        self._display: dict[int, str] = {item: movie.display for item, movie in self._movies.items()}  # titles are shown often
        self._examples: list[str] | None = None
        self._by_key: dict[str, list[int]] = defaultdict(list)  # title keys as typed and as sequel keys
        self._by_subtitle: dict[str, list[int]] = defaultdict(list)
        self._by_word: dict[str, set[int]] = defaultdict(set)
        self._words_of: dict[int, set[str]] = {}
        self._sequel_keys_of: dict[int, tuple[str, ...]] = {}
        self._numbers_of: dict[int, frozenset[str]] = {}
        self._series: dict[str, set[int]] = defaultdict(set)  # "lord of the rings" -> its films with a subtitle or number
        # names_another's answers (items are immutable: forks share them)
        self._names_another: dict[tuple[str, int, bool, bool], bool] = {}
        for movie in self._movies.values():
            plain = _title_keys(movie.title)
            sequels = {sequel_key(key) for key in plain}
            keys = plain | sequels
            self._sequel_keys_of[movie.id] = tuple(sorted(sequels))
            numbers = frozenset(number for key in sequels for number in _numbers(key))
            if numbers:
                self._numbers_of[movie.id] = numbers
            for key in keys:
                self._by_key[key].append(movie.id)
            for key in _subtitle_keys(movie.title):
                self._by_subtitle[key].append(movie.id)
            for series in _series_keys(movie.title, sequels):
                self._series[series].add(movie.id)
            words = set().union(*(_content_words(key) for key in keys)) if keys else set()
            self._words_of[movie.id] = words
            for word in words:
                self._by_word[word].add(movie.id)
        self._choice_keys = list(self._by_key)  # fuzzy matching: every key, as spelled and in sequel form
        self._choice_items = list(self._by_key.values())
        self._sorted_keys = sorted(self._by_key)
        # words of titles by first letter, for suggesting titles with a word typed with a typo: a typo in
        # a word's first letter is rare, and looking in one letter's words is ~20x cheaper than in all
        self._vocabulary: dict[str, list[str]] = defaultdict(list)
        for word in sorted(self._by_word):
            if not word.isdigit():
                self._vocabulary[word[0]].append(word)
        self._prefix_cache: dict[int, tuple[list[str], list[list[int]]]] = {}
        self._prefixes(PREFIX_LENGTHS[0])  # build the prefix lists now, not during someone's first typo
        self._popularity: dict[int, int] = {}
        self._by_popularity = sorted(self._movies)  # ranked now, not during someone's first request
        self._user_names: dict[int, str] = dict(users or {})
        self._user_ids: dict[str, int] = {name_key(name): uid for uid, name in self._user_names.items()}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frame(cls, movies: pd.DataFrame, users: dict[int, str] | None = None) -> Catalog:
        """From a DataFrame with ``item``, ``title`` and ``genres`` ("A|B") columns."""
        records = []
        for item, title, genres in zip(movies["item"].tolist(), movies["title"].tolist(), movies["genres"].tolist()):
            _, year = split_year(str(title))
            genre_list = () if genres in ("(no genres listed)", "", None) else tuple(str(genres).split("|"))
            records.append(Movie(int(item), str(title).strip(), year, genre_list))
        return cls(records, users)

    def fork(self) -> Catalog:
        """A copy sharing the (immutable) items, with its own copy of the user directory."""
        clone = Catalog.__new__(Catalog)
        clone.__dict__.update(self.__dict__)
        clone._user_names, clone._user_ids = dict(self._user_names), dict(self._user_ids)
        return clone

    def set_popularity(self, counts: Mapping[int, int]) -> None:
        """How many people watched each movie (e.g. the base model's n), to rank candidates.

        Call it once on the shared catalog, before forking: forks share it."""
        self._popularity.clear()
        self._popularity.update({int(item): int(count) for item, count in counts.items()})
        self._examples = None
        # ranked once here (~6 ms for MovieLens-small) so that no visitor's typo or page pays for it
        self._by_popularity = self._ranked(self._movies)

    def popularity(self, item: int) -> int:
        """How many people watched ``item`` as given to :meth:`set_popularity` (0 if unknown)."""
        return self._popularity.get(item, 0)

    # ------------------------------------------------------------------ items
    def __len__(self) -> int:
        return len(self._movies)

    def __contains__(self, item: int) -> bool:
        return item in self._movies

    def movie(self, item: int) -> Movie:
        """The movie with id ``item``; an :class:`UnknownTitleError` if there is none."""
        try:
            return self._movies[item]
        except KeyError:
            raise UnknownTitleError(f"No movie has id {item}.", str(item), []) from None

    def title(self, item: int) -> str:
        """Display title of ``item``, or ``"#id"`` for an item the catalog does not know."""
        title = self._display.get(item)
        return title if title is not None else f"#{item}"

    def titles(self, items: Sequence[int]) -> list[str]:
        """Display titles of ``items``."""
        return [self.title(item) for item in items]

    def movies(self) -> list[Movie]:
        """All movies, by id."""
        return [self._movies[k] for k in sorted(self._movies)]

    def most_watched(self, count: int) -> list[int]:
        """The ``count`` most watched movies' ids, most watched first (ties by id)."""
        return self._by_popularity[:count]

    def examples(self, count: int = 3) -> list[str]:
        """Titles (and an id) a person could type for this catalog: the most watched first."""
        if self._examples is None or len(self._examples) != count:
            ranked = self.most_watched(count)
            picked = [split_year(self._display[item])[0] for item in ranked[: count - 1]]
            self._examples = picked + [f"#{ranked[count - 1]}"] if len(ranked) >= count else picked
        return list(self._examples)

    # ------------------------------------------------------------------ resolution
    def resolve(self, text: str, limits: Limits | None = None) -> int:
        """The item id meant by ``text`` (a title, a title with year, ``42`` or ``#42``).

        With ``limits``, a line longer than ``limits.title_chars`` is refused before any work."""
        return self._match(text, limits).item

    def typed_name(self, item: int) -> str:
        """What to type for ``item``: its title with the year (``"Titanic (1997)"``) when that resolves
        to it, else its id (``"#1721"``). A candidate the Add form put in the box as "#1721" meant
        little to an audience; the id stays for titles that name more than one movie."""
        title = self._display[item]
        try:
            if self._match(title).item == item:
                return title
        except AmnesiaError:
            pass
        return f"#{item}"

    def resolve_many(self, lines: Iterable[str], limits: Limits | None = None) -> list[int]:
        """Resolve one title or id per non-blank line; the first failure raises (nothing partial)."""
        lines = [line for line in lines if line.strip()]
        if limits:
            limits.check("typed_lines", len(lines))
        return [self.resolve(line, limits) for line in lines]

    def preview(self, text: str, limits: Limits | None = None) -> list[TypedLine]:
        """What each non-blank line of ``text`` resolves to, without raising for a bad line.

        Too many lines raise a :class:`~amnesia.limits.LimitError` before any is resolved."""
        numbered = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if limits:
            limits.check("typed_lines", len(numbered))
        shown = []
        for number, line in numbered:
            try:
                match = self._match(line, limits)
            except TitleError as error:
                shown.append(TypedLine(number, line, None, problem=str(error), candidates=tuple(error.candidates),
                                       summary=error.summary))
            except AmnesiaError as error:  # over a limit
                shown.append(TypedLine(number, line, None, problem=str(error)))
            else:
                shown.append(TypedLine(number, line, match.item, how=match.how))
        return shown

    def _match(self, text: str, limits: Limits | None = None) -> _Match:
        try:
            return self._match_one(text, limits)
        except TitleError as error:
            raise self._several_on_one_line(error) from None

    def _several_on_one_line(self, error: TitleError) -> TitleError:
        """``error``, or, when its query reads as titles separated by commas or semicolons (two of
        its first parts name a movie, or several), an error that says to put one per line. A
        teacher typed "Toy Story, Heat, Alien, Titanic" and was offered the three Toy Story films;
        "Toy Story, Heat" was "close to" Toy Story 2 and 3."""
        # a comma inside brackets is a title's own: "The Postman (Postino, Il)"
        parts = [part for part in _SEPARATORS.split(_BRACKETED.sub(lambda m: m[0].replace(",", "\0").replace(";", "\1"),
                                                                   error.query)) if part]
        parts = [part.replace("\0", ",").replace("\1", ";") for part in parts]
        if len(parts) < 2 or any(_SEPARATORS.search(title) for _, title in error.candidates):
            return error  # it may be that title: it is offered
        if _TRAILING_ARTICLE.match(re.sub(r",\s*", ", ", error.query)):
            return error  # a title as MovieLens writes it: "Collector, The (La collectionneuse)"
        named = 0
        for part in parts[:_PARTS_TRIED]:
            named += self._names_a_movie(part)
            if named == 2:
                return UnknownTitleError(f"{error.query!r} looks like {len(parts)} titles on one line: put each title "
                                         "on its own line.", error.query, [])
        return error

    def _names_a_movie(self, part: str) -> bool:
        """Whether ``part`` of a line names a movie by itself: one movie, or a title several films
        share ("Heat"). Not a bare number ("Titanic, 1998" is a title and a wrong year), nor a word
        many titles start with ("Jungle Book, The", as MovieLens writes titles, is one film)."""
        if part.strip().isdigit():
            return False
        try:
            self._match_one(part)
        except AmbiguousTitleError:
            return bool(self._exact(_typed_keys(part)))
        except AmnesiaError:
            return False
        return True

    def _match_one(self, text: str, limits: Limits | None = None) -> _Match:
        query = str(text)
        if limits:
            limits.check("title_chars", len(query))
        query = query.strip()
        if not query:
            raise UnknownTitleError("The movie name is empty; type a title or an id like #42.", query, [])
        id_match = _ID.match(query)
        if id_match:
            digits = id_match.group(2).lstrip("0") or "0"
            if len(digits) > _ID_DIGITS:
                raise UnknownTitleError(f"No movie has an id with {len(digits)} digits; ids have at most {_ID_DIGITS}.", query, [])
            item = int(digits)
            if item in self._movies:
                return _Match(item, "id")
            if id_match.group(1):
                raise UnknownTitleError(f"No movie has id {item}.", query, [])
        elif query.startswith("#"):
            raise UnknownTitleError(f"{query!r} is not an id: write an id as # and the digits 0-9, e.g. #42.", query, [])
        name, year = query, None
        year_match = _TYPED_YEAR.match(query)
        if year_match and normalize(year_match.group(1)):
            name, year = year_match.group(1), int(year_match.group(2))
        keys = _typed_keys(name)  # typed text gets the same article, a.k.a. and number handling as titles
        matches = self._exact(keys)
        exact = self._filter_year(matches, year)
        if not exact and year is not None and (whole := self._exact(_typed_keys(query))):
            name, year, keys, matches, exact = query, None, _typed_keys(query), whole, whole  # "Death Race 2000"
        if not exact and matches:
            years = ", ".join(str(self._movies[i].year) for i in matches)
            raise UnknownTitleError(
                f"No {name.strip()!r} from {year}; the catalog has it from {years}.", query, self._as_candidates(matches)
            )
        how = "title"
        if not exact:
            how = "start of a title"
            exact = self._ranked(self._filter_year(self._prefixed(keys), year))
            if len(exact) > 1:
                raise self._offer(
                    AmbiguousTitleError, query, f"{len(exact):,} movies start with {name.strip()!r}", exact,
                    "Pick one, or type more of the title.",
                )
        if not exact:
            how = "subtitle"
            exact = self._ranked(self._filter_year(sorted({i for key in keys for i in self._by_subtitle.get(key, [])}), year))
        if len(exact) == 1:
            if how == "title":  # the words as typed: "the terminator" is the 1984 film, "terminator" a series
                self._check_series(query, name, exact[0], {normalize(name), sequel_key(normalize(name))}, year)
            return _Match(exact[0], how)
        if len(exact) > 1:
            exact = self._ranked(exact)  # remakes: the best known first
            meant = self._remake_meant(exact)
            if meant is not None and not self._names_a_better_known_series(query, name, meant, year):
                # one remake is the one people mean, as for distinctive words (rule 5): "titanic" is the 1997
                # film (140 viewers to 6), which a teacher had to pick from two buttons in front of a class. Only
                # remakes of one title: "The Little Princess" (1939) is not "A Little Princess" (1995), however
                # better known that one is; and not when a series of that name is better known ("robin hood":
                # the remakes are offered, as before, not a series that leaves out the 2010 film)
                return _Match(meant, f"{how}, the best known of {len(exact)}")
            example = self._movies[exact[0]]
            years = [self._movies[i].year for i in exact]
            # a year that names one of them ("emma" has two films of 1996); none when they share it ("emma 1996")
            named = next((year for year in years if years.count(year) == 1), None)
            raise self._offer(
                AmbiguousTitleError, query, f"{query!r} matches {len(exact)} movies", exact,
                f"They share the title and the year: use the id, e.g. #{example.id}." if len(set(years)) == 1 else
                f"Add the year, e.g. '{name.strip()} ({named})', or use the id, e.g. #{example.id}." if named is not None
                else f"Use the id, e.g. #{example.id}.",
            )
        plain = normalize(name)
        key = sequel_key(plain)
        words = self._word_matches(key, year)
        if words:
            return _Match(self._pick_word_match(query, key, words, year), "words")
        try:
            item = self._resolve_typo(query, plain, key, year)
        except _NotFromThatYear:  # "blues brthers 2000": the number is the title's, not a year
            name, year, plain = query, None, normalize(query)
            item = self._resolve_typo(query, plain, sequel_key(plain), None)
        own = normalize(_PARENS.sub("", split_year(self._display[item])[0]))  # the title's words as it spells them
        self._check_series(query, name, item, {own, sequel_key(own)}, year)
        return _Match(item, "typo")

    def _remake_meant(self, items: list[int]) -> int | None:
        """Of films that all bear one title (remakes: the same words, article and all), the one
        people mean when it is the only popular one (the others under :data:`POPULAR_SHARE` of its
        viewers), else None."""
        ranked = self._ranked(items)
        top = self.popularity(ranked[0])
        if len({normalize(split_year(self._display[item])[0]) for item in ranked}) != 1 or not top:
            return None
        return ranked[0] if sum(self.popularity(item) >= POPULAR_SHARE * top for item in ranked) == 1 else None

    def _names_a_better_known_series(self, query: str, name: str, item: int, year: int | None) -> bool:
        """True when ``name`` is also a series whose best-known film is better known than ``item``
        (what :meth:`_check_series` refuses)."""
        try:
            self._check_series(query, name, item, {normalize(name), sequel_key(normalize(name))}, year)
        except AmbiguousTitleError:
            return True
        return False

    def _most_watched(self) -> int:
        """The id of the most watched movie (the smallest id without popularity)."""
        return self.most_watched(1)[0]

    def _exact(self, keys: Iterable[str]) -> list[int]:
        """Items with one of ``keys`` as a title key, by id."""
        return sorted({item for key in keys for item in self._by_key.get(key, ())})

    def _check_series(self, query: str, name: str, item: int, keys: Iterable[str], year: int | None) -> None:
        """Raise if ``keys`` name a series whose best-known film is better known than ``item``:
        "lord of the rings" is the 1978 film's title, and the name of a trilogy watched by 13 times
        as many people, so the candidates are offered, best known first, instead of a silent pick."""
        series = self._filter_year(sorted({i for key in keys for i in self._series.get(key, ())} - {item}), year)
        known = self.popularity(item)
        if not any(self.popularity(other) > known for other in series):
            return
        ranked = self._ranked([item, *series])
        raise self._offer(
            AmbiguousTitleError, query, f"{name.strip()!r} names a series of {len(ranked)} movies", ranked,
            f"Pick one, or add the year for {self._display[item]}.",
        )

    def _pick_word_match(self, query: str, key: str, words: list[int], year: int | None) -> int:
        """The one popular title among ``words`` (titles with every typed word); else an
        :class:`AmbiguousTitleError`. A typed number must stand where the title has it: "harry
        potter 2" does not pick "Harry Potter and the Deathly Hallows: Part 2"."""
        numbers = _numbers(key)
        placed = [item for item in words if self._numbers_in_place(key, item)] if numbers else words
        if placed:
            top = self.popularity(placed[0])
            popular = [item for item in placed if self.popularity(item) >= POPULAR_SHARE * top]
            if len(popular) == 1:
                return popular[0]
        if numbers and not placed:
            series = self._word_matches(" ".join(w for w in key.split() if not w.isdigit()), year)
            offered = words + [item for item in series if item not in words]
            numbered = "numbers" if len(numbers) > 1 else "number"
            shown = offered[:CANDIDATES]
            having, others = [i for i in shown if i in words], [i for i in shown if i not in words]
            # the titles with the number elsewhere, then other titles with the words: every movie it offers, named
            lead = f"No title is {query!r}; {{}} {'has' if len(having) == 1 else 'have'} the {numbered} {listing(numbers)} elsewhere in the title"
            advice = "Pick one, or type more of the title."
            raise AmbiguousTitleError(
                lead.format(self._listing(having)) + (f"; other titles with its words: {self._listing(others)}" if others else "")
                + f". {advice}",
                query,
                self._as_candidates(shown),
                summary=lead.format("; ".join(self._display[i] for i in having))
                + ("; other titles with its words are offered" if others else "") + f". {advice}",
            )
        listed = placed + [item for item in words if item not in placed]
        raise self._offer(
            AmbiguousTitleError, query, f"{len(words):,} movies have every word of {query!r}", listed,
            "Pick one, add the year, or type more of the title.",
        )

    def _numbers_in_place(self, key: str, item: int) -> bool:
        """Whether every number of ``key`` follows the same word in one of ``item``'s sequel keys
        (or, typed first, precedes the same word)."""
        words = key.split()
        titles = [f" {title} " for title in self._sequel_keys_of[item]]
        for position, word in enumerate(words):
            if not word.isdigit() or len(words) == 1:
                continue
            pair = f" {words[position - 1]} {word} " if position else f" {word} {words[1]} "
            if not any(pair in title for title in titles):
                return False
        return True

    def _ranked(self, items: Iterable[int]) -> list[int]:
        """``items`` most watched first, then by id."""
        return sorted(items, key=lambda item: (-self.popularity(item), item))

    def _word_matches(self, key: str, year: int | None) -> list[int]:
        """Titles that contain every content word of ``key`` as whole words, most watched first."""
        words = _content_words(key)
        if not words:
            return []
        found: set[int] | None = None
        for word in sorted(words, key=lambda w: len(self._by_word.get(w, ()))):  # rarest word first
            items = self._by_word.get(word)
            if not items:
                return []
            found = set(items) if found is None else found & items
            if not found:
                return []
        return self._ranked(self._filter_year(sorted(found), year))

    def _related(self, key: str, limit: int, scored: Iterable[tuple[int, float]]) -> list[int]:
        """Titles related to ``key``, best first, by the larger of two scores (0-100): the share of
        its words of three letters or more the title has (a word with a typo counts by its similarity: "caribean" ->
        "Caribbean" 0.94), and the fuzzy score of the whole text, counted only from
        ``RELATED_MIN_SCORE`` (``scored``: item and fuzzy score); ties go to the more watched. Numbers do not relate titles ("rocky 2"
        is not "Terminator 2"), and nothing unrelated is added to fill up."""
        words = [word for word in dict.fromkeys(key.split()) if len(word) >= 3 and word not in STOP_WORDS and not word.isdigit()]
        score: dict[int, float] = defaultdict(float)
        looked_up = 0
        for word in words:
            weight = {item: 1.0 for item in self._by_word.get(word, ())}
            if not weight and 4 <= len(word) <= 20 and looked_up < RELATED_TYPO_WORDS:  # not a title's word: a typo?
                looked_up += 1
                near = process.extract(word, self._vocabulary.get(word[0], ()), scorer=fuzz.ratio, score_cutoff=TYPO_MIN_SCORE, limit=5)
                for other, similarity, _ in near:
                    for item in self._by_word[other]:
                        weight[item] = max(weight.get(item, 0.0), similarity / 100)
            for item, value in weight.items():
                score[item] += 100 * value / len(words)
        typed_numbers = any(word.isdigit() for word in key.split())
        for item, similarity in scored:  # the typed text's fuzzy scores, as computed for typos
            if similarity >= RELATED_MIN_SCORE:
                if not typed_numbers and item in self._numbers_of:
                    # a number nobody typed brings no title closer: "toy storyyy zzz" offered Toy Story 2 and 3
                    # before Toy Story, whose shorter key is as near once their numbers are left out
                    similarity = min(similarity, max(
                        fuzz.ratio(key, " ".join(word for word in sequel.split() if not word.isdigit()))
                        for sequel in self._sequel_keys_of[item]))
                score[item] = max(score[item], similarity)
        return heapq.nsmallest(limit, score, key=lambda item: (-score[item], -self.popularity(item), item))

    def _prefixed(self, keys: Iterable[str]) -> list[int]:
        """Items with a title key that starts with the whole words of one of ``keys``, by id."""
        items: set[int] = set()
        for key in keys:
            start = bisect.bisect_left(self._sorted_keys, key + " ")
            stop = bisect.bisect_left(self._sorted_keys, key + "!")  # '!' sorts right after ' '
            items.update(item for k in self._sorted_keys[start:stop] for item in self._by_key[k])
        return sorted(items)

    def _resolve_typo(self, query: str, plain: str, key: str, year: int | None) -> int:
        """The one movie clearly closest to ``key`` (the typed text in sequel form; ``plain`` as
        typed, normalised), or a :class:`TitleError` with related candidates."""
        scored = all_scored = self._fuzzy(key, limit=12)
        if plain != key:  # "rockyiii" is closer to "rocky iii" than to "rocky 3"
            merged = dict(self._fuzzy(plain, limit=12))
            for item, score in scored:
                merged[item] = max(score, merged.get(item, 0.0))
            scored = all_scored = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:12]
        if year is not None:
            scored = [(item, score) for item, score in scored if self._movies[item].year == year]
            if not scored:
                raise _NotFromThatYear
        numbers = set(_numbers(key))
        if numbers:  # a typed number no title carries is a mismatch, not a typo ("godfather 4")
            scored = [(item, score) for item, score in scored if numbers <= self._numbers_of.get(item, frozenset())]
        if scored:
            best_item, best_score = scored[0]
            if not self._numbers_of.get(best_item, frozenset()) - numbers:
                # the best match has no number beyond those typed: its sequels are no rivals
                # ("back to the fture" is the 1985 film, not Part II one letter further)
                scored = [(item, score) for item, score in scored if not self._numbers_of.get(item, frozenset()) - numbers]
            tied = [item for item, score in scored if score >= best_score - 1e-9]
            runner_up = next((score for item, score in scored if score < best_score - 1e-9), 0.0)
            if best_score >= TYPO_MIN_SCORE and len(tied) == 1 and best_score - runner_up >= TYPO_MARGIN:
                return best_item
            if best_score >= TYPO_MIN_SCORE and len(tied) > 1:
                meant = self._remake_meant(tied)
                if meant is not None and best_score - runner_up >= TYPO_MARGIN:  # "titanik": as "titanic" is
                    return meant
                tied = self._ranked(tied)
                raise self._offer(AmbiguousTitleError, query, f"{query!r} is close to {len(tied)} movies", tied,
                                  "Pick one or add the year.")
        if numbers:
            rest = " ".join(word for word in key.split() if not word.isdigit())
            series = [item for item in self._word_matches(rest, year) if not numbers <= self._numbers_of.get(item, frozenset())]
            if series:
                typed = listing(sorted(numbers, key=int))
                raise self._did_you_mean(query, f"No movie matches {query!r}: no title with {rest!r} has the number {typed}",
                                         series)
        closest = self._related(key, 3, all_scored)
        if not closest:
            raise UnknownTitleError(
                f"No movie matches {query!r}, and no title comes close. Check the spelling, "
                f"or type the movie's id, e.g. #{self._most_watched()}.",
                query,
                [],
            )
        raise self._did_you_mean(query, f"No movie matches {query!r}", closest)

    def search(self, text: str, limit: int = 10) -> list[tuple[int, str]]:
        """Type-ahead suggestions: ``(item_id, display title)``; prefix matches first, then fuzzy."""
        key = normalize(text)
        if not key:
            return []
        starts = {key, sequel_key(key)}
        prefix = sorted(
            {item for k, items in self._by_key.items() if any(k.startswith(start) for start in starts) for item in items},
            key=lambda item: (len(self._movies[item].title), item),
        )
        results = prefix[:limit]
        if len(results) < limit:
            for item, _ in self._fuzzy(sequel_key(key), limit=limit * 2):
                if item not in results:
                    results.append(item)
                if len(results) == limit:
                    break
        return self._as_candidates(results)

    def _fuzzy(self, key: str, limit: int, cutoff: float = SUGGEST_MIN_SCORE, prefixes: bool = True) -> list[tuple[int, float]]:
        """Best fuzzy matches (0-100), one entry per item, best first.

        A key scores by edit similarity to the whole title key, or, scaled by
        ``PREFIX_WEIGHT``, to the key's first len(key) characters, so that a typo in the
        start of a long title ("harry poter") still finds it. Only the first
        ``FUZZY_CHARS`` characters of ``key`` are compared.
        """
        key = key[:FUZZY_CHARS]  # bounds the cost: edit distance is quadratic in the lengths
        passes = [(self._choice_keys, self._choice_items, 1.0)]
        bucket = next((b for b in PREFIX_LENGTHS if b >= len(key)), None)
        if prefixes and bucket is not None:  # longer keys are compared whole by the first pass
            passes.append((*self._prefixes(bucket), PREFIX_WEIGHT))
        best: dict[int, float] = {}
        for choices, items_of, weight in passes:
            found = process.extract(key, choices, scorer=fuzz.ratio, limit=limit * 3, score_cutoff=cutoff)
            for _, score, index in found:
                for item in items_of[index]:
                    best[item] = max(best.get(item, 0.0), score * weight)
        return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]

    def _prefixes(self, bucket: int) -> tuple[list[str], list[list[int]]]:
        """Every title key cut to ``bucket`` characters, without repeats, and the items of each.

        The lists are built once per catalog for a few fixed lengths, so no query pays for
        cutting 15,000 keys (that cold path cost up to 8 ms on a busy machine).
        """
        if not self._prefix_cache:
            for length in PREFIX_LENGTHS:
                items: dict[str, list[int]] = defaultdict(list)
                for key, of_key in zip(self._choice_keys, self._choice_items):
                    items[key[:length]].extend(of_key)
                self._prefix_cache[length] = (list(items), list(items.values()))
        return self._prefix_cache[bucket]

    def _filter_year(self, items: list[int], year: int | None) -> list[int]:
        return items if year is None else [i for i in items if self._movies[i].year == year]

    def _as_candidates(self, items: Iterable[int]) -> list[tuple[int, str]]:
        return [(item, self._display[item]) for item in items]

    def _listing(self, items: Iterable[int]) -> str:
        return "; ".join(f"{self._display[i]} (#{i})" for i in items)

    def _offer(self, kind: type[TitleError], query: str, lead: str, items: list[int], advice: str) -> TitleError:
        """A ``kind`` error offering the first :data:`CANDIDATES` of ``items`` (best known first):
        its message names exactly the movies it offers, so the text and a UI's choices agree (the
        text had named 5 of "star wars"'s 10 while the page offered 8 buttons); its summary
        leaves the list out, for a UI that shows them as choices right after it."""
        shown = items[:CANDIDATES]
        if len(shown) < len(items):
            lead, listed, offered = f"{lead}; the {len(shown)} best known", ":", f"{lead}; the {len(shown)} best known are offered."
        else:
            listed, offered = ", the best known first:" if len(shown) > 1 else ":", f"{lead}."
        return kind(f"{lead}{listed} {self._listing(shown)}. {advice}", query, self._as_candidates(shown),
                    summary=f"{offered} {advice}")

    def _did_you_mean(self, query: str, lead: str, items: list[int]) -> UnknownTitleError:
        """An :class:`UnknownTitleError` asking whether ``query`` meant one of ``items`` (the
        first :data:`CANDIDATES`, all named in the message, as :meth:`_offer` does)."""
        shown = items[:CANDIDATES]
        return UnknownTitleError(f"{lead}. Did you mean {self._listing(shown)}?", query, self._as_candidates(shown),
                                 summary=f"{lead}. Did you mean {'this one' if len(shown) == 1 else 'one of these'}?")

    # ------------------------------------------------------------------ users
    def names_another(self, text: str, item: int, starts: bool = False, series: bool = True) -> bool:
        """Would a reader take ``text`` (a short form of ``item``'s title, on an axis) for another
        movie: is it, as a person would type it, the title of a movie other than ``item`` ("The
        Postman" is Il Postino's title in English and the whole title of a 1997 film), or, with
        ``series``, the main title of a series with another movie in it ("Star Wars")? With
        ``starts``, also the start of another movie's title, in whole words, or the same words
        but for a plural or possessive s: "Bridget Jones" starts "Bridget Jones's Diary", "Urban
        Legends" reads as "Urban Legend"."""
        asked = (text, item, starts, series)
        found = self._names_another.get(asked)
        if found is None:
            key = normalize(text)
            keys = {key, sequel_key(key)}
            if starts:
                keys |= {f"{key}s", key[:-1]} if key.endswith("s") else {f"{key}s"}
            others = [other for k in keys for other in self._by_key.get(k, ())]
            if series:
                others += [other for k in keys for other in self._series.get(k, ())]
            if starts:
                others += self._prefixed(keys)
            found = any(other != item for other in others)
            if len(self._names_another) < NAMES_MEMO:  # asked again for every window drawn: a few per item
                self._names_another[asked] = found
        return found

    def user_name(self, user: int) -> str:
        """Display name of ``user`` ("User 42" when none was given)."""
        return self._user_names.get(user, f"User {user}")

    def user_names(self) -> dict[int, str]:
        """All named users: {id: name}."""
        return dict(self._user_names)

    def find_user(self, name: str) -> int | None:
        """The id of the user called ``name`` (compared by :func:`name_key`), or None."""
        return self._user_ids.get(name_key(name))

    def check_new_user_name(self, name: str, limits: Limits = APP_LIMITS) -> str:
        """``name`` as it will be stored (:func:`~amnesia.data.names.clean_name`: invisible
        characters removed, NFKC, white space collapsed), if a new user may take it; otherwise an
        AmnesiaError saying why. Registers nothing.

        Refused: names over ``limits.name_chars`` (checked first), names with nothing visible left
        (empty, white space, or only invisible characters such as U+2800 or U+3164), control,
        private-use or unassigned characters, a mix of Latin, Greek and Cyrillic letters
        (look-alikes such as Cyrillic "а" for "a"), and names equal to an existing one after
        cleaning and case folding ("Alice\u034F" and "ＡＬＩＣＥ" are "Alice").
        """
        name = str(name)
        limits.check("name_chars", len(name))
        refused = refused_characters(name)
        if refused:
            shown = ", ".join(f"U+{ord(ch):04X}" for ch in refused)
            raise AmnesiaError(f"The name contains control or format characters ({shown}); type it again without them.")
        clean = clean_name(name)
        if not clean or not has_visible_character(clean):
            if not name.strip():
                # "of at most 60": a pasted longer name arrives empty (the page's box takes nothing from it)
                raise AmnesiaError(f"The user's name is empty; type a name such as 'Maya', of at most {limits.name_chars} "
                                   "characters.")
            hidden = ", ".join(f"U+{ord(ch):04X}" for ch in dict.fromkeys(name) if not ch.isspace())
            raise AmnesiaError(
                f"The name has no visible characters ({hidden}), so it would show as blank; type a name such as 'Maya'."
            )
        scripts = _scripts(clean)
        if len(scripts) > 1:
            raise AmnesiaError(
                f"The name mixes {listing(sorted(s.title() for s in scripts))} letters, which can look alike; "
                f"use one alphabet."
            )
        key = name_key(clean)
        typed = " ".join(strip_invisible(name).split())
        if re.fullmatch(r"user\s*[0-9]+", key, re.ASCII):
            raise AmnesiaError(f"Names such as {typed!r} are kept for users without a name; pick another name.")
        if key in self._user_ids:
            # Quote the name that is taken, not what was typed: "There is already a user called 'alice'" beside a
            # list showing "Alice" reads as if the check had failed.
            existing = self._user_names[self._user_ids[key]]
            ignored = sorted({f"U+{ord(ch):04X}" for ch in name if not ch.isspace()} - {f"U+{ord(ch):04X}" for ch in typed})
            same = f"{typed!r} counts as the same name: case, width and Unicode form are ignored"
            why = [same] if typed != existing else []
            why += [f"invisible characters {', '.join(ignored)} do not count"] if ignored else []
            note = f" ({'; '.join(why)})" if why else ""
            raise AmnesiaError(f"There is already a user called {existing!r}{note}; pick another name.")
        return clean

    def add_user(self, name: str, taken_ids: Iterable[int] = (), limits: Limits = APP_LIMITS) -> int:
        """Register a new user called ``name``; returns its new id.

        The id is one past the largest known id (named users and ``taken_ids``) while that is
        within ``max_id``; past it, the smallest free id. Never out of range, never taken."""
        clean = self.check_new_user_name(name, limits)
        user = free_id({*self._user_names, *taken_ids}, limits.max_id)
        self._user_names[user] = clean
        self._user_ids[name_key(clean)] = user
        return user

    def restore_user(self, user: int, name: str) -> None:
        """Give ``user`` back the ``name`` it had (a name this catalog accepted before: a log
        replayed without one of its users restores the others' names)."""
        self.remove_user(user)
        self._user_names[user] = name
        self._user_ids[name_key(name)] = user

    def remove_user(self, user: int) -> None:
        """Forget ``user``'s display name too (nothing of a forgotten user should linger)."""
        name = self._user_names.pop(user, None)
        if name is not None:
            self._user_ids.pop(name_key(name), None)


def free_id(taken: Iterable[int], max_id: int = MAX_ID) -> int:
    """One past the largest of ``taken`` if that is at most ``max_id``, else the smallest
    id in 0..max_id that is not taken. Raises if every id is taken."""
    taken = {int(t) for t in taken if 0 <= int(t) <= max_id}
    largest = max(taken, default=-1)
    if largest < max_id:
        return largest + 1
    candidate = 0
    for used in sorted(taken):
        if used != candidate:
            return candidate
        candidate += 1
    if candidate <= max_id:
        return candidate
    raise AmnesiaError("Every user id is taken; reset your changes to add more users.")
