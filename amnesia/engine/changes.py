"""ChangeSets: exactly what one accepted request changed, and the change-stream format.

A :class:`ChangeSet` lists, in external ids, the interactions added or removed (H), the
item counts whose value changed (n) and the co-occurrence pairs whose value changed (C,
only ``item_a > item_b``; the diagonal of C is n). Similarity changes are derived on demand
from a model at the ChangeSet's time, because one change to n_a alters a whole row of S.

The stream records built from ChangeSets live in :mod:`amnesia.records`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np


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


@dataclass(frozen=True)
class CoocBlock:
    """How one user's change moved C: every entry in ``changed`` x ``columns`` moved by ``step``.

    ``changed``: the items (external ids) the user gained or lost, length x; ``columns``: the
    union of ``changed`` and the user's unchanged items, length z; ``old``: C over
    changed x columns before the request, shape (x, z). This is the compact, exact record;
    :attr:`ChangeSet.cooccurrences` expands it into pairs on demand.
    """

    user: int
    changed: np.ndarray
    columns: np.ndarray
    old: np.ndarray
    step: int

    def __post_init__(self) -> None:
        old = self.old
        if old.dtype.kind == "i":  # overlay reads come back as int64; counts are never negative
            old = old.astype(np.uint16 if old.size == 0 or old.max() <= np.iinfo(np.uint16).max else np.uint32)
        object.__setattr__(self, "old", old)
        for name in ("changed", "columns", "old"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The block's off-diagonal entries, each unordered pair once: (item_a > item_b, old)."""
        rows = np.repeat(self.changed, len(self.columns))
        cols = np.tile(self.columns, len(self.changed))
        old = self.old.reshape(-1)
        column_changed = np.tile(np.isin(self.columns, self.changed), len(self.changed))
        # changed x changed pairs appear twice (a, b) and (b, a): keep a > b; changed x
        # unchanged pairs appear once; the diagonal (a == b) is n, not C.
        keep = np.where(column_changed, rows > cols, rows != cols)
        rows, cols, old = rows[keep], cols[keep], old[keep]
        return np.maximum(rows, cols), np.minimum(rows, cols), old.astype(np.int64)


@dataclass(frozen=True)
class ChangeSet:
    """What one accepted request changed.

    - ``time``: the logical time the change happened at (0, 1, 2, ...).
    - ``seconds``: wall time the engine took to validate, compute and commit the change.
    - ``change``: ``"Add"`` or ``"Remove"``.
    - ``users``, ``items``: the (user, item) interactions whose presence in H flipped; each
      has ``sign`` +1 (added) or -1 (removed). Length h.
    - ``count_items``, ``count_old``, ``count_new``: items whose n changed, length c.
    - ``blocks``: the exact C change, one :class:`CoocBlock` per touched user;
      :attr:`cooccurrences` lists it as pairs ``item_a > item_b`` (computed on first use, so
      that forgetting a heavy user does not pay for a list nobody reads).
    """

    time: int
    seconds: float
    change: str
    users: np.ndarray
    items: np.ndarray
    sign: np.ndarray
    count_items: np.ndarray
    count_old: np.ndarray
    count_new: np.ndarray
    blocks: tuple[CoocBlock, ...] = field(default=())

    @property
    def touched_users(self) -> tuple[int, ...]:
        """The users whose history changed, sorted."""
        return tuple(sorted(block.user for block in self.blocks))

    @cached_property
    def cooccurrences(self) -> PairChanges:
        """The changed C entries, consolidated (a pair moved by several users appears once)."""
        if not self.blocks:
            empty = np.zeros(0, dtype=np.int64)
            return PairChanges(empty, empty, empty, empty)
        parts = [block.pairs() for block in self.blocks]
        item_a, item_b, old = (np.concatenate(column) for column in zip(*parts))
        step = self.blocks[0].step  # a request only adds or only removes
        if len(self.blocks) > 1:
            keys, first, moves = np.unique(
                np.column_stack([item_a, item_b]), axis=0, return_index=True, return_counts=True
            )
            item_a, item_b, old, delta = keys[:, 0], keys[:, 1], old[first], step * moves
        else:
            order = np.lexsort((item_b, item_a))
            item_a, item_b, old, delta = item_a[order], item_b[order], old[order], step
        return PairChanges(item_a, item_b, old, old + delta)

    def __post_init__(self) -> None:
        for name in ("users", "items", "sign", "count_items", "count_old", "count_new"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def is_empty(self) -> bool:
        """True when the request was accepted but changed nothing (e.g. re-adding known pairs)."""
        return len(self.users) == 0

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
            f"t={self.time}: {verb} {len(self.users)} interaction(s) of {len(self.blocks)} user(s), "
            f"{len(self.count_items)} item count(s) changed, in {self.seconds * 1e3:.3f} ms"
        )
