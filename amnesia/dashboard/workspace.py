"""A visitor's workspace: their own fork of a shared model, their users' names, and their log.

The dashboard keeps one :class:`Workspace` per visitor. Every action validates first and
either applies completely (one :class:`LogEntry` with the change and before/after windows)
or raises an :class:`~amnesia.errors.AmnesiaError` and changes nothing: no user, no name,
no log entry. The shared base model and catalog are never written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ..data.catalog import Catalog
from ..engine.changes import ChangeSet
from ..data.datasets import Dataset
from ..errors import AmnesiaError, RequestError
from ..engine.model import ItemCF
from ..engine.requests import ChangeRequest, parse_request
from ..records import change_records, count_records, interaction_records, pair_records
from .views import Window, choose_window, snapshot, window_pair_changes


@dataclass(frozen=True)
class LogEntry:
    """One accepted change: what the person did, the request, its ChangeSet, and the focus
    window before and after (same users and items)."""

    action: str
    request: ChangeRequest
    changes: ChangeSet
    before: Window
    after: Window
    forgotten_user: int | None = None

    @property
    def time(self) -> int:
        return self.changes.time


@dataclass(frozen=True)
class Verification:
    """The forgetting certificate: the model equals a retrain on the remaining interactions."""

    match: bool
    fingerprint: str
    retrained_fingerprint: str
    retrain_seconds: float
    last_update_seconds: float | None


@dataclass
class Workspace:
    """One visitor's view of a data set: a fork of the shared ``base`` model and catalog."""

    dataset: Dataset
    base: ItemCF
    model: ItemCF = field(init=False)
    catalog: Catalog = field(init=False)
    log: list[LogEntry] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to the shared starting state; this visitor's changes and names are dropped."""
        self.model = self.base.fork()
        self.catalog = self.dataset.catalog.fork()
        self.log = []

    # ------------------------------------------------------------------ reads
    def stats(self) -> dict[str, int]:
        """Users, items, interactions and logical time of the visitor's model."""
        return {
            "users": len(self.model.users()),
            "items": len(self.model.items()),
            "interactions": self.model.num_interactions(),
            "time": self.model.time,
        }

    def user_choices(self) -> list[tuple[int, str]]:
        """Current users as (id, display name), by id."""
        return [(user, self.catalog.user_name(user)) for user in self.model.users()]

    def current_window(self) -> Window:
        """The focus window before any change: the whole toy world, or MovieLens's most popular part."""
        users, items, description = choose_window(self.model, self.catalog)
        return snapshot(self.model, self.catalog, users, items, description)

    # ------------------------------------------------------------------ actions
    def add_user(self, name: str, items: Sequence[int] = (), typed: str = "") -> LogEntry:
        """Add a new user called ``name`` who watched ``items`` and the titles or ids in ``typed``
        (one per line). Unknown or ambiguous titles raise a TitleError listing candidates."""
        clean = self.catalog.check_new_user_name(name)  # before resolving titles: nothing registered yet
        chosen = list(dict.fromkeys([int(i) for i in items] + self.catalog.resolve_many(typed.splitlines())))
        if not chosen:
            raise AmnesiaError(f"Pick at least one movie that {clean} watched; the selection is empty.")
        user = self.catalog.add_user(clean, taken_ids=self._taken_ids())
        request = ChangeRequest("Add", np.array([[user, item] for item in sorted(chosen)], dtype=np.int64))
        try:
            return self._apply(request, f"Added {clean} with {len(chosen)} movie(s)", focus_users=[user])
        except AmnesiaError:
            self.catalog.remove_user(user)
            raise

    def forget_user(self, user: int) -> LogEntry:
        """Forget every interaction of ``user``, and their display name."""
        name = self.catalog.user_name(user)
        history = self.model.history(user)
        if not history:
            raise AmnesiaError(f"{name} has no interactions left to forget; pick a current user.")
        request = ChangeRequest("Remove", np.array([[user, item] for item in history], dtype=np.int64))
        entry = self._apply(request, f"Forgot {name} ({len(history)} movie(s))", focus_users=[user], forgotten=user)
        self.catalog.remove_user(user)
        return entry

    def apply_json(self, text: str) -> LogEntry:
        """Apply a raw request in the original Amnesia JSON format."""
        request = parse_request(text)
        unknown_items = sorted({int(i) for i in request.pairs[:, 1] if int(i) not in self.catalog})
        if unknown_items and request.change == "Add":
            raise RequestError(
                f"Item id(s) {', '.join(map(str, unknown_items[:5]))} are not in the catalog; "
                f"add movies the catalog knows (type a title in 'Add a user' to find its id)."
            )
        verb = "Added" if request.change == "Add" else "Removed"
        entry = self._apply(request, f"{verb} {len(request.pairs)} interaction(s) (raw request)", focus_users=sorted(set(request.pairs[:, 0].tolist())))
        for user in entry.changes.touched_users:
            if not self.model.history(user):
                self.catalog.remove_user(user)
        return entry

    def _taken_ids(self) -> list[int]:
        return [*self.model.users(), *self.base.users(), *(self.catalog.user_names())]

    def _apply(self, request: ChangeRequest, action: str, focus_users: Sequence[int], forgotten: int | None = None) -> LogEntry:
        focus_items = sorted(set(request.pairs[:, 1].tolist()))
        # choose the window on the state before the change, so a forgotten user's row is in it
        users, items, description = choose_window(self.model, self.catalog, focus_users, focus_items)
        before = snapshot(self.model, self.catalog, users, items, description)
        changes = self.model.apply(request)  # raises before any change on bad input
        after = snapshot(self.model, self.catalog, users, items, description)
        after = replace(after, user_labels=before.user_labels)  # a forgotten user's row keeps its label
        entry = LogEntry(action, request, changes, before, after, forgotten)
        self.log.append(entry)
        return entry

    # ------------------------------------------------------------------ certificate and history
    def verify(self) -> Verification:
        """Retrain from scratch on the remaining interactions and compare fingerprints."""
        remaining = self.model.interactions()
        started = time.perf_counter()
        retrained = ItemCF.fit(remaining)
        retrain_seconds = time.perf_counter() - started
        mine, theirs = self.model.fingerprint(), retrained.fingerprint()
        last = self.log[-1].changes.seconds if self.log else None
        return Verification(mine == theirs, mine, theirs, retrain_seconds, last)

    def model_at(self, time_: int) -> ItemCF:
        """The visitor's model as it was at logical time ``time_`` (replayed on a fresh fork)."""
        model = self.base.fork()
        for entry in self.log:
            if entry.time > time_:
                break
            model.apply(entry.request)
        return model

    def records(self) -> Iterator[dict]:
        """The full change stream of this visitor's log (same records as ``python -m amnesia stream``).

        Replays the log on a fresh fork, because S changes are derived from the model at
        each time. For a large catalog this can be millions of records.
        """
        model = self.base.fork()
        for entry in self.log:
            yield from change_records(model, model.apply(entry.request))

    def window_records(self) -> Iterator[dict]:
        """The change stream restricted to each change's focus window: every H record, and the
        n, C and S records of the window's items (exact: diffs of the stored windows)."""
        for entry in self.log:
            changes, before, after = entry.changes, entry.before, entry.after
            inside = set(before.items)
            yield from interaction_records(changes)
            yield from (r for r in count_records(changes) if r["item"] in inside)
            for data, key, old, new in (
                ("cooccurrences_c", "num_cooccurrences", before.cooccurrences, after.cooccurrences),
                ("similarities_s", "similarity", before.similarities, after.similarities),
            ):
                yield from pair_records(window_pair_changes(before.items, old, new), changes.time, data, key)

    def records_frame(self, window_only: bool = False, limit: int = 50_000) -> pd.DataFrame:
        """The first ``limit`` stream records as a table: time, collection, change, items, value."""
        rows = []
        for record in self.window_records() if window_only else self.records():
            value = record.get("count", record.get("num_cooccurrences", record.get("similarity")))
            rows.append(
                {
                    "time": record["time"],
                    "collection": record["data"],
                    "change": record["change"],
                    "user": record.get("user"),
                    "item": record.get("item", record.get("item_a")),
                    "item_b": record.get("item_b"),
                    "value": value,
                }
            )
            if len(rows) >= limit:
                break
        return pd.DataFrame(rows, columns=["time", "collection", "change", "user", "item", "item_b", "value"])

    def stream_jsonl(self) -> str:
        """The whole change stream of this visitor's log as JSON lines."""
        return "".join(json.dumps(record) + "\n" for record in self.records())
