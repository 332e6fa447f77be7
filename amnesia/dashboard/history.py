"""A visitor's history: the log of accepted requests, cheap replay to any past time, records.

The log keeps what explains and replays each change, and nothing sized by the catalog: the
request, its ChangeSet (the H and n changes and each user's changed items; the engine derives
C and S changes from a model when asked, so no block of C is kept), a small
:class:`~.effects.ChangeEffect`, the focus window before and after, the totals, and the names
of the users it touched. The model at a past time is rebuilt from the nearest
checkpoint (a lean fork kept every :data:`CHECKPOINT_EVERY` changes) by replaying the requests
since, so any past time costs at most that many replays. A checkpoint shares the model's
persistent maps of changed rows and keeps nothing derived from them, so it costs what changed
since the checkpoint before it, not the visitor's whole state.

The request log (:meth:`History.request_lines`) is the export people keep: one JSON request
per line, line ``t`` applied at logical time ``t``. ``python -m amnesia stream`` replays it
and regenerates the full change stream; :func:`amnesia.engine.requests.parse_request_log`
reads it back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.catalog import Catalog
from ..engine.changes import ChangeSet, PairChanges
from ..engine.model import ItemCF
from ..engine.requests import ChangeRequest
from ..records import COLLECTIONS, count_records, interaction_records, pair_records
from .effects import ChangeEffect
from .views import ITEM_CF, Stats, Window, short_name, short_names

#: A fork of the model is kept every this many changes: replaying to any time costs fewer.
CHECKPOINT_EVERY = 8


@dataclass(frozen=True)
class LogEntry:
    """One accepted request at logical time ``time``.

    ``action`` says what the person did in words (``detail`` adds e.g. the titles); ``noop`` says why nothing changed (already
    present, empty) or is None; ``before``/``after`` cover the same users and items; ``stats``
    are the totals after the change; ``names`` the display names of the users it touched, as
    they were (users without a name, shown as "User 42", are left out); ``gone`` the users it left without interactions; ``effect`` is None for
    imported requests (only the last one is measured). ``change.seconds`` is the write (a visitor's
    fork records the users' rows; the shared model's C changes only in a library model);
    ``read_seconds`` what reading the changed rows of C and S afterwards took (None: not read).
    """

    time: int
    kind: str
    action: str
    request: ChangeRequest
    change: ChangeSet
    effect: ChangeEffect | None
    before: Window
    after: Window
    stats: Stats
    names: dict[int, str]
    forgotten_user: int | None = None
    noop: str | None = None
    detail: str = ""
    gone: tuple[int, ...] = ()
    read_seconds: float | None = None

    @property
    def changes(self) -> ChangeSet:
        """The ChangeSet (the name the log used before; the device page reads it)."""
        return self.change

    @property
    def label(self) -> str:
        """``"t = 3: Forgot Bob (2 movies)"``, or the no-op with its reason."""
        return f"t = {self.time}: {self.action}"

    def chart_label(self, window: Window) -> str:
        """:attr:`label` with each long name cut as ``window``'s H axis cuts it (:func:`short_names`): a
        chart's title runs under its toolbar, and a 60-character name pushed "with 1 movie" there at a
        projector's 1,280 px; two names the axis tells apart stay apart in the title."""
        axis = dict(zip(window.user_labels, short_names(window.user_labels, ids=window.users)))
        label = self.label
        for name in sorted(set(self.names.values()), key=len, reverse=True):
            label = label.replace(name, axis.get(name, short_name(name)))
        return label


class History:
    """The log of one visitor's accepted requests on top of a shared ``base`` model."""

    def __init__(self, base: ItemCF):
        self.base = base
        self.entries: list[LogEntry] = []
        self._checkpoints: dict[int, ItemCF] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self.entries)

    def __getitem__(self, index: int) -> LogEntry:
        return self.entries[index]

    @property
    def start(self) -> int:
        """The logical time of the starting data (the base model's)."""
        return self.base.time

    def append(self, entry: LogEntry, model: ItemCF) -> None:
        """Record ``entry``; ``model`` is the visitor's model right after it (checkpointed every
        :data:`CHECKPOINT_EVERY` changes)."""
        if entry.time != self.start + len(self.entries) + 1:
            raise ValueError(f"log entries must be consecutive: expected time {self.start + len(self.entries) + 1}, got {entry.time}")
        self.entries.append(entry)
        if len(self.entries) % CHECKPOINT_EVERY == 0:
            self._checkpoints[entry.time] = model.fork(lean=True)

    def until(self, time: int) -> History:
        """A new log of this one's entries up to logical ``time`` and its checkpoints up to it (shared:
        they are forks nobody changes)."""
        kept = History(self.base)
        kept.entries = [entry for entry in self.entries if entry.time <= time]
        kept._checkpoints = {at: model for at, model in self._checkpoints.items() if at <= time}
        return kept

    def clear(self) -> None:
        self.entries.clear()
        self._checkpoints.clear()

    def entry_at(self, time: int) -> LogEntry | None:
        """The entry applied at logical ``time``, or None (the starting data)."""
        index = time - self.start - 1
        return self.entries[index] if 0 <= index < len(self.entries) else None

    def replays_to(self, time: int) -> int:
        """How many requests :meth:`model_at` replays to reach ``time``."""
        time = self._clamp(time)
        return time - max([self.start, *(t for t in self._checkpoints if t <= time)])

    def model_at(self, time: int) -> ItemCF:
        """A fresh fork of the model as it was at logical ``time`` (clamped to the log's span).

        Starts from the nearest checkpoint at or before ``time`` and replays the requests
        since: at most CHECKPOINT_EVERY - 1 of them.
        """
        time = self._clamp(time)
        start = max([self.start, *(t for t in self._checkpoints if t <= time)])
        model = (self._checkpoints[start] if start in self._checkpoints else self.base).fork()
        for entry in self.entries[start - self.start : time - self.start]:
            model.apply(entry.request)
        return model

    def window_at(self, time: int) -> tuple[Window, LogEntry | None]:
        """The focus window as it was at ``time`` (after that time's change) and its entry;
        for the starting data, the first change's window before it. Needs a non-empty log."""
        if not self.entries:
            raise ValueError("the log is empty: there is no past window")
        entry = self.entry_at(self._clamp(time))
        return (entry.after, entry) if entry else (self.entries[0].before, None)

    def _clamp(self, time: int) -> int:
        return min(max(int(time), self.start), self.start + len(self.entries))

    # ------------------------------------------------------------------ the request log
    def request_lines(self) -> Iterator[str]:
        """The request log as JSON lines: line t is the request applied at logical time t
        (requests that changed nothing included, so the times match on replay)."""
        for entry in self.entries:
            yield entry.request.to_json() + "\n"

    # ------------------------------------------------------------------ records
    def window_records(self) -> Iterator[dict]:
        """The change stream restricted to each change's focus window: every H record, and the
        n, C and S records of the window's items (exact: diffs of the stored windows; no S for EASE)."""
        for entry in self.entries:
            change, before, after = entry.change, entry.before, entry.after
            inside = set(before.items)
            yield from interaction_records(change)
            yield from (r for r in count_records(change) if r["item"] in inside)
            pairs = [("cooccurrences_c", "num_cooccurrences", before.cooccurrences, after.cooccurrences)]
            if before.matrices == ITEM_CF:  # EASE's B is not in the stream (every weight moves on every change)
                pairs.append(("similarities_s", "similarity", before.similarities, after.similarities))
            for data, key, old, new in pairs:
                yield from pair_records(window_pair_changes(before.items, old, new), entry.time, data, key)

    def records_table(
        self,
        catalog: Catalog,
        collections: Sequence[str] = COLLECTIONS,
        times: tuple[int, int] | None = None,
        item: int | None = None,
        limit: int = 50_000,
    ) -> tuple[pd.DataFrame, int]:
        """The window records as a table for people, and how many records there are in all.

        Columns: time, collection, change (+1/-1), value, entry (ids with names and titles, e.g.
        ``"Bob (#1) × The Matrix (1999) (#2571)"``): the value before the long entry, which a
        1,024 px window cuts (after it, the value was out of sight and a count's -1/+1 pair read
        as the same title twice). Filtered by collection, by a (first, last) time range and by an
        item id (either side of a pair); at most ``limit`` rows.
        """
        rows, total = [], 0
        for record in self.window_records():
            total += 1
            if record["data"] not in collections or (times and not times[0] <= record["time"] <= times[1]):
                continue
            items = [record.get(key) for key in ("item", "item_a", "item_b") if key in record]
            if item is not None and item not in items:
                continue
            if len(rows) < limit:
                rows.append(self._row(record, catalog))
        return pd.DataFrame(rows, columns=["time", "collection", "change", "value", "entry"]), total

    def _row(self, record: dict, catalog: Catalog) -> dict:
        data = record["data"]
        if data == "interactions":
            entry = self.entry_at(record["time"])
            names = entry.names if entry else {}
            user = record["user"]
            what = f"{names.get(user, f'User {user}')} (#{user}) × {catalog.title(record['item'])} (#{record['item']})"
            # the record is the pair itself: +1 adds "watched", -1 retracts the old "watched" (the caption's
            # rule, as for n and C), so a forget's rows read -1 ... watched, not a new value "not watched"
            value = "watched"
        elif data == "item_interactions_n":
            what, value = f"{catalog.title(record['item'])} (#{record['item']})", str(record["count"])
        else:
            a, b = record["item_a"], record["item_b"]
            what = f"{catalog.title(a)} (#{a}) × {catalog.title(b)} (#{b})"
            value = str(record["num_cooccurrences"]) if data == "cooccurrences_c" else f"{record['similarity']:.4f}"
        return {"time": record["time"], "collection": data, "change": f"{record['change']:+d}", "entry": what, "value": value}


def window_pair_changes(items: Sequence[int], before: np.ndarray, after: np.ndarray) -> PairChanges:
    """The entries with item_a > item_b whose value differs between two (k, k) window matrices."""
    ids = np.asarray(items, dtype=np.int64)
    rows, cols = np.nonzero((before != after) & (ids[:, None] > ids[None, :]))
    order = np.lexsort((ids[cols], ids[rows]))
    rows, cols = rows[order], cols[order]
    return PairChanges(ids[rows], ids[cols], before[rows, cols], after[rows, cols])
