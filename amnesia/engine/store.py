"""Storage of n and C behind one small interface, with copy-on-write forks.

Items have internal indices 0..size-1 (the model maps external ids to them). A store holds
n (int64 counts) and C = HᵀH, answers reads of blocks and pairs, applies planned changes,
forks, and reports its memory. S is never stored.

Layout (:class:`ArrayStore`): the first ``dense_size`` items form a dense square block of
uint16 counts; every other item has a *sparse row*: its co-occurrences with all items, as sorted column indices and counts, kept in one pool with room to grow in place.

- the **dense store** (``dense_size`` = the fitted catalog) suits catalogs whose C is dense
  enough: MovieLens latest-small (9,724 items, 190 MB), and even a MovieLens-25M-shaped set,
  whose C is about half full (7 GB dense against ~10 GB as sparse rows);
- the **sparse store** (``dense_size`` = 0) suits catalogs with many items and sparse
  co-occurrence, where items² would not fit; an empty model starts sparse;
- items added after fitting always get sparse rows, so adding items never allocates items².

Counts saturate at 65,535 in the arrays; exact larger values live in a small overflow table
(pairs of two items that each have 65,535+ users; a handful even in MovieLens-25M).

Forks: :meth:`Store.share` freezes an :class:`ArrayStore` and returns two :class:`ForkStore`
views of it, one for the model and one for its fork. A fork store records the user rows its
model changed, {user: (row in the base, row now)}, in a persistent map, and reads C as the
base plus Σ (now ⊗ now − base ⊗ base) over those users (a log of signed rows, see
:mod:`.rowlog`), so its memory is proportional to the users it changed, a fork of it costs
nothing until either side changes, and nothing is ever written to the shared arrays.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from immutables import Map

from . import kernels
from ..errors import ArgumentError
from .arguments import _is_int, check_buffer
from .kernels import SATURATED
from .rowlog import RowLog

_EMPTY = np.zeros(0, dtype=np.int64)
#: How C can be laid out (``ItemCF.fit(..., store=...)``, the CLI's ``--store``): see :func:`choose_layout`.
LAYOUTS = ("auto", "dense", "sparse")


@dataclass(frozen=True)
class UserDelta:
    """One user's planned change, in internal indices (sorted arrays: ``old_row`` and ``new_row``
    as the model stores rows, int32, the others int64).

    C moves by the change's step on every ordered pair (p, q), p != q, of ``columns`` with p or
    q in ``changed``: the items the user gains or loses, against all the items the user has
    while the change is visible (the new row for an Add, the old row for a Remove).
    """

    user: int
    old_row: np.ndarray
    new_row: np.ndarray
    changed: np.ndarray
    columns: np.ndarray

    @property
    def whole_row(self) -> bool:
        """Every column changed (``changed`` is a subset of ``columns``): the user's whole row was
        removed (a forget) or is new (a first add)."""
        return len(self.changed) == len(self.columns)


@dataclass(frozen=True)
class StoreChange:
    """A validated request in internal indices: the step, the size after it, each user's
    delta, and the new counts (n) of the items whose count changes."""

    step: int
    size: int
    users: tuple[UserDelta, ...]
    count_index: np.ndarray
    count_new: np.ndarray


class Store(ABC):
    """n and C for items 0..size-1; see the module docstring."""

    kind: str

    @property
    @abstractmethod
    def size(self) -> int:
        """Internal item indices in use."""

    @abstractmethod
    def counts(self) -> np.ndarray:
        """n, shape (size,), int64, read-only."""

    @abstractmethod
    def block(self, rows: np.ndarray, cols: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """C[rows][:, cols] as int64, shape (len(rows), len(cols)); ``cols=None`` means every
        item. The diagonal is n; indices >= size read 0. With ``out`` (C-contiguous, that
        shape, int64 or int32: counts are at most the number of users) the block is written
        there and ``out`` returned: callers reading many blocks reuse one buffer, where a fresh
        block of a heavy user's rows is ~10-30 MB faulted in anew."""

    @abstractmethod
    def pairs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """C[a[k], b[k]] for each k, int64 (the diagonal is n)."""

    @abstractmethod
    def apply(self, change: StoreChange) -> None:
        """Apply a planned change, all of it or (on MemoryError while preparing) none of it."""

    @abstractmethod
    def share(self, lean: bool = False) -> tuple[Store, Store]:
        """(store for the current model, store for a new fork): isolated from then on. A
        ``lean`` fork keeps only the state, not what is derived from it for reads."""

    @abstractmethod
    def nbytes(self) -> int:
        """Bytes this store owns (a fork does not count the arrays it shares)."""

    def sparse_entries(self) -> int:
        """Entries of C kept as sparse rows (both halves of each pair); 0 when the store keeps
        none of its own (a dense block, or a fork whose overlay is its changed rows)."""
        return 0

    def dense_matrix(self) -> np.ndarray | None:
        """C as one read-only (size, size) uint16 array when the store holds exactly that (every
        item in the dense block, no count in the overflow table; the diagonal is not n), else None:
        a fast path for whole-matrix passes such as building neighbour lists."""
        return None


class OwnCounts:
    """n kept by the store itself in a growable int64 array (``_counts``, valid up to ``_size``):
    :class:`ArrayStore`, and a sharded store's driver (:mod:`amnesia.engine.sharded`)."""

    _counts: np.ndarray
    _size: int

    @property
    def size(self) -> int:
        return self._size

    def counts(self) -> np.ndarray:
        view = self._counts[: self._size]
        view.flags.writeable = False
        return view

    def _reserve_counts(self, size: int) -> None:
        """Room for ``size`` counts (amortised: at least doubles). Allocates; writes no count."""
        if size > len(self._counts):
            self._counts = np.concatenate([self._counts, np.zeros(max(size, 2 * len(self._counts)) - len(self._counts), np.int64)])


def empty_store() -> Store:
    """The store of a model with no data yet (sparse: it grows row by row)."""
    return ArrayStore(dense_size=0)


def fit_store(user_ptr: np.ndarray, user_items: np.ndarray, size: int, layout: str | int = "auto") -> Store:
    """The store for C = HᵀH of H given as sorted rows (see :meth:`ArrayStore.fit`), in
    ``layout`` (one of :data:`LAYOUTS`, or the size of the dense block). The one place a
    model's store class is chosen: a model asks for a layout, never for a class."""
    # a bool is an int to Python, and -3 was taken as 0 (all sparse) without a word
    block = _is_int(layout)
    if (block and layout < 0) or (not block and layout not in LAYOUTS):
        raise ArgumentError(f"Unknown store layout {layout!r}; choose from {', '.join(LAYOUTS)} or a dense block "
                            f"size (a whole number of items, at least 0).")
    layout = int(layout) if block else layout
    return ArrayStore.fit(user_ptr, user_items, size, layout)


def _with_diagonal(block: np.ndarray, rows: np.ndarray, cols: np.ndarray | None, counts: np.ndarray) -> np.ndarray:
    """Write n onto the positions of ``block`` where the row and the column are the same item."""
    inside = np.flatnonzero(rows < len(counts))
    if cols is None:
        block[inside, rows[inside]] = counts[rows[inside]]
        return block
    ascending = len(cols) < 2 or bool((cols[1:] >= cols[:-1]).all())  # slabs of columns are: no sort needed
    if not ascending and len(cols) >= 1024 and cols.min() >= 0:  # many columns (a scan's): a map, not a sort
        position = np.full(int(cols.max()) + 1, -1, dtype=np.int64)
        position[cols] = np.arange(len(cols))
        if bool((position[cols] == np.arange(len(cols))).all()):  # distinct columns
            hit = inside[rows[inside] < len(position)]
            found = position[rows[hit]]
            block[hit[found >= 0], found[found >= 0]] = counts[rows[hit[found >= 0]]]
            return block
    order = np.arange(len(cols)) if ascending else np.argsort(cols, kind="stable")
    ordered = cols if ascending else cols[order]
    left = np.searchsorted(ordered, rows[inside], side="left")
    right = np.searchsorted(ordered, rows[inside], side="right")
    hit = right > left
    if len(ordered) < 2 or bool((ordered[1:] != ordered[:-1]).all()):  # distinct columns: one position per row
        block[inside[hit], order[left[hit]]] = counts[rows[inside[hit]]]
        return block
    for i, lo, hi in zip(inside[hit].tolist(), left[hit].tolist(), right[hit].tolist()):
        block[i, order[lo:hi]] = counts[rows[i]]
    return block


class ArrayStore(OwnCounts, Store):
    """A store that owns its arrays: a dense block for items < dense_size, sparse rows for the rest."""

    #: Stored counts at this value move to the overflow table. Tests lower it (to 3, say) to
    #: exercise overflow with small data; 65,535 is the uint16 maximum.
    default_saturation = SATURATED
    #: The pool is compacted when holes reach half the live slots and it has at least this many slots.
    compact_min_slots = 1 << 20

    def __init__(self, dense_size: int = 0, saturation: int | None = None):
        saturation = self.default_saturation if saturation is None else saturation
        if not 2 <= saturation <= SATURATED:
            raise ValueError(f"saturation must be between 2 and {SATURATED}, got {saturation}")
        self.saturation = saturation
        self.dense_size = dense_size
        self.kind = "dense" if dense_size else "sparse"
        self._size = 0
        self._counts = np.zeros(max(16, dense_size), dtype=np.int64)
        self._core = np.zeros(dense_size * dense_size, dtype=np.uint16)  # flat, row-major
        # sparse rows, indexed by item - dense_size
        self._starts = np.zeros(16, dtype=np.int64)
        self._lengths = np.zeros(16, dtype=np.int64)
        self._caps = np.zeros(16, dtype=np.int64)
        self._pool_idx = np.zeros(1024, dtype=np.int32)
        self._pool_val = np.zeros(1024, dtype=np.uint16)
        self._free = 0  # pool slots in use from the start (rows + their slack + holes)
        self._holes = 0  # slots left behind by rows that moved
        self._overflow: dict[tuple[int, int], int] = {}  # (lo, hi) -> exact count >= saturation
        self._frozen = False
        # An upper bound of every n (None: not known yet, worked out when first needed): while it is
        # below saturation - 1, no request can saturate a count and _hot has nothing to look up
        self._peak: int | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def fit(
        cls,
        user_ptr: np.ndarray,
        user_items: np.ndarray,
        size: int,
        layout: str | int = "auto",
        saturation: int | None = None,
    ) -> ArrayStore:
        """C = HᵀH from H given as sorted rows (``user_items[user_ptr[u]:user_ptr[u+1]]``,
        int32 internal indices, the most popular items first).

        ``layout``: ``"dense"``, ``"sparse"``, ``"auto"`` (see :func:`choose_layout`) or the
        number of items in the dense block (the rest get sparse rows).
        """
        transposed = transpose(user_ptr, user_items, size)
        counts, item_users = np.diff(transposed[2]), transposed[3]
        dense_size = min(max(layout, 0), size) if isinstance(layout, int) else choose_layout(layout, transposed, size)
        store = cls(dense_size, saturation)
        store._size = size
        store._counts = np.concatenate([counts, np.zeros(max(0, 16 - size), np.int64)])
        if dense_size:
            # split rows between threads by their work: row a costs Σ over its users of k_u
            item_of = np.repeat(np.arange(size), counts)  # the item of each position of item_users
            work = np.cumsum(np.bincount(item_of, weights=np.diff(user_ptr)[item_users], minlength=size)[:dense_size])
            chunks = np.searchsorted(work, np.linspace(0, work[-1], 65)[1:-1]).astype(np.int64)
            chunks = np.concatenate([[0], chunks, [dense_size]]).astype(np.int64)
            kernels.fit_dense(*transposed, chunks, dense_size, store._core)
        if size > dense_size:
            starts, lengths = store._fit_sparse_rows(transposed, np.arange(dense_size, size, dtype=np.int64), size)
            store._starts, store._lengths, store._caps = starts, lengths, lengths.copy()
        store._fix_hot_pairs(user_ptr, user_items, counts)
        return store

    def _fit_sparse_rows(self, transposed: tuple[np.ndarray, ...], rows: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``rows`` of C (over ``size`` items) as sparse rows in a new pool of just their size,
        one after the other; returns each row's start in the pool and its length (int64)."""
        lengths = kernels.fit_sparse_lengths(*transposed, rows, size, np.zeros(len(rows), np.int64))
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        total = int(lengths.sum())
        self._pool_idx = np.zeros(max(total, 1024), dtype=np.int32)
        self._pool_val = np.zeros(max(total, 1024), dtype=np.uint16)
        kernels.fit_sparse_fill(*transposed, rows, size, starts, self._pool_idx, self._pool_val)
        self._free = total
        return starts, lengths

    def _fix_hot_pairs(self, user_ptr: np.ndarray, user_items: np.ndarray, counts: np.ndarray) -> None:
        """The kernels' counts wrap at 2¹⁶: set pairs of items with >= saturation users exactly."""
        hot = np.flatnonzero(counts >= self.saturation)
        if len(hot) < 2:
            return
        users = np.repeat(np.arange(len(user_ptr) - 1), np.diff(user_ptr))
        keep = np.isin(user_items, hot)
        column = np.searchsorted(hot, user_items[keep])
        matrix = sp.csr_matrix((np.ones(int(keep.sum())), (users[keep], column)), shape=(len(user_ptr) - 1, len(hot)))
        exact = np.rint((matrix.T @ matrix).toarray()).astype(np.int64)
        for i, a in enumerate(hot.tolist()):
            for j, b in enumerate(hot.tolist()):
                if a < b:
                    self._set_exact(a, b, int(exact[i, j]))

    # ------------------------------------------------------------------ reads
    def _gather(self, rows: np.ndarray, cols: np.ndarray | None, out: np.ndarray | None = None) -> np.ndarray:
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        tail = self._size - self.dense_size
        starts, lengths = self._starts[:tail], self._lengths[:tail]
        shape = (len(rows), self._size if cols is None else len(cols))
        if out is None:
            out = np.zeros(shape, dtype=np.int64)
        elif cols is None:  # the kernel below writes only the entries a sparse row holds
            check_buffer(out, shape)[...] = 0
        else:
            check_buffer(out, shape)
        if cols is None:
            kernels.gather_full_rows(self._core, self.dense_size, starts, lengths, self._pool_idx, self._pool_val,
                                     self._size, rows, out)
        else:
            cols = np.ascontiguousarray(cols, dtype=np.int64)
            if len(rows) and len(cols):
                read = kernels.gather_wide if len(rows) > 1 and len(rows) * len(cols) >= kernels.WIDE_CELLS else kernels.gather
                read(self._core, self.dense_size, starts, lengths, self._pool_idx, self._pool_val,
                               self._size, rows, cols, out)
        if self._overflow:
            for i, j in zip(*np.nonzero(out == self.saturation)):
                a, b = int(rows[i]), int(j if cols is None else cols[j])
                out[i, j] = self._overflow.get((min(a, b), max(a, b)), self.saturation)
        return out

    def block(self, rows: np.ndarray, cols: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        return _with_diagonal(self._gather(rows, cols, out), rows, None if cols is None else np.asarray(cols, np.int64), self.counts())

    def pairs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        values = np.zeros(len(a), dtype=np.int64)
        for start in range(0, len(a), 1 << 20):  # bounded temporaries for long lists
            values[start : start + (1 << 20)] = self._pair_values(a[start : start + (1 << 20)], b[start : start + (1 << 20)])
        return values

    def _pair_values(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        tail = self._size - self.dense_size
        values = kernels.gather_pairs(self._core, self.dense_size, self._starts[:tail], self._lengths[:tail],
                                      self._pool_idx, self._pool_val, self._size, a, b, np.zeros(len(a), np.int64))
        if self._overflow:
            for k in np.flatnonzero(values == self.saturation).tolist():
                values[k] = self._overflow.get((min(a[k], b[k]), max(a[k], b[k])), self.saturation)
        diagonal = (a == b) & (a < self._size)
        values[diagonal] = self._counts[a[diagonal]]
        return values

    # ------------------------------------------------------------------ writes
    def apply(self, change: StoreChange) -> None:
        if self._frozen:
            raise RuntimeError("a shared store is read-only; apply changes to its ForkStore views")
        # 1. prepare: every allocation happens here, before the first write
        self._reserve_items(change.size)
        if change.step > 0 and change.users:
            if 2 * self._holes > self._free - self._holes and self._free > self.compact_min_slots:
                self._compact()
            self._make_room([self._rows_needing_room(delta) for delta in change.users])
        # Saturation events need two items with >= saturation - 1 users, counted after the whole
        # request (an earlier user of the same request may have raised a pair already).
        # (read for each user's columns only: a forget must not cost a pass over the catalog)
        events_needed = 1 + max((2 * self._hot(delta.columns, change) ** 2 for delta in change.users), default=0)
        events = np.zeros((events_needed, 3), dtype=np.int64)
        prepared = [self._prepare_user(delta) for delta in change.users]
        # 2. write: kernels that cannot allocate, then the overflow table (rare, small)
        self._size = change.size
        cool = events_needed == 1  # no count involved reaches saturation - 1: no cell can saturate
        for arrays in prepared:
            if n_events := self._write_user(arrays, change.step, events, cool):
                self._settle(events[:n_events], change.step)
        self._counts[change.count_index] = change.count_new
        if self._peak is not None and change.step > 0 and len(change.count_new):  # (a Remove only lowers counts)
            self._peak = max(self._peak, int(change.count_new.max()))

    def _hot(self, columns: np.ndarray, change: StoreChange) -> int:
        """How many of ``columns`` have, before or after ``change``, at least saturation - 1 users."""
        hot = self.saturation - 1
        if self._peak is None:
            self._peak = int(self._counts[: self._size].max(initial=0))
        # (almost always none: the bound and the request's new counts answer that without a lookup)
        if self._peak < hot and (change.step < 0 or len(change.count_new) == 0 or change.count_new.max() < hot):
            return 0
        counts = np.zeros(len(columns), dtype=np.int64)
        inside = columns < self._size
        counts[inside] = self._counts[columns[inside]]
        if len(change.count_index):
            position = np.minimum(np.searchsorted(change.count_index, columns), len(change.count_index) - 1)
            moved = change.count_index[position] == columns
            counts[moved] = np.maximum(counts[moved], change.count_new[position[moved]])
        return int(np.count_nonzero(counts >= hot))

    def _reserve_items(self, size: int) -> None:
        """Room for ``size`` items in the counts and the sparse-row directory (1-D, amortised)."""
        self._reserve_counts(size)
        tail = size - self.dense_size
        if tail > len(self._starts):
            grow = max(tail, 2 * len(self._starts)) - len(self._starts)
            self._starts = np.concatenate([self._starts, np.full(grow, self._free, np.int64)])
            self._lengths = np.concatenate([self._lengths, np.zeros(grow, np.int64)])
            self._caps = np.concatenate([self._caps, np.zeros(grow, np.int64)])

    def _rows_needing_room(self, delta: UserDelta) -> tuple[np.ndarray, np.ndarray]:
        """For an Add: the sparse rows (indices into the sparse part) this user's change inserts
        into, and how many new entries each gets."""
        is_changed = _members(delta.changed, delta.columns)
        missing = kernels.missing_per_row(self._starts, self._lengths, self._pool_idx, self.dense_size, self._size,
                                          delta.columns, is_changed, delta.changed, np.zeros(len(delta.columns), np.int64))
        inserting = missing > 0
        return delta.columns[inserting] - self.dense_size, missing[inserting]

    def _make_room(self, room: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Move the rows that cannot take their new entries in place to the free end of the pool
        with 50% slack, growing (or compacting) the pool first. Only allocates; writes no count."""
        rows = np.concatenate([r for r, _ in room])
        if len(rows) == 0:
            return
        # a row may gain entries from several users of one request: reserve for the sum
        unique, inverse = np.unique(rows, return_inverse=True)
        growth = np.bincount(inverse, weights=np.concatenate([m for _, m in room])).astype(np.int64)
        needed = self._lengths[unique] + growth
        moving = needed > self._caps[unique]
        unique, needed = unique[moving], needed[moving]
        if len(unique) == 0:
            return
        caps = np.maximum(8, (needed * 3) // 2)
        if self._free + int(caps.sum()) > len(self._pool_idx):
            capacity = max(self._free + int(caps.sum()), 2 * len(self._pool_idx))
            pool_idx = np.zeros(capacity, dtype=np.int32)
            pool_val = np.zeros(capacity, dtype=np.uint16)
            pool_idx[: self._free] = self._pool_idx[: self._free]
            pool_val[: self._free] = self._pool_val[: self._free]
            self._pool_idx, self._pool_val = pool_idx, pool_val
        self._holes += int(self._caps[unique].sum())
        self._free = kernels.move_rows(self._starts, self._caps, self._lengths, self._pool_idx, self._pool_val, unique, caps, self._free)

    def _compact(self) -> None:
        """Rewrite the pool without holes, every row keeping its slots. Builds the new pool and
        directory completely before replacing the old ones, so a MemoryError changes nothing."""
        caps = self._caps.copy()
        starts = np.concatenate([[0], np.cumsum(caps)[:-1]]).astype(np.int64)
        capacity = max(int(caps.sum()), 1024)
        pool_idx = np.zeros(capacity, dtype=np.int32)
        pool_val = np.zeros(capacity, dtype=np.uint16)
        for k in np.flatnonzero(self._lengths).tolist():
            old, new, length = self._starts[k], starts[k], self._lengths[k]
            pool_idx[new : new + length] = self._pool_idx[old : old + length]
            pool_val[new : new + length] = self._pool_val[old : old + length]
        self._pool_idx, self._pool_val, self._starts, self._caps = pool_idx, pool_val, starts, caps
        self._free, self._holes = int(caps.sum()), 0

    def _prepare_user(self, delta: UserDelta) -> tuple[np.ndarray, ...]:
        """The arrays one user's write needs, computed (allocated) before any write."""
        changed, columns, dense = delta.changed, delta.columns, self.dense_size
        if delta.whole_row:
            is_changed, others = np.ones(len(columns), dtype=bool), columns[:0]
        else:
            is_changed = _members(changed, columns)
            others = columns[~is_changed]
        if len(columns) == 0 or columns[-1] < dense:  # all in the dense core (sorted)
            return changed, columns, is_changed, changed, columns, others
        return changed, columns, is_changed, changed[changed < dense], columns[columns < dense], others[others < dense]

    def _write_user(self, prepared: tuple[np.ndarray, ...], step: int, events: np.ndarray, cool: bool = False) -> int:
        """One user's change through the kernels (no allocation); returns the saturation events.
        ``cool``: every count involved is below saturation - 1, so the dense writes skip the test."""
        changed, columns, is_changed, changed_core, columns_core, others_core = prepared
        dense, n_events = self.dense_size, 0
        if dense and cool:
            kernels.shift_dense(self._core, dense, changed_core, columns_core, step)
            if len(others_core):
                kernels.shift_dense(self._core, dense, others_core, changed_core, step)
        elif dense:
            n_events = kernels.update_dense(self._core, dense, changed_core, columns_core, step, self.saturation, events, n_events)
            if len(others_core):
                n_events = kernels.update_dense(self._core, dense, others_core, changed_core, step, self.saturation, events, n_events)
        if len(columns) and columns[-1] >= dense:
            n_events = kernels.update_sparse_rows(self._starts, self._lengths, self._pool_idx, self._pool_val, dense,
                                                  columns, is_changed, changed, step, self.saturation, events, n_events)
        return n_events

    def _settle(self, events: np.ndarray, step: int) -> None:
        """Apply the kernels' saturation events to the overflow table, once per unordered pair."""
        done: set[tuple[int, int]] = set()
        for row, col, kind in events.tolist():
            key = (min(row, col), max(row, col))
            if key in done:
                continue
            done.add(key)
            if kind == 1:  # reached the saturation value from below
                self._overflow[key] = self.saturation
            else:
                self._set_exact(key[0], key[1], self._overflow[key] + step)

    def _set_exact(self, a: int, b: int, value: int) -> None:
        """Store C_ab = C_ba = ``value`` exactly (saturated value + overflow entry when large).
        The pair must already have its slots (dense, or present in the sparse rows)."""
        key = (min(a, b), max(a, b))
        stored = min(value, self.saturation)
        if value >= self.saturation:
            self._overflow[key] = value
        else:
            self._overflow.pop(key, None)
        for row, col in ((a, b), (b, a)):
            if row < self.dense_size and col < self.dense_size:
                self._core[row * self.dense_size + col] = stored
            elif row >= self.dense_size:
                k = row - self.dense_size
                segment = self._pool_idx[self._starts[k] : self._starts[k] + self._lengths[k]]
                position = int(np.searchsorted(segment, col))
                if position < len(segment) and segment[position] == col:
                    self._pool_val[self._starts[k] + position] = stored

    # ------------------------------------------------------------------ forks and memory
    def share(self, lean: bool = False) -> tuple[Store, Store]:
        self._frozen = True
        for array in (self._core, self._pool_idx, self._pool_val, self._counts, self._starts, self._lengths):
            array.flags.writeable = False
        return ForkStore(self), ForkStore(self)

    def nbytes(self) -> int:
        arrays = (self._core, self._counts, self._starts, self._lengths, self._caps, self._pool_idx, self._pool_val)
        return sum(array.nbytes for array in arrays) + 100 * len(self._overflow)

    def dense_matrix(self) -> np.ndarray | None:
        if self.dense_size != self._size or self._overflow or self._size == 0:
            return None
        view = self._core[: self._size * self._size].reshape(self._size, self._size)
        view.flags.writeable = False
        return view

    def sparse_entries(self) -> int:
        """Stored sparse-row entries (both orientations of a pair count)."""
        return int(self._lengths[: max(0, self._size - self.dense_size)].sum())


def _members(row: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Boolean mask: which of ``values`` occur in the sorted array ``row``."""
    if len(row) == 0:
        return np.zeros(len(values), dtype=bool)
    positions = np.minimum(np.searchsorted(row, values), len(row) - 1)
    return row[positions] == values


class ForkStore(Store):
    """A copy-on-write view of a frozen :class:`ArrayStore` (see the module docstring).

    State: the user rows its model changed, ``{user: (row in the base, row now)}`` in a
    persistent map (a fork shares it; a change replaces only the paths it touches), and the
    number of items. Derived, rebuilt from that state when missing: n (one array, shared with
    forks until either side changes it) and the :class:`RowLog` that answers C reads. A
    *lean* fork (:meth:`share` with ``lean=True``, for checkpoints) keeps only the state, so it
    costs what changed since the fork it shares its map with.
    """

    #: The log is rebuilt from the rows when it holds more than this many times their entries.
    CONSOLIDATE = 2

    def __init__(self, base: ArrayStore, rows: Map | None = None, size: int | None = None,
                 counts: np.ndarray | None = None, log: RowLog | None = None, live: int = 0):
        self.base = base
        self.kind = base.kind
        self._rows: Map = Map() if rows is None else rows  # user -> (row in the base, row now), internal indices
        self._size = base.size if size is None else size
        self._counts = counts  # n, read-only, possibly shared with forks (None: rebuilt on first read)
        self._log = log if log is not None or self._rows else RowLog()  # None: rebuilt on first read
        self._live = live  # Σ |row in the base| + |row now| over the rows: the size of a rebuilt log

    @property
    def size(self) -> int:
        return self._size

    def counts(self) -> np.ndarray:
        if self._counts is None:
            if not self._rows and self._size == self.base.size:
                return self.base.counts()
            counts = np.zeros(self._size, dtype=np.int64)
            counts[: self.base.size] = self.base.counts()
            base_rows = [base for base, _ in self._rows.values()]
            now_rows = [now for _, now in self._rows.values()]
            if self._rows:
                counts += np.bincount(np.concatenate(now_rows), minlength=self._size)[: self._size]
                counts -= np.bincount(np.concatenate(base_rows), minlength=self._size)[: self._size]
            counts.flags.writeable = False
            self._counts = counts
        return self._counts

    def _read_log(self) -> RowLog:
        """The log, sealed (and rebuilt from the rows if this is a lean fork)."""
        if self._log is None:
            rows = [(sign, row) for base, now in self._rows.values() if not np.array_equal(base, now)
                    for sign, row in ((1, now), (-1, base))]
            self._log = RowLog().append(rows)
        self._log = self._log.sealed(self._size)
        return self._log

    def block(self, rows: np.ndarray, cols: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        cols = None if cols is None else np.asarray(cols, dtype=np.int64)
        if cols is None and self.base.size < self._size:  # items only this fork knows: read them as columns
            cols = np.arange(self._size, dtype=np.int64)
        block = self.base.block(rows, cols, out)  # its diagonal (the base's n) is replaced below
        if self._rows:
            self._read_log().add_block(rows, cols, self._size, block)
        return _with_diagonal(block, rows, cols, self.counts())

    def pairs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        values = self.base.pairs(a, b)
        values[(a >= self.base.size) | (b >= self.base.size)] = 0
        if self._rows:
            log = self._read_log()
            for start in range(0, len(a), 1 << 18):  # bounded temporaries for long lists
                values[start : start + (1 << 18)] += log.pairs(a[start : start + (1 << 18)], b[start : start + (1 << 18)])
        diagonal = (a == b) & (a < self._size)
        values[diagonal] = self.counts()[a[diagonal]]
        return values

    def dense_matrix(self) -> np.ndarray | None:
        """The base's whole C while this fork has changed nothing (then it is the same C)."""
        return self.base.dense_matrix() if not self._rows and self._size == self.base.size else None

    def read_cost(self, rows: np.ndarray) -> int:
        """Multiply-adds a :meth:`block` of the full ``rows`` takes beyond gathering them from
        the base: the fork's share, large when long rows are read against many long changed rows."""
        if not self._rows:
            return 0
        return self._read_log().cost(np.asarray(rows, dtype=np.int64))

    def apply(self, change: StoreChange) -> None:
        counts = np.zeros(change.size, dtype=np.int64)
        current = self.counts()
        counts[: len(current)] = current
        counts[change.count_index] = change.count_new
        counts.flags.writeable = False
        logged: list[tuple[int, np.ndarray]] = []
        with self._rows.mutate() as rows:
            for delta in change.users:
                if delta.user in rows:
                    base_row, now_row = rows[delta.user]
                    self._live -= len(base_row) + len(now_row)
                else:
                    base_row = delta.old_row
                rows[delta.user] = (base_row, delta.new_row)
                self._live += len(base_row) + len(delta.new_row)
                logged += [(1, delta.new_row), (-1, delta.old_row)]
            self._rows = rows.finish()
        self._counts, self._size = counts, change.size
        if self._log is not None:  # a log much longer than the rows it stands for is rebuilt from them
            log = self._log.append(logged)
            self._log = None if log.entries > self.CONSOLIDATE * self._live + 4096 else log

    def share(self, lean: bool = False) -> tuple[Store, Store]:
        if lean:
            return self, ForkStore(self.base, self._rows, self._size, live=self._live)
        return self, ForkStore(self.base, self._rows, self._size, self._counts, self._log, self._live)

    def nbytes(self) -> int:
        rows = sum(now.nbytes for _, now in self._rows.values())
        log = 0 if self._log is None else self._log.nbytes()
        return rows + log + (0 if self._counts is None else self._counts.nbytes)


def transpose(user_ptr: np.ndarray, user_items: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """H both ways for the fitting kernels: ``(user_ptr, user_items, item_ptr, item_users)``, where
    ``item_users[item_ptr[a]:item_ptr[a+1]]`` are the users of item a (sorted), int32."""
    counts = np.bincount(user_items, minlength=size).astype(np.int64)
    order = np.argsort(user_items, kind="stable")
    item_users = np.repeat(np.arange(len(user_ptr) - 1, dtype=np.int32), np.diff(user_ptr))[order]
    item_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return user_ptr, user_items, item_ptr, item_users


#: Bytes per stored sparse entry: an int32 column and a uint16 count.
SPARSE_ENTRY_BYTES = 6


def choose_layout(layout: str, transposed: tuple[np.ndarray, ...], size: int, sample: int = 256, seed: int = 0) -> int:
    """The dense block's size for ``layout``: ``"dense"`` -> size, ``"sparse"`` -> 0, and
    ``"auto"`` -> whichever takes less memory, dense (2 bytes a cell of items²) unless sparse
    rows (6 bytes a non-zero, both halves of C) would take under 4/5 of it.

    The sparse size is estimated from the exact lengths of a random sample of rows, computed
    with the fitting kernel (a fraction of a second even for MovieLens-25M).
    """
    if layout == "dense":
        return size
    if layout == "sparse":
        return 0
    if layout != "auto":
        raise ArgumentError(f"Unknown store {layout!r}; choose dense, sparse or auto.")
    if size <= 4096:  # items² fits in 32 MB: dense is the faster choice at any density
        return size
    rows = np.sort(np.random.default_rng(seed).choice(size, size=min(sample, size), replace=False)).astype(np.int64)
    lengths = kernels.fit_sparse_lengths(*transposed, rows, size, np.zeros(len(rows), np.int64))
    sparse_bytes = float(lengths.mean()) * size * SPARSE_ENTRY_BYTES
    return size if size * size * 2 <= 1.25 * sparse_bytes else 0
