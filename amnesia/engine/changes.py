"""ChangeSets: exactly what one accepted request changed, and the C and S changes derived from it.

A :class:`ChangeSet` lists, in external ids, the interactions added or removed (H), the item
counts whose value changed (n), and for each user whose history changed the items they gained
or lost and the items that saw it (:class:`UserChange`): that is the exact change of C in
O(history) memory, where listing the changed pairs of C would take O(history²).

The pairs themselves, and the S entries that changed, are derived on demand from a model that
is still at the ChangeSet's time, in chunks sorted by (item_a, item_b) so that even forgetting
a user with 30,000 items streams with bounded memory:

- C_ab changes by step × (number of users whose change covers the pair), so the old value is
  the current one minus that;
- S_ab changes only if n_a or n_b changed (a changed C_ab implies it), so only pairs with an
  item in the count changes are scanned.

The stream records built from all this live in :mod:`amnesia.records`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..errors import RequestError
from ..words import count
from .similarity import Measure

_EMPTY = np.zeros(0, dtype=np.int64)
#: Pairs (of C) or cells (of S rows) handled at once while deriving changes: bounds memory.
CHUNK = 1 << 21


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class PairChanges:
    """Changed values of a symmetric pair-indexed quantity (C or S).

    All arrays have length p: ``item_a > item_b`` are external item ids, ``old`` and ``new``
    the values before and after (0 for an absent entry). Sorted by (item_a, item_b).
    """

    item_a: np.ndarray
    item_b: np.ndarray
    old: np.ndarray
    new: np.ndarray

    def __post_init__(self) -> None:
        for name in ("item_a", "item_b", "old", "new"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def __len__(self) -> int:
        return len(self.item_a)

    def as_dict(self) -> dict[tuple[int, int], tuple[Any, Any]]:
        """``{(item_a, item_b): (old, new)}``; convenient for small changes and tests."""
        return {
            (int(a), int(b)): (o.item(), w.item())
            for a, b, o, w in zip(self.item_a, self.item_b, self.old, self.new)
        }

    @staticmethod
    def concatenate(parts: list[PairChanges], value_dtype: type = np.int64) -> PairChanges:
        """One PairChanges from sorted, consecutive chunks."""
        if not parts:
            return PairChanges(_EMPTY, _EMPTY, np.zeros(0, value_dtype), np.zeros(0, value_dtype))
        return PairChanges(*(np.concatenate([getattr(p, name) for p in parts]) for name in ("item_a", "item_b", "old", "new")))


@dataclass(frozen=True, slots=True)
class UserChange:
    """One user's part of a change: ``changed`` (the items they gained or lost) and ``columns``
    (every item they have while the change is visible: the new history for an Add, the old
    one for a Remove), both sorted external ids. C moved by the step on every pair of
    ``columns`` with at least one item in ``changed``."""

    user: int
    changed: np.ndarray
    columns: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "changed", _frozen(self.changed))
        object.__setattr__(self, "columns", _frozen(self.columns))


#: Guards the first read of every ChangeSet (a few µs each): the reader that works out the public arrays
#: empties the internal ones, which another reader must not be halfway through (Python 3.12's
#: cached_property no longer locks).
_WORK_OUT = threading.Lock()


# eq=False: a ChangeSet is equal only to itself (its fields hold arrays, emptied once read)
@dataclass(frozen=True, eq=False)
class ChangeSet:
    """What one accepted request changed.

    - ``time``: the logical time the change happened at (0, 1, 2, ...).
    - ``seconds``: wall time the engine took to validate, compute and commit the change.
    - ``change``: ``"Add"`` or ``"Remove"``.
    - ``users``, ``items``: the (user, item) interactions whose presence in H flipped; each
      has ``sign`` +1 (added) or -1 (removed). Length h.
    - ``count_items``, ``count_old``, ``count_new``: items whose n changed, length c.
    - ``user_changes``: the exact change of C, one :class:`UserChange` per user whose history
      changed (see :meth:`ItemCF.cooccurrence_changes` for the pairs).
    """

    time: int
    seconds: float
    change: str
    # The change in internal indices, as the engine committed it; the public arrays below are
    # worked out from these on first read (a forget that nobody reads the ChangeSet of, as in
    # the lab or a batch of erasure requests, does not pay for sorting ids: 20 µs of a typical
    # forget's 70). Every array here is the change's own (never written after), and ``_ids``
    # is the index's id array at this time: indices are only ever appended, so it stays right.
    _ids: np.ndarray = field(repr=False)
    _parts: tuple[tuple[int, np.ndarray, np.ndarray], ...] = field(repr=False)
    _count_index: np.ndarray = field(repr=False)
    _count_old: np.ndarray = field(repr=False)
    _count_new: np.ndarray = field(repr=False)

    @classmethod
    def from_internal(
        cls, time: int, seconds: float, change: str, ids: np.ndarray, users: list[tuple[int, np.ndarray, np.ndarray]],
        count_index: np.ndarray, count_old: np.ndarray, count_new: np.ndarray,
    ) -> ChangeSet:
        """A ChangeSet from internal indices: ``ids`` maps them to external ids, ``users`` lists
        (user, changed, columns) and the counts are given by internal index."""
        return cls(time, seconds, change, ids, tuple(users), count_index, count_old, count_new)

    @property
    def _external(self) -> dict[str, Any]:
        """The public arrays, in external ids and sorted, worked out once; the internal ones then go.

        Kept both ways, a change of many users held twice its arrays, each user's in small arrays of
        its own: a 1,000-line import of 50,000 users grew the server by 110 MB instead of 87 (the
        hardening benchmark's bound is 100)."""
        external = self.__dict__.get("_worked_out")
        if external is not None:
            return external
        with _WORK_OUT:
            external = self.__dict__.get("_worked_out")
            if external is None:  # else another thread worked them out while this one waited
                external = self._work_out()
                self.__dict__["_worked_out"] = external  # before the internal arrays go
                for name in ("_ids", "_parts", "_count_index", "_count_old", "_count_new"):
                    object.__setattr__(self, name, None)
        return external

    def _work_out(self) -> dict[str, Any]:
        ids, users, count_index, step = self._ids, self._parts, self._count_index, self.step
        if len(users) == 1 and np.array_equal(count_index, users[0][1]):
            # one user whose changed items are the items whose n moved (a forget, a first add):
            # one sort of their ids serves the interactions, the counts and the UserChange
            who, changed, columns = users[0]
            changed_ids = ids[changed]
            order = np.argsort(changed_ids, kind="stable")
            items = _frozen(changed_ids[order])
            return {"users": _frozen(np.full(len(items), who, dtype=np.int64)), "items": items,
                    "sign": _frozen(np.full(len(items), step, dtype=np.int64)), "count_items": items,
                    "count_old": _frozen(self._count_old[order]), "count_new": _frozen(self._count_new[order]),
                    "user_changes": (_user_change(who, ids, changed, columns, items),)}
        user_column = np.repeat(np.array([u for u, _, _ in users], dtype=np.int64), [len(x) for _, x, _ in users]) if users else _EMPTY
        item_column = np.concatenate([ids[x] for _, x, _ in users]) if users else _EMPTY
        order = np.lexsort((item_column, user_column))
        count_items = ids[count_index]
        by_item = np.argsort(count_items)
        return {"users": _frozen(user_column[order]), "items": _frozen(item_column[order]),
                "sign": _frozen(np.full(len(user_column), step, dtype=np.int64)),
                "count_items": _frozen(count_items[by_item]), "count_old": _frozen(self._count_old[by_item]),
                "count_new": _frozen(self._count_new[by_item]),
                "user_changes": tuple(_user_change(u, ids, x, z) for u, x, z in users)}

    def timed(self, seconds: float) -> ChangeSet:
        """This change with another wall time (EASE's covers the counts' update and P's). Not
        ``dataclasses.replace``: a read ChangeSet's fields no longer hold the change."""
        copy = object.__new__(ChangeSet)
        copy.__dict__.update(self.__dict__)  # the public arrays too, if they were worked out
        object.__setattr__(copy, "seconds", seconds)
        return copy

    @property
    def users(self) -> np.ndarray:
        """User of each flipped interaction, sorted by (user, item), int64, length h."""
        return self._external["users"]

    @property
    def items(self) -> np.ndarray:
        """Item (external id) of each flipped interaction, int64, length h."""
        return self._external["items"]

    @property
    def sign(self) -> np.ndarray:
        """+1 (added) or -1 (removed) for each flipped interaction, int64, length h."""
        return self._external["sign"]

    @property
    def count_items(self) -> np.ndarray:
        """Items whose n changed, sorted external ids, int64, length c."""
        return self._external["count_items"]

    @property
    def count_old(self) -> np.ndarray:
        """n of ``count_items`` before the change, int64, length c."""
        return self._external["count_old"]

    @property
    def count_new(self) -> np.ndarray:
        """n of ``count_items`` after the change, int64, length c."""
        return self._external["count_new"]

    @property
    def user_changes(self) -> tuple[UserChange, ...]:
        """The exact change of C: one :class:`UserChange` per user whose history changed, in request order."""
        return self._external["user_changes"]

    @property
    def step(self) -> int:
        """+1 for an Add, -1 for a Remove."""
        return 1 if self.change == "Add" else -1

    @property
    def touched_users(self) -> tuple[int, ...]:
        """The users whose history changed, sorted."""
        parts = self._parts  # None once the public arrays were worked out
        return tuple(sorted(c.user for c in self.user_changes) if parts is None else sorted(user for user, _, _ in parts))

    @property
    def is_empty(self) -> bool:
        """True when the request was accepted but changed nothing (e.g. re-adding known pairs)."""
        parts = self._parts
        return len(self.users) == 0 if parts is None else not any(len(changed) for _, changed, _ in parts)

    def counts_dict(self) -> dict[int, tuple[int, int]]:
        """``{item: (old_count, new_count)}`` for the items whose n changed."""
        return {
            int(i): (int(o), int(w)) for i, o, w in zip(self.count_items, self.count_old, self.count_new)
        }

    def interactions_dict(self) -> dict[tuple[int, int], int]:
        """``{(user, item): +1 | -1}`` for the flipped interactions."""
        return {(int(u), int(i)): int(s) for u, i, s in zip(self.users, self.items, self.sign)}

    def summary(self) -> str:
        """One line for people: what changed and how long it took."""
        verb = "added" if self.change == "Add" else "removed"
        return (
            f"t={self.time}: {verb} {count(len(self.users), 'interaction')} of {count(len(self.user_changes), 'user')}, "
            f"{count(len(self.count_items), 'item count')} changed, in {self.seconds * 1e3:.3f} ms"
        )


def _user_change(user: int, ids: np.ndarray, changed: np.ndarray, columns: np.ndarray,
                 changed_ids: np.ndarray | None = None) -> UserChange:
    """A UserChange in external ids (``changed_ids``: the sorted ids of ``changed``, when the
    caller has them); a new user's ``changed`` is their ``columns``: one array for both."""
    if changed_ids is None:
        changed_ids = np.sort(ids[changed])
    same = len(changed) == len(columns)  # changed is a subset of columns
    return UserChange(user, changed_ids, changed_ids if same else np.sort(ids[columns]))


# ---------------------------------------------------------------------- derivation
class CooccurrenceReader(Protocol):
    """What the derivation reads of a model (all in external item ids): a narrow interface, so
    this module depends on no model class and any backend that answers these can stream changes."""

    time: int
    measure: Measure

    def live_items(self) -> np.ndarray:
        """Items with n > 0, sorted, int64."""

    def counts(self, items: Sequence[int]) -> np.ndarray:
        """n of ``items``, int64 (0 for unknown items)."""

    def cooccurrences(self, items: Sequence[int], columns: Sequence[int] | None = None) -> np.ndarray:
        """Dense C of ``items`` x ``columns``, int64."""

    def cooccurrence_pairs(self, item_a: np.ndarray, item_b: np.ndarray) -> np.ndarray:
        """C at each pair (item_a[k], item_b[k]), int64."""


def _require_time(model: CooccurrenceReader, changes: ChangeSet) -> None:
    if changes.time != model.time:
        raise RequestError(
            f"The C and S changes of time {changes.time} can only be derived while the model is at that time "
            f"(it is at {model.time}); derive them right after applying the change."
        )


def _prefixes(rows: np.ndarray, lengths: np.ndarray, source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (rows[i], source[j]) for j < lengths[i]: each row with a prefix of ``source``."""
    total = int(lengths.sum())
    starts = np.cumsum(lengths) - lengths
    position = np.arange(total, dtype=np.int64) - np.repeat(starts, lengths)
    return np.repeat(rows, lengths), source[position]


def _pairs_in_rows(users: list[tuple[np.ndarray, np.ndarray]], low: int, high: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The C pairs (a > b) moved by ``users`` [(changed, columns)] with low <= a < high, sorted,
    with how many users moved each."""
    parts_a, parts_b = [], []
    for changed, columns in users:
        start, stop = np.searchsorted(columns, [low, high])
        rows = columns[start:stop]
        in_changed = np.isin(rows, changed)
        # a changed row pairs with every column below it; an unchanged row with the changed ones below it
        a, b = _prefixes(rows[in_changed], np.arange(start, stop)[in_changed], columns)
        parts_a.append(a)
        parts_b.append(b)
        a, b = _prefixes(rows[~in_changed], np.searchsorted(changed, rows[~in_changed]), changed)
        parts_a.append(a)
        parts_b.append(b)
    a, b = np.concatenate(parts_a), np.concatenate(parts_b)
    if len(users) == 1:  # one user's pairs are unique; sort them
        order = np.lexsort((b, a))
        return a[order], b[order], np.ones(len(a), dtype=np.int64)
    keys, moves = np.unique((a << 32) | b, return_counts=True)  # ids < 2^31: one sortable int64 a pair
    return keys >> 32, keys & 0xFFFFFFFF, moves


def _row_costs(users: list[tuple[np.ndarray, np.ndarray]], rows: np.ndarray) -> np.ndarray:
    """How many C pairs each of ``rows`` (sorted external ids) contributes, summed over users."""
    costs = np.zeros(len(rows), dtype=np.int64)
    for changed, columns in users:
        below = np.where(np.isin(columns, changed), np.arange(len(columns)), np.searchsorted(changed, columns))
        np.add.at(costs, np.searchsorted(rows, columns), below)
    return costs


def _bounds(costs: np.ndarray, rows: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Split sorted ``rows`` into [low, high) id ranges of at most ``budget`` cost (one row may exceed it)."""
    ranges, start, total = [], 0, 0
    for position, cost in enumerate(costs.tolist()):
        if total and total + cost > budget:
            ranges.append((int(rows[start]), int(rows[position])))
            start, total = position, 0
        total += cost
    if len(rows):
        ranges.append((int(rows[start]), int(rows[-1]) + 1))
    return ranges


def iter_cooccurrence_changes(model: CooccurrenceReader, changes: ChangeSet, chunk: int = CHUNK) -> Iterator[PairChanges]:
    """The changed C entries (item_a > item_b, old, new) in sorted chunks of about ``chunk`` pairs."""
    _require_time(model, changes)
    users = [(c.changed.astype(np.int64), c.columns.astype(np.int64)) for c in changes.user_changes]
    if not users:
        return
    rows = np.unique(np.concatenate([columns for _, columns in users]))
    for low, high in _bounds(_row_costs(users, rows), rows, chunk):
        a, b, moves = _pairs_in_rows(users, low, high)
        if len(a):
            new = model.cooccurrence_pairs(a, b)
            yield PairChanges(a, b, new - changes.step * moves, new)


def iter_similarity_changes(model: CooccurrenceReader, changes: ChangeSet, chunk: int = CHUNK) -> Iterator[PairChanges]:
    """The changed S entries (item_a > item_b, old, new) in sorted chunks, about ``chunk`` cells read each."""
    _require_time(model, changes)
    if len(changes.count_items) == 0:
        return
    measure = model.measure
    touched = changes.count_items.astype(np.int64)  # sorted
    # items with n > 0 before or after the change: every other item has S = 0 throughout
    live = np.union1d(model.live_items(), touched[changes.count_old > 0])
    new_counts = model.counts(live)
    old_counts = new_counts.copy()
    old_counts[np.searchsorted(live, touched)] = changes.count_old
    is_touched = np.isin(live, touched)
    # cost of a row: all items below it when touched, else the touched items below it
    costs = np.where(is_touched, np.arange(len(live)), np.searchsorted(touched, live))
    users = [(c.changed.astype(np.int64), c.columns.astype(np.int64)) for c in changes.user_changes]
    for low, high in _bounds(costs, live, chunk):
        rows = live[(live >= low) & (live < high)]
        c_a, c_b, c_moves = _pairs_in_rows(users, low, high) if users else (_EMPTY, _EMPTY, _EMPTY)
        parts = []
        for row_set, columns_of in ((rows[np.isin(rows, touched)], None), (rows[~np.isin(rows, touched)], touched)):
            if len(row_set) == 0:
                continue
            if columns_of is None:  # touched rows: every live item below them
                cols = live[: np.searchsorted(live, row_set[-1])]
            else:
                cols = columns_of[: np.searchsorted(columns_of, row_set[-1])]
            if len(cols) == 0:
                continue
            c_new = model.cooccurrences(row_set, cols)
            below = cols[None, :] < row_set[:, None]
            r, k = np.nonzero(below & ((c_new > 0) | _moved(row_set, cols, c_a, c_b)))
            a, b, new_c = row_set[r], cols[k], c_new[r, k]
            old_c = new_c - changes.step * _moves_at(a, b, c_a, c_b, c_moves)
            ia, ib = np.searchsorted(live, row_set)[r], np.searchsorted(live, cols)[k]  # positions in live
            s_old = measure(old_c, old_counts[ia], old_counts[ib])
            s_new = measure(new_c, new_counts[ia], new_counts[ib])
            differ = s_old != s_new
            parts.append((a[differ], b[differ], s_old[differ], s_new[differ]))
        if parts:
            a, b, old, new = (np.concatenate(column) for column in zip(*parts))
            order_ab = np.lexsort((b, a))
            yield PairChanges(a[order_ab], b[order_ab], old[order_ab], new[order_ab])


def _moved(rows: np.ndarray, cols: np.ndarray, c_a: np.ndarray, c_b: np.ndarray) -> np.ndarray:
    """Boolean (len(rows), len(cols)): which cells are among the moved C pairs (c_a, c_b)."""
    mask = np.zeros((len(rows), len(cols)), dtype=bool)
    if len(c_a):
        r = np.searchsorted(rows, c_a)
        k = np.searchsorted(cols, c_b)
        inside = (r < len(rows)) & (k < len(cols))
        inside[inside] &= (rows[r[inside]] == c_a[inside]) & (cols[k[inside]] == c_b[inside])
        mask[r[inside], k[inside]] = True
    return mask


def _moves_at(a: np.ndarray, b: np.ndarray, c_a: np.ndarray, c_b: np.ndarray, c_moves: np.ndarray) -> np.ndarray:
    """For pairs (a, b), the number of users who moved them (0 if not among (c_a, c_b), sorted)."""
    moves = np.zeros(len(a), dtype=np.int64)
    if len(c_a):
        key = (c_a << 32) | c_b
        query = (a << 32) | b
        position = np.minimum(np.searchsorted(key, query), len(key) - 1)
        hit = key[position] == query
        moves[hit] = c_moves[position[hit]]
    return moves
