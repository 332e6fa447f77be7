"""The catalog: movie and user names <-> ids, and resolving what people type.

``Catalog.resolve("the matrix")`` returns the item id of "Matrix, The (1999)". Resolution
rules, in order:

1. ``#42`` is always an id; a bare ``42`` is an id when an item has it, else a title.
2. Exact title, case-, accent- and punctuation-insensitive; MovieLens's trailing article
   ("Matrix, The") also matches with the article in front or left out; alternative titles in
   parentheses ("Seven (a.k.a. Se7en)") match too. A year, "(1999)" or "1999", narrows it.
3. The start of a title ("shawshank"), when few titles start with those words.
4. A whole subtitle ("the two towers", "empire strikes back"): the part after a ``:`` or ``-``.
5. Distinctive words ("nemo"): titles that contain every word typed (small words such as
   "the" and "of" aside) as whole words; it resolves when exactly one of them is popular
   (watched by at least a quarter as many people as the most watched of them).
6. A typo resolves when one movie is clearly the best fuzzy match.

Several equally good matches raise :class:`AmbiguousTitleError`; no good match raises
:class:`UnknownTitleError`. Both carry ``candidates`` [(item_id, display title)], whole-word
matches first (more words matched, then more viewers), then fuzzy character matches: a
fuzzy match ("Enemy") never comes before a whole-word match ("Finding Nemo").

User names are compared after NFKC normalisation and case folding, so look-alikes made of
full-width letters, ligatures or different case are the same name; names with invisible
characters or a mix of Latin, Greek and Cyrillic letters are refused.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from rapidfuzz import fuzz, process

from ..errors import AmbiguousTitleError, AmnesiaError, TitleError, UnknownTitleError
from ..limits import APP_LIMITS, MAX_ID, Limits

_ARTICLES = ("the", "a", "an", "les", "la", "le", "l'", "il", "el", "los", "las", "das", "der", "die", "den", "det")
_YEAR = re.compile(r"\s*\((\d{4})(?:[–-]\d{4})?\)\s*$")
_TRAILING_ARTICLE = re.compile(r"^(.*?), (" + "|".join(re.escape(a) for a in _ARTICLES) + r")(\s*[:(].*)?$", re.IGNORECASE)
_PARENS = re.compile(r"\s*\(([^()]*)\)")
_TYPED_YEAR = re.compile(r"^(.*?)[\s,]*\(?\b(1[89]\d\d|20\d\d)\)?\s*$")
_ID = re.compile(r"^\s*(#)?\s*([0-9]+)\s*$", re.ASCII)  # ids are ASCII digits only ("²" is not 2)
_ID_DIGITS = len(str(MAX_ID))
_SUBTITLE_SPLIT = re.compile(r"\s*:\s+|\s+-\s+")
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


def normalize(text: str) -> str:
    """Lower case, accents removed, punctuation dropped, white space collapsed."""
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


def _content_words(key: str) -> set[str]:
    """The words of a normalised key that can tell titles apart (no "the", "of"...)."""
    return {word for word in key.split() if word not in STOP_WORDS}


def name_key(name: str) -> str:
    """The form two user names are compared in: NFKC, case-folded, white space collapsed.

    ``"Ｍａｙａ"`` (full-width), ``"MAYA"`` and ``"maya"`` share a key, so only one may exist."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


_HIDDEN = {"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"}  # controls, format (zero-width), private, unassigned
_CONFUSABLE_SCRIPTS = {"LATIN", "GREEK", "CYRILLIC"}  # alphabets with look-alike letters ("а" and "a")


def _scripts(text: str) -> set[str]:
    return {unicodedata.name(ch, "?").split(" ")[0] for ch in text if ch.isalpha()} & _CONFUSABLE_SCRIPTS


@dataclass(frozen=True)
class TypedLine:
    """What one typed line resolves to: ``item`` and ``how`` ("id", "title", "start of a
    title", "subtitle", "words", "typo"), or ``problem`` with ``candidates``."""

    number: int
    text: str
    item: int | None
    how: str = ""
    problem: str = ""
    candidates: tuple[tuple[int, str], ...] = ()

    @property
    def ok(self) -> bool:
        return self.item is not None


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
        self._by_key: dict[str, list[int]] = defaultdict(list)
        self._by_subtitle: dict[str, list[int]] = defaultdict(list)
        self._by_word: dict[str, set[int]] = defaultdict(set)
        self._words_of: dict[int, set[str]] = {}
        for movie in self._movies.values():
            keys = _title_keys(movie.title)
            for key in keys:
                self._by_key[key].append(movie.id)
            for key in _subtitle_keys(movie.title):
                self._by_subtitle[key].append(movie.id)
            words = set().union(*(_content_words(key) for key in keys)) if keys else set()
            self._words_of[movie.id] = words
            for word in words:
                self._by_word[word].add(movie.id)
        self._choice_keys = list(self._by_key)
        self._choice_items = list(self._by_key.values())
        self._sorted_keys = sorted(self._by_key)
        self._prefix_cache: dict[int, tuple[list[str], list[list[int]]]] = {}
        self._prefixes(PREFIX_LENGTHS[0])  # build the prefix lists now, not during someone's first typo
        self._popularity: dict[int, int] = {}
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

    def examples(self, count: int = 3) -> list[str]:
        """Titles (and an id) a person could type for this catalog: the most watched first."""
        if self._examples is None or len(self._examples) != count:
            ranked = sorted(self._movies, key=lambda item: (-self.popularity(item), item))[:count]
            picked = [split_year(self._display[item])[0] for item in ranked[: count - 1]]
            self._examples = picked + [f"#{ranked[count - 1]}"] if len(ranked) >= count else picked
        return list(self._examples)

    # ------------------------------------------------------------------ resolution
    def resolve(self, text: str, limits: Limits | None = None) -> int:
        """The item id meant by ``text`` (a title, a title with year, ``42`` or ``#42``).

        With ``limits``, a line longer than ``limits.title_chars`` is refused before any work."""
        return self._match(text, limits).item

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
                shown.append(TypedLine(number, line, None, problem=str(error), candidates=tuple(error.candidates)))
            except AmnesiaError as error:  # over a limit
                shown.append(TypedLine(number, line, None, problem=str(error)))
            else:
                shown.append(TypedLine(number, line, match.item, how=match.how))
        return shown

    def _match(self, text: str, limits: Limits | None = None) -> _Match:
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
                raise UnknownTitleError(f"No movie has id {item}.", query, self._closest(query))
        elif query.startswith("#"):
            raise UnknownTitleError(f"{query!r} is not an id: write an id as # and the digits 0-9, e.g. #42.", query, [])
        name, year = query, None
        year_match = _TYPED_YEAR.match(query)
        if year_match and normalize(year_match.group(1)):
            name, year = year_match.group(1), int(year_match.group(2))
        keys = _title_keys(name)  # typed text gets the same article and a.k.a. handling as titles
        matches = sorted({item for key in keys for item in self._by_key.get(key, [])})
        exact = self._filter_year(matches, year)
        if not exact and matches:
            years = ", ".join(str(self._movies[i].year) for i in matches)
            raise UnknownTitleError(
                f"No {name.strip()!r} from {year}; the catalog has it from {years}.", query, self._as_candidates(matches)
            )
        how = "title"
        if not exact:
            how = "start of a title"
            exact = self._filter_year(self._prefixed(normalize(name)), year)
            if len(exact) > CANDIDATES:
                raise AmbiguousTitleError(
                    f"{len(exact)} movies start with {name.strip()!r}, e.g. {self._listing(exact[:5])}. "
                    f"Type more of the title.",
                    query,
                    self._as_candidates(exact[:CANDIDATES]),
                )
        if not exact:
            how = "subtitle"
            exact = self._ranked(self._filter_year(sorted({i for key in keys for i in self._by_subtitle.get(key, [])}), year))
        if len(exact) == 1:
            return _Match(exact[0], how)
        if len(exact) > 1:
            example = self._movies[exact[0]]
            raise AmbiguousTitleError(
                f"{query!r} matches {len(exact)} movies: {self._listing(exact)}. Add the year, e.g. "
                f"'{name.strip()} ({example.year})', or use the id, e.g. #{example.id}.",
                query,
                self._as_candidates(exact),
            )
        key = normalize(name)
        words = self._word_matches(key, year)
        if words:
            top = self.popularity(words[0])
            popular = [item for item in words if self.popularity(item) >= POPULAR_SHARE * top]
            if len(popular) == 1:
                return _Match(popular[0], "words")
            raise AmbiguousTitleError(
                f"{len(words)} movies have every word of {query!r}, e.g. {self._listing(words[:5])}. "
                f"Pick one, add the year, or type more of the title.",
                query,
                self._as_candidates(words[:CANDIDATES]),
            )
        return _Match(self._resolve_typo(query, key, year), "typo")

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

    def _partial_word_matches(self, key: str) -> list[int]:
        """Titles sharing at least one content word with ``key``: more words shared first, then
        more watched, then by id."""
        words = _content_words(key)
        shared: dict[int, int] = defaultdict(int)
        for word in words:
            for item in self._by_word.get(word, ()):
                shared[item] += 1
        return sorted(shared, key=lambda item: (-shared[item], -self.popularity(item), item))

    def _prefixed(self, key: str) -> list[int]:
        """Items with a title key that starts with the whole words of ``key``, shortest title first."""
        if not key:
            return []
        start = bisect.bisect_left(self._sorted_keys, key + " ")
        stop = bisect.bisect_left(self._sorted_keys, key + "!")  # '!' sorts right after ' '
        items = {item for k in self._sorted_keys[start:stop] for item in self._by_key[k]}
        return sorted(items, key=lambda item: (len(self._movies[item].title), item))

    def _resolve_typo(self, query: str, key: str, year: int | None) -> int:
        scored = self._fuzzy(key, limit=12)
        scored = [(item, score) for item, score in scored if year is None or self._movies[item].year == year] or scored
        if scored:
            best_item, best_score = scored[0]
            tied = [item for item, score in scored if score >= best_score - 1e-9]
            runner_up = next((score for item, score in scored if score < best_score - 1e-9), 0.0)
            if best_score >= TYPO_MIN_SCORE and len(tied) == 1 and best_score - runner_up >= TYPO_MARGIN:
                return best_item
            if best_score >= TYPO_MIN_SCORE and len(tied) > 1:
                raise AmbiguousTitleError(
                    f"{query!r} is close to {len(tied)} movies: {self._listing(tied)}. Pick one or add the year.",
                    query,
                    self._as_candidates(tied),
                )
        # whole-word matches come before fuzzy character matches ("Finding Nemo" before "Enemy")
        closest = self._partial_word_matches(key)[:3]
        closest += [item for item, _ in scored if item not in closest][: 3 - len(closest)]
        if len(closest) < 3:  # always offer three: fill up from whole titles below the cut-off
            closest += [item for item, _ in self._fuzzy(key, limit=6, cutoff=0, prefixes=False) if item not in closest][: 3 - len(closest)]
        hint = f" Did you mean {self._listing(closest)}?" if closest else ""
        raise UnknownTitleError(f"No movie matches {query!r}.{hint}", query, self._as_candidates(closest))

    def search(self, text: str, limit: int = 10) -> list[tuple[int, str]]:
        """Type-ahead suggestions: ``(item_id, display title)``; prefix matches first, then fuzzy."""
        key = normalize(text)
        if not key:
            return []
        prefix = sorted(
            {item for k, items in self._by_key.items() if k.startswith(key) for item in items},
            key=lambda item: (len(self._movies[item].title), item),
        )
        results = prefix[:limit]
        if len(results) < limit:
            for item, _ in self._fuzzy(key, limit=limit * 2):
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
                for key in self._choice_keys:
                    items[key[:length]].extend(self._by_key[key])
                self._prefix_cache[length] = (list(items), list(items.values()))
        return self._prefix_cache[bucket]

    def _closest(self, query: str) -> list[tuple[int, str]]:
        return self._as_candidates([item for item, _ in self._fuzzy(normalize(query), limit=3, cutoff=0, prefixes=False)])

    def _filter_year(self, items: list[int], year: int | None) -> list[int]:
        return items if year is None else [i for i in items if self._movies[i].year == year]

    def _as_candidates(self, items: Iterable[int]) -> list[tuple[int, str]]:
        return [(item, self._display[item]) for item in items]

    def _listing(self, items: Iterable[int]) -> str:
        return "; ".join(f"{self._display[i]} (#{i})" for i in items)

    # ------------------------------------------------------------------ users
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
        """``name`` with white space tidied, if a new user may take it; otherwise an AmnesiaError
        saying why. Registers nothing.

        Refused: empty names, names over ``limits.name_chars`` (checked first), invisible or
        control characters, a mix of Latin, Greek and Cyrillic letters (look-alikes such as
        Cyrillic "а" for "a"), and names equal to an existing one after NFKC and case folding.
        """
        name = str(name)
        limits.check("name_chars", len(name))
        hidden = [ch for ch in name if unicodedata.category(ch) in _HIDDEN]
        if hidden:
            shown = ", ".join(f"U+{ord(ch):04X}" for ch in dict.fromkeys(hidden))
            raise AmnesiaError(f"The name contains invisible or control characters ({shown}); type it again without them.")
        clean = " ".join(name.split())
        if not clean:
            raise AmnesiaError("The user's name is empty; type a name such as 'Maya'.")
        scripts = _scripts(unicodedata.normalize("NFKC", clean))
        if len(scripts) > 1:
            raise AmnesiaError(
                f"The name mixes {' and '.join(sorted(s.title() for s in scripts))} letters, which can look alike; "
                f"use one alphabet."
            )
        key = name_key(clean)
        if key in self._user_ids or re.fullmatch(r"user\s*[0-9]+", key, re.ASCII):
            raise AmnesiaError(f"There is already a user called {clean!r}; pick another name.")
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
