"""ItemCF: exact decremental item-based collaborative filtering (Schelter, "Amnesia", CIDR 2020).

State: the binary history H (users x items, stored as one sorted row of item indices per
user), item counts n = column sums of H, and co-occurrences C = HᵀH (dense, symmetric,
diagonal = n). Similarity S_ab = C_ab / (n_a + n_b - C_ab) is a view, computed for the
entries asked for and never stored.

Every update computes exactly which entries of H, n and C change, reads their old values,
and then writes the new ones. Validation and all reads happen before the first write, so a
rejected request leaves the model untouched.

Forks: a model that owns its arrays updates them in place (microseconds per forgotten
user). ``fork()`` freezes the shared arrays; from then on parent and fork each keep a small
overlay of the user rows they changed, and C is read as base + Σ over overlay users of
(new_row ⊗ new_row - old_row ⊗ old_row). The overlay's size is proportional to the users a
fork touched, not to the catalog.

Item ids and user ids are external (whatever the data uses, 0 ≤ id < 2^31); items get an
internal index in order of first appearance.
"""

from __future__ import annotations

import hashlib
import time as _time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .changes import ChangeSet, CoocBlock, PairChanges
from ..errors import RequestError, UnknownUserError
from ..limits import Limits
from .recommend import Recommendation, explain, recommend, similar_items
from .requests import ChangeRequest, normalize_pairs, parse_request

_EMPTY = np.zeros(0, dtype=np.int64)
_FINGERPRINT_BLOCK = 512  # rows of C hashed at a time: bounds the fingerprint's memory


def _members(row: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Boolean mask: which of ``values`` occur in the sorted array ``row``."""
    if len(row) == 0:
        return np.zeros(len(values), dtype=bool)
    positions = np.searchsorted(row, values)
    positions[positions == len(row)] = 0
    return row[positions] == values


def _moved(values: np.ndarray, step: int) -> np.ndarray:
    """values + step for step = ±1, without promoting unsigned C (NumPy rejects uint16 + -1)."""
    return values + 1 if step > 0 else values - 1


def _jaccard(cooc: np.ndarray, count_a: np.ndarray, count_b: np.ndarray) -> np.ndarray:
    """S = C / (n_a + n_b - C) elementwise (broadcasting), 0 where C is 0 (no division by zero)."""
    cooc = np.asarray(cooc, dtype=np.float64)
    denominator = np.asarray(count_a, dtype=np.float64) + np.asarray(count_b, dtype=np.float64) - cooc
    result = np.zeros(np.broadcast_shapes(cooc.shape, denominator.shape), dtype=np.float64)
    np.divide(cooc, denominator, out=result, where=cooc > 0)
    return result


@dataclass
class _Arrays:
    """The dense state one or more models read. Written in place only by its sole owner."""

    item_ids: np.ndarray  # (capacity,) int64: external id of each internal index
    item_index: dict[int, int]  # external id -> internal index
    size: int  # internal indices in use
    counts: np.ndarray  # (capacity,) int64: n
    cooc: np.ndarray  # (capacity, capacity) uint16 or uint32: C = HᵀH, symmetric
    rows: dict[int, np.ndarray]  # user -> sorted int64 internal item indices (H)

    @classmethod
    def empty(cls, capacity: int = 16) -> _Arrays:
        return cls(
            item_ids=np.full(capacity, -1, dtype=np.int64),
            item_index={},
            size=0,
            counts=np.zeros(capacity, dtype=np.int64),
            cooc=np.zeros((capacity, capacity), dtype=np.uint16),
            rows={},
        )

    @property
    def capacity(self) -> int:
        return len(self.item_ids)

    def grow(self, needed: int) -> None:
        """Make room for ``needed`` internal indices (amortised doubling)."""
        if needed <= self.capacity:
            return
        capacity = max(needed, 2 * self.capacity)
        ids = np.full(capacity, -1, dtype=np.int64)
        ids[: self.size] = self.item_ids[: self.size]
        counts = np.zeros(capacity, dtype=np.int64)
        counts[: self.size] = self.counts[: self.size]
        cooc = np.zeros((capacity, capacity), dtype=self.cooc.dtype)
        cooc[: self.size, : self.size] = self.cooc[: self.size, : self.size]
        self.item_ids, self.counts, self.cooc = ids, counts, cooc


@dataclass
class _UserBlock:
    """One user's change in internal indices: C moves by ``step`` on changed x columns."""

    user: int
    changed: np.ndarray  # sorted internal indices the user gains or loses
    unchanged: np.ndarray  # sorted internal indices the user keeps
    columns: np.ndarray  # sorted union of both
    old: np.ndarray | None = None  # C over changed x columns before the request


@dataclass
class _Plan:
    """A validated change, in internal indices, with every old value read; nothing written yet."""

    change: str
    step: int
    new_rows: dict[int, np.ndarray]  # user -> new sorted row (empty = user gone)
    new_items: list[int]  # external ids that get fresh internal indices, in index order
    blocks: list[_UserBlock]
    count_index: np.ndarray  # internal indices whose n changes
    count_old: np.ndarray
    count_new: np.ndarray


class ItemCF:
    """Item-based collaborative filtering with Jaccard similarity that can forget exactly.

    Build with :meth:`fit`; change with :meth:`apply`, :meth:`add`, :meth:`remove`,
    :meth:`add_user` and :meth:`forget_user`, each of which returns a :class:`ChangeSet`.
    After any sequence of changes every read equals that of ``ItemCF.fit`` on the remaining
    interactions, and :meth:`fingerprint` proves it.
    """

    def __init__(self) -> None:
        """An empty model at logical time -1 (its first change happens at time 0)."""
        self._arrays = _Arrays.empty()
        self._owns_arrays = True  # may write the arrays in place (no fork shares them)
        self._built_arrays = True  # the arrays were built by this model (counted in nbytes)
        self._rows: dict[int, np.ndarray] = {}  # overlay: user -> row, replacing the shared one
        self._counts: np.ndarray | None = None  # overlay copy of n (with room for new items)
        self._extra_ids: list[int] = []  # overlay items beyond the shared arrays
        self._extra_index: dict[int, int] = {}
        self._ids_cache: np.ndarray | None = None
        self.time = -1

    # ------------------------------------------------------------------ construction
    @classmethod
    def fit(cls, interactions: Any) -> ItemCF:
        """Train from scratch on ``interactions`` and return a model at logical time 0.

        ``interactions``: a DataFrame with integer ``user`` and ``item`` columns, an (k, 2)
        integer array, or an iterable of ``(user, item)`` pairs. Duplicates collapse.
        """
        pairs = _interaction_pairs(interactions)
        model = cls()
        model.time = 0
        if len(pairs) == 0:
            return model
        users, user_of_pair = np.unique(pairs[:, 0], return_inverse=True)
        item_ids, item_of_pair = np.unique(pairs[:, 1], return_inverse=True)
        size = len(item_ids)
        arrays = _Arrays.empty(capacity=size)
        arrays.item_ids[:] = item_ids
        arrays.item_index = dict(zip(item_ids.tolist(), range(size)))
        arrays.size = size
        arrays.counts[:] = np.bincount(item_of_pair, minlength=size)
        # pairs are sorted by (user, item) and item order equals index order, so each
        # user's slice is already a sorted row.
        bounds = np.searchsorted(user_of_pair, np.arange(len(users) + 1))
        arrays.rows = {
            int(user): item_of_pair[bounds[k] : bounds[k + 1]].astype(np.int64)
            for k, user in enumerate(users)
        }
        arrays.cooc = _cooccurrences(user_of_pair, item_of_pair, len(users), size, int(arrays.counts.max()))
        model._arrays = arrays
        return model

    def fork(self) -> ItemCF:
        """A copy that shares this model's arrays read-only and records only its own changes.

        Changes to the fork are never visible in this model or in other forks, and changes to
        this model after forking never reach the fork.
        """
        self._owns_arrays = False  # the arrays are shared from now on: nobody writes them
        child = ItemCF.__new__(ItemCF)
        child._arrays = self._arrays
        child._owns_arrays = False
        child._built_arrays = False
        child._rows = dict(self._rows)  # rows themselves are never mutated, only replaced
        child._counts = self._counts  # copied on the child's first write
        child._extra_ids = list(self._extra_ids)
        child._extra_index = dict(self._extra_index)
        child._ids_cache = None
        child.time = self.time
        return child

    # ------------------------------------------------------------------ changes
    def apply(self, request: str | bytes | Mapping[str, Any] | ChangeRequest, limits: Limits | None = None) -> ChangeSet:
        """Apply a change request in the Amnesia format, atomically.

        ``request``: ``{"change": "Add" | "Remove", "interactions": [[user, item], ...]}`` as a
        dict or JSON text. Adding a known interaction changes nothing; removing an unknown one
        rejects the whole request with a :class:`RequestError` and changes nothing. With
        ``limits``, every size is checked before the work it bounds (:class:`LimitError`).
        """
        started = _time.perf_counter()
        parsed = parse_request(request, limits)
        plan = self._plan(parsed, limits)
        self._commit(plan)
        self.time += 1
        return self._changeset(plan, _time.perf_counter() - started)

    def add(self, pairs: Iterable[Sequence[int]] | np.ndarray) -> ChangeSet:
        """Add interactions ``[(user, item), ...]``; known ones are ignored."""
        return self.apply(ChangeRequest("Add", normalize_pairs(pairs)))

    def remove(self, pairs: Iterable[Sequence[int]] | np.ndarray) -> ChangeSet:
        """Remove interactions ``[(user, item), ...]``; all must exist or nothing changes."""
        return self.apply(ChangeRequest("Remove", normalize_pairs(pairs)))

    def add_user(self, user: int, items: Iterable[int]) -> ChangeSet:
        """Add interactions of ``user`` with ``items`` (a new user, or more items for a known one)."""
        items = list(items)
        if not items:
            raise RequestError(f"add_user({user!r}, ...) needs at least one item; the selection is empty.")
        return self.add([(user, item) for item in items])

    def forget_user(self, user: int) -> ChangeSet:
        """Remove every interaction of ``user``: the right to be forgotten, exactly."""
        row = self._row(user) if isinstance(user, (int, np.integer)) and not isinstance(user, bool) else _EMPTY
        if len(row) == 0:
            raise UnknownUserError(
                f"User {user!r} has no interactions, so there is nothing to forget. "
                f"Pick one of the {len(self.users())} current users."
            )
        ids = self._item_ids()
        return self.remove(np.column_stack([np.full(len(row), user, dtype=np.int64), ids[row]]))

    def _plan(self, request: ChangeRequest, limits: Limits | None = None) -> _Plan:
        """Validate a request and read every value it changes, without writing anything."""
        pairs = request.pairs
        adding = request.change == "Add"
        step = 1 if adding else -1
        new_items: list[int] = []
        index_of_new: dict[int, int] = {}
        size = self._size()
        item_index = np.empty(len(pairs), dtype=np.int64)
        for position, item in enumerate(pairs[:, 1].tolist()):
            index = self._index(item)
            if index is None:
                if not adding:
                    index = -1  # cannot be in any row: reported as missing below
                elif item in index_of_new:
                    index = index_of_new[item]
                else:
                    index = index_of_new[item] = size + len(new_items)
                    new_items.append(item)
            item_index[position] = index
        users, starts = np.unique(pairs[:, 0], return_index=True)
        if limits and adding:  # before any block of C is read
            limits.check("new_items", len(new_items))
            limits.check("new_users", sum(1 for user in users.tolist() if len(self._row(user)) == 0))

        bounds = np.append(starts, len(pairs)).tolist()
        new_rows: dict[int, np.ndarray] = {}
        blocks: list[_UserBlock] = []
        missing: list[tuple[int, int]] = []
        for k, user in enumerate(users.tolist()):
            requested = item_index[bounds[k] : bounds[k + 1]]  # sorted ids -> unique indices
            old_row = self._row(user)
            present = _members(old_row, requested)
            if adding:
                changed = np.sort(requested[~present])
                unchanged = old_row
                new_row = np.union1d(old_row, changed) if len(old_row) else changed
            elif not present.all():
                missing.extend((user, int(i)) for i in pairs[bounds[k] : bounds[k + 1], 1][~present])
                continue
            else:
                changed = np.sort(requested)
                new_row = unchanged = old_row[~_members(changed, old_row)]
            if len(changed) == 0:
                continue
            new_rows[user] = new_row
            columns = old_row if not adding else (new_row if len(unchanged) else changed)
            blocks.append(_UserBlock(user, changed, unchanged, columns))
        if missing:
            shown = ", ".join(f"[{u}, {i}]" for u, i in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise RequestError(
                f"Cannot remove interaction(s) that do not exist: {shown}{more}. "
                f"Nothing was changed; remove only interactions the model has."
            )
        for block in blocks:  # every read before the first write
            block.old = self._block(block.changed, block.columns)
        flipped = np.concatenate([block.changed for block in blocks]) if blocks else _EMPTY
        count_index, moves = np.unique(flipped, return_counts=True)
        count_old = self._count_vector(size + len(new_items))[count_index]
        return _Plan(request.change, step, new_rows, new_items, blocks, count_index, count_old, count_old + step * moves)

    def _commit(self, plan: _Plan) -> None:
        """Write a plan's new values. Allocation happens first, so a failure leaves no trace."""
        if not self._owns_arrays:
            # Overlay: C stays the shared base; the changed rows imply C's delta on read.
            counts = self._count_vector(self._size() + len(plan.new_items)).copy()
            counts[plan.count_index] = plan.count_new
            for item in plan.new_items:
                self._extra_index[item] = self._arrays.size + len(self._extra_ids)
                self._extra_ids.append(item)
            self._ids_cache = None
            self._counts = counts
            self._rows.update(plan.new_rows)
            return
        arrays = self._arrays
        needed = arrays.size + len(plan.new_items)
        arrays.grow(needed)
        if len(plan.count_new) and plan.count_new.max() > np.iinfo(arrays.cooc.dtype).max:
            arrays.cooc = arrays.cooc.astype(np.uint32)  # C_ab <= min(n_a, n_b): n bounds C
        for offset, item in enumerate(plan.new_items):
            arrays.item_ids[arrays.size + offset] = item
            arrays.item_index[item] = arrays.size + offset
        arrays.size = needed
        arrays.counts[plan.count_index] = plan.count_new
        flat, capacity = arrays.cooc.reshape(-1), arrays.capacity
        for block in plan.blocks:
            # C += step on changed x columns and on its mirror unchanged x changed. With one
            # block the old values are current; with several, blocks may overlap: re-read.
            cells = np.add.outer(block.changed * capacity, block.columns).reshape(-1)
            current = block.old.reshape(-1) if len(plan.blocks) == 1 else flat[cells]
            if current.dtype != flat.dtype:  # an int64 overlay read, or C was just widened
                current = current.astype(flat.dtype)
            flat[cells] = _moved(current, plan.step)
            if len(block.unchanged):
                mirror = np.add.outer(block.unchanged * capacity, block.changed).reshape(-1)
                flat[mirror] = _moved(flat[mirror], plan.step)
        for user, row in plan.new_rows.items():
            if len(row):
                arrays.rows[user] = row
            else:
                del arrays.rows[user]

    def _changeset(self, plan: _Plan, seconds: float) -> ChangeSet:
        ids = self._item_ids()
        users = np.concatenate([np.full(len(b.changed), b.user, dtype=np.int64) for b in plan.blocks]) if plan.blocks else _EMPTY
        items = ids[np.concatenate([b.changed for b in plan.blocks])] if plan.blocks else _EMPTY
        order = np.lexsort((items, users))
        count_items = ids[plan.count_index]
        count_order = np.argsort(count_items)
        return ChangeSet(
            time=self.time,
            seconds=seconds,
            change=plan.change,
            users=users[order],
            items=items[order],
            sign=np.full(len(users), plan.step, dtype=np.int64),
            count_items=count_items[count_order],
            count_old=plan.count_old[count_order],
            count_new=plan.count_new[count_order],
            blocks=tuple(
                CoocBlock(b.user, ids[b.changed], ids[b.columns], b.old, plan.step) for b in plan.blocks
            ),
        )

    # ------------------------------------------------------------------ internal reads
    def _size(self) -> int:
        return self._arrays.size + len(self._extra_ids)

    def _index(self, item: int) -> int | None:
        index = self._arrays.item_index.get(item)
        return index if index is not None else self._extra_index.get(item)

    def _item_ids(self) -> np.ndarray:
        """External id of each internal index in use, shape (size,)."""
        if not self._extra_ids:
            return self._arrays.item_ids[: self._arrays.size]
        if self._ids_cache is None:
            self._ids_cache = np.concatenate(
                [self._arrays.item_ids[: self._arrays.size], np.array(self._extra_ids, dtype=np.int64)]
            )
        return self._ids_cache

    def _row(self, user: int) -> np.ndarray:
        row = self._rows.get(user)
        if row is None:
            row = self._arrays.rows.get(user, _EMPTY)
        return row

    def _count_vector(self, length: int | None = None) -> np.ndarray:
        """n by internal index, at least ``length`` long (new items count 0)."""
        counts = self._counts if self._counts is not None else self._arrays.counts[: self._arrays.size]
        length = self._size() if length is None else length
        if len(counts) < length:
            counts = np.concatenate([counts, np.zeros(length - len(counts), dtype=np.int64)])
        return counts[:length]

    def _pair_values(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """C at internal index pairs (lo[k], hi[k]), as int64."""
        capacity = self._arrays.capacity
        inside = (lo < capacity) & (hi < capacity)
        values = np.zeros(len(lo), dtype=np.int64)
        values[inside] = self._arrays.cooc[lo[inside], hi[inside]]
        for user, new_row in self._rows.items():
            old_row = self._arrays.rows.get(user, _EMPTY)
            values += _members(new_row, lo) & _members(new_row, hi)
            values -= _members(old_row, lo) & _members(old_row, hi)
        return values

    def _block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """C[rows][:, cols] for internal indices, shape (len(rows), len(cols)).

        In the arrays' dtype when no overlay applies, int64 otherwise. Indices past the shared
        arrays (items only this fork knows) read as 0 before the overlay is added.
        """
        capacity = self._arrays.capacity
        if len(rows) and len(cols) and rows.max() < capacity and cols.max() < capacity:
            # flat take is ~2x faster than np.ix_ fancy indexing on a large C
            block = self._arrays.cooc.reshape(-1)[np.add.outer(rows * capacity, cols)]
        else:
            block = np.zeros((len(rows), len(cols)), dtype=self._arrays.cooc.dtype)
            in_rows, in_cols = rows < capacity, cols < capacity
            block[np.ix_(in_rows, in_cols)] = self._arrays.cooc[np.ix_(rows[in_rows], cols[in_cols])]
        for user, new_row in self._rows.items():
            old_row = self._arrays.rows.get(user, _EMPTY)
            for row, sign in ((new_row, 1), (old_row, -1)):
                hit_rows = np.flatnonzero(_members(row, rows))
                if len(hit_rows):
                    hit_cols = np.flatnonzero(_members(row, cols))
                    if block.dtype != np.int64:
                        block = block.astype(np.int64)
                    block[np.ix_(hit_rows, hit_cols)] += sign
        return block

    def _indices(self, items: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """Internal indices of ``items`` and a mask of which are known to the model."""
        found = [self._index(int(item)) for item in items]
        known = np.array([index is not None for index in found], dtype=bool)
        return np.array([index if index is not None else 0 for index in found], dtype=np.int64), known

    # ------------------------------------------------------------------ public reads
    def users(self) -> list[int]:
        """Ids of users with at least one interaction, sorted."""
        users = set(self._arrays.rows) | set(self._rows)
        return sorted(user for user in users if len(self._row(user)))

    def items(self) -> list[int]:
        """Ids of items with at least one interaction (n > 0), sorted."""
        counts = self._count_vector()
        return sorted(self._item_ids()[counts > 0].tolist())

    def num_interactions(self) -> int:
        """|H|: the number of (user, item) interactions."""
        return int(self._count_vector().sum())

    def history(self, user: int) -> list[int]:
        """The items ``user`` has interacted with, sorted; empty for an unknown user."""
        return sorted(self._item_ids()[self._row(user)].tolist())

    def interactions(self) -> pd.DataFrame:
        """All interactions as a DataFrame with ``user`` and ``item`` columns, sorted."""
        ids = self._item_ids()
        users = self.users()
        rows = [self._row(user) for user in users]
        frame = pd.DataFrame(
            {
                "user": np.repeat(np.array(users, dtype=np.int64), [len(r) for r in rows]),
                "item": ids[np.concatenate(rows)] if rows else _EMPTY,
            }
        )
        return frame.sort_values(["user", "item"], ignore_index=True)

    def count(self, item: int) -> int:
        """n_item: how many users interacted with ``item`` (0 for an unknown item)."""
        index = self._index(item)
        return 0 if index is None else int(self._count_vector()[index])

    def cooccurrence(self, a: int, b: int) -> int:
        """C_ab: how many users interacted with both ``a`` and ``b`` (C_aa = n_a)."""
        ia, ib = self._index(a), self._index(b)
        if ia is None or ib is None:
            return 0
        return int(self._pair_values(np.array([ia]), np.array([ib]))[0])

    def similarity(self, a: int, b: int) -> float:
        """S_ab = C_ab / (n_a + n_b - C_ab), Jaccard similarity; 0.0 if either count is 0."""
        return float(_jaccard(self.cooccurrence(a, b), self.count(a), self.count(b)))

    def counts(self, items: Sequence[int]) -> np.ndarray:
        """n for ``items`` (external ids), shape (k,), int64; 0 for unknown items."""
        index, known = self._indices(items)
        values = np.zeros(len(index), dtype=np.int64)
        values[known] = self._count_vector()[index[known]]
        return values

    def cooccurrences(self, items: Sequence[int], columns: Sequence[int] | None = None) -> np.ndarray:
        """Dense C for ``items`` x ``columns`` (default: ``items``), shape (k, l), int64."""
        rows, rows_known = self._indices(items)
        cols, cols_known = self._indices(items if columns is None else columns)
        block = self._block(rows, cols)
        block[~rows_known, :] = 0
        block[:, ~cols_known] = 0
        return block

    def similarities(self, items: Sequence[int], columns: Sequence[int] | None = None) -> np.ndarray:
        """Dense S for ``items`` x ``columns`` (default: ``items``), shape (k, l), float64."""
        columns = items if columns is None else columns
        return _jaccard(self.cooccurrences(items, columns), self.counts(items)[:, None], self.counts(columns)[None, :])

    def history_matrix(self, users: Sequence[int], items: Sequence[int]) -> np.ndarray:
        """Dense H for ``users`` x ``items``, shape (u, k), uint8 (1 = interacted)."""
        index, known = self._indices(items)
        matrix = np.zeros((len(users), len(items)), dtype=np.uint8)
        for position, user in enumerate(users):
            matrix[position] = _members(self._row(int(user)), index) & known
        return matrix

    def similarity_rows(self, items: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """S between ``items`` and every item of the catalog.

        Returns ``(item_ids, S)`` with item_ids the model's items (internal order, shape (m,))
        and S of shape (len(items), m). Unknown items give zero rows.
        """
        index, known = self._indices(items)
        counts = self._count_vector()
        block = self._block(index, np.arange(self._size()))
        block[~known] = 0
        return self._item_ids(), _jaccard(block, counts[index][:, None], counts[None, :])

    def similarity_changes(self, changes: ChangeSet, block_rows: int = 256) -> PairChanges:
        """Every S entry that ``changes`` altered (``item_a > item_b``, old and new values).

        Derived from C and n, so the model must still be at ``changes.time``. S_ab can only
        change if n_a or n_b changed (a changed C_ab implies that at least one of the two
        items gained or lost an interaction), so only the rows of the items whose count
        changed are scanned, ``block_rows`` at a time to bound memory.
        """
        if changes.time != self.time:
            raise RequestError(
                f"Similarity changes of time {changes.time} can only be derived while the model is at "
                f"that time (it is at {self.time}); derive them right after applying the change."
            )
        ids, new_counts = self._item_ids(), self._count_vector()
        touched, _ = self._indices(changes.count_items.tolist())
        old_counts = new_counts.copy()
        old_counts[touched] = changes.count_old
        pairs = changes.cooccurrences
        pair_a, _ = self._indices(pairs.item_a.tolist())
        pair_b, _ = self._indices(pairs.item_b.tolist())
        all_items = np.arange(self._size())
        found: list[tuple[np.ndarray, ...]] = []
        for start in range(0, len(touched), block_rows):
            rows = touched[start : start + block_rows]
            c_new = self._block(rows, all_items)
            c_old = c_new.copy()
            # undo the C changes that fall in these rows (either orientation of the pair)
            for here, there in ((pair_a, pair_b), (pair_b, pair_a)):
                in_rows = _members(np.sort(rows), here)
                if in_rows.any():
                    position = {index: k for k, index in enumerate(rows.tolist())}
                    row_pos = np.array([position[i] for i in here[in_rows].tolist()], dtype=np.int64)
                    c_old[row_pos, there[in_rows]] = pairs.old[in_rows]
            c_old[np.arange(len(rows)), rows] = old_counts[rows]  # C's diagonal is n: restore it too
            s_old = _jaccard(c_old, old_counts[rows][:, None], old_counts[None, :])
            s_new = _jaccard(c_new, new_counts[rows][:, None], new_counts[None, :])
            r, c = np.nonzero(s_old != s_new)
            keep = rows[r] != c  # the diagonal S_aa is not part of the stream
            r, c = r[keep], c[keep]
            found.append((ids[rows[r]], ids[c], s_old[r, c], s_new[r, c]))
        if not found:
            return PairChanges(_EMPTY, _EMPTY, np.zeros(0), np.zeros(0))
        a, b, old, new = (np.concatenate(part) for part in zip(*found))
        item_a, item_b = np.maximum(a, b), np.minimum(a, b)
        # a pair with both items touched was seen from both rows: keep one
        _, first = np.unique(np.column_stack([item_a, item_b]), axis=0, return_index=True)
        return PairChanges(item_a[first], item_b[first], old[first], new[first])

    def recommend(self, user: int, k: int = 10) -> list[Recommendation]:
        """Top-``k`` unseen items for ``user`` (see :func:`amnesia.recommend.recommend`)."""
        return recommend(self, user, k)

    def explain(self, user: int, item: int, n: int = 3) -> list[tuple[int, float]]:
        """The ``n`` items of ``user``'s history most similar to ``item`` ("because you watched")."""
        return explain(self, user, item, n)

    def similar_items(self, item: int, k: int = 10) -> list[tuple[int, float]]:
        """The ``k`` items most similar to ``item`` as ``(item, S)``, S > 0, ties by smaller id."""
        return similar_items(self, item, k)

    # ------------------------------------------------------------------ certificate
    def cooccurrence_entries(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """All non-zero C entries with item_a > item_b, as blocks of arrays (item_a, item_b, C_ab).

        Ordered by item_a, then item_b, in external ids; one block per ~512 rows of C so that
        memory stays bounded on large catalogs.
        """
        ids, counts = self._item_ids(), self._count_vector()
        live = np.flatnonzero(counts > 0)
        live = live[np.argsort(ids[live])]
        for start in range(0, len(live), _FINGERPRINT_BLOCK):
            stop = min(start + _FINGERPRINT_BLOCK, len(live))
            block = self._block(live[start:stop], live[:stop])
            block[np.triu_indices(stop - start, start, stop)] = 0  # keep columns with smaller ids
            r, c = np.nonzero(block)
            yield ids[live[start + r]], ids[live[c]], block[r, c].astype(np.int64)

    def fingerprint(self) -> str:
        """SHA-256 of the canonical (H, n, C): equal for equal models, however they were built.

        H as sorted (user, item) pairs, n as (item, count) for count > 0, C as
        (item_a, item_b, count) for item_a > item_b and count > 0, all in external ids.
        """
        digest = hashlib.sha256(b"amnesia-itemcf-v1")
        digest.update(b"H")
        digest.update(np.ascontiguousarray(self.interactions().to_numpy(dtype=np.int64)).tobytes())
        items = np.array(self.items(), dtype=np.int64)
        digest.update(b"n")
        digest.update(np.column_stack([items, self.counts(items)]).astype(np.int64).tobytes())
        digest.update(b"C")
        for item_a, item_b, values in self.cooccurrence_entries():
            digest.update(np.column_stack([item_a, item_b, values]).tobytes())
        return digest.hexdigest()

    def nbytes(self) -> int:
        """Bytes of this model's own state: its overlay, plus the dense arrays if it built them
        (a fork shares its parent's arrays and does not count them)."""
        overlay = sum(row.nbytes for row in self._rows.values()) + (0 if self._counts is None else self._counts.nbytes)
        if not self._built_arrays:
            return overlay
        arrays = self._arrays
        return overlay + arrays.cooc.nbytes + arrays.counts.nbytes + arrays.item_ids.nbytes + sum(
            row.nbytes for row in arrays.rows.values()
        )

    def __repr__(self) -> str:
        return (
            f"ItemCF(users={len(self.users())}, items={len(self.items())}, "
            f"interactions={self.num_interactions()}, time={self.time})"
        )


def _interaction_pairs(interactions: Any) -> np.ndarray:
    """Unique sorted (k, 2) int64 (user, item) pairs from a DataFrame, array or iterable."""
    if isinstance(interactions, pd.DataFrame):
        missing = {"user", "item"} - set(interactions.columns)
        if missing:
            raise RequestError(
                f"The interactions DataFrame needs 'user' and 'item' columns; missing {sorted(missing)} "
                f"(it has {list(interactions.columns)})."
            )
        frame = interactions[["user", "item"]]
        for column in ("user", "item"):
            if not pd.api.types.is_integer_dtype(frame[column]):
                raise RequestError(f"Column {column!r} must hold integer ids, not {frame[column].dtype}.")
        return normalize_pairs(frame.to_numpy(dtype=np.int64))
    return normalize_pairs(interactions)


def _cooccurrences(user_of_pair: np.ndarray, item_of_pair: np.ndarray, num_users: int, size: int, max_count: int) -> np.ndarray:
    """C = HᵀH as a dense (size, size) array, computed with BLAS in blocks of items.

    float32 products are exact for counts below 2^24; blocks bound the temporary to
    ~40 MB whatever the catalog size.
    """
    dtype = np.uint16 if max_count <= np.iinfo(np.uint16).max else np.uint32
    dense = np.zeros((num_users, size), dtype=np.float32)
    dense[user_of_pair, item_of_pair] = 1.0
    cooc = np.empty((size, size), dtype=dtype)
    block = max(1, min(size, 10_000_000 // max(size, 1)))
    for start in range(0, size, block):
        stop = min(start + block, size)
        cooc[start:stop] = dense[:, start:stop].T @ dense
    return cooc
