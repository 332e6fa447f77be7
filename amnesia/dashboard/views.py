"""Windows of interest: the small part of H, n, C and S that a person can look at, and tables.

A full MovieLens C has 94 million cells; a chart can show about 20 x 20 legibly. A
:class:`Window` holds dense copies of H (users x items), n, C and S for chosen users and
items, with short labels for the axes and full titles for hovers. :func:`choose_window` picks
the movies whose similarities a change moved most and the users that make the change
understandable. The tables and CSV files the pages offer are built here too, so pages only
render.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.catalog import Catalog, display_title, split_year
from ..engine.ease import EASE
from ..engine.model import ItemCF
from ..limits import MAX_ID

#: Movies in a focus window by default, and the most the page lets a visitor choose.
DEFAULT_ITEMS = 20
MAX_ITEMS = 40
MAX_USERS = 12
#: Characters of a movie's short axis label (the full title is in the hover).
LABEL_CHARS = 22
#: The Change log table's columns (Streamlit's ``column_config``, plain dicts), in pixels: the short
#: ones as narrow as their contents at the app's font, the entry (who and which movie: the point of
#: the table) 350, which holds a user x movie entry ("Ms Teacher (#611) × Titanic (1997) (#1721)").
#: Streamlit shares any room left evenly between the columns. Sized to their contents, the short ones
#: took 390 px, and a 1,024 px window's table (532 px wide with the sidebar open) showed 142 px of the
#: entry, cut at "× Titanic (1…" (a presenter's pass); now 218 px, and all of it with the sidebar hidden.
RECORD_COLUMNS = {"time": {"width": 44}, "collection": {"width": 142}, "change": {"width": 58}, "value": {"width": 70},
                  "entry": {"width": 350}}
_SUBTITLE = re.compile(r"\s*:\s+|\s+-\s+")
_ALTERNATIVES = re.compile(r"\s*\([^()]*\)")  # "Amelie (Fabuleux destin d'Amélie Poulain, Le)"
_NUMBERED = re.compile(r"(?i)^(part|vol|volume|chapter|episode|book)\b")


@dataclass(frozen=True)
class Stats:
    """The totals the sidebar shows: users and movies with an interaction, interactions, time."""

    users: int
    items: int
    interactions: int
    time: int

    @classmethod
    def of(cls, model: ItemCF) -> Stats:
        return cls(model.num_users(), model.num_items(), model.num_interactions(), model.time)


@dataclass(frozen=True)
class Matrices:
    """What a window's two item x item matrices hold, for figure titles, scales and files.

    ``pair``: the letter of the counts (C, or G = C with n on its diagonal); ``weight``: the
    letter of what is scored with (S, or EASE's B) and ``weight_title`` its panel title
    (``{measure}`` is filled in); ``signed``: the weights can be negative (a diverging scale
    centred on 0); ``directed``: W_ij and W_ji differ (B is not symmetric), so every ordered
    pair is a value of its own."""

    pair: str
    pair_title: str
    weight: str
    weight_title: str
    weight_words: str
    signed: bool = False
    directed: bool = False
    #: a word on the counts' panel, in its small second line (beside "… cells changed")
    pair_note: str = ""


#: Item-CF: C and its similarity S. EASE: G (C, with n on the diagonal) and the weights B. ("n on the
#: diagonal" is G's note: in its title, at a 1,024 px window, G's title ran into B's.)
ITEM_CF = Matrices("C", "C: how many watched both", "S", "S: {measure} similarity", "similarity")
EASE_MATRICES = Matrices("G", "G: how many watched both", "B", "B: weights ({measure})", "weight",
                         signed=True, directed=True, pair_note="n on the diagonal")


@dataclass(frozen=True)
class Window:
    """Dense state for ``users`` x ``items``: H (u, k) uint8, n (k,), C (k, k), S (k, k) (for EASE,
    ``similarities`` holds B; ``matrices`` says which).

    ``user_labels`` are display names, ``item_labels`` short unique titles for axes,
    ``item_titles`` full titles with ids for hovers. ``description`` says how it was chosen.
    """

    users: tuple[int, ...]
    items: tuple[int, ...]
    user_labels: tuple[str, ...]
    item_labels: tuple[str, ...]
    item_titles: tuple[str, ...]
    history: np.ndarray
    counts: np.ndarray
    cooccurrences: np.ndarray
    similarities: np.ndarray
    description: str = ""
    matrices: Matrices = ITEM_CF

    def relabel(self, user_labels: Sequence[str]) -> Window:
        """The same window with other user labels (a forgotten user keeps their name in the figure)."""
        return Window(**{**self.__dict__, "user_labels": tuple(user_labels)})


def _without_alternatives(base: str) -> str:
    """A title (no year) without its alternative titles in parentheses, or the title itself when
    that leaves nothing."""
    return _ALTERNATIVES.sub("", base).strip() or base


@lru_cache(maxsize=1 << 15)  # a pure function of its arguments; every window asks for the same titles again
def short_title(title: str, limit: int = LABEL_CHARS) -> str:
    """A title short enough for an axis, still telling sequels apart.

    A subtitle stands for the whole when the title has one ("The Lord of the Rings: The Two
    Towers (2002)" -> "Two Towers"), unless it is a number ("Part 1"); otherwise a long title
    keeps its start and its end ("Harry Potter and the Chamber of Secrets" -> "Harry
    Potter…Secrets"). Titles that still collide get their year (see :func:`item_labels`).
    """
    base, _ = split_year(display_title(title))
    if len(base) <= limit:
        return base
    base = _without_alternatives(base)
    base = re.sub(r"[:,]\s*or$", "", base, flags=re.IGNORECASE) or base  # "Birdman: Or (The Unexpected…)" -> "Birdman"
    if len(base) <= limit:
        return base
    subtitle = re.sub(r"^(the|a|an) ", "", _SUBTITLE.split(base)[-1], flags=re.IGNORECASE)
    if subtitle != base and len(subtitle) <= limit and len(subtitle.split()) >= 2 and not _NUMBERED.match(subtitle):
        return subtitle
    words = base.split()
    head, tail = words[0], words[-1]
    for word in words[1:-1]:  # whole words from the start while they fit in about half
        if len(head) + 1 + len(word) > 0.6 * limit:
            break
        head = f"{head} {word}"
    for word in reversed(words[1:-1]):  # and from the end
        if len(head) + len(tail) + 2 + len(word) > limit:
            break
        tail = f"{word} {tail}"
    label = f"{head}…{tail}"
    return label if len(label) <= limit + 2 else short_name(base, limit)


def short_name(name: str, limit: int = LABEL_CHARS) -> str:
    """``name`` cut to ``limit`` characters with an ellipsis: a user's name on an axis (a
    60-character name had widened the chart's margin from 103 to 418 px and shrunk its four heatmaps;
    the hover keeps the whole name), and a title that no shorter form fits. The cut never splits
    what is drawn as one character (:func:`_drawn_cut`)."""
    return name if len(name) <= limit else name[: _drawn_cut(name, limit - 1)].rstrip() + "…"


def short_names(names: Sequence[str], limit: int = LABEL_CHARS, ids: Sequence[int] | None = None) -> list[str]:
    """:func:`short_name` of each of ``names``, except that two long names that would read the same
    ("Maximiliana Wilhelmin…" for "…Wilhelmina A" and "…Wilhelmina B") show their start and their
    end instead ("Maximiliana…lhelmina A"), as titles do; names that still read the same get their
    user's id from ``ids`` ("Maximiliana Wi… #12")."""
    labels = [short_name(name, limit) for name in names]
    for position in _repeated(labels):
        name = names[position]
        if len(name) > limit:
            head = name[: _drawn_cut(name, limit // 2)].rstrip()
            start = len(name) - (limit - 1 - len(head))
            labels[position] = f"{head}…{name[_drawn_start(name, start):].lstrip()}"
    if ids is not None:
        for position in _repeated(labels):
            tag = f" #{ids[position]}"
            labels[position] = short_name(names[position], max(limit - len(tag), 2)) + tag
    return labels


def _repeated(labels: Sequence[str]) -> list[int]:
    """Positions of the labels that another label equals."""
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    return [position for position, label in enumerate(labels) if seen[label] > 1]


def _drawn_start(text: str, start: int) -> int:
    """The smallest start at least ``start`` that begins a character as drawn (see :func:`_drawn_cut`)."""
    while start < len(text) and _inside_cluster(text, start):
        start += 1
    return start + 1 if _inside_flag(text, start) else start


def _joins_previous(char: str) -> bool:
    """Is ``char`` drawn as part of the character before it: a combining mark (a decomposed
    accent), a zero-width joiner, a variation selector, a skin-tone modifier or an emoji tag?"""
    code = ord(char)
    return (unicodedata.category(char) in ("Mn", "Mc", "Me") or code == 0x200D or 0xFE00 <= code <= 0xFE0F
            or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F or 0xE0100 <= code <= 0xE01EF)


def _drawn_cut(text: str, end: int) -> int:
    """The largest cut at most ``end`` that keeps whole what is drawn as one character (an accent
    with its letter, an emoji joined by zero-width joiners such as a family, a flag's two letters):
    cut at 21 code points, "Ana 👩‍👩‍👧‍👦" had shown a lone woman and a stray joiner. A single drawn
    character longer than ``end`` is cut at ``end`` after all (something must show)."""
    cut = end
    while 0 < cut < len(text) and _inside_cluster(text, cut):
        cut -= 1
    if _inside_flag(text, cut):
        cut -= 1
    return cut or end


def _inside_cluster(text: str, position: int) -> bool:
    """Would a cut before ``text[position]`` (0 < position < len(text)) split what is drawn as one
    character: it joins the one before it, or follows a zero-width joiner?"""
    return _joins_previous(text[position]) or text[position - 1] == "\u200d"


def _inside_flag(text: str, position: int) -> bool:
    """Would a cut before ``text[position]`` split a flag? Regional indicators pair up into flags from
    the start of their run, so a cut after an odd number of them, before another, would."""
    if not position < len(text) or not 0x1F1E6 <= ord(text[position]) <= 0x1F1FF:
        return False
    run = 0
    while run < position and 0x1F1E6 <= ord(text[position - 1 - run]) <= 0x1F1FF:
        run += 1
    return run % 2 == 1


@lru_cache(maxsize=1 << 15)
def _label_parts(title: str, limit: int = LABEL_CHARS) -> tuple[str, str, int | None, str, str | None]:
    """What :func:`axis_title` chooses from, for one title (cached: every window asks again):
    (:func:`short_title`, the title without its year, the year, the title without its year and its
    alternative titles in parentheses, the main title or None). The main title is the part before a
    subtitle of a title over ``limit`` characters, when it fits and is more than a number
    ("Dodgeball: A True Underdog Story (2004)" -> "Dodgeball"; "Dr. Strangelove or: How I
    Learned…" -> "Dr. Strangelove"; "2010: The Year We Make Contact" has none)."""
    base, year = split_year(display_title(title))
    plain = _without_alternatives(base)
    parts = _SUBTITLE.split(plain)
    main = ""
    if len(parts) > 1 and len(base) > limit:
        main = re.sub(r"[\s,]+or$", "", parts[0], flags=re.IGNORECASE).strip()
    if not (3 <= len(main) <= limit) or _NUMBERED.match(main) or main.isdigit():
        main = None
    return short_title(title, limit), base, year, plain, main


def axis_title(catalog: Catalog, item: int, limit: int = LABEL_CHARS) -> str:
    """``item``'s label on an axis: :func:`short_title`, unless a reader would take the short form
    for another movie of ``catalog`` (:meth:`Catalog.names_another`).

    A title with a subtitle goes by its main title when no other movie's title is or starts with
    it ("Dodgeball", not "True Underdog Story"; "Bridget Jones: The Edge of Reason" keeps "Edge of
    Reason", as a series' films keep theirs: "Two Towers"). A short form that another movie bears
    whole gets its year ("The Postman (1994)" for Il Postino, beside Kevin Costner's "The Postman"
    of 1997); a title without its alternative titles is the film's own ("Men in Black (a.k.a.
    MIB)" -> "Men in Black", as "Toy Story" is Toy Story's, though sequels share its words), and a
    form cut with "…" reads as cut, so neither gets one."""
    label, base, year, plain, main = _label_parts(catalog.title(item), limit)
    if main is not None and not catalog.names_another(main, item, starts=True):
        return main
    if label == base or year is None or "…" in label:
        return label
    return f"{label} ({year})" if catalog.names_another(label, item, series=label != plain) else label


def item_labels(catalog: Catalog, items: Sequence[int]) -> list[str]:
    """Short, unique axis labels (:func:`axis_title`; Plotly merges equal category labels, so
    duplicates get their year and, if still equal, their id)."""
    titles = [catalog.title(item) for item in items]
    labels = [axis_title(catalog, item) for item in items]
    for attempt in (lambda k: f"{labels[k]} ({split_year(titles[k])[1]})", lambda k: f"{labels[k]} #{items[k]}"):
        counts: dict[str, int] = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        labels = [attempt(k) if counts[label] > 1 else label for k, label in enumerate(labels)]
    return labels


def snapshot(
    model: ItemCF, catalog: Catalog, users: Sequence[int], items: Sequence[int], description: str = "",
    ease: EASE | None = None,
) -> Window:
    """Copy the window ``users`` x ``items`` out of ``model`` (labels from ``catalog``); with
    ``ease`` (an EASE over ``model``'s counts) the second matrix is its weights B, not S."""
    users, items = tuple(int(u) for u in users), tuple(int(i) for i in items)
    counts, cooccurrences = model.counts(items), model.cooccurrences(items)
    if ease is not None:
        weights, matrices = ease.weights_among(items), EASE_MATRICES
    else:
        # S from the C and n just read (what model.similarities computes), not a second read of C:
        # every logged change takes two windows, so this halves their reads
        weights, matrices = model.measure(cooccurrences, counts[:, None], counts[None, :]), ITEM_CF
    return Window(
        users=users,
        items=items,
        user_labels=tuple(catalog.user_name(u) for u in users),
        item_labels=tuple(item_labels(catalog, items)),
        item_titles=tuple(_hover_title(catalog.title(item), item) for item in items),
        history=model.history_matrix(users, items),
        counts=counts,
        cooccurrences=cooccurrences,
        similarities=weights,
        description=description,
        matrices=matrices,
    )


@lru_cache(maxsize=1 << 15)  # the same strings for every window that shows the movie (a log keeps thousands)
def _hover_title(title: str, item: int) -> str:
    return f"{title} · #{item}"


def is_small(model: ItemCF, catalog: Catalog, max_items: int = MAX_ITEMS, max_users: int = MAX_USERS) -> bool:
    """True for a world shown whole (the toy world): few movies and few users."""
    if model.num_items() > max_items or len(catalog) > max_items or model.num_users() > max_users:
        return False  # decided without listing anything: this runs for every change
    return len(set(model.items()) | {m.id for m in catalog.movies()}) <= max_items and len(model.users()) <= max_users


def choose_window(
    model: ItemCF,
    catalog: Catalog,
    ranked_items: Sequence[int] = (),
    focus_users: Sequence[int] = (),
    max_items: int = DEFAULT_ITEMS,
    max_users: int = MAX_USERS,
    ranked_as: str = "movies whose similarities this change moved most (largest |ΔS| first)",
) -> tuple[list[int], list[int], str]:
    """Users and items worth showing for a change, read from ``model`` (the state before it).

    Small worlds are shown whole. Otherwise the items are the first ``max_items`` of
    ``ranked_items`` (the movies whose similarities the change moved most, see
    :mod:`.effects`; ``ranked_as`` says what they are, after "the 20"), or the most popular
    movies when nothing is ranked; the users are the
    ``focus_users`` (whose history changed) and then the users who watched some but not all
    of those movies, those nearest half of them first (then more shared, then smaller id),
    because they are what makes C and S differ from 1.
    Returns (users, items, a sentence saying what the window is).
    """
    if is_small(model, catalog, max_items, max_users) and len(set(model.users()) | set(focus_users)) <= max_users:
        items = sorted(set(model.items()) | {m.id for m in catalog.movies()})
        return sorted(set(model.users()) | set(focus_users)), items, "The whole world: every user and every movie."
    items = list(dict.fromkeys(int(i) for i in ranked_items))[:max_items]
    if items:
        what = f"the {len(items)} {ranked_as}"
    else:
        popular = np.array(model.items(), dtype=np.int64)
        order = np.lexsort((popular, -model.counts(popular.tolist())))
        items = popular[order[:max_items]].tolist()
        what = f"the {len(items)} most watched movies"
    users = list(dict.fromkeys(int(u) for u in focus_users))[:max_users]
    chosen = set(users)
    others = [u for u in model.users() if u not in chosen] if len(users) < max_users else []  # listed only when needed
    who = ["the users whose history changed"] if focus_users else []
    if others:
        # users who watched about half of these movies: their rows tell the movies apart, so C and S
        # differ from cell to cell; users who watched all or none of them explain nothing
        overlap = model.history_matrix(others, items).sum(axis=1)
        partial = (overlap > 0) & (overlap < len(items))
        order = np.lexsort((np.array(others), -overlap, np.abs(2 * overlap - len(items))))
        picked = [k for k in order.tolist() if partial[k]][: max_users - len(users)]
        users += [others[k] for k in picked]
        if picked:
            # how many they watched, said: "about half" was false when the nearest to half watched 1 of 20
            least, most = int(overlap[picked].min()), int(overlap[picked].max())
            # ("nearest half first (here 1 to 17 of the 20)" was hard to follow: a presenter's pass)
            watched = f"{least}" if least == most else f"between {least} and {most}"
            who.append(f"users who watched some of them, those who watched closest to half first (each of them "
                       f"{watched} of the {len(items)})")
    return users, items, f"A focus window: {what}; {', then '.join(who) or 'no user watched some but not all of them'}."


def window_caption(window: Window, stats: Stats, gone: Sequence[int] = (), later: dict[int, int] | None = None) -> str:
    """One sentence: how the window was chosen and how big it is next to the whole model.

    The totals come from ``stats`` (the same numbers as the sidebar); users of the window in
    ``gone`` (whose last interaction the change removed) are named apart, not counted, and so are
    users in ``later`` ({user: time}), who have no interaction yet and are added at that time
    (the starting data shown in the first change's window read "5 of 4 users")."""
    later = later or {}
    gone_here = [label for user, label in zip(window.users, window.user_labels) if user in set(gone)]
    coming = [f"{label}, added at t = {later[user]}" for user, label in zip(window.users, window.user_labels) if user in later]
    shown = len(window.users) - len(gone_here) - len(coming)
    extra = (f", plus {', '.join(gone_here)}, now gone" if gone_here else "") + "".join(f", plus {c}" for c in coming)
    # movies nobody watches (n = 0) are not in the model's totals either: name them apart, so
    # the caption never says "5 of 4 movies"
    unwatched = [label for label, count in zip(window.item_labels, window.counts.tolist()) if count == 0]
    watched = len(window.items) - len(unwatched)
    if unwatched:
        names = ", ".join(unwatched) if len(unwatched) <= 3 else f"{len(unwatched)} movies"
        movies = f"{watched} of {stats.items:,} movies (plus {names}, which nobody watches now)"
    else:
        movies = f"{watched} of {stats.items:,} movies"
    return f"{window.description} Shown: {movies} and {shown} of {stats.users:,} users{extra}."


def window_delta(before: Window, after: Window) -> tuple[np.ndarray, np.ndarray]:
    """(ΔC, ΔS) over the window: after minus before, shapes (k, k); int64 and float64."""
    if before.items != after.items:
        raise ValueError("before and after windows must cover the same items")
    return (
        after.cooccurrences.astype(np.int64) - before.cooccurrences.astype(np.int64),
        after.similarities - before.similarities,
    )


# ---------------------------------------------------------------------- downloads (CSV text)
def _csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue()


def counts_csv(model: ItemCF, catalog: Catalog) -> str:
    """n for every movie of the catalog (zeros included) and any item only the model knows:
    ``item,title,count``, by id."""
    items = sorted({m.id for m in catalog.movies()} | set(model.items()))
    return _csv(pd.DataFrame({"item": items, "title": catalog.titles(items), "count": model.counts(items)}))


def interactions_csv(model: ItemCF) -> str:
    """H as ``user,item`` rows, sorted."""
    return _csv(model.interactions())


def window_csv(window: Window) -> str:
    """C and S of a window as CSV rows ``item_a,item_b,title_a,title_b,cooccurrences,similarity``
    for every pair with item_a > item_b (zeros included, so the file shows the whole window).
    For EASE the last column is ``weight`` (B_ab, from a to b) and every ordered pair a ≠ b is a
    row: B is not symmetric."""
    ids = np.asarray(window.items, dtype=np.int64)
    a, b = np.nonzero((ids[:, None] != ids[None, :]) if window.matrices.directed else (ids[:, None] > ids[None, :]))
    order = np.lexsort((ids[b], ids[a]))
    a, b = a[order], b[order]
    titles = np.array([title.rsplit(" · #", 1)[0] for title in window.item_titles], dtype=object)
    frame = pd.DataFrame(
        {
            "item_a": ids[a],
            "item_b": ids[b],
            "title_a": titles[a],
            "title_b": titles[b],
            "cooccurrences": window.cooccurrences[a, b],
            window.matrices.weight_words: window.similarities[a, b],
        }
    )
    return _csv(frame)


#: An item id as typed in a filter: ASCII digits only ("²" is a digit to Python, not an id), no more than the
#: largest id has.
_ITEM_ID = re.compile(rf"[0-9]{{1,{len(str(MAX_ID))}}}")


def item_filter(text: str) -> tuple[int | None, str]:
    """The item id typed in a filter box: ``(id, "")``, ``(None, "")`` when the box is empty, or
    ``(None, message)`` saying what is wrong and what to type."""
    text = text.strip()
    if not text:
        return None, ""
    number = text.removeprefix("#").strip()  # "#2", as the records and the Add box write an id
    if _ITEM_ID.fullmatch(number) and int(number) <= MAX_ID:
        return int(number), ""
    return None, (f"{text[:40]!r} is not an item id: type digits 0-9 such as 2571 or #2571, at most {MAX_ID:,} "
                  f"(titles can be looked up on the Forget page). Meanwhile every item's records are shown.")


def ranked_list(catalog: Catalog, entries: Sequence[tuple[int, float]], struck: Collection[int] = (),
                bold: Collection[int] = (), digits: int = 3, moves: Mapping[int, int] | None = None) -> str:
    """A numbered Markdown list of (item, score), best first, scores at ``digits`` decimals: items
    in ``struck`` (they left the list) crossed out, items in ``bold`` (they entered it) in bold,
    and an item in ``moves`` (:func:`rank_moves` against the list before) marked by how many
    places it passed ("↑ 2", "↓ 1"); "—" for an empty list."""
    moves = moves or {}
    lines = []
    for rank, (item, score) in enumerate(entries, start=1):
        title = md(catalog.title(item))
        title = f"~~{title}~~" if item in struck else f"**{title}**" if item in bold else title
        moved = moves.get(item, 0)
        mark = f" · ↑ {moved}" if moved > 0 else f" · ↓ {-moved}" if moved < 0 else ""
        lines.append(f"{rank}. {title} · {score:.{digits}f}{mark}")
    return "\n".join(lines) or "—"


def rank_moves(before: Sequence[tuple[int, float]], after: Sequence[tuple[int, float]]) -> dict[int, int]:
    """{item: places it rose (negative: fell)} among the items of both ranked lists, for those whose
    order among them changed. A list only reordered had no mark at all (The Incredibles went from 1st
    to 5th unmarked; a presenter's pass); a movie that entered or left moves the others, which is
    not theirs to show ("↑ 1" under every movie below one that left; a review)."""
    kept = {item for item, _ in before} & {item for item, _ in after}
    was = {item: place for place, item in enumerate(item for item, _ in before if item in kept)}
    now = {item: place for place, item in enumerate(item for item, _ in after if item in kept)}
    return {item: was[item] - now[item] for item in kept if was[item] != now[item]}


def ranked_list_digits(before: Sequence[tuple[int, float]], after: Sequence[tuple[int, float]], least: int = 3,
                       most: int = 6) -> int:
    """The fewest decimals (``least``..``most``) at which two ranked lists of (item, score) read
    differently: EASE's scores often move by less than 0.0005, and a list shown as changed read
    the same on both sides at 3 decimals (a visitor's pass)."""
    for digits in range(least, most + 1):
        if [(item, f"{score:.{digits}f}") for item, score in before] != [(item, f"{score:.{digits}f}") for item, score in after]:
            return digits
    return most


def ranked_list_caption(after: bool, marked: bool, k: int, moved: bool = False) -> str:
    """The caption over a :func:`ranked_list` before or ``after`` forgetting: it says what its
    marks mean when the list has some (``marked``: entries that left or entered; ``moved``: rank
    moves, after), in the words of a top ``k``."""
    if after:
        return ("After forgetting" + (f" · **bold**: new in the top {k}" if marked else "")
                + (" · ↑ ↓: places moved" if moved else ""))
    return "Before forgetting" + (f" · ~~crossed out~~: not in the top {k} after" if marked else "")


def digits_to_show(*values: float, least: int = 2, most: int = 6) -> int:
    """The fewest decimals (``least``..``most``) that keep ``values`` apart and show each non-zero one
    as non-zero: "0.76 → 0.76" or "−0.000" read as "no change" although something changed."""
    values = [float(v) for v in values]
    for digits in range(least, most + 1):
        rounded = [round(v, digits) for v in values]
        apart = len(values) < 2 or len(set(rounded)) == len(set(values))
        if apart and all(r != 0 for v, r in zip(values, rounded) if v != 0):
            return digits
    return most


def signed(value: float, digits: int | None = None) -> str:
    """``value`` with its sign (a true minus), enough decimals to show it, never "−0"; "" for 0."""
    if value == 0:
        return ""
    digits = digits_to_show(value) if digits is None else digits
    text = f"{value:+.{digits}f}"
    if float(text) == 0:  # too small for ``most`` decimals: say how small
        mantissa, exponent = f"{value:+.0e}".split("e")
        return f"{mantissa.replace('-', '−')}e{exponent}"
    return text.replace("-", "−")


def change_digits(old: float, new: float) -> int:
    """The decimals :func:`before_after` shows ``old → new`` with: the fewest that keep the two
    apart and the shown change (the shown endpoints' difference) within a tenth of the true one;
    at two, 0.0247 → 0.0359 read "0.02 → 0.04 (+0.02)" for +0.0112. At most six."""
    digits = digits_to_show(old, new, new - old)
    while digits < 6 and abs(_shown_change(old, new, digits) - (new - old)) > 0.1 * abs(new - old):
        digits += 1
    return digits


def _shown_change(old: float, new: float, digits: int) -> float:
    """``new - old`` as the two read when written with ``digits`` decimals."""
    return round(float(f"{new:.{digits}f}") - float(f"{old:.{digits}f}"), digits)


def before_after(old: float, new: float, digits: int | None = None) -> str:
    """``"0.7612 → 0.7598 (−0.0014)"``: with :func:`change_digits` decimals (or ``digits``: one
    list in one precision, so its lines compare), and the change itself."""
    digits = change_digits(old, new) if digits is None else digits
    # the change shown is the shown endpoints' difference, so the line adds up; a change too small for
    # the decimals still shows, as its own value ("−3e-09")
    shown = _shown_change(old, new, digits)
    change = signed(shown, digits) if shown else signed(new - old)
    # a true minus: EASE's weights are negative as often as positive
    return f"{old:.{digits}f} → {new:.{digits}f} ({change or '±0'})".replace("-", "−")


def list_digits(pairs: Sequence[tuple[float, float]], ranked: bool = False) -> int:
    """One precision for a list of before → after lines: the most any of them needs. ``ranked``: the
    list is in order of the size of its changes, and the changes shown keep that order (at most six
    decimals): EASE's largest changes read "(−0.009)" three times, then "(−0.008)" five times, then
    "(−0.009)" again, each within a tenth of its true change, and looked unsorted (a visitor's pass)."""
    digits = max((change_digits(old, new) for old, new in pairs), default=2)
    sizes = [abs(new - old) for old, new in pairs]
    while ranked and digits < 6:
        shown = [abs(_shown_change(old, new, digits)) for old, new in pairs]
        # changes equal to rounding error (1e-9) are ties: more decimals cannot order what is equal
        if all(a >= b or math.isclose(x, y, rel_tol=0, abs_tol=1e-9)
               for a, b, x, y in zip(shown, shown[1:], sizes, sizes[1:])):
            break
        digits += 1
    return digits


def pair_sentence(catalog: Catalog, item_a: int, item_b: int, old: float, new: float, digits: int | None = None) -> str:
    """``"Toy Story (1995) ↔ Aladdin (1992): 0.41 → 0.38 (−0.03)"``: one similarity change in words."""
    return f"{catalog.title(item_b)} ↔ {catalog.title(item_a)}: {before_after(old, new, digits)}"


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$:~=&/])")
_AUTOLINK = re.compile(r"(?i)(www|@|http|ftp|mailto)")


def md(text: object) -> str:
    """``text`` made safe to show in a Markdown element as the same text.

    Streamlit renders messages, captions and labels as Markdown with extras (``:red[..]``,
    ``$..$``, ``:material/..:``, bare-URL links). Every ASCII punctuation character is
    backslash-escaped (CommonMark shows it literally) and a word joiner (U+2060, invisible)
    follows "www", "@" and "http" so no link is made; line breaks become spaces.
    """
    escaped = _MARKDOWN.sub(r"\\\1", " ".join(str(text).split()))
    return _AUTOLINK.sub("\\1\u2060", escaped)


def plain(markdown: str) -> str:
    """What a visitor reads from Markdown made with :func:`md` (escapes and word joiners undone):
    for code that reads the page's messages, such as tests and the load benchmark's client."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")
