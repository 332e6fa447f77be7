"""A fork's change of C as a log of signed user rows: C_fork = C_base + Σ sign · row ⊗ row.

When a fork changes a user's history from row ``old`` to row ``new`` (sorted internal item
indices), C moves by ``new ⊗ new − old ⊗ old``. Appending ``(+1, new)`` and ``(−1, old)`` to a
log costs O(k) for a user with k items, whatever the k² pairs it moves; reads add up the log's
rows that hold the items asked for. The sum telescopes, so a user changed many times is right
too, and the fork store rebuilds the log from its rows when it grows much longer than them.

The log is an immutable value: :meth:`RowLog.append` returns a new log sharing the old one's
chunks, so a fork (and the model just before a change, which the dashboard keeps) costs
nothing and no change is ever visible to another fork. Rows wait in a short tail and are
sealed into a chunk (rows, plus an item -> rows index) on the next read; a chunk is merged with
the one before it while that one is at most twice its size, like a binary counter, so reads
look at O(log changes) chunks and each row is copied O(log changes) times in all.

Rows of at most :data:`SHORT` items are summed into pairs when sealed (a visitor who adds
thousands of users with a few popular movies each moves a few hundred pairs, however many
rows); longer rows stay rows (a user with 3,000 movies moves 9 million pairs, kept as 3,000
numbers). The loops are compiled (numba): a read of a 20 x 20 window, or of a few full rows, is a few
microseconds per chunk, so a visitor's pages stay fast after thousands of logged changes.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .kernels import WIDE_CELLS  # the store's own threshold for reads split between threads (_block_wide)

_CACHE = True


@njit(cache=_CACHE, nogil=True, inline="always")
def _block_row(item_ptr, item_rows, row_ptr, row_items, signs, width, rows, col_pos, out, i):  # pragma: no cover - compiled
    a = rows[i]
    if a < 0 or a >= width:
        return
    for p in range(item_ptr[a], item_ptr[a + 1]):
        e = item_rows[p]
        s = signs[e]
        for q in range(row_ptr[e], row_ptr[e + 1]):
            j = col_pos[row_items[q]]
            if j >= 0:
                out[i, j] += s


@njit(cache=_CACHE, nogil=True)
def _block(item_ptr, item_rows, row_ptr, row_items, signs, width, rows, col_pos, out):  # pragma: no cover - compiled
    """out[i, col_pos[b]] += sign(e) for every logged row e holding rows[i] and b (col_pos[b] >= 0)."""
    for i in range(len(rows)):
        _block_row(item_ptr, item_rows, row_ptr, row_items, signs, width, rows, col_pos, out, i)


@njit(parallel=True, cache=_CACHE, nogil=True)
def _block_wide(item_ptr, item_rows, row_ptr, row_items, signs, width, rows, col_pos, out):  # pragma: no cover - compiled
    """:func:`_block` with the rows split between threads (each writes only its own row of ``out``)."""
    for i in prange(len(rows)):
        _block_row(item_ptr, item_rows, row_ptr, row_items, signs, width, rows, col_pos, out, i)


def _distinct(values: np.ndarray) -> bool:
    """No value twice in ``values`` (int64): counted, not sorted, for the internal indices reads pass."""
    if len(values) < 2:
        return True
    if values.min() >= 0 and values.max() < 4 * len(values) + (1 << 20):
        return int(np.bincount(values).max()) <= 1
    return len(np.unique(values)) == len(values)


@njit(cache=_CACHE, nogil=True)
def _pairs(item_ptr, item_rows, row_ptr, row_items, signs, width, a, b, out):  # pragma: no cover - compiled
    """out[k] += Σ sign(e) over logged rows e holding both a[k] and b[k] (binary search in e)."""
    for k in range(len(a)):
        x, y = a[k], b[k]
        if x < 0 or y < 0 or x >= width or y >= width:
            continue
        if item_ptr[x + 1] - item_ptr[x] > item_ptr[y + 1] - item_ptr[y]:
            x, y = y, x  # walk the shorter list of rows
        for p in range(item_ptr[x], item_ptr[x + 1]):
            e = item_rows[p]
            lo, hi = row_ptr[e], row_ptr[e + 1]
            while lo < hi:
                mid = (lo + hi) // 2
                if row_items[mid] < y:
                    lo = mid + 1
                else:
                    hi = mid
            if lo < row_ptr[e + 1] and row_items[lo] == y:
                out[k] += signs[e]


@njit(cache=_CACHE, nogil=True)
def _block_pairs(pair_ptr, pair_cols, pair_vals, width, rows, col_pos, out):  # pragma: no cover - compiled
    """out[i, col_pos[b]] += value of (rows[i], b) for each aggregated pair of row rows[i]."""
    for i in range(len(rows)):
        a = rows[i]
        if a < 0 or a >= width:
            continue
        for p in range(pair_ptr[a], pair_ptr[a + 1]):
            j = col_pos[pair_cols[p]]
            if j >= 0:
                out[i, j] += pair_vals[p]


@njit(cache=_CACHE, nogil=True)
def _pairs_pairs(pair_ptr, pair_cols, pair_vals, width, a, b, out):  # pragma: no cover - compiled
    """out[k] += value of the aggregated pair (a[k], b[k]) (binary search in row a[k])."""
    for k in range(len(a)):
        x, y = a[k], b[k]
        if x < 0 or y < 0 or x >= width or y >= width:
            continue
        lo, hi = pair_ptr[x], pair_ptr[x + 1]
        while lo < hi:
            mid = (lo + hi) // 2
            if pair_cols[mid] < y:
                lo = mid + 1
            else:
                hi = mid
        if lo < pair_ptr[x + 1] and pair_cols[lo] == y:
            out[k] += pair_vals[lo]


@njit(cache=_CACHE, nogil=True)
def _cost(item_ptr, item_rows, row_ptr, width, rows):  # pragma: no cover - compiled
    """Σ over rows[i] of Σ over logged rows e holding it of |e|: the work of :func:`_block` on full rows."""
    total = 0
    for i in range(len(rows)):
        a = rows[i]
        if a < 0 or a >= width:
            continue
        for p in range(item_ptr[a], item_ptr[a + 1]):
            e = item_rows[p]
            total += row_ptr[e + 1] - row_ptr[e]
    return total


#: Rows of at most this many items are summed into pairs (k² pairs each) when a chunk is sealed.
SHORT = 64


def _pair_keys(rows: list[tuple[int, np.ndarray]], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Σ sign · row ⊗ row of short rows as sorted unique keys a * width + b (a != b) and values,
    built for all rows at once (each row of k items gives its k² - k ordered pairs)."""
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int32)
    lengths = np.array([len(row) for _, row in rows], dtype=np.int64)
    flat = np.concatenate([row for _, row in rows]).astype(np.int64)
    starts = np.cumsum(lengths) - lengths
    row_of = np.repeat(np.arange(len(rows)), lengths)  # the row of each entry
    per = lengths[row_of]  # each entry pairs with every entry of its row
    first = np.repeat(flat, per)
    offsets = np.repeat(starts[row_of], per) + (np.arange(int(per.sum())) - np.repeat(np.cumsum(per) - per, per))
    second = flat[offsets]
    signs = np.repeat(np.array([sign for sign, _ in rows], dtype=np.int32)[row_of], per)
    off_diagonal = first != second
    return _summed(first[off_diagonal] * width + second[off_diagonal], signs[off_diagonal])


def _summed(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equal keys summed, zeros dropped, sorted."""
    unique, inverse = np.unique(keys, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=len(unique)).astype(np.int32)
    keep = sums != 0
    return unique[keep], sums[keep]


class Chunk:
    """Sealed rows. Long rows as rows: ``row_items[row_ptr[e]:row_ptr[e+1]]`` is row e (sorted),
    ``signs[e]`` its sign, ``item_rows[item_ptr[a]:item_ptr[a+1]]`` the rows holding item a.
    Short rows (at most :data:`SHORT` items) summed into pairs: ``pair_cols[pair_ptr[a]:pair_ptr[a+1]]``
    (sorted) and ``pair_vals`` are the non-zero entries of their Σ in row a (a != b). Summing
    turns thousands of visitors' rows over the same popular movies into a few hundred pairs, so
    a read costs what changed in C, not how many rows changed it."""

    __slots__ = ("row_ptr", "row_items", "signs", "item_ptr", "item_rows", "pair_keys", "pair_vals", "pair_ptr",
                 "pair_cols", "width", "entries")

    def __init__(self, rows: tuple[np.ndarray, np.ndarray, np.ndarray], pairs: tuple[np.ndarray, np.ndarray], width: int,
                 entries: int):
        self.row_ptr, self.row_items, self.signs = rows
        self.pair_keys, self.pair_vals = pairs
        self.width, self.entries = width, entries
        owner = np.repeat(np.arange(len(self.signs), dtype=np.int32), np.diff(self.row_ptr))
        order = np.argsort(self.row_items, kind="stable")
        self.item_rows = owner[order]
        self.item_ptr = np.concatenate([[0], np.cumsum(np.bincount(self.row_items, minlength=width))]).astype(np.int64)
        self.pair_cols = (self.pair_keys % width).astype(np.int32)
        self.pair_ptr = np.searchsorted(self.pair_keys, np.arange(width + 1, dtype=np.int64) * width).astype(np.int64)
        for array in (self.row_ptr, self.row_items, self.signs, self.item_ptr, self.item_rows, self.pair_keys,
                      self.pair_vals, self.pair_ptr, self.pair_cols):
            array.flags.writeable = False

    @classmethod
    def of_rows(cls, rows: list[tuple[int, np.ndarray]], width: int) -> Chunk:
        """A chunk of ``(sign, sorted internal indices)`` rows (each item < width)."""
        short = [(sign, row) for sign, row in rows if len(row) <= SHORT]
        long = [(sign, row) for sign, row in rows if len(row) > SHORT]
        row_ptr = np.concatenate([[0], np.cumsum([len(row) for _, row in long])]).astype(np.int64)
        row_items = np.concatenate([row for _, row in long]).astype(np.int32) if long else np.zeros(0, np.int32)
        signs = np.array([sign for sign, _ in long], dtype=np.int32)
        return cls((row_ptr, row_items, signs), _pair_keys(short, width), width, sum(len(row) for _, row in rows))

    @classmethod
    def merged(cls, first: Chunk, second: Chunk) -> Chunk:
        """One chunk holding the rows and the summed pairs of both (the sum is unchanged)."""
        width = max(first.width, second.width)
        row_ptr = np.concatenate([first.row_ptr, first.row_ptr[-1] + second.row_ptr[1:]])
        rows = (row_ptr, np.concatenate([first.row_items, second.row_items]), np.concatenate([first.signs, second.signs]))
        rekeyed = [(c.pair_keys // c.width) * width + c.pair_keys % c.width if c.width != width else c.pair_keys
                   for c in (first, second)]
        pairs = _summed(np.concatenate(rekeyed), np.concatenate([first.pair_vals, second.pair_vals]))
        return cls(rows, pairs, width, first.entries + second.entries)

    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in self.__slots__[:-2])


class RowLog:
    """Σ sign · row ⊗ row over the logged rows (see the module docstring). Immutable."""

    __slots__ = ("chunks", "tail", "entries")

    def __init__(self, chunks: tuple[Chunk, ...] = (), tail: tuple[tuple[int, np.ndarray], ...] = ()):
        self.chunks, self.tail = chunks, tail
        self.entries = sum(chunk.entries for chunk in chunks) + sum(len(row) for _, row in tail)

    def append(self, rows: list[tuple[int, np.ndarray]]) -> RowLog:
        """A log with ``(sign, row)`` rows added (empty rows are left out)."""
        return RowLog(self.chunks, self.tail + tuple((sign, row) for sign, row in rows if len(row)))

    def sealed(self, width: int) -> RowLog:
        """The same sum with the tail in a chunk and the chunks merged as the counter rule says."""
        if not self.tail:
            return self
        chunks = [*self.chunks, Chunk.of_rows(list(self.tail), width)]
        while len(chunks) > 1 and chunks[-2].entries <= 2 * chunks[-1].entries:
            last = chunks.pop()
            chunks[-1] = Chunk.merged(chunks[-1], last)
        return RowLog(tuple(chunks))

    def block(self, rows: np.ndarray, cols: np.ndarray | None, size: int) -> np.ndarray:
        """The sum on ``rows`` x ``cols`` (every item < ``size`` when None), int64 (len(rows), ·).
        Must be sealed."""
        width = size if cols is None else len(cols)
        out = np.zeros((len(rows), width), dtype=np.int64)
        self.add_block(rows, cols, size, out)
        return out

    def add_block(self, rows: np.ndarray, cols: np.ndarray | None, size: int, out: np.ndarray) -> None:
        """Add the sum on ``rows`` x ``cols`` into ``out`` in place (no block-sized temporary:
        a fingerprint reads 4 million cells at a time). Must be sealed."""
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        if cols is not None:
            cols = np.ascontiguousarray(cols, dtype=np.int64)
            if not (_distinct(cols) and _distinct(rows)):
                # an item asked for twice: compute on the distinct ones, then spread
                unique_rows, row_back = np.unique(rows, return_inverse=True)
                unique_cols, col_back = np.unique(cols, return_inverse=True)
                out += self.block(unique_rows, unique_cols, size)[np.ix_(row_back, col_back)]
                return
            if len(cols) < len(rows):  # the sum is symmetric: walk the shorter side
                self.add_block(cols, rows, size, out.T)
                return
        width = max([size, *(chunk.width for chunk in self.chunks)])
        col_pos = np.full(width, -1, dtype=np.int64)
        if cols is None:
            col_pos[:size] = np.arange(size)
        else:
            inside = (cols >= 0) & (cols < width)
            col_pos[cols[inside]] = np.flatnonzero(inside)
        cells = len(rows) * (size if cols is None else len(cols))
        block = _block_wide if len(rows) > 1 and cells >= WIDE_CELLS else _block
        for chunk in self.chunks:
            block(chunk.item_ptr, chunk.item_rows, chunk.row_ptr, chunk.row_items, chunk.signs, chunk.width, rows, col_pos, out)
            _block_pairs(chunk.pair_ptr, chunk.pair_cols, chunk.pair_vals, chunk.width, rows, col_pos, out)

    def pairs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The sum at each pair (a[k], b[k]), int64. Must be sealed."""
        a, b = np.ascontiguousarray(a, dtype=np.int64), np.ascontiguousarray(b, dtype=np.int64)
        out = np.zeros(len(a), dtype=np.int64)
        for chunk in self.chunks:
            _pairs(chunk.item_ptr, chunk.item_rows, chunk.row_ptr, chunk.row_items, chunk.signs, chunk.width, a, b, out)
            _pairs_pairs(chunk.pair_ptr, chunk.pair_cols, chunk.pair_vals, chunk.width, a, b, out)
        return out

    def cost(self, rows: np.ndarray) -> int:
        """Additions :meth:`block` of the full ``rows`` makes: Σ over logged rows of
        |row ∩ rows| x |row| (large when long rows are read against many long logged rows)."""
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        total = 0
        for c in self.chunks:
            inside = rows[(rows >= 0) & (rows < c.width)]
            total += int(_cost(c.item_ptr, c.item_rows, c.row_ptr, c.width, rows)) + int((c.pair_ptr[inside + 1] - c.pair_ptr[inside]).sum())
        return total

    def nbytes(self) -> int:
        return sum(chunk.nbytes() for chunk in self.chunks) + sum(row.nbytes for _, row in self.tail)
