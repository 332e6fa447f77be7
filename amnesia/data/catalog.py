"""The catalog: movie and user names <-> ids, and resolving what people type.

``Catalog.resolve("the matrix")`` returns the item id of "Matrix, The (1999)". Resolution
rules, in order:

1. ``#42`` is always an id; a bare ``42`` is an id when an item has it, else a title.
2. Exact title, case-, accent- and punctuation-insensitive; MovieLens's trailing article
   ("Matrix, The") also matches with the article in front or left out; alternative titles in
   parentheses ("Seven (a.k.a. Se7en)") match too. A year, "(1999)" or "1999", narrows it.
3. A typo resolves when one movie is clearly the best fuzzy match.

Several equally good matches raise :class:`AmbiguousTitleError`; no good match raises
:class:`UnknownTitleError`. Both carry ``candidates`` [(item_id, display title)].
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
from rapidfuzz import fuzz, process

from ..errors import AmbiguousTitleError, AmnesiaError, UnknownTitleError

_ARTICLES = ("the", "a", "an", "les", "la", "le", "l'", "il", "el", "los", "las", "das", "der", "die", "den", "det")
_YEAR = re.compile(r"\s*\((\d{4})(?:[–-]\d{4})?\)\s*$")
_TRAILING_ARTICLE = re.compile(r"^(.*?), (" + "|".join(re.escape(a) for a in _ARTICLES) + r")(\s*[:(].*)?$", re.IGNORECASE)
_PARENS = re.compile(r"\s*\(([^()]*)\)")
_TYPED_YEAR = re.compile(r"^(.*?)[\s,]*\(?\b(1[89]\d\d|20\d\d)\)?\s*$")
_ID = re.compile(r"^\s*(#)?\s*(\d+)\s*$")

#: A fuzzy match must score at least this (0-100) to be taken for a typo ...
TYPO_MIN_SCORE = 80.0
#: ... and beat every other movie by at least this much to count as "clearly best".
TYPO_MARGIN = 6.0
#: Weight of a match against a title's beginning, below a whole-title match.
PREFIX_WEIGHT = 0.9
#: Lengths the title keys are cut to for prefix matching; a query uses the next one up.
PREFIX_LENGTHS = (6, 9, 12, 16, 20, 26, 34)
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

    Items are immutable and shared; users can be added (names must be unique,
    case-insensitively). :meth:`fork` gives a copy with its own user directory, so a
    visitor's new users stay with that visitor.
    """

    def __init__(self, movies: Iterable[Movie], users: dict[int, str] | None = None):
        self._movies: dict[int, Movie] = {movie.id: movie for movie in movies}
        self._by_key: dict[str, list[int]] = defaultdict(list)
        for movie in self._movies.values():
            for key in _title_keys(movie.title):
                self._by_key[key].append(movie.id)
        self._choice_keys = list(self._by_key)
        self._sorted_keys = sorted(self._by_key)
        self._prefix_cache: dict[int, list[str]] = {}
        self._prefixes(1)  # build the prefix lists now, not during someone's first typo
        self._user_names: dict[int, str] = dict(users or {})
        self._user_ids: dict[str, int] = {name.casefold(): uid for uid, name in self._user_names.items()}

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
        clone._movies, clone._by_key = self._movies, self._by_key
        clone._choice_keys, clone._sorted_keys = self._choice_keys, self._sorted_keys
        clone._prefix_cache = self._prefix_cache
        clone._user_names, clone._user_ids = dict(self._user_names), dict(self._user_ids)
        return clone

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
        movie = self._movies.get(item)
        return movie.display if movie else f"#{item}"

    def titles(self, items: Sequence[int]) -> list[str]:
        """Display titles of ``items``."""
        return [self.title(item) for item in items]

    def movies(self) -> list[Movie]:
        """All movies, by id."""
        return [self._movies[k] for k in sorted(self._movies)]

    # ------------------------------------------------------------------ resolution
    def resolve(self, text: str) -> int:
        """The item id meant by ``text`` (a title, a title with year, ``42`` or ``#42``)."""
        query = str(text).strip()
        if not query:
            raise UnknownTitleError("The movie name is empty; type a title or an id like #42.", query, [])
        id_match = _ID.match(query)
        if id_match:
            item = int(id_match.group(2))
            if item in self._movies:
                return item
            if id_match.group(1):
                raise UnknownTitleError(f"No movie has id {item}.", query, self._closest(query))
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
        if not exact:
            exact = self._filter_year(self._prefixed(normalize(name)), year)
            if len(exact) > 8:
                raise AmbiguousTitleError(
                    f"{len(exact)} movies start with {name.strip()!r}, e.g. {self._listing(exact[:5])}. "
                    f"Type more of the title.",
                    query,
                    self._as_candidates(exact[:8]),
                )
        if len(exact) == 1:
            return exact[0]
        if len(exact) > 1:
            example = self._movies[exact[0]]
            raise AmbiguousTitleError(
                f"{query!r} matches {len(exact)} movies: {self._listing(exact)}. Add the year, e.g. "
                f"'{name.strip()} ({example.year})', or use the id, e.g. #{example.id}.",
                query,
                self._as_candidates(exact),
            )
        return self._resolve_typo(query, normalize(name), year)

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
        closest = [item for item, _ in scored[:3]]
        if len(closest) < 3:  # always offer three: fill up from matches below the cut-off
            closest += [item for item, _ in self._fuzzy(key, limit=6, cutoff=0) if item not in closest][: 3 - len(closest)]
        hint = f" Did you mean {self._listing(closest)}?" if closest else ""
        raise UnknownTitleError(f"No movie matches {query!r}.{hint}", query, self._as_candidates(closest))

    def resolve_many(self, lines: Iterable[str]) -> list[int]:
        """Resolve one title or id per non-blank line; the first failure raises (nothing partial)."""
        return [self.resolve(line) for line in lines if line.strip()]

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

    def _fuzzy(self, key: str, limit: int, cutoff: float = SUGGEST_MIN_SCORE) -> list[tuple[int, float]]:
        """Best fuzzy matches (0-100), one entry per item, best first.

        A key scores by edit similarity to the whole title key, or, scaled by
        ``PREFIX_WEIGHT``, to the key's first len(key) characters, so that a typo in the
        start of a long title ("harry poter") still finds it.
        """
        best: dict[int, float] = {}
        for choices, weight in ((self._choice_keys, 1.0), (self._prefixes(len(key)), PREFIX_WEIGHT)):
            found = process.extract(key, choices, scorer=fuzz.ratio, limit=limit * 3, score_cutoff=cutoff)
            for _, score, index in found:
                for item in self._by_key[self._choice_keys[index]]:
                    best[item] = max(best.get(item, 0.0), score * weight)
        return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]

    def _prefixes(self, length: int) -> list[str]:
        """Every title key cut to the first prefix length >= ``length`` (or left whole).

        The lists are built once per catalog for a few fixed lengths, so no query pays for
        cutting 15,000 keys (that cold path cost up to 8 ms on a busy machine).
        """
        bucket = next((b for b in PREFIX_LENGTHS if b >= length), None)
        if bucket is None:
            return self._choice_keys
        if not self._prefix_cache:
            self._prefix_cache.update({b: [key[:b] for key in self._choice_keys] for b in PREFIX_LENGTHS})
        return self._prefix_cache[bucket]

    def _closest(self, query: str) -> list[tuple[int, str]]:
        return self._as_candidates([item for item, _ in self._fuzzy(normalize(query), limit=3, cutoff=0)])

    def _filter_year(self, items: list[int], year: int | None) -> list[int]:
        return items if year is None else [i for i in items if self._movies[i].year == year]

    def _as_candidates(self, items: Iterable[int]) -> list[tuple[int, str]]:
        return [(item, self._movies[item].display) for item in items]

    def _listing(self, items: Iterable[int]) -> str:
        return "; ".join(f"{self._movies[i].display} (#{i})" for i in items)

    # ------------------------------------------------------------------ users
    def user_name(self, user: int) -> str:
        """Display name of ``user`` ("User 42" when none was given)."""
        return self._user_names.get(user, f"User {user}")

    def user_names(self) -> dict[int, str]:
        """All named users: {id: name}."""
        return dict(self._user_names)

    def find_user(self, name: str) -> int | None:
        """The id of the user called ``name`` (case-insensitive), or None."""
        return self._user_ids.get(" ".join(name.split()).casefold())

    def check_new_user_name(self, name: str) -> str:
        """``name`` with white space tidied, if a new user may take it; otherwise an AmnesiaError
        saying why. Registers nothing."""
        clean = " ".join(str(name).split())
        if not clean:
            raise AmnesiaError("The user's name is empty; type a name such as 'Maya'.")
        if len(clean) > 60:
            raise AmnesiaError(f"The name is {len(clean)} characters long; use at most 60.")
        if self.find_user(clean) is not None or re.fullmatch(r"(?i)user\s+\d+", clean):
            raise AmnesiaError(f"There is already a user called {clean!r}; pick another name.")
        return clean

    def add_user(self, name: str, taken_ids: Iterable[int] = ()) -> int:
        """Register a new user called ``name``; returns its new id (one past the largest known)."""
        clean = self.check_new_user_name(name)
        user = max([*self._user_names, *taken_ids, -1]) + 1
        self._user_names[user] = clean
        self._user_ids[clean.casefold()] = user
        return user

    def remove_user(self, user: int) -> None:
        """Forget ``user``'s display name too (nothing of a forgotten user should linger)."""
        name = self._user_names.pop(user, None)
        if name is not None:
            self._user_ids.pop(name.casefold(), None)
