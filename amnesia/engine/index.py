"""External item ids <-> internal indices, shared copy-on-write between forks.

Items get internal indices 0..size-1: at fit in order of popularity (most users first, ties
by smaller id), so that a store's dense part holds the popular items; items added later get
the next indices in the order they arrive (sorted by id within one request).
"""

from __future__ import annotations

import numpy as np


class ItemIndex:
    """Maps external item ids (0 <= id < 2^31) to internal indices and back.

    The fitted part is sorted arrays (vectorised lookups); items added later live in a small
    per-fork extension, so a fork never copies the fitted part.
    """

    def __init__(self, ids: np.ndarray | None = None):
        ids = np.zeros(0, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        self._base = ids  # internal index -> external id (shared between forks, never written)
        self._base_order = np.argsort(ids, kind="stable")
        self._base_sorted = ids[self._base_order]
        self._extra: tuple[int, ...] = ()  # ids added after fitting, in index order (a tuple: forks share it)
        self._extra_cache: tuple[np.ndarray, np.ndarray] | None = None
        self._ids: np.ndarray | None = None  # cached concatenation
        self._order: np.ndarray | None = None  # cached internal indices sorted by id

    def fork(self) -> ItemIndex:
        """A copy sharing the fitted part; additions to either are not seen by the other."""
        clone = ItemIndex.__new__(ItemIndex)
        clone._base, clone._base_order, clone._base_sorted = self._base, self._base_order, self._base_sorted
        clone._extra = self._extra
        clone._extra_cache = self._extra_cache
        clone._ids, clone._order = self._ids, self._order
        return clone

    @property
    def size(self) -> int:
        return len(self._base) + len(self._extra)

    def ids(self) -> np.ndarray:
        """External id of every internal index, shape (size,), int64 (read-only)."""
        if self._ids is None:
            ids = np.concatenate([self._base, np.array(self._extra, dtype=np.int64)]) if self._extra else self._base
            ids.flags.writeable = False
            self._ids = ids
        return self._ids

    def by_id(self) -> np.ndarray:
        """Internal indices ordered by external id, shape (size,), int64."""
        if self._order is None:
            self._order = np.argsort(self.ids(), kind="stable")
        return self._order

    def lookup(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(internal indices, known mask) for external ``items``; unknown items get index -1."""
        items = np.asarray(items, dtype=np.int64)
        index = np.full(len(items), -1, dtype=np.int64)
        if len(self._base):
            position = np.minimum(np.searchsorted(self._base_sorted, items), len(self._base) - 1)
            found = self._base_sorted[position] == items
            index[found] = self._base_order[position[found]]
        if self._extra:
            extra_sorted, extra_index = self._extra_sorted()
            missing = np.flatnonzero(index < 0)
            position = np.minimum(np.searchsorted(extra_sorted, items[missing]), len(extra_sorted) - 1)
            found = extra_sorted[position] == items[missing]
            index[missing[found]] = extra_index[position[found]]
        return index, index >= 0

    def _extra_sorted(self) -> tuple[np.ndarray, np.ndarray]:
        """The added ids sorted, with their internal indices (cached until the next addition)."""
        if self._extra_cache is None:
            ids = np.array(self._extra, dtype=np.int64)
            order = np.argsort(ids, kind="stable")
            self._extra_cache = (ids[order], len(self._base) + order)
        return self._extra_cache

    def index(self, item: int) -> int | None:
        """Internal index of one external id, or None."""
        index, known = self.lookup(np.array([item], dtype=np.int64))
        return int(index[0]) if known[0] else None

    def extend(self, items: list[int]) -> None:
        """Give new external ids the next internal indices, in order."""
        self._extra = self._extra + tuple(int(item) for item in items)
        self._ids = self._order = self._extra_cache = None
