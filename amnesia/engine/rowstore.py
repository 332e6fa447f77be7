"""One shard's part of C: the rows of the items it owns, every column, in the project's own layout.

A sharded model (:mod:`amnesia.engine.sharded`) splits the rows of C between W shards by item.
Shard ``me`` of ``shards`` owns the fitted items ``lo <= i < hi`` (a contiguous range of internal
indices, chosen by the fit so that every shard has about the same Σ k² work) and every item added
after fitting whose index is ``me`` modulo ``shards``: a rule each shard and the driver apply alike,
so an Add needs no message to say who owns a new item.

Layout (:class:`RowStore`): the fitted range either as a dense (hi - lo, fitted size) block of
uint16 counts (2 bytes a pair) or as sparse rows (6 bytes a non-zero), chosen per shard like the
single-process store chooses (:func:`choose_rows_layout`); columns added after fitting and rows
of items added after fitting are always sparse rows. The sparse rows, the saturation table and the
write order are :class:`~amnesia.engine.store.ArrayStore`'s (this class extends it with the dense
block and with ownership), so a shard writes exactly the entries a single store would write for
its rows, with the same kernels. Every shard also keeps n (8 bytes an item): it sizes a write's
saturation events and answers the diagonal, and it is small next to any row of C.

Shard ``me`` also keeps H for the users whose id is ``me`` modulo ``shards``: their rows (internal item
indices, sorted) arrive with the fit and with every change (each change lists its users' new rows), so
keeping them costs no extra message; the driver fetches a user's row when a request or a read needs it.

A shard answers reads only for rows it owns; the driver sends each row to its owner.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import numpy as np

from . import kernels
from ..errors import ArgumentError
from .arguments import check_buffer
from .store import SPARSE_ENTRY_BYTES, ArrayStore, Store, StoreChange, UserDelta, _members

_NO_ROW = np.zeros(0, dtype=np.int32)
#: Cells of C a shard reads at once for its fingerprint digests (16 MB of int64 at most).
DIGEST_CELLS = 1 << 21


def owners(items: np.ndarray, bounds: np.ndarray, fitted: int, shards: int) -> np.ndarray:
    """The shard that owns each internal item index: by range (``bounds``, shape (shards + 1,))
    for fitted items, by index modulo ``shards`` for items added after fitting. int64, shape of ``items``."""
    items = np.asarray(items, dtype=np.int64)
    return np.where(items < fitted, np.searchsorted(bounds, items, side="right") - 1, items % shards)


def partition(user_ptr: np.ndarray, user_items: np.ndarray, size: int, shards: int) -> np.ndarray:
    """Bounds (shape (shards + 1,), int64) of contiguous item ranges with about equal fitting work:
    row a costs Σ over its users of their history length (Σ k² over all rows). Every range but
    the last may be empty only when there are fewer items than shards."""
    lengths = np.diff(user_ptr)
    users = np.repeat(np.arange(len(lengths)), lengths)
    work = np.cumsum(np.bincount(user_items, weights=lengths[users], minlength=size)) if size else np.zeros(0)
    if size == 0:
        return np.zeros(shards + 1, dtype=np.int64)
    cuts = np.searchsorted(work, np.linspace(0, work[-1], shards + 1)[1:-1], side="left") + 1
    cuts = np.minimum(np.maximum.accumulate(cuts), size)
    return np.concatenate([[0], cuts, [size]]).astype(np.int64)


def choose_rows_layout(layout: str, transposed: tuple[np.ndarray, ...], size: int, lo: int, hi: int,
                       sample: int = 256, seed: int = 0) -> str:
    """``"dense"`` or ``"sparse"`` for rows lo..hi-1 of C: as :func:`~amnesia.engine.store.choose_layout`
    for the whole matrix (dense 2 bytes a cell unless sparse rows, estimated from a sample of
    these rows, take under 4/5 of it; a catalog of at most 4,096 items is always dense)."""
    if layout in ("dense", "sparse"):
        return layout
    if layout != "auto":
        raise ArgumentError(f"Unknown store layout {layout!r}; choose dense, sparse or auto.")
    if size <= 4096 or hi <= lo:
        return "dense"
    rows = np.sort(np.random.default_rng(seed).choice(np.arange(lo, hi), size=min(sample, hi - lo), replace=False))
    lengths = kernels.fit_sparse_lengths(*transposed, rows.astype(np.int64), size, np.zeros(len(rows), np.int64))
    return "dense" if size * 2 <= 1.25 * float(lengths.mean()) * SPARSE_ENTRY_BYTES else "sparse"


class RowStore(ArrayStore):
    """The rows of C owned by shard ``me`` of ``shards`` (see the module docstring), and all of n."""

    def __init__(self, me: int = 0, shards: int = 1, bounds: np.ndarray | None = None, fitted: int = 0,
                 saturation: int | None = None) -> None:
        super().__init__(dense_size=0, saturation=saturation)
        self.me, self.shards, self.fitted = me, shards, fitted
        self.bounds = np.zeros(shards + 1, dtype=np.int64) if bounds is None else np.asarray(bounds, dtype=np.int64)
        self.lo, self.hi = int(self.bounds[me]), int(self.bounds[me + 1])
        self._block = np.zeros((0, 0), dtype=np.uint16)  # rows lo..hi-1 x columns < width, when dense
        self._block_lo = self.lo
        self.version = 0  # how many of its model's changes this shard has applied (0: as fitted)
        self._histories: dict[int, np.ndarray] = {}  # H rows of the users this shard owns (id % shards == me)

    @classmethod
    def fit_shard(cls, transposed: tuple[np.ndarray, ...], size: int, me: int, bounds: np.ndarray,
                  layout: str = "auto", saturation: int | None = None, users: np.ndarray | None = None) -> RowStore:
        """Shard ``me``'s rows of C = HᵀH (``transposed`` as :func:`~amnesia.engine.store.transpose`
        returns it, for ``size`` items), in ``layout`` (``"dense"``, ``"sparse"`` or ``"auto"``), and
        H of its users when given ``users`` (the external id of each row of ``transposed``'s H)."""
        store = cls(me, len(bounds) - 1, bounds, size, saturation)
        user_ptr, user_items, item_ptr, _ = transposed
        if users is not None:
            for k in np.flatnonzero(np.asarray(users) % store.shards == me).tolist():
                store._histories[int(users[k])] = np.array(user_items[user_ptr[k] : user_ptr[k + 1]], dtype=np.int32)
        counts = np.diff(item_ptr)
        store._size = size
        store._reserve_items(size)
        store._counts[:size] = counts
        lo, hi = store.lo, store.hi
        store.kind = choose_rows_layout(layout, transposed, size, lo, hi)
        if store.kind == "dense" and hi > lo:
            store._block = kernels.fit_block(*transposed, lo, np.zeros((hi - lo, size), dtype=np.uint16))
        elif hi > lo:
            starts, lengths = store._fit_sparse_rows(transposed, np.arange(lo, hi, dtype=np.int64), size)
            store._starts[lo:hi], store._lengths[lo:hi], store._caps[lo:hi] = starts, lengths, lengths
            store._starts[hi:size] = store._free
        store._fix_hot_pairs(user_ptr, user_items, counts)
        return store

    # ------------------------------------------------------------------ ownership
    def owns(self, items: np.ndarray) -> np.ndarray:
        """Which of the internal indices ``items`` this shard owns (boolean, shape of ``items``)."""
        return owners(items, self.bounds, self.fitted, self.shards) == self.me

    def _in_block(self, rows: np.ndarray) -> np.ndarray:
        return (rows >= self._block_lo) & (rows < self._block_lo + self._block.shape[0])

    # ------------------------------------------------------------------ reads (owned rows only)
    def _gather(self, rows: np.ndarray, cols: np.ndarray | None, out: np.ndarray | None = None) -> np.ndarray:
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        if not self.owns(rows).all():
            raise ValueError(f"shard {self.me} was asked for rows it does not own")
        size = self._size
        shape = (len(rows), size if cols is None else len(cols))
        if out is None:
            out = np.zeros(shape, dtype=np.int64)
        else:
            check_buffer(out, shape)[...] = 0
        directory = (self._starts[:size], self._lengths[:size])
        if cols is None:
            kernels.gather_full_rows(self._core, 0, *directory, self._pool_idx, self._pool_val, size, rows, out)
        else:
            cols = np.ascontiguousarray(cols, dtype=np.int64)
            if len(rows) and len(cols):
                kernels.gather(self._core, 0, *directory, self._pool_idx, self._pool_val, size, rows, cols, out)
        dense = np.flatnonzero(self._in_block(rows))
        if len(dense):
            width = self._block.shape[1]
            local = rows[dense] - self._block_lo
            if cols is None:
                out[dense, :width] = self._block[local]
            else:
                inside = np.flatnonzero(cols < width)
                out[np.ix_(dense, inside)] = self._block[np.ix_(local, cols[inside])]
        if self._overflow:
            for i, j in zip(*np.nonzero(out == self.saturation)):
                a, b = int(rows[i]), int(j if cols is None else cols[j])
                out[i, j] = self._overflow.get((min(a, b), max(a, b)), self.saturation)
        return out

    def _pair_values(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if not self.owns(a).all():
            raise ValueError(f"shard {self.me} was asked for rows it does not own")
        size = self._size
        values = kernels.gather_pairs(self._core, 0, self._starts[:size], self._lengths[:size], self._pool_idx,
                                      self._pool_val, size, a, b, np.zeros(len(a), np.int64))
        dense = np.flatnonzero(self._in_block(a) & (b < self._block.shape[1]))
        values[dense] = self._block[a[dense] - self._block_lo, b[dense]]
        if self._overflow:
            for k in np.flatnonzero(values == self.saturation).tolist():
                values[k] = self._overflow.get((min(a[k], b[k]), max(a[k], b[k])), self.saturation)
        diagonal = (a == b) & (a < size)
        values[diagonal] = self._counts[a[diagonal]]
        return values

    def lower_digests(self, live: np.ndarray) -> tuple[np.ndarray, bytes]:
        """The fingerprint's digests for this shard's rows: ``live`` are the live items' internal
        indices in id order; returns the positions in ``live`` of the rows owned here (sorted) and,
        for each, SHA-256 of C with ``live[:position]`` as uint32 (see
        :func:`amnesia.engine.fingerprint.row_digests`), 32 bytes each, concatenated."""
        live = np.asarray(live, dtype=np.int64)
        positions = np.flatnonzero(self.owns(live))
        digests = []
        start = 0
        while start < len(positions):
            # a chunk of rows read as one block against the columns its longest (last) row needs
            stop = start + 1
            while stop < len(positions) and (stop + 1 - start) * int(positions[stop]) <= DIGEST_CELLS:
                stop += 1
            chunk = positions[start:stop]
            block = self.block(live[chunk], live[: int(chunk[-1])])
            for i, position in enumerate(chunk.tolist()):
                digests.append(hashlib.sha256(block[i, :position].astype(np.uint32).tobytes()).digest())
            start = stop
        return positions, b"".join(digests)

    # ------------------------------------------------------------------ H of this shard's users
    def user_rows(self, users: Sequence[int]) -> list[np.ndarray]:
        """The rows of ``users`` (each owned here): sorted internal indices, int32; empty for a user
        without interactions."""
        return [self._histories.get(int(user), _NO_ROW) for user in users]

    def user_ids(self) -> np.ndarray:
        """This shard's users with at least one interaction, sorted, int64."""
        return np.array(sorted(self._histories), dtype=np.int64)

    def history_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """H of this shard's users as (user, internal item) int64 columns, in no particular order."""
        if not self._histories:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        users = list(self._histories)
        rows = [self._histories[user] for user in users]
        return (np.repeat(np.array(users, dtype=np.int64), [len(row) for row in rows]),
                np.concatenate(rows).astype(np.int64))

    def apply(self, change: StoreChange) -> None:
        super().apply(change)  # all of it or, on a MemoryError while preparing, none of it: then H too
        for delta in change.users:
            if delta.user % self.shards == self.me:
                # the row is dropped, not kept elsewhere: a forgotten user's history leaves this process
                self._histories.pop(delta.user, None)
                if len(delta.new_row):
                    self._histories[delta.user] = np.array(delta.new_row, dtype=np.int32)  # a copy: rows are not shared

    # ------------------------------------------------------------------ numbered changes, checkpoints
    def apply_at(self, change: StoreChange, version: int) -> int:
        """Apply ``change`` as its model's change number ``version``, once: a change this shard has
        already applied (a retry, a replay that overlaps) is skipped, and a gap is refused, so that
        nothing is lost or doubled. Returns the shard's version after it."""
        if version <= self.version:
            return self.version
        if version != self.version + 1:
            raise ValueError(f"shard {self.me} has applied {self.version} changes and cannot apply change {version}: "
                             f"replay the ones in between first")
        self.apply(change)
        self.version = version
        return version

    def undo_at(self, inverse: StoreChange, version: int) -> int:
        """Undo change number ``version`` with its ``inverse`` if it is this shard's last change
        (else the shard never applied it: nothing to do). Returns the shard's version after it."""
        if self.version == version:
            self.apply(inverse)
            self.version = version - 1
        return self.version

    _STATE = ("_counts", "_core", "_starts", "_lengths", "_caps", "_pool_idx", "_pool_val", "_block", "bounds")

    def save(self, path: str) -> int:
        """Write this shard's state (its rows, n and its version) to ``path`` (.npz, no pickles),
        replacing the file there only once the new one is whole. Returns the version saved."""
        overflow = np.array([(a, b, v) for (a, b), v in self._overflow.items()], dtype=np.int64).reshape(-1, 3)
        users = np.array(list(self._histories), dtype=np.int64)
        rows = [self._histories[user] for user in users.tolist()]
        history_ptr = np.concatenate([[0], np.cumsum([len(row) for row in rows])]).astype(np.int64)
        history_items = np.concatenate(rows).astype(np.int32) if rows else np.zeros(0, dtype=np.int32)
        scalars = np.array([self.me, self.shards, self.fitted, self._block_lo, self._size, self._free, self._holes,
                            self.saturation, self.version, self.kind == "dense"], dtype=np.int64)
        partial = f"{path}.partial.npz"
        np.savez(partial, scalars=scalars, overflow=overflow, history_users=users, history_ptr=history_ptr,
                 history_items=history_items, **{name.strip("_"): getattr(self, name) for name in self._STATE})
        os.replace(partial, path)
        return self.version

    @classmethod
    def load(cls, path: str) -> RowStore:
        """The shard :meth:`save` wrote to ``path``."""
        with np.load(path, allow_pickle=False) as saved:
            me, shards, fitted, block_lo, size, free, holes, saturation, version, dense = saved["scalars"].tolist()
            store = cls(me, shards, saved["bounds"], fitted, saturation)
            for name in cls._STATE:
                setattr(store, name, saved[name.strip("_")].copy())
            store._overflow = {(a, b): v for a, b, v in saved["overflow"].tolist()}
            ptr, items = saved["history_ptr"], saved["history_items"]
            store._histories = {user: items[ptr[k] : ptr[k + 1]].copy() for k, user in enumerate(saved["history_users"].tolist())}
        store._block_lo, store._size, store._free, store._holes, store.version = block_lo, size, free, holes, version
        store.kind = "dense" if dense else "sparse"
        return store

    # ------------------------------------------------------------------ writes (ArrayStore.apply's steps, for owned rows)
    def _rows_needing_room(self, delta: UserDelta) -> tuple[np.ndarray, np.ndarray]:
        is_changed = _members(delta.changed, delta.columns)
        missing = kernels.missing_owned_rows(self._starts, self._lengths, self._pool_idx, self._block_lo,
                                             self._block_lo + self._block.shape[0], self._block.shape[1],
                                             delta.columns, is_changed, delta.changed, self.owns(delta.columns),
                                             np.zeros(len(delta.columns), np.int64))
        inserting = missing > 0
        return delta.columns[inserting], missing[inserting]

    def _prepare_user(self, delta: UserDelta) -> tuple[np.ndarray, ...]:
        return delta.changed, delta.columns, _members(delta.changed, delta.columns), self.owns(delta.columns)

    def _write_user(self, prepared: tuple[np.ndarray, ...], step: int, events: np.ndarray, cool: bool = False) -> int:
        # (``cool`` is not used: a shard's block keeps the per-cell saturation test, as it is off the demo's path)
        changed, columns, is_changed, owned = prepared
        if not owned.any():
            return 0
        return kernels.update_owned_rows(self._block, self._block_lo, self._block_lo + self._block.shape[0],
                                         self._starts, self._lengths, self._pool_idx, self._pool_val, columns,
                                         is_changed, changed, owned, step, self.saturation, events, 0)

    def _set_exact(self, a: int, b: int, value: int) -> None:
        key = (min(a, b), max(a, b))
        stored = min(value, self.saturation)
        if value >= self.saturation:
            self._overflow[key] = value
        else:
            self._overflow.pop(key, None)
        for row, col in ((a, b), (b, a)):
            if not self.owns(np.array([row]))[0]:
                continue
            if self._in_block(np.array([row]))[0] and col < self._block.shape[1]:
                self._block[row - self._block_lo, col] = stored
            else:
                segment = self._pool_idx[self._starts[row] : self._starts[row] + self._lengths[row]]
                position = int(np.searchsorted(segment, col))
                if position < len(segment) and segment[position] == col:
                    self._pool_val[self._starts[row] + position] = stored

    def share(self, lean: bool = False) -> tuple[Store, Store]:
        raise NotImplementedError("a shard's rows are not forked; see amnesia.engine.sharded")

    def nbytes(self) -> int:
        return super().nbytes() + self._block.nbytes + sum(row.nbytes for row in self._histories.values())

    def dense_matrix(self) -> np.ndarray | None:
        return None

    def sparse_entries(self) -> int:
        return int(self._lengths[: self._size].sum())
