"""A visitor's workspace: their own fork of a shared model, their users' names, and their log.

The dashboard keeps one :class:`Workspace` per visitor and data set. Every action checks the
app's limits first and either applies completely (one :class:`~.history.LogEntry`) or raises
an :class:`~amnesia.errors.AmnesiaError` and changes nothing: no user, no name, no log entry.
The shared base model and catalog are never written.

Everything a page shows is computed here or in the modules beside it (views, effects,
history), so pages only lay out widgets. Nothing here holds a reference to Streamlit, and no
download is deferred: a page asks for bytes and hands them over, so an ended session leaves
nothing behind that keeps its workspace alive.
"""

from __future__ import annotations

import ctypes
import gc
import itertools
import json
import sys
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..data.catalog import Catalog, TypedLine
from ..data.datasets import Dataset, load
from ..engine.arguments import check_ids
from ..engine.changes import ChangeSet
from ..engine.config import ModelConfig
from ..engine.ease import EASE, Certificate
from ..engine.fingerprint import retrain_fingerprint
from ..engine.model import ItemCF
from ..engine.requests import ChangeRequest, iter_lines, parse_request, parse_request_log
from ..engine.similarity import DEFAULT
from ..errors import AmnesiaError, RequestError, TitleError
from ..limits import APP_LIMITS, EXPORT_MAX_BYTES, HEAVY_READ, Limits
from ..words import count, listing, size
from ..records import COLLECTIONS, LETTERS, RECORD_BYTES, change_records, record_line
from . import gates, views
from .figures import Prepared, delta_spec, state_spec, update_spec
from .effects import ChangeEffect, ForgetEffect, PairChange, Ranking, forget_effect, measure_change, measure_weights_change
from .history import History, LogEntry
from .views import Stats, Window, choose_window, snapshot



#: The neighbour-list choices of the sidebar (None: every neighbour) and the default: K chosen on
#: validation by ``python -m amnesia bench --part quality`` (docs/benchmarks.md, "Accuracy": 5 for
#: both measures, 2026-12-04 and again, with the scoring, 2026-12-05; K from 2 to 50 are within the
#: noise of one held-out rating per user).
NEIGHBOUR_CHOICES: tuple[int | None, ...] = (None, 5, 10, 20, 50, 100)
DEFAULT_NEIGHBOURS: int | None = 5
#: How recommendations read the lists (engine.neighbours.SCORINGS), as the sidebar names them, and the default,
#: chosen with K on validation by the quality benchmark (2026-12-05: each movie's own list for both measures,
#: test NDCG@10 0.035 against 0.028-0.029 for the lists of the user's movies at K = 5).
SCORING_LABELS = {"history": "Lists of your movies", "candidate": "Each movie's own list"}
DEFAULT_SCORING = "candidate"
#: The forget effect compares the top-K lists of the users most exposed to a forget (Recommendations page).
FORGET_EFFECT_K, FORGET_EFFECT_USERS = 5, 12
#: Movies the Add form's picker offers on a large catalog (the most watched; see Workspace.picker_movies).
PICKER_MOVIES = 1000


def shared_base(name: str, similarity: str = DEFAULT.name) -> tuple[Dataset, ItemCF]:
    """Load data set ``name`` and train its model with ``similarity`` ("jaccard", "cosine"): the
    state every visitor forks (every neighbour; :meth:`ItemCF.with_neighbours` gives a fork
    with lists over the same counts). The loaded catalog knows how many people watched each
    movie, to rank title candidates."""
    data = load(name)
    model = ModelConfig(similarity, limits=APP_LIMITS).fit(data.interactions)
    return data, model


def warm_up(dataset: Dataset, model: ItemCF) -> None:
    """Add and forget a short and a long history on a throwaway workspace over ``model``, so the
    compiled kernels of a visitor's first clicks (list updates, the similarity scan, reads, the
    recommendations' scoring) are loaded from numba's cache, or compiled on a fresh machine,
    before anyone clicks: the first add
    on a fresh server took 0.15-0.7 s of loading where later ones take ~0.01 s. Nothing is kept."""
    workspace = Workspace(dataset, model)
    items = model.items()
    for length in (3, 150):  # 150 movies: a history whose list update reads slabs (long histories' kernels)
        if len(items) < length:
            continue
        request = {"change": "Add", "interactions": [[WARM_UP_USER, int(item)] for item in items[:length]]}
        workspace.apply_json(json.dumps(request))
        workspace.model.recommend(WARM_UP_USER, 10)  # the scoring kernel of the model's reading of its lists
        workspace.forget_user(WARM_UP_USER)


#: The warm-up's user id (never a visitor's: the workspace it is added to is dropped at once).
WARM_UP_USER = 2_147_483_000


def warm_app(names: Sequence[str] = ("toy", "movielens-small")) -> float:
    """Do what the app does before its first visitor's first page and clicks on each of the bundled
    data sets ``names`` (train the shared model, build its default lists, :func:`warm_up` it with
    and without lists), so numba compiles the engine's kernels into its cache beside the code now.

    On a fresh install the first page otherwise waits for that compiling: 34.6 s for MovieLens on
    the development machine (2026-12-06), against 3.2 s once the cache is warm. Returns the seconds
    taken; a second call, with the cache warm, only loads the kernels."""
    started = time.perf_counter()
    for name in names:
        data, model = shared_base(name)
        default = model.with_neighbours(DEFAULT_NEIGHBOURS, DEFAULT_SCORING)  # its lists built once, used twice
        warm_up(data, default)
        if DEFAULT_NEIGHBOURS is not None:  # the sidebar's every-neighbour choice has kernels of its own
            warm_up(data, model.with_neighbours(None, DEFAULT_SCORING))
        # what later clicks compile: a forget's figures and pairs, the change stream, Verify (a retrain's fingerprint)
        workspace = Workspace(data, default)
        workspace.add_user("Warm-up", [int(item) for item in workspace.model.items()[:3]])
        entry = workspace.forget_user(workspace.latest_added())
        workspace.forget_figures()
        workspace.largest_changes(entry)
        next(workspace.export_chunks(), b"")
        workspace.verify()
        model.fingerprint()  # an unchanged model's own, read from its store in place
    return time.perf_counter() - started


@dataclass(frozen=True)
class Verification:
    """The forgetting certificate: the model equals a retrain on the remaining interactions."""

    match: bool
    fingerprint: str
    retrained_fingerprint: str
    retrain_seconds: float
    last_update_seconds: float | None
    #: EASE only: P recomputed from G and every user's top-10 against a retrain's (None for item-CF).
    certificate: Certificate | None = None


@dataclass(frozen=True)
class ExportEstimate:
    """The full change stream's size, estimated before any of it is produced.

    ``exact``: every change's effect was measured, so ``records`` is the stream's exact
    record count (``bytes`` is estimated from each collection's average record size). False
    when some change was not measured (over a read limit, or late in a large import): then
    ``records`` and ``bytes`` are upper bounds."""

    records: int
    bytes: int
    exact: bool
    limit: int = EXPORT_MAX_BYTES

    @property
    def allowed(self) -> bool:
        return self.bytes <= self.limit


@dataclass(frozen=True)
class ForgetFigures:
    """The Forget page's charts: ``state`` (animated H, n, C, S), ``changed`` (ΔC and ΔS, or None)
    and the ``window`` they show, as :class:`~.figures.Prepared` specs for ``st.plotly_chart``."""

    state: go.Figure
    changed: go.Figure | None
    window: Window


class Workspace:
    """One visitor's view of a data set: a fork of the shared ``base`` model and catalog."""

    def __init__(self, dataset: Dataset, base: ItemCF, limits: Limits = APP_LIMITS):
        self.dataset = dataset
        self.base = base
        self.limits = limits
        self.reset()
        # when the session ends (Streamlit drops its state), give the freed memory back to the system
        weakref.finalize(self, give_back_memory)

    def reset(self) -> None:
        """Back to the shared starting state; this visitor's changes and names are dropped."""
        large = len(getattr(self, "history", ())) >= 64
        self._set_state(self._fresh_state())
        self.catalog: Catalog = self.dataset.catalog.fork()
        self.history = History(self.base)
        self._previous = None  # the state (a value of _state()) just before the latest change
        self._windows: dict[tuple, tuple[Window, Window]] = {}
        self._forget_effects: dict[int, ForgetEffect] = {}
        self._figures: tuple[tuple, ForgetFigures] | None = None  # the Forget page's figures for one state and window
        self._added: tuple[int, list[int]] | None = None  # (version, added_users()): asked twice per page run
        self.version = getattr(self, "version", 0) + 1  # changes on every change, import and reset: what caches key on
        if large:  # a long log was dropped: give its memory back
            give_back_memory()

    # ------------------------------------------------------------------ reads
    @property
    def log(self) -> list[LogEntry]:
        """The accepted requests, oldest first."""
        return self.history.entries

    @property
    def small(self) -> bool:
        """True for a world shown whole (the toy world)."""
        return views.is_small(self.base, self.catalog)

    #: Viewers a movie needs to have weights at all (EASE scores only movies this many people watched).
    weights_from = 1

    @property
    def default_min_viewers(self) -> int:
        """Popularity tier of the focus window: every movie in a small world; on a large catalog,
        movies at least 10 people watched, so the window shows movies people recognise."""
        return 1 if self.small else 10

    def stats(self) -> Stats:
        """Users, items, interactions and logical time of the visitor's model (the sidebar's numbers)."""
        return Stats.of(self.model)

    def window_caption(self, window: Window, time_: int | None = None) -> str:
        """The caption of a window shown at logical time ``time_`` (default: now), with that
        time's totals (the sidebar's numbers when it is now)."""
        time_ = self.model.time if time_ is None else time_
        entry = self.history.entry_at(time_)
        if entry is None and self.history.entries and window is self.history.entries[0].before:
            # the starting data is shown in the first change's window, whose description speaks of "this change";
            # a user that change added has a row of zeros there and is not yet one of the users
            first = self.history.entries[0]
            added = {user: first.time for user in first.change.touched_users if not self.base.history_length(user)}
            caption = views.window_caption(window, self.stats_at(time_), later=added)
            return f"Before any change (the window of {first.label}). {caption}"
        gone = entry.gone if entry is not None and window is not entry.before else ()
        return views.window_caption(window, self.stats_at(time_), gone)

    def forgotten_later(self, window: Window, time_: int) -> str:
        """Why a past ``window`` (shown at logical ``time_``) still has rows of users forgotten
        after it, or "" when it has none: a visitor who forgot Ana and moved the Change log to an
        earlier time saw her movies again and asked whether she was forgotten at all."""
        first: dict[int, tuple[str, int, int]] = {}  # a user forgotten, re-added and forgotten again is named once
        for entry in self.history:
            if (entry.time > time_ and entry.forgotten_user in window.users and entry.forgotten_user not in first
                    and window.history[window.users.index(entry.forgotten_user)].any()):
                user = entry.forgotten_user
                first[user] = (entry.names.get(user, f"User {user}"), entry.time, user)
        later = list(first.values())
        if not later:
            return ""
        names, one = listing(name for name, _, _ in later), len(later) == 1
        when = f"forgotten at t = {later[0][1]}" if one else listing(f"{name} at t = {at}" for name, at, _ in later)
        start = [name for name, _, user in later if self.base.history_length(user)]
        mine = [(name, user) for name, _, user in later if not self.base.history_length(user)]
        erasable = {row[0] for row in self.erasable()}
        back = [name for name, _, user in later if self.model.history_length(user)]
        parts = []
        if mine:
            until = ("you erase them from it (above), reset your changes or close the session"
                     if all(user in erasable for _, user in mine) else "you reset your changes or close the session")
            parts.append(f"Past times are replayed from your session's own log of what you did, which keeps the rows of "
                         f"{listing(name for name, _ in mine)} until {until}; nobody else sees it.")
        if start:
            parts.append(f"{listing(start)} {'is' if len(start) == 1 else 'are'} in the starting data every visitor "
                         "begins with, which past times are replayed from.")
        if back:  # added again after the forget: the model holds their new rows, not none
            last = (f"{listing(back)} {'was' if len(back) == 1 else 'were'} added again later: the model holds only what "
                    "was added since. Verify on the Forget page compares it with a retrain.")
        else:
            last = "The model itself has no trace of them: Verify on the Forget page compares it with a retrain."
        return f"{names} {'was' if one else 'were'} not forgotten yet at t = {time_} ({when}). {' '.join(parts)} {last}"

    def stats_at(self, time_: int) -> Stats:
        """The totals at a past logical time, as recorded (the starting data's for the start)."""
        if time_ == self.model.time:
            return self.stats()
        entry = self.history.entry_at(time_)
        return entry.stats if entry else Stats.of(self.base)

    def user_choices(self) -> list[tuple[int, str]]:
        """Current users as (id, "Name (k movies)"): the ones this session added first, the latest
        first, then the rest by id (a presenter who had just added Ms Teacher found her last, after
        610 MovieLens users, in "User to forget")."""
        added = self.added_users()
        rest = sorted(set(self.model.users()) - set(added))
        return [(user, f"{self.catalog.user_name(user)} ({count(self.model.history_length(user), 'movie')})")
                for user in [*added, *rest]]

    def added_users(self) -> list[int]:
        """Users this session's adds gave movies (new users, or existing ones given more) who still
        have movies, the latest first."""
        if self._added is None or self._added[0] != self.version:
            added: dict[int, None] = {}  # ordered, and a set: an imported log may add 50,000 users (39 ms)
            for entry in reversed(self.log):
                if entry.request.change == "Add":
                    for user in reversed(entry.change.touched_users):
                        if user not in added and self.model.history_length(user):
                            added[user] = None
            self._added = (self.version, list(added))
        return list(self._added[1])

    def latest_added(self) -> int | None:
        """The user this session added most recently who still has movies, or None: whom the
        Recommendations page opens on (a presenter who had just added Ana found User 1 there)."""
        added = self.added_users()
        return added[0] if added else None

    def example_request(self) -> str:
        """A Remove request in the original Amnesia format that this model accepts now: two of its
        first user's interactions (one if they have one; "" without users). The Raw request tab's
        fixed example, user 1's movies 1 and 2, was refused on MovieLens, whose user 1 has no movie 2,
        and an example of the starting data is refused once its user is forgotten."""
        users = self.model.users()
        if not users:
            return ""
        pairs = [[users[0], item] for item in sorted(self.model.history(users[0]))[:2]]
        return json.dumps({"change": "Remove", "interactions": pairs})

    def picker_movies(self) -> list[int]:
        """The movies the Add form's picker offers: all of a small catalog, else the
        :data:`PICKER_MOVIES` most watched, most watched first. The picker's options travel to the
        browser on every run of the page: MovieLens's 9,724 titles were 270 kB a run and a quarter
        of a second of the browser's time; any other title can be typed in the box below it."""
        if len(self.catalog) <= PICKER_MOVIES:
            return [movie.id for movie in self.catalog.movies()]
        return self.catalog.most_watched(PICKER_MOVIES)

    def example_titles(self) -> str:
        """A placeholder for the typed-titles box, valid for this data set."""
        return "\n".join(self.catalog.examples(3))

    def preview_titles(self, typed: str) -> list[TypedLine]:
        """What each typed line resolves to (before anything is sent)."""
        return self.catalog.preview(self._bounded_titles(typed), self.limits)

    def _bounded_titles(self, typed: str) -> str:
        """``typed`` if it is within the typed-titles limits, checked before any line is split:
        the whole box's characters (a 5 MB paste is refused for the cost of a length check), then
        the non-blank lines, all counted (the box is within its characters by then, so counting
        is cheap; stopping at one past the limit told a visitor who pasted 500 "at least 201")."""
        typed = str(typed)
        self.limits.check("typed_chars", len(typed))
        self.limits.check("typed_lines", sum(1 for _, line in iter_lines(typed) if line.strip()))
        return typed

    def current_window(self, max_items: int = views.DEFAULT_ITEMS) -> Window:
        """The focus window before any change: the whole toy world, or MovieLens's most watched part."""
        users, items, description = choose_window(self.model, self.catalog, max_items=max_items)
        return self._snapshot(self._state(), users, items, description)

    # ------------------------------------------------------------------ what a kind of model changes
    # An EASE workspace (:class:`EaseWorkspace`) overrides these: its state is an EASE over the counts.
    @property
    def weights_label(self) -> str:
        """What the charts' second matrix is computed with ("Jaccard", or "EASE, λ = 50")."""
        return self.model.measure.label

    def _state(self):
        """What a change is applied to: the ItemCF (an EASE workspace: its EASE)."""
        return self.model

    def _fresh_state(self):
        """A fork of the shared starting state."""
        return self.base.fork()

    def _state_at(self, time_: int):
        """A fresh state as it was at logical time ``time_``."""
        return self.history.model_at(time_)

    #: Keep the state before the latest change (an item-CF fork costs what its changes cost); False:
    #: rebuild it when the latest change's other windows or forget effect ask (:meth:`_before_latest`).
    keeps_previous = True

    def _before_latest(self):
        """The state just before the latest change (the log must not be empty)."""
        if self._previous is None:
            self._previous = self._state_at(self.log[-1].time - 1)
        return self._previous

    #: The change-stream collections this kind of model's export writes.
    stream_collections: tuple[str, ...] = COLLECTIONS
    #: What the second matrix's entries are called in sentences.
    weight_words = "similarity"

    def changed_words(self, changed: int) -> str:
        """``changed`` entries of the second matrix in words: item-CF counts pairs of movies (a toy forget's
        "8 that changed" sat beside a chart of S that counts "17 of 25 cells", both halves and the diagonal)."""
        return count(changed, "pair of movies", "pairs of movies")

    def introduction(self) -> str:
        """What the model keeps and what forgetting does to it: the Forget page's opening caption."""
        measure = self.model.measure
        return (
            "Item-based collaborative filtering keeps H (who watched what), n (how many watched each movie), "
            f"C = HᵀH (how many watched both) and S ({measure.label} similarity: {measure.text}). Forgetting a user "
            "updates them in place, exactly as if the model had been retrained without that person."
        )

    def scoring_sentence(self) -> str:
        """How a user's recommendations are scored: the Recommendations page's caption."""
        neighbours = self.model.neighbours
        if neighbours is None:
            rule = "."
        elif self.model.scoring == "candidate":
            rule = (f", counting S_ij only when i is among the {neighbours} movies most similar to j (each movie is "
                    "scored from its own list; the lists stay exact after every change).")
        else:
            rule = (f", counting S_ij only when j is among the {neighbours} movies most similar to i (item-kNN; the "
                    "lists stay exact after every change).")
        return "Score of a movie j for a user = Σ over the movies i they watched of S_ij" + rule + (
            " Movies they watched are never recommended.")

    def short_list_sentence(self, user: int, shown: int, k: int = 10) -> str:
        """Why ``user``'s top-``k`` holds only ``shown`` movies ("" when it is full), in the model's
        own terms: with lists read candidate-wise a movie scores only when one of the user's movies is
        among its own K most similar, so one movie watched can give one recommendation. The empty
        list had said "no other movie shares a viewer", which is the all-neighbour model's reason."""
        if shown >= k:
            return ""
        some = "no" if shown == 0 else f"{shown:,}"
        if self.model.num_items() - self.model.history_length(user) <= shown:
            return ("No recommendations: this user has watched every movie in the model." if shown == 0 else
                    f"Only {count(shown, 'movie')} in the model {'is' if shown == 1 else 'are'} not among this user's, "
                    f"so the list is shorter than {k}.")
        neighbours = self.model.neighbours
        if neighbours is None:
            reach = f"{some} other {'movie shares' if shown == 1 else 'movies share'} a viewer with this user's movies"
        elif self.model.scoring == "candidate":
            reach = (f"{some} {'movie has' if shown == 1 else 'movies have'} one of this user's movies among "
                     f"{'its' if shown == 1 else 'their'} {neighbours} most similar movies")
        else:
            reach = f"this user's movies' {neighbours} most similar movies give {some} other {'movie' if shown == 1 else 'movies'}"
        return f"No recommendations: {reach}." if shown == 0 else f"Only {reach}, so the list is shorter than {k}."

    def spread_sentence(self, entry: LogEntry) -> str:
        """Why the change moved the entries it moved ("" when there is nothing to say)."""
        return ""

    def read_sentence(self, entry: LogEntry) -> str:
        """What reading the change's effect took, after the write ("" when it was not read)."""
        # each step measured: a visitor's copy records the change (the write); C and S are worked out
        # from it when read, and the page's first read is the scan of the changed rows
        rows = len(entry.change.count_items)
        if entry.read_seconds is None or not rows:
            return ""
        return (f"Finding what changed in its {count(rows, 'row')} of C and S, for the charts below, "
                f"took another {entry.read_seconds * 1e3:,.1f} ms.")

    def _set_state(self, state) -> None:
        self.model = state

    def _snapshot(self, state, users: Sequence[int], items: Sequence[int], description: str) -> Window:
        """The window ``users`` x ``items`` of ``state`` (a value of :meth:`_state`)."""
        return snapshot(state, self.catalog, users, items, description)

    def _counts_of(self, state) -> ItemCF:
        """The exact counts (H, n, C) of ``state``."""
        return state

    def _measure(self, before, change: ChangeSet) -> ChangeEffect:
        return measure_change(before, self.model, change.count_items.tolist(), change.touched_users)

    def _measure_cost(self, change: ChangeSet) -> int:
        """The reading work of :meth:`_measure`, known before it starts."""
        return self.model.read_cost(change.count_items)

    # ------------------------------------------------------------------ actions
    def add_user(self, name: str, items: Sequence[int] = (), typed: str = "") -> LogEntry:
        """Add a new user called ``name`` who watched ``items`` and the titles or ids in ``typed``
        (one per line). Unknown or ambiguous titles raise a TitleError listing candidates."""
        self._check_room()
        clean = self.catalog.check_new_user_name(name, self.limits)  # before titles: nothing registered yet
        if hasattr(items, "__len__"):
            self.limits.check("interactions", len(items))  # before the list is read
        picked = check_ids(list(itertools.islice(items, self.limits.interactions + 1)), "movie").tolist()
        self.limits.check("interactions", len(picked))
        typed = self._bounded_titles(typed)
        lines = self.catalog.preview(typed, self.limits)  # every line resolved once, the problems numbered
        unresolved = [line for line in lines if not line.ok]
        if unresolved:
            raise self._unresolved(unresolved)
        named = picked + [line.item for line in lines]
        chosen = list(dict.fromkeys(named))
        if not chosen:
            raise AmnesiaError(f"Pick at least one movie that {clean} watched; the selection is empty.")
        unknown = [item for item in chosen if item not in self.catalog]
        if unknown:
            raise AmnesiaError(f"Movie id(s) {', '.join(map(str, unknown[:5]))} are not in the catalog; pick movies from the list.")
        user = self.catalog.add_user(clean, taken_ids=self._taken_ids(), limits=self.limits)
        try:
            request = ChangeRequest("Add", np.array([[user, item] for item in sorted(chosen)], dtype=np.int64))
            titles = ", ".join(self.catalog.title(item) for item in chosen[:5]) + (f" and {len(chosen) - 5:,} more" if len(chosen) > 5 else "")
            if repeats := len(named) - len(chosen):  # said, or 4 lines adding 2 movies reads as 2 lines lost
                titles += f" ({count(repeats, 'repeated movie')} counted once)"
            return self._apply(request, "add", f"Added {clean} with {count(len(chosen), 'movie')}", [user], detail=titles)
        except BaseException:
            self.catalog.remove_user(user)
            raise

    def _unresolved(self, unresolved: list[TypedLine]) -> AmnesiaError:
        """The error for typed lines that name no single movie (``unresolved``, in order), with the
        number of every such line: a visitor who clicks Add saw only the first line's problem, with
        no line number, and none of the others'. The first line is resolved again for its error's
        kind (unknown or ambiguous; a line over a limit raises its LimitError here, as it is)."""
        first = unresolved[0]
        try:
            self.catalog.resolve(first.text, self.limits)
        except TitleError as error:
            numbers = [line.number for line in unresolved]
            # the form lists every line's own problem above its button; the message had left line 4 unexplained
            lead = (f"Lines {listing(numbers)} do not name one movie each yet (under the box, each line says "
                    f"why). Line {first.number}: " if len(numbers) > 1
                    else f"Line {first.number}: ")
            return type(error)(f"{lead}{error} Nothing was added.", error.query, error.candidates)
        return AmnesiaError(f"Line {first.number}: {first.problem} Nothing was added.")  # the preview's word, if resolve disagreed

    def forget_user(self, user: int) -> LogEntry:
        """Forget every interaction of ``user``, and their display name."""
        self._check_room()
        if not isinstance(user, (int, np.integer)) or isinstance(user, bool):
            raise AmnesiaError("Pick a user to forget from the list.")
        name = self.catalog.user_name(int(user))
        history = self.model.history(int(user))
        if not history:
            raise AmnesiaError(f"{name} has no interactions left to forget; pick a current user.")
        request = ChangeRequest("Remove", np.array([[user, item] for item in history], dtype=np.int64))
        entry = self._apply(request, "forget", f"Forgot {name} ({count(len(history), 'movie')})", [int(user)], forgotten=int(user))
        self.catalog.remove_user(int(user))
        return entry

    def apply_json(self, text: str) -> LogEntry:
        """Apply a raw request in the original Amnesia JSON format (limits checked before parsing)."""
        self._check_room()
        return self._apply_raw(parse_request(str(text), self.limits), "raw")

    def import_log(self, text: str | bytes) -> int:
        """Replace this workspace's changes with the requests of an exported request log.

        All or nothing: every line is parsed first, then the requests are replayed on a fresh
        fork; if any fails, the workspace is as it was and the error names the line. Returns
        how many requests were applied.

        Each change's effect is measured exactly as it was live (so the focus windows, the
        change log and the export's estimate are the same as the exporting session's) while
        the measurements have taken less than the ``import_measure_ms`` limit; after that only
        the last change is measured, and the export's estimate says "at most".
        """
        requests = parse_request_log(text if isinstance(text, bytes) else str(text), self.limits)
        measuring = 0.0  # seconds spent measuring effects so far
        with self._rewriting():
            for number, request in enumerate(requests, start=1):
                try:
                    measure = number == len(requests) or measuring * 1e3 < self.limits.import_measure_ms
                    # a forget's effect on others' lists is measured when the Recommendations page asks (an
                    # import of 20 heavy forgets took 8.7 s measuring them all, 3.1 s without)
                    entry = self._apply_raw(request, "import", measure, forget_effect=False)
                    measuring += entry.read_seconds or 0.0
                except AmnesiaError as error:
                    raise type(error)(f"Line {number} of the request log: {error}", *_error_args(error)) from None
        return len(requests)

    @contextmanager
    def _rewriting(self) -> Iterator[History]:
        """Start this workspace's changes afresh (:meth:`reset`) for the block to rebuild them, and
        yield the log it had; if the block fails, the workspace is as it was (import and erase are
        all or nothing)."""
        saved = (self._state(), self.catalog, self.history, self._previous, self._windows, self._forget_effects)
        self.reset()
        try:
            yield saved[2]
        except BaseException:
            state, self.catalog, self.history, self._previous, self._windows, self._forget_effects = saved
            self._set_state(state)
            raise

    # ------------------------------------------------------------------ erasing a forgotten user from the log
    def erasable(self) -> list[tuple[int, str, int]]:
        """The forgotten users whose rows this session's log still holds, as (user, name then, time
        they were left without movies), in that order: users this session added and later removed,
        by a forget or a raw request. Users of the starting data are not listed: every visitor starts
        from it, and past times are replayed from it."""
        found: dict[int, tuple[str, int]] = {}
        for entry in self.log:
            for user in entry.gone:
                if not self.model.history_length(user) and not self.base.history_length(user):
                    found[user] = (entry.names.get(user, f"User {user}"), entry.time)
        return sorted(((user, name, at) for user, (name, at) in found.items()), key=lambda row: (row[2], row[0]))

    def erase_from_log(self, user: int) -> int:
        """Rewrite this session's log as if the forgotten ``user`` had never been added, and return
        how many of its changes named them.

        Forgetting takes a user out of the model; the log of what the visitor did still holds their
        rows at past times, their requests in the export, and every later record computed with
        them. Erasing keeps the changes before the user's first one as they are and replays the
        rest without the user's rows: a change only about them stays at its time, empty ("a user,
        since erased from this log"), so no time moves, and every change that was measured live is
        measured again (its records were computed with the user). The model becomes the replay's:
        the same counts and similarities as before (the user was forgotten), without the items only
        they had touched, and for EASE weights equal to rounding. All or nothing: on any failure the
        workspace is as it was.
        """
        if isinstance(user, bool) or not isinstance(user, (int, np.integer)):
            raise AmnesiaError("Pick a forgotten user to erase from the log.")
        user = int(user)
        if user not in {row[0] for row in self.erasable()}:
            raise AmnesiaError(f"{self._not_erasable(user)} Nothing was changed.")
        entries = list(self.log)
        first = next(number for number, entry in enumerate(entries) if (entry.request.pairs[:, 0] == user).any())
        kept = entries[first - 1].time if first else self.history.start
        effects = {key: effect for key, effect in self._forget_effects.items() if key[0] <= kept}
        erased = 0
        with self._rewriting() as history:
            self.history = history.until(kept)
            if first:
                self._set_state(self._state_at(kept))
            self._forget_effects.update(effects)
            for entry in entries[:first]:  # the names as they were at ``kept``: a user forgotten by then has none
                self._follow_names(entry, user)
                for gone in entry.gone:
                    self.catalog.remove_user(gone)
            for entry in entries[first:]:
                self._follow_names(entry, user)
                pairs = entry.request.pairs
                keep = pairs[:, 0] != user
                kind, action, detail, forgotten = entry.kind, entry.action, entry.detail, entry.forgotten_user
                request = entry.request
                if not keep.all():
                    erased += 1
                    request = ChangeRequest(entry.request.change, pairs[keep])
                    if keep.any():  # a raw request about several users: the others' part, in the raw request's words
                        action, detail, forgotten = "", "", None
                    else:
                        kind, action, detail, forgotten = "erased", _erased_action(entry.kind), "", None
                focus = sorted({int(u) for u in request.pairs[:, 0].tolist()})
                # the forget effect is left for the Recommendations page to ask for: measured here for every
                # forget of a long log it took most of a 20 s erase
                replayed = self._apply(request, kind, action, focus, forgotten=forgotten, measure=entry.effect is not None,
                                       detail=detail, forget_effect=False)
                for gone in replayed.gone:
                    self.catalog.remove_user(gone)
        return erased

    def _not_erasable(self, user: int) -> str:
        """Why ``user`` cannot be erased from the log (they are not in :meth:`erasable`)."""
        if self.model.history_length(user):
            return f"{self.catalog.user_name(user)} still has movies: forget them on the Forget page first."
        named = [entry.names[user] for entry in self.log if user in entry.names]
        name = named[-1] if named else f"User {user}"
        if self.base.history_length(user):
            return (f"{name} is in the starting data every visitor shares, which past times are replayed from, so "
                    "the log cannot be rewritten without them.")
        return f"Your log holds no rows of {name}."

    def _follow_names(self, entry: LogEntry, erased: int) -> None:
        """Before replaying ``entry``: its users' names as they were (a forgotten user's name left the
        catalog), except the erased user's."""
        for other, name in entry.names.items():
            if other != erased:
                self.catalog.restore_user(other, name)

    def _apply_raw(self, request: ChangeRequest, kind: str, measure: bool = True, forget_effect: bool = True) -> LogEntry:
        unknown_items = sorted({int(i) for i in request.pairs[:, 1].tolist() if int(i) not in self.catalog})
        if unknown_items and request.change == "Add":
            raise RequestError(
                f"{'Item' if len(unknown_items) == 1 else 'Items'} {', '.join(map(str, unknown_items[:5]))}"
                f"{f' and {len(unknown_items) - 5:,} more' if len(unknown_items) > 5 else ''} "
                f"{'is' if len(unknown_items) == 1 else 'are'} not in the catalog; "
                f"add movies the catalog knows (type a title in 'Add a user' to find its id). Nothing was changed."
            )
        users = sorted(set(request.pairs[:, 0].tolist()))
        entry = self._apply(request, kind, "", users, measure=measure, forget_effect=forget_effect)
        for user in entry.gone:  # left without movies: their names go too
            self.catalog.remove_user(user)
        return entry

    def _check_room(self) -> None:
        if len(self.history) >= self.limits.log_lines:
            raise AmnesiaError(
                f"Your session holds {len(self.history):,} changes, the most one session keeps. Export the request "
                f"log on the Change log page, then reset your changes to go on. Nothing was changed."
            )

    def _taken_ids(self) -> set[int]:
        ever = {int(u) for entry in self.history for u in entry.request.pairs[:, 0].tolist()}
        return {*self.model.users(), *self.base.users(), *self.catalog.user_names(), *ever}

    def _apply(
        self,
        request: ChangeRequest,
        kind: str,
        action: str,
        focus_users: Sequence[int],
        forgotten: int | None = None,
        measure: bool = True,
        detail: str = "",
        forget_effect: bool = True,
    ) -> LogEntry:
        """Apply ``request`` with the app's limits and log it; on any failure nothing changes."""
        before_state = self._state().fork()  # the state before: for the window, the effect and replays
        before_model = self._counts_of(before_state)
        names = {int(u): self.catalog.user_name(int(u)) for u in focus_users}
        change = self._state().apply(request, self.limits)  # raises before any change on bad input
        try:
            started = time.perf_counter()
            effect = self._measured(before_state, change) if measure else None
            read_seconds = time.perf_counter() - started if effect is not None else None
            ranked = self._ranked(effect, change, self.default_min_viewers)
            users, items, description = choose_window(before_model, self.catalog, ranked, focus_users,
                                                      ranked_as=self._ranked_as(ranked, effect, change, views.DEFAULT_ITEMS))
            before = self._snapshot(before_state, users, items, description)
            after = self._snapshot(self._state(), users, items, description).relabel(before.user_labels)
            noop = _noop_reason(request, change)
            if not action or (noop and kind != "erased"):  # an erased change keeps its own words
                action = _raw_action(request, change, noop, kind, self.catalog.user_name)
            gone = tuple(u for u in change.touched_users if not self.model.history_length(u))
            if forgotten is None and kind != "erased" and len(gone) == 1 and set(change.touched_users) == set(gone):
                # a raw or imported request that took one user's every movie, and no one else's, forgot them as
                # the Forget tab does: Recommendations had shown no forget effect after an import of a session's
                # forgets (a request that also took other users' movies is not one user's forget)
                forgotten = gone[0]
            entry = LogEntry(
                change.time, kind, action, request, change, effect, before, after, Stats.of(self.model),
                _named({**names, **{u: names.get(u, self.catalog.user_name(u)) for u in change.touched_users}}),
                forgotten, noop, detail, gone, read_seconds=read_seconds,
            )
            self.history.append(entry, self.model)
        except BaseException:
            self._set_state(before_state)  # undo: the change is not half-logged
            raise
        self._previous = before_state if self.keeps_previous else None
        self._windows.clear()
        self.version += 1
        if forgotten is not None and forget_effect:
            with suppress(AmnesiaError):  # the change stands; the page measures its effect when asked
                self._effect_with_forget(entry, before_state)
        return entry

    def _measured(self, before, change: ChangeSet) -> ChangeEffect | None:
        """The change's effect on every similarity (:func:`.effects.measure_change`; for EASE every
        weight), or None when reading would cost more than the ``read_work`` limit (a user with
        3,000 movies after thousands of imported ones: tens of seconds). Its cost is known
        before reading; heavy measurements wait for the server's reads gate."""
        cost = self._measure_cost(change)
        if cost > self.limits.read_work:
            return None
        with gates.READS.hold() if cost > HEAVY_READ else nullcontext():
            return self._measure(before, change)

    #: Whether a change of no more movies than the window holds shows them first (:meth:`_own_first`); EASE's
    #: ranking already puts the change's own scored movies first, and its unscored ones have no weights to show.
    own_first = True

    def _own_first(self, change: ChangeSet, min_viewers: int, max_items: int) -> list[int]:
        """The change's own movies to show before the ranking, or none: a user added with A New Hope, whose
        similarities barely move, had "5 movies" in the message and 4 of them in the charts (a visitor's pass).
        Only when the window holds them all, and only those of the popularity tier (watched by ``min_viewers``
        before or after the change) that still have a viewer, as in the ranking."""
        touched = change.count_items
        if not self.own_first or not 0 < len(touched) <= max_items:
            return []
        tier = (np.maximum(change.count_old, change.count_new) >= min_viewers) & (change.count_new > 0)
        return touched[tier].tolist()

    def _ranked(self, effect: ChangeEffect | None, change: ChangeSet, min_viewers: int,
                max_items: int = views.DEFAULT_ITEMS) -> tuple[int, ...]:
        if effect is not None:
            ranked = effect.ranking(min_viewers).items
            own = self._own_first(change, min_viewers, max_items)
            if own:  # in the ranking's order, then the ones it left out, most watched first
                position = {item: rank for rank, item in enumerate(ranked)}
                own.sort(key=lambda item: (position.get(item, len(ranked)), -self.catalog.popularity(item), item))
                return tuple(dict.fromkeys([*own, *ranked]))
            return ranked
        # not measured (an imported request): the movies it touched, most watched first
        items = change.count_items.tolist()
        return tuple(sorted(items, key=lambda item: (-self.catalog.popularity(item), item))[: views.MAX_ITEMS])

    #: What the focus window's ranking moved, as its caption says it: (the entries, |Δ| of the matrix).
    moved_words = ("similarities", "|ΔS|")

    def _own_shown(self, ranked: Sequence[int], change: ChangeSet, max_items: int, min_viewers: int) -> int:
        """How many of the window's first ``max_items`` of ``ranked`` are the change's own movies put first
        (:meth:`_own_first`); 0 when the window is the ranking alone, whichever of them are the change's own."""
        return min(len(self._own_first(change, min_viewers, max_items)), max_items)

    def _ranked_as(self, ranked: Sequence[int], effect: ChangeEffect | None, change: ChangeSet, max_items: int,
                   min_viewers: int | None = None) -> str:
        """What the first ``max_items`` of ``ranked`` (:meth:`_ranked`) are, after "the 20": the window's caption."""
        if effect is None:
            return f"movies this change touched, most watched first (its effect on every {self.weight_words} was not measured)"
        entries, delta = self.moved_words
        mine = self._own_shown(ranked, change, max_items, self.default_min_viewers if min_viewers is None else min_viewers)
        if mine and mine == min(len(ranked), max_items):
            return f"movies of this change whose {entries} it moved most (largest {delta} first)"
        if mine == 0:
            return f"movies whose {entries} this change moved most (largest {delta} first)"
        return (f"movies, the first {mine} of them this change's own, then those whose {entries} it moved most "
                f"(largest {delta} first in each part)")

    # ------------------------------------------------------------------ the latest change, explained
    def latest_windows(self, max_items: int = views.DEFAULT_ITEMS, min_viewers: int | None = None) -> tuple[Window, Window]:
        """The focus window of the latest change, before and after, with ``max_items`` movies
        from popularity tier ``min_viewers`` (default: :attr:`default_min_viewers`)."""
        entry = self.log[-1]
        min_viewers = self.default_min_viewers if min_viewers is None else min_viewers
        if (max_items, min_viewers) == (len(entry.before.items), self.default_min_viewers):
            return entry.before, entry.after
        key = (entry.time, max_items, min_viewers)
        if key not in self._windows:
            ranked = self._ranked(entry.effect, entry.change, min_viewers, max_items)
            focus = [entry.forgotten_user] if entry.forgotten_user is not None else list(entry.change.touched_users)
            previous = self._before_latest()
            users, items, description = choose_window(self._counts_of(previous), self.catalog, ranked, focus, max_items=max_items,
                                                      ranked_as=self._ranked_as(ranked, entry.effect, entry.change, max_items,
                                                                                min_viewers))
            before = self._snapshot(previous, users, items, description)
            before = before.relabel([entry.names.get(u, label) for u, label in zip(before.users, before.user_labels)])
            after = self._snapshot(self._state(), users, items, description).relabel(before.user_labels)
            self._windows = {key: (before, after)}  # one size at a time: windows are small, but not kept
        return self._windows[key]

    def largest_changes(self, entry: LogEntry, min_viewers: int | None = None, limit: int = 10) -> list[PairChange]:
        """The largest similarity changes of ``entry`` between movies still in the model."""
        if entry.effect is None:
            return []
        ranking: Ranking = entry.effect.ranking(self.default_min_viewers if min_viewers is None else min_viewers)
        return list(ranking.pairs[:limit])

    def pair_sentences(self, pairs: Sequence[PairChange]) -> list[str]:
        """One sentence per pair (:meth:`_pair_sentence`), all in one precision so the lines compare
        and their changes read in the list's order (largest first)."""
        digits = views.list_digits([(p.s_old, p.s_new) for p in pairs], ranked=True)
        return [self._pair_sentence(p, digits) for p in pairs]

    def _pair_sentence(self, p: PairChange, digits: int) -> str:
        """``"Toy Story (1995) ↔ Aladdin (1992): 0.41 → 0.38 (C 12 → 11)"``."""
        return f"{views.pair_sentence(self.catalog, p.item_a, p.item_b, p.s_old, p.s_new, digits)} (C {p.c_old} → {p.c_new})"

    def outside_sentence(self, pairs: Sequence[PairChange], window: Window) -> str:
        """How many of the listed ``pairs`` involve a movie the charts (``window``) do not show, or ""."""
        shown = set(window.items)
        outside = sum(1 for p in pairs if p.item_a not in shown or p.item_b not in shown)
        if not outside:
            return ""
        if outside < len(pairs):
            which = f"{outside} of these {len(pairs)} pairs {'involves a movie' if outside == 1 else 'involve movies'}"
        else:  # not "10 of these 10 pairs"
            which = "This pair involves a movie" if outside == 1 else f"All {outside} of these pairs involve movies"
        return f"{which} outside the charts above, which show {len(shown)} movies."

    def emptied_sentence(self, entry: LogEntry, listed: bool = True) -> str:
        """What happened to movies that lost their last viewer, or "" if none did; ``listed``: the page
        shows the list of largest changes above (with every user forgotten it has none to show)."""
        effect = entry.effect
        if effect is None or effect.emptied_count == 0:
            return ""
        shown = ", ".join(self.catalog.title(i) for i in effect.emptied[:3])
        more = f" and {effect.emptied_count - 3:,} more" if effect.emptied_count > 3 else ""
        one = effect.emptied_count == 1
        their, they = ("its", "It is") if one else ("their", "They are")
        return (
            f"{count(effect.emptied_count, 'movie')} ({shown}{more}) lost {their} last viewer: n = 0, so every "
            f"{self.weight_words} {'it has' if one else 'they have'} is now 0 (never a division by zero)."
            + (f" {they} left out of the list above." if listed else "")
        )

    def forget_figures(self, max_items: int = views.DEFAULT_ITEMS, min_viewers: int | None = None) -> ForgetFigures:
        """What the Forget page draws now: the animated state figure, the ΔC/ΔS figure (None before
        any change or after a no-op) and the window they show. Built once per state and window size:
        building costs time on MovieLens, and a rebuilt figure would restart its animation."""
        min_viewers = self.default_min_viewers if min_viewers is None else min_viewers
        key = (self.version, max_items, min_viewers)
        if self._figures is None or self._figures[0] != key:
            label, entry = self.weights_label, (self.log[-1] if self.log else None)
            if entry is None:
                window = self.current_window(max_items)
                built = ForgetFigures(Prepared(state_spec(window, "The model now: add or forget a user to see it change", label)), None, window)
            elif entry.noop:
                built = ForgetFigures(Prepared(state_spec(entry.after, f"t = {entry.time}: nothing changed", label)), None, entry.after)
            else:
                before, after = self.latest_windows(max_items, min_viewers)
                changed = Prepared(delta_spec(before, after, "After minus before: red = decreased, blue = increased"))
                built = ForgetFigures(Prepared(update_spec(before, after, entry.chart_label(after), label)), changed, after)
            self._figures = (key, built)
        return self._figures[1]

    def emptied_in_window(self, window: Window) -> str:
        """A sentence naming the window's movies with no interactions left (n = 0), or ""."""
        dead = [self.catalog.title(item) for item, count in zip(window.items, window.counts) if count == 0]
        if not dead:
            return ""
        one = len(dead) == 1
        return (
            f"{', '.join(dead)} {'has' if one else 'have'} no interactions left, so n = 0 and {'its' if one else 'their'} "
            f"{self.weight_words} to every movie is 0 (never a division by zero)."
        )

    # ------------------------------------------------------------------ forget effect, verify, history
    def forgets(self) -> list[LogEntry]:
        """The log entries that forgot a user, newest first."""
        return [entry for entry in reversed(self.log) if entry.forgotten_user is not None]

    def forgotten_since(self, entry: LogEntry) -> frozenset[int]:
        """The users a change after ``entry`` left without interactions (forgotten, or emptied by
        a Remove). Their lists at ``entry``'s time are what a page must no longer show: they
        would keep a forgotten person's recommendations on screen under a bare "User 612" (the
        name went with them), or under the name of a later user given the same id."""
        return frozenset(user for later in self.log if later.time > entry.time for user in later.gone)

    def forget_effect(self, entry: LogEntry, k: int = FORGET_EFFECT_K, max_users: int = FORGET_EFFECT_USERS,
                      on_wait: Callable[[int], None] | None = None) -> ForgetEffect:
        """Whose top-``k`` a logged forget changed (cached per time: it needs two models).

        Bounded by the ``read_work`` limit: users are examined while their recommendations fit
        in it (``ForgetEffect.limited`` says when some were left out); heavy work waits for the
        server's reads gate (``on_wait`` is told how many are ahead)."""
        if entry.forgotten_user is None:
            raise AmnesiaError(f"t = {entry.time} did not forget a user; pick a forget.")
        key = (entry.time, k, max_users)
        if key not in self._forget_effects:
            if entry is self.log[-1]:
                before, after = self._before_latest(), self._state()
            else:
                before = self._state_at(entry.time - 1)
                after = before.fork()
                after.apply(entry.request)
            self._forget_effects[key] = self._compare_lists(entry, before, after, k, max_users, on_wait)
        return self._forget_effects[key]

    def _compare_lists(self, entry: LogEntry, before, after, k: int, max_users: int,
                       on_wait: Callable[[int], None] | None) -> ForgetEffect:
        heavy = before.read_cost(before.history(entry.forgotten_user)) > HEAVY_READ
        with gates.READS.hold(on_wait) if heavy else nullcontext():
            return forget_effect(before, after, entry.forgotten_user, k, max_users, self.limits.read_work)

    def _effect_with_forget(self, entry: LogEntry, before) -> None:
        """Measure the forget effect of ``entry`` (the latest change) now, while the state before it
        is at hand: later, after other changes, the Recommendations page had to replay the forget
        to get it (0.4 s of neighbour-list updates for User 414 on MovieLens). Left for the page
        when the server's reads gate is full: a forget never queues behind other visitors' reads."""
        if gates.READS.running >= gates.READS.limit.slots:
            return
        key = (entry.time, FORGET_EFFECT_K, FORGET_EFFECT_USERS)
        self._forget_effects[key] = self._compare_lists(entry, before, self._state(), *key[1:], None)

    def recommendation_table(self, user: int, k: int = 10, on_wait: Callable[[int], None] | None = None) -> pd.DataFrame:
        """Top-``k`` for ``user``: rank, movie, score, and the movies of theirs that explain it.

        The reads' cost is known first (:meth:`ItemCF.read_cost`): over the ``read_work`` limit
        it is refused with a LimitError; heavy reads wait for the server's reads gate."""
        cost = self._state().read_cost(self.model.history(user))
        self.limits.check("read_work", cost)
        with gates.READS.hold(on_wait) if cost > HEAVY_READ else nullcontext():
            return self._recommendation_table(user, k)

    def _recommendation_table(self, user: int, k: int) -> pd.DataFrame:
        scorer = self._state()
        rows = [
            {
                "rank": rank,
                "movie": self.catalog.title(rec.item),
                "score": round(rec.score, 4),
                "because you watched": ", ".join(self.catalog.title(i) for i, _ in scorer.explain(user, rec.item)),
            }
            for rank, rec in enumerate(scorer.recommend(user, k), start=1)
        ]
        return pd.DataFrame(rows, columns=["rank", "movie", "score", "because you watched"])

    def retrain_cost(self) -> int:
        """Σ k² over the users (k items each): the co-occurrence updates a retrain makes."""
        model = self.model
        return sum(model.history_length(user) ** 2 for user in model.users())

    def verify(self, on_wait: Callable[[int], None] | None = None) -> Verification:
        """Retrain from scratch on the remaining interactions and compare fingerprints (the retrain is
        counted from the interactions alone and hashed block by block, see
        :func:`~amnesia.engine.fingerprint.retrain_fingerprint`; ``retrain_seconds`` times both).

        Bounded first: a retrain over the ``retrain_pairs`` limit is refused (LimitError), and
        one Verify runs at a time per server (:data:`.gates.VERIFY`): the others wait, told how
        many are ahead (``on_wait``), or get a BusyError after the gate's wait. The visitor's
        fingerprint is hashed in a second thread while the retrain runs: both are NumPy-heavy
        and release the GIL, so on two cores they overlap."""
        self.limits.check("retrain_pairs", self.retrain_cost())
        with gates.VERIFY.hold(on_wait):
            return self._verify()

    def _verify(self) -> Verification:
        model = self.model
        remaining = model.interactions()
        with ThreadPoolExecutor(max_workers=1) as pool:
            mine = pool.submit(model.fingerprint)
            started = time.perf_counter()
            # a retrain counted a block of rows at a time and hashed as it goes, never kept (its
            # whole C would be a new 190 MB matrix on MovieLens, most of Verify's time)
            theirs = retrain_fingerprint(remaining, model.measure, model.neighbours)
            retrain_seconds = time.perf_counter() - started
            mine_value = mine.result()
        last = self.log[-1].change.seconds if self.log else None
        return Verification(mine_value == theirs, mine_value, theirs, retrain_seconds, last)

    def verify_note(self, result: Verification) -> str:
        """Why the latest update took as long as a retrain, when it did ("" otherwise): a forget of
        User 414 (2,698 movies) updates in ~0.6 s and a streamed retrain hashes in ~0.5 s, and a
        presenter should not have to explain that comparison unaided."""
        last = result.last_update_seconds
        if self.small and self.log and last is not None and last >= result.retrain_seconds / 2:
            # a presenter on the toy world read "update 5.77 ms · retrain 1.8 ms" aloud and had to explain it
            # not "a few milliseconds": a shared server's other work (another visitor's page) can hold either up,
            # and a visitor read "forgot Alice in 35.54 ms" beside "retrain 1.7 ms" under that sentence
            return ("In a world this small an update and a retrain are both mostly fixed cost, and a busy server's other "
                    "work can hold either up. The gap shows with more data: pick MovieLens in the sidebar and forget a "
                    "user there.")
        if not self.log or last is None or last < max(result.retrain_seconds / 2, 0.1):  # noticeable, and near a retrain
            return ""
        touched = len(self.log[-1].change.count_items)
        return (f"The last change touched {touched:,} movies: an exact update costs what it touches (each of those "
                "movies' rows), a retrain what the whole data set holds, so for a history this long they meet. A user "
                "with a typical history is forgotten in milliseconds.")

    def model_at(self, time_: int) -> ItemCF:
        """The visitor's model as it was at logical time ``time_`` (from the nearest checkpoint)."""
        return self.history.model_at(time_)

    # ------------------------------------------------------------------ exports
    def request_log(self) -> str:
        """The request log as JSON lines (line t = the request applied at time t): the default export."""
        return "".join(self.history.request_lines())

    def export_estimate(self) -> ExportEstimate:
        """The full change stream's records and bytes, from the log alone (nothing is replayed)."""
        records, size, exact = 0, 0, True
        items = max(len(self.catalog), len(self.model.items()))
        for entry in self.log:
            change = entry.change
            h = len(change.users)
            n = int(np.count_nonzero(change.count_old) + np.count_nonzero(change.count_new))
            if entry.effect is not None:
                c, s = entry.effect.records_c, entry.effect.records_s
            else:
                exact = False
                c = 2 * len(change.count_items) * items
                s = c if "similarities_s" in self.stream_collections else 0
            records += h + n + c + s
            size += (
                h * RECORD_BYTES["interactions"] + n * RECORD_BYTES["item_interactions_n"]
                + c * RECORD_BYTES["cooccurrences_c"] + s * RECORD_BYTES["similarities_s"]
            )
        return ExportEstimate(records, size, exact)

    def export_chunks(self, chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
        """The full change stream as JSON lines, in chunks of about ``chunk_bytes``.

        Replays the log on a fresh fork of the base model (the engine derives C and S changes
        from the model at each time, in bounded chunks). Refused with an AmnesiaError when the
        estimate is over the limit: use the command line then.
        """
        estimate = self.export_estimate()
        if not estimate.allowed:
            raise AmnesiaError(self.export_refusal(estimate))
        model = self.base.fork()
        parts: list[str] = []
        size = 0
        for entry in self.log:
            changes = model.apply(entry.request)
            for record in change_records(model, changes, self.stream_collections):  # C and S derived in sorted, bounded chunks
                line = record_line(record)
                parts.append(line)
                size += len(line)
                if size >= chunk_bytes:
                    yield "".join(parts).encode()
                    parts, size = [], 0
            del changes
        if parts:
            yield "".join(parts).encode()

    def replay_command(self, source: str | None = None, target: str | None = None) -> str:
        """The command line that regenerates this workspace's change stream: its data set and similarity
        (a cosine visitor's command used to omit ``--similarity cosine`` and replay Jaccard records).
        ``source``: the request log to read (default: the exported file's name); ``target``: where to write."""
        measure = self.model.measure.name
        # only the requests' records, as the page's download: the starting data's time-0 records of MovieLens are
        # 26 million (3 GB), which a researcher's replay wrote unasked beside the page's "about 80 MB"
        command = f"python -m amnesia stream --data {self.dataset.name} --changes-only"
        if measure != DEFAULT.name:
            command += f" --similarity {measure}"
        if self.stream_collections != COLLECTIONS:
            command += f" --emit {','.join(LETTERS[name] for name in self.stream_collections)}"
        command += f" < {source or f'amnesia-{self.dataset.name}-requests.jsonl'}"
        return command + (f" > {target}" if target else "")

    def export_refusal(self, estimate: ExportEstimate, command: bool = True) -> str:
        """Why a full export is refused, and how to get it anyway (ending with
        :meth:`full_stream_command` unless ``command`` is False: the page shows it as a code block
        of its own)."""
        text = (
            f"The full change stream would be about {size(estimate.bytes)} ({estimate.records:,} records); "
            f"the app exports at most {size(estimate.limit)}. Download the request log instead and replay it "
            f"with the command line, which streams any size:"
        )
        return f"{text} {self.full_stream_command()}" if command else text

    def full_stream_command(self) -> str:
        """The command that writes the full change stream from the downloaded request log."""
        return self.replay_command(target="stream.jsonl")

    def counts_csv(self) -> str:
        """n of every movie (zeros included) as CSV."""
        return views.counts_csv(self.model, self.catalog)

    def interactions_csv(self) -> str:
        """H as CSV."""
        return views.interactions_csv(self.model)


@dataclass(frozen=True)
class EaseSettings:
    """The dashboard's EASE for one data set: ridge strength ``l2`` (λ) and the popularity
    threshold ``min_viewers`` of the items it scores (P is dense: items² float64 per visitor)."""

    l2: float
    min_viewers: int


#: MovieLens: λ = 50 is what ``python -m amnesia bench --part quality`` chose on validation (over
#: every item); min_viewers = 30 keeps the 882 movies at least 30 people rated, so P is 6.2 MB. Each
#: visitor holds a copy: at min_viewers = 20 (1,297 movies, 13.5 MB) each visitor added 13.7 MB in
#: process and three brought the server to 621 MB, so ten would pass the hosted demo's 690 MB budget
#: (docs/benchmarks.md, "The dashboard on EASE", measures ten at 30). The toy
#: world is shown whole, with a small λ so its weights are large enough to read.
EASE_SETTINGS = {"toy": EaseSettings(1.0, 1), "movielens-small": EaseSettings(50.0, 30)}
#: Any other data set (a catalog of MovieLens's size is assumed).
DEFAULT_EASE = EaseSettings(50.0, 30)
#: The sidebar's model kinds: item-CF (a similarity and its neighbour lists) or EASE.
MODEL_KINDS = {"item-cf": "Item-CF (similarity)", "ease": "EASE (ridge weights)"}


def shared_ease(dataset: Dataset, counts: ItemCF) -> EASE:
    """The data set's shared EASE, over a fork of the shared item-CF model's counts (so the only
    new memory is P), with the settings of :data:`EASE_SETTINGS`."""
    settings = ease_settings(dataset.name)
    return EASE.from_counts(counts.fork(), settings.l2, settings.min_viewers)


def ease_settings(name: str) -> EaseSettings:
    """The dashboard's EASE settings for data set ``name``."""
    return EASE_SETTINGS.get(name, DEFAULT_EASE)


class EaseWorkspace(Workspace):
    """A visitor's workspace on EASE: the same requests, names, log and exports as item-CF, over
    the same exact counts (``model`` is the EASE's H, n and C), with the weights B in place of S.

    Each change is one exact rank-one update of the visitor's copy of P. The state before a
    change (a copy of P) lives only while the change is measured; an earlier state's P, when a
    page asks for one, is a new inverse of its G (:meth:`_state_at`). The change stream has no B: every weight
    moves on every change, so the export writes H, n and C, and the Forget page shows B."""

    stream_collections = ("interactions", "item_interactions_n", "cooccurrences_c")
    weight_words = "weight"

    def changed_words(self, changed: int) -> str:
        return count(changed, "weight")
    # the state before a change holds a copy of P (6.2 MB on MovieLens): dropped after the change, and
    # rebuilt by a new inverse (~0.1 s) only if the visitor asks for another window or the forget effect
    keeps_previous = False

    def introduction(self) -> str:
        ease = self.base_ease
        return (
            f"EASE (Steck, 2019) keeps H (who watched what), n and C = HᵀH, so its Gram matrix G = HᵀH is C (n on its "
            f"diagonal), and "
            f"P = (G + λI)⁻¹ over the {len(ease.items_scored):,} movies it scores (λ = {ease.l2:g}). Its weights are "
            "B = I − P·diag(1/diag P): a movie j's score for a user is the sum of B_ij over the movies i they watched. "
            "Forgetting a user subtracts their row's outer product from G, a rank-one change, so P follows exactly by Sherman–Morrison "
            "instead of a new inverse."
        )

    def scoring_sentence(self) -> str:
        ease = self.base_ease
        return (
            f"EASE, λ = {ease.l2:g}: score of a movie j for a user = Σ over the movies i they watched of B_ij, among the "
            f"{len(ease.items_scored):,} movies at least {self.settings.min_viewers} "
            "people watched when the model was trained. Weights can be negative. Movies they watched are never recommended."
        )

    def short_list_sentence(self, user: int, shown: int, k: int = 10) -> str:
        """EASE scores every movie it keeps, with negative weights too: a list falls short only when the
        user has watched nearly all of them."""
        if shown >= k:
            return ""
        if shown == 0:
            return "No recommendations: every movie this model scores is among this user's movies."
        return (f"Only {count(shown, 'movie')} this model scores {'is' if shown == 1 else 'are'} not among this "
                f"user's movies, so the list is shorter than {k}.")

    def spread_sentence(self, entry: LogEntry) -> str:
        effect = entry.effect
        if effect is None or entry.noop:
            return ""
        k = len(self._ease.items_scored)
        return (
            f"This change moved {effect.changed_s:,} of the {k * (k - 1):,} weights of B. Every weight comes from the "
            "inverse of G + λI, and a user's row changes G by a rank-one term that moves almost every entry of the inverse "
            "a little; item-CF's similarities move only in the rows of that user's movies."
        )

    def read_sentence(self, entry: LogEntry) -> str:
        if entry.read_seconds is None or entry.noop:
            return ""
        return (f"The update of P is in that time; comparing every weight of B before and after it took "
                f"{entry.read_seconds * 1e3:,.1f} ms more.")

    def __init__(self, dataset: Dataset, base: EASE, limits: Limits = APP_LIMITS):
        self.base_ease = base
        self.settings = ease_settings(dataset.name)
        super().__init__(dataset, base.counts_model, limits)

    @property
    def weights_from(self) -> int:
        return self.settings.min_viewers

    @property
    def weights_label(self) -> str:
        return f"EASE, λ = {self.base_ease.l2:g}"

    @property
    def ease(self) -> EASE:
        return self._ease

    def _state(self) -> EASE:
        return self._ease

    def _fresh_state(self) -> EASE:
        return self.base_ease.fork()

    def _set_state(self, state: EASE) -> None:
        self._ease = state
        self.model = state.counts_model

    def _state_at(self, time_: int) -> EASE:
        return EASE.from_counts(self.history.model_at(time_), self.base_ease.l2, items=self.base_ease.items_scored.tolist())

    def _counts_of(self, state: EASE) -> ItemCF:
        return state.counts_model

    def _snapshot(self, state: EASE, users: Sequence[int], items: Sequence[int], description: str) -> Window:
        return snapshot(state.counts_model, self.catalog, users, items, description, ease=state)

    def _measure(self, before: EASE, change: ChangeSet) -> ChangeEffect:
        return measure_weights_change(before, self._ease, change)

    own_first = False
    moved_words = ("weights", "|ΔB|")

    def _own_shown(self, ranked: Sequence[int], change: ChangeSet, max_items: int, min_viewers: int) -> int:
        # the change's own (scored) movies come first in EASE's ranking itself (effects.measure_weights_change)
        own = set(change.count_items.tolist())
        return sum(int(item) in own for item in list(dict.fromkeys(ranked))[:max_items])

    def outside_sentence(self, pairs: Sequence[PairChange], window: Window) -> str:
        sentence = super().outside_sentence(pairs, window)
        if not sentence:
            return ""
        return (f"{sentence} The charts show this change's own movies first; the rank-one change of P also moves "
                "weights between movies the user never watched, where G stays the same.")

    def _measure_cost(self, change: ChangeSet) -> int:
        # every weight of B, twice, and the changed pairs of C (read for the export's count)
        return 2 * len(self._ease.items_scored) ** 2 + self.model.read_cost(change.count_items)

    def _pair_sentence(self, p: PairChange, digits: int) -> str:
        """``"From Toy Story (1995) to Aladdin (1992): 0.041 → 0.039 (−0.002) (G 12 → 11)"``: the
        weight of a watched movie towards a recommended one ("from … to": an arrow between the two
        movies read like the arrow from before to after; a presenter's pass)."""
        return (f"From {self.catalog.title(p.item_a)} to {self.catalog.title(p.item_b)}: "
                f"{views.before_after(p.s_old, p.s_new, digits)} (G {p.c_old} → {p.c_new})")

    def _verify(self) -> Verification:
        """EASE's certificate (:meth:`EASE.verify`): P recomputed from G, a retrain on the remaining
        interactions over the same items (fingerprints of the exact state, every user's top-10)."""
        certificate = self._ease.verify()
        last = self.log[-1].change.seconds if self.log else None
        return Verification(certificate.exact, certificate.fingerprint, certificate.retrained_fingerprint, certificate.seconds,
                            last, certificate)


def _map_large_blocks_directly() -> None:
    """Make glibc map every allocation of 1 MB or more on its own (``mallopt(M_MMAP_THRESHOLD)``).

    By default glibc raises that threshold each time a large block is freed, after which blocks
    of up to 32 MB (a fingerprint's 4-million-cell reads, a retrain's temporaries) come from the
    heap and stay in the server's resident memory after they are freed. A fixed threshold gives
    them back as soon as they are freed. Nothing happens on other C libraries."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


_map_large_blocks_directly()


def give_back_memory() -> None:
    """Return freed memory to the operating system; runs when a workspace is dropped (a few ms).

    A visitor's imported log is many small objects. Python keeps them in 1 MB arenas that go
    back to the system only when every object in them is freed, and CPython's attribute-lookup
    cache keeps a reference to the name of each lookup that missed it: strings such as
    ``"setflags"`` that numpy looks up while a log is imported, scattered over the arenas, so a
    few hundred of them held ~60 MB after the visitor left. Clearing that cache
    (``sys._clear_type_cache``, which only drops references the cache refills on demand) frees
    those arenas; glibc's ``malloc_trim`` then returns the freed heap pages (nothing happens on
    other C libraries)."""
    gc.collect()
    sys._clear_type_cache()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the allocator keeps what it keeps
        pass


def _named(names: dict[int, str]) -> dict[int, str]:
    """The names worth keeping in the log: "User 42" is what every reader shows for a user without one."""
    return {user: name for user, name in names.items() if name != f"User {user}"}


def _erased_action(kind: str) -> str:
    """The words of a change that was only about a user since erased from the log (no name, no titles)."""
    done = {"add": "Added a user", "forget": "Forgot a user", "import": "An imported request about a user"}
    return f"{done.get(kind, 'A raw request about a user')}, since erased from this log"


def _noop_reason(request: ChangeRequest, change: ChangeSet) -> str | None:
    """Why an accepted request changed nothing, or None if it changed something."""
    if not change.is_empty:
        return None
    if len(request.pairs) == 0:
        return "the request lists no interactions"
    shown = ", ".join(f"[{u}, {i}]" for u, i in request.pairs[:3].tolist())
    more = f" and {len(request.pairs) - 3:,} more" if len(request.pairs) > 3 else ""
    return f"the model already has {'that interaction' if len(request.pairs) == 1 else 'them all'}: {shown}{more}"


def _raw_action(request: ChangeRequest, change: ChangeSet, noop: str | None, kind: str,
                name: Callable[[int], str]) -> str:
    """What a raw or imported request did, in words that match the model's change; ``name`` gives a
    user's display name (the catalog's)."""
    source = "imported request" if kind == "import" else "raw request"
    if noop:
        return f"Nothing changed: {noop} ({source})"
    verb = "Added" if request.change == "Add" else "Removed"
    done = len(change.users)
    users = change.touched_users
    # a raw request names its users by id, so the message does too (up to three; "of 1 user" left the
    # visitor to guess which), with the name the charts and the Forget list use: "User 0" above a chart whose
    # row said "Alice" read as two people
    def whose(user: int) -> str:
        shown = name(user)
        return f"User {user}" if shown == f"User {user}" else f"{shown} (User {user})"

    whom = listing([whose(user) for user in users]) if len(users) <= 3 else count(len(users), "user")
    skipped = len(request.pairs) - done
    extra = f"; {skipped:,} {'was' if skipped == 1 else 'were'} there already" if skipped else ""
    return f"{verb} {count(done, 'interaction')} of {whom}{extra} ({source})"


def _error_args(error: AmnesiaError) -> tuple:
    # rebuild an error of the same type with a new message (LimitError and TitleError carry more)
    if hasattr(error, "limit"):
        return (error.limit, error.seen, error.allowed)
    if hasattr(error, "candidates"):
        return (error.query, error.candidates)
    return ()
