"""Compiled loops (numba) for the co-occurrence store: fitting C = HᵀH, and sparse rows.

Fitting MovieLens-25M means about 2·10¹⁰ increments (Σ over users of k²): a BLAS product
needs a dense H (38 GB), and scipy's sparse product is single-threaded and builds a CSR
twice the size of the result. These kernels compute C a row at a time (Gustavson's order:
row a = Σ over the users of item a of their history), so the row being written stays in
cache, rows are split between threads by their expected work, and the result is written
straight into the store's own arrays.

Sparse rows live in one pool: row r is ``pool_idx[starts[r] : starts[r] + lengths[r]]``
(sorted column indices, int32) with values in ``pool_val`` (uint16), and ``caps[r] >=
lengths[r]`` slots reserved. Updates happen in place; a row that outgrows its slots is moved
to the free end of the pool by the caller first (see :mod:`amnesia.engine.store`), so these
kernels never allocate and cannot fail half-way.

Values are counts in uint16 that saturate: a stored ``sat`` (65,535 by default) means the
exact count is in the store's overflow table. Only pairs of two items that each have at
least that many users can get there (a handful even in MovieLens-25M); the update kernels
report every such pair as an "event" for the store to settle in Python.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: A stored uint16 count at this value means "look up the exact value in the overflow table".
SATURATED = 65_535

_CACHE = True  # compiled code is cached beside the module, so only the first process compiles


# ---------------------------------------------------------------------- fitting
@njit(parallel=True, cache=_CACHE, nogil=True)
def fit_dense(user_ptr, user_items, item_ptr, item_users, chunks, dense_size, core):
    """Rows a < dense_size of C into ``core`` (flat, dense_size², zeroed), columns < dense_size.

    ``user_items[user_ptr[u]:user_ptr[u+1]]`` are user u's item indices, sorted; the items
    below ``dense_size`` are therefore a prefix. ``chunks`` splits the rows between threads.
    Counts wrap at 2¹⁶ (hot pairs are fixed by the caller).
    """
    for c in prange(len(chunks) - 1):
        for a in range(chunks[c], chunks[c + 1]):
            base = np.int64(a) * dense_size
            _count_row(user_ptr, user_items, item_ptr, item_users, a, core[base : base + dense_size])
    return core


@njit(cache=_CACHE, nogil=True, inline="always")
def _count_row(user_ptr, user_items, item_ptr, item_users, a, row):
    """row[b] += C_ab for every b < len(row): row a of C as the sum of its users' histories
    (Gustavson's order). Histories are sorted, so a history's columns past the row end a user."""
    width = len(row)
    for p in range(item_ptr[a], item_ptr[a + 1]):
        u = item_users[p]
        for q in range(user_ptr[u], user_ptr[u + 1]):
            b = user_items[q]
            if b >= width:
                break
            row[b] += 1


@njit(parallel=True, cache=_CACHE, nogil=True)
def fit_rows(user_ptr, user_items, item_ptr, item_users, start, block):
    """Rows ``start .. start + len(block)`` of C, every column, into ``block`` (uint32, its old
    contents overwritten): C a block of rows at a time, for a retrain that is hashed, not kept
    (:func:`amnesia.engine.fingerprint.retrain_fingerprint`). Rows are interleaved between threads."""
    threads = 16
    for t in prange(threads):
        for r in range(t, block.shape[0], threads):
            block[r, :] = 0
            _count_row(user_ptr, user_items, item_ptr, item_users, start + r, block[r])
    return block


@njit(parallel=True, cache=_CACHE, nogil=True)
def fit_sparse_lengths(user_ptr, user_items, item_ptr, item_users, rows, size, lengths):
    """lengths[i] = number of distinct co-occurring items b != a of row a = rows[i]."""
    threads = 64  # rows are interleaved between tasks: popular rows come first and cost most
    for t in prange(threads):
        seen = np.zeros(size, dtype=np.uint8)
        touched = np.empty(size, dtype=np.int32)
        for i in range(t, len(rows), threads):
            a = rows[i]
            count = 0
            for p in range(item_ptr[a], item_ptr[a + 1]):
                u = item_users[p]
                for q in range(user_ptr[u], user_ptr[u + 1]):
                    b = user_items[q]
                    if b != a and seen[b] == 0:
                        seen[b] = 1
                        touched[count] = b
                        count += 1
            lengths[i] = count
            for j in range(count):
                seen[touched[j]] = 0
    return lengths


@njit(parallel=True, cache=_CACHE, nogil=True)
def fit_sparse_fill(user_ptr, user_items, item_ptr, item_users, rows, size, starts, pool_idx, pool_val):
    """Fill row rows[i] at pool offset starts[i] with its sorted columns and (wrapping) counts."""
    threads = 64
    for t in prange(threads):
        acc = np.zeros(size, dtype=np.uint32)
        touched = np.empty(size, dtype=np.int32)
        for i in range(t, len(rows), threads):
            a = rows[i]
            count = 0
            for p in range(item_ptr[a], item_ptr[a + 1]):
                u = item_users[p]
                for q in range(user_ptr[u], user_ptr[u + 1]):
                    b = user_items[q]
                    if b != a:
                        if acc[b] == 0:
                            touched[count] = b
                            count += 1
                        acc[b] += 1
            start = starts[i]
            if count * 16 < size:  # few columns: sort them; many: scan the accumulator in order
                order = np.sort(touched[:count])
                for j in range(count):
                    pool_idx[start + j] = order[j]
                    pool_val[start + j] = acc[order[j]] & 0xFFFF
                    acc[order[j]] = 0
            else:
                j = 0
                for b in range(size):
                    if acc[b] != 0:
                        pool_idx[start + j] = b
                        pool_val[start + j] = acc[b] & 0xFFFF
                        acc[b] = 0
                        j += 1
    return pool_idx


# ---------------------------------------------------------------------- reads
# Reads are serial: they are memory-bound, and waking threads cost more than small reads take.
@njit(cache=_CACHE, nogil=True)
def _find(pool_idx, start, length, column):
    """Position of ``column`` in a sorted row, or -1."""
    lo, hi = start, start + length
    while lo < hi:
        mid = (lo + hi) >> 1
        if pool_idx[mid] < column:
            lo = mid + 1
        else:
            hi = mid
    if lo < start + length and pool_idx[lo] == column:
        return lo
    return -1


@njit(cache=_CACHE, nogil=True)
def gather(core, dense_size, starts, lengths, pool_idx, pool_val, base_size, rows, cols, out):
    """out[i, j] = stored C[rows[i], cols[j]] (uint16 counts; SATURATED where the overflow
    table holds the value; 0 for indices >= base_size). A pair with an index >= dense_size is
    read from that index's sparse row (sparse rows hold every column)."""
    scratch = _scratch(base_size, len(cols), pool_val)
    for i in range(len(rows)):
        _gather_row(core, dense_size, starts, lengths, pool_idx, pool_val, base_size, rows[i], cols, out[i], scratch)
    return out


@njit(parallel=True, cache=_CACHE, nogil=True)
def gather_wide(core, dense_size, starts, lengths, pool_idx, pool_val, base_size, rows, cols, out):
    """:func:`gather` with the rows split between threads: for large blocks (a heavy user's rows
    against every column), where the work outweighs waking the threads."""
    n = len(rows)
    chunks = min(n, 64)  # a scratch row per chunk, not per row
    for t in prange(chunks):
        scratch = _scratch(base_size, len(cols), pool_val)
        for i in range(t * n // chunks, (t + 1) * n // chunks):
            _gather_row(core, dense_size, starts, lengths, pool_idx, pool_val, base_size, rows[i], cols, out[i],
                        scratch)
    return out


#: Cells from which a block read is split between threads (:func:`gather_wide`).
WIDE_CELLS = 1 << 16
#: Columns from which a sparse row may be read by scattering it into a scratch row (see :func:`_gather_row`).
SCATTER_COLUMNS = 256


@njit(cache=_CACHE, nogil=True, inline="always")
def _scratch(base_size, columns, pool_val):
    """A zeroed row of the whole catalog when a read of ``columns`` columns may scatter rows into
    it, else an empty one (a read of a few columns must not pay for zeroing the catalog)."""
    return np.zeros(base_size if columns >= SCATTER_COLUMNS else 0, dtype=pool_val.dtype)


@njit(cache=_CACHE, nogil=True, inline="always")
def _gather_row(core, dense_size, starts, lengths, pool_idx, pool_val, base_size, r, cols, out_row, scratch):
    if dense_size <= r < base_size and len(scratch):
        k = r - dense_size
        start, stop = starts[k], starts[k] + lengths[k]
        # a sparse row read at many columns: a binary search per cell (log2 of the row's length,
        # ~13 steps in MovieLens, each a likely cache miss) costs more than writing the row into
        # the scratch row, reading every cell from it and clearing it again
        if 2 * (stop - start) <= 8 * len(cols):
            for p in range(start, stop):
                if pool_idx[p] < base_size:
                    scratch[pool_idx[p]] = pool_val[p]
            for j in range(len(cols)):
                c = cols[j]
                out_row[j] = scratch[c] if 0 <= c < base_size else 0
            for p in range(start, stop):
                if pool_idx[p] < base_size:
                    scratch[pool_idx[p]] = 0
            return
    for j in range(len(cols)):
        c = cols[j]
        if r >= base_size or c >= base_size:
            out_row[j] = 0
        elif r < dense_size and c < dense_size:
            out_row[j] = core[np.int64(r) * dense_size + c]
        else:
            row, col = (r, c) if r >= dense_size else (c, r)
            k = row - dense_size
            position = _find(pool_idx, starts[k], lengths[k], col)
            out_row[j] = pool_val[position] if position >= 0 else 0


@njit(cache=_CACHE, nogil=True)
def gather_pairs(core, dense_size, starts, lengths, pool_idx, pool_val, base_size, a, b, out):
    """out[k] = stored C[a[k], b[k]] (as :func:`gather`, for a list of pairs)."""
    for k in range(len(a)):
        r, c = a[k], b[k]
        if r >= base_size or c >= base_size:
            out[k] = 0
        elif r < dense_size and c < dense_size:
            out[k] = core[np.int64(r) * dense_size + c]
        else:
            row, col = (r, c) if r >= dense_size else (c, r)
            position = _find(pool_idx, starts[row - dense_size], lengths[row - dense_size], col)
            out[k] = pool_val[position] if position >= 0 else 0
    return out


@njit(cache=_CACHE, nogil=True)
def gather_full_rows(core, dense_size, starts, lengths, pool_idx, pool_val, base_size, rows, out):
    """out[i, :base_size] = stored row rows[i] of C over every column (as :func:`gather`)."""
    tail = base_size - dense_size
    for i in range(len(rows)):
        r = rows[i]
        if r >= base_size:
            continue
        if r < dense_size:
            base = np.int64(r) * dense_size
            for c in range(dense_size):
                out[i, c] = core[base + c]
            for k in range(tail):  # core row x sparse column: stored in the sparse row
                position = _find(pool_idx, starts[k], lengths[k], r)
                if position >= 0:
                    out[i, dense_size + k] = pool_val[position]
        else:
            k = r - dense_size
            for p in range(starts[k], starts[k] + lengths[k]):
                out[i, pool_idx[p]] = pool_val[p]
    return out


# ---------------------------------------------------------------------- updates
@njit(cache=_CACHE, nogil=True)
def _step(value, step, sat, row, col, events, n_events):
    """One stored count moved by ``step``; saturation goes to ``events`` for the caller.

    A stored ``sat`` means the exact count lives in the caller's overflow table: it is left as
    is and reported (kind 2). A count reaching ``sat`` from below is stored as ``sat`` and
    reported (kind 1) so the caller can open its overflow entry.
    """
    if value == sat:
        events[n_events, 0], events[n_events, 1], events[n_events, 2] = row, col, 2
        return value, n_events + 1
    if step > 0 and value == sat - 1:
        events[n_events, 0], events[n_events, 1], events[n_events, 2] = row, col, 1
        return sat, n_events + 1
    return value + step, n_events


@njit(cache=_CACHE, nogil=True)
def update_dense(core, dense_size, rows, cols, step, sat, events, n_events):
    """core[r, c] += step for r in rows, c in cols (both < dense_size, r != c). Returns the
    number of saturation events now in ``events`` (see :func:`_step`)."""
    for r in rows:
        base = np.int64(r) * dense_size
        for c in cols:
            if r != c:
                core[base + c], n_events = _step(np.int64(core[base + c]), step, sat, r, c, events, n_events)
    return n_events


@njit(cache=_CACHE, nogil=True)
def shift_dense(core, dense_size, rows, cols, step):
    """core[r, c] += step for r in rows, c in cols, r != c (both < dense_size, sorted) when no
    cell can reach the saturation value (the caller checked every count involved is below
    saturation - 1, and C[r, c] <= min(n_r, n_c)): :func:`update_dense` without its per-cell
    saturation test. A typical forget's k² writes take ~15 µs here against ~20 µs with the test
    (MovieLens-small, 72 items), a tenth of the whole forget."""
    shift = np.uint16(step & 0xFFFF)  # (core is uint16) -1 wraps to 0xFFFF: adding it modulo 2**16 subtracts 1
    n = len(cols)
    for r in rows:
        row = core[np.int64(r) * dense_size : np.int64(r) * dense_size + dense_size]
        for j in range(n):
            row[cols[j]] += shift
        # the diagonal was written too when r is one of cols: undo it (no branch in the loop above). Nothing
        # reads the core's diagonal (n is kept apart), but it stays as update_dense leaves it: a test checks
        at = np.searchsorted(cols, r)
        if at < n and cols[at] == r:
            row[r] -= shift


@njit(cache=_CACHE, nogil=True)
def count_missing(starts, lengths, pool_idx, dense_size, row, cols):
    """How many of ``cols`` (sorted, the diagonal excluded) sparse row ``row`` lacks."""
    k = row - dense_size
    missing = 0
    for c in cols:
        if c != row and _find(pool_idx, starts[k], lengths[k], c) < 0:
            missing += 1
    return missing


@njit(cache=_CACHE, nogil=True)
def update_sparse_row(starts, lengths, pool_idx, pool_val, dense_size, row, cols, step, sat, events, n_events):
    """Sparse row ``row`` += step on ``cols`` (sorted; the diagonal skipped). Returns the event count.

    Adding inserts missing columns with count 1 (the caller reserved room: caps >= lengths +
    missing), merging from the back so the row grows in place; removing decrements in place and
    drops entries that reach 0.
    """
    k = row - dense_size
    start, length = starts[k], lengths[k]
    if step > 0:
        missing = 0
        for c in cols:
            if c != row and _find(pool_idx, start, length, c) < 0:
                missing += 1
        write = start + length + missing - 1
        read = start + length - 1
        for j in range(len(cols) - 1, -1, -1):
            c = cols[j]
            if c == row:
                continue
            while read >= start and pool_idx[read] > c:
                pool_idx[write] = pool_idx[read]
                pool_val[write] = pool_val[read]
                write -= 1
                read -= 1
            pool_idx[write] = c
            if read >= start and pool_idx[read] == c:
                pool_val[write], n_events = _step(np.int64(pool_val[read]), 1, sat, row, c, events, n_events)
                read -= 1
            else:
                pool_val[write] = 1
            write -= 1
        lengths[k] = length + missing
    else:
        # a binary search per column: O(k log row), not O(row); only a row where a count reached
        # 0 is rewritten (in place), so that no trace of a forgotten pair stays in the row
        zeros = 0
        for c in cols:
            if c == row:
                continue
            position = _find(pool_idx, start, length, c)
            if position >= 0:
                pool_val[position], n_events = _step(np.int64(pool_val[position]), -1, sat, row, c, events, n_events)
                if pool_val[position] == 0:
                    zeros += 1
        if zeros:
            write = start
            for p in range(start, start + length):
                if pool_val[p] != 0:
                    pool_idx[write] = pool_idx[p]
                    pool_val[write] = pool_val[p]
                    write += 1
            for p in range(write, start + length):  # the freed slots keep nothing either
                pool_idx[p] = 0
            lengths[k] = write - start
    return n_events


@njit(cache=_CACHE, nogil=True)
def update_sparse_rows(starts, lengths, pool_idx, pool_val, dense_size, columns, changed_mask, changed, step, sat,
                       events, n_events):
    """One user's change on every sparse row it touches: row p in ``columns`` (sorted) moves on
    all of ``columns`` if p is changed (``changed_mask``), else on ``changed``."""
    for i in range(len(columns)):
        row = columns[i]
        if row >= dense_size:
            cols = columns if changed_mask[i] else changed
            n_events = update_sparse_row(starts, lengths, pool_idx, pool_val, dense_size, row, cols, step, sat,
                                         events, n_events)
    return n_events


@njit(cache=_CACHE, nogil=True)
def missing_per_row(starts, lengths, pool_idx, dense_size, size, columns, changed_mask, changed, out):
    """out[i] = new entries an Add inserts into sparse row columns[i] (0 for dense rows); rows
    at or beyond ``size`` are new items with empty rows."""
    for i in range(len(columns)):
        row = columns[i]
        if row < dense_size:
            out[i] = 0
            continue
        cols = columns if changed_mask[i] else changed
        if row >= size:
            out[i] = len(cols) - (1 if changed_mask[i] else 0)
        else:
            out[i] = count_missing(starts, lengths, pool_idx, dense_size, row, cols)
    return out


@njit(cache=_CACHE, nogil=True)
def move_rows(starts, caps, lengths, pool_idx, pool_val, rows, new_caps, free):
    """Move sparse rows (indices into the sparse part) to the free end of the pool at ``free``,
    reserving ``new_caps`` slots each. The pool must have room. Returns the new free offset."""
    for i in range(len(rows)):
        k = rows[i]
        start, length = starts[k], lengths[k]
        for p in range(length):
            pool_idx[free + p] = pool_idx[start + p]
            pool_val[free + p] = pool_val[start + p]
        starts[k] = free
        caps[k] = new_caps[i]
        free += new_caps[i]
    return free


# ---------------------------------------------------------------------- row shards
# A shard (amnesia.engine.rowstore) owns some rows of C, every column: rows lo..hi-1 in a dense
# (hi - lo, width) block for columns < width, with their other columns and every other owned row
# in sparse rows (the pool above, indexed by the row's own item index).
@njit(parallel=True, cache=_CACHE, nogil=True)
def fit_block(user_ptr, user_items, item_ptr, item_users, lo, block):
    """Rows lo..lo + len(block) - 1 of C into ``block`` (uint16, zeroed, counts wrap at 2¹⁶ as in
    :func:`fit_dense`), every column below block.shape[1]; the diagonal is left 0."""
    threads = 16
    for t in prange(threads):
        for r in range(t, block.shape[0], threads):
            _count_row(user_ptr, user_items, item_ptr, item_users, lo + r, block[r])
            if lo + r < block.shape[1]:
                block[r, lo + r] = 0
    return block


@njit(cache=_CACHE, nogil=True)
def missing_owned_rows(starts, lengths, pool_idx, lo, hi, width, columns, changed_mask, changed, owned, out):
    """out[i] = new entries an Add inserts into the sparse row of owned row columns[i] (0 when
    not owned): :func:`missing_per_row` for a shard, whose dense rows keep columns >= width sparse."""
    for i in range(len(columns)):
        out[i] = 0
        if not owned[i]:
            continue
        row = columns[i]
        cols = columns if changed_mask[i] else changed
        if lo <= row < hi:
            cols = cols[np.searchsorted(cols, width):]
        out[i] = count_missing(starts, lengths, pool_idx, 0, row, cols)
    return out


@njit(cache=_CACHE, nogil=True)
def update_owned_rows(block, lo, hi, starts, lengths, pool_idx, pool_val, columns, changed_mask, changed, owned,
                      step, sat, events, n_events):
    """One user's change on the rows a shard owns: row p = columns[i] with ``owned[i]`` moves on
    all of ``columns`` if p is changed (``changed_mask``), else on ``changed`` (as
    :func:`update_dense` and :func:`update_sparse_rows` together). Returns the event count."""
    width = block.shape[1]
    for i in range(len(columns)):
        if not owned[i]:
            continue
        p = columns[i]
        cols = columns if changed_mask[i] else changed
        if lo <= p < hi:
            split = np.searchsorted(cols, width)
            r = p - lo
            for j in range(split):
                c = cols[j]
                if c != p:
                    block[r, c], n_events = _step(np.int64(block[r, c]), step, sat, p, c, events, n_events)
            if split < len(cols):
                n_events = update_sparse_row(starts, lengths, pool_idx, pool_val, 0, p, cols[split:], step, sat,
                                             events, n_events)
        else:
            n_events = update_sparse_row(starts, lengths, pool_idx, pool_val, 0, p, cols, step, sat, events, n_events)
    return n_events


# ---------------------------------------------------------------------- fingerprints
@njit(cache=_CACHE, nogil=True)
def lower_rows_dense(dense, live, start, stop, out):
    """The fingerprint's bytes of C for rows ``start``..``stop`` of ``live``: dense[live[i], live[j]]
    for every j < i, row after row, into ``out`` (uint32); returns how many were written. ``dense``
    is the store's (size, size) matrix (the diagonal is never read)."""
    p = 0
    for i in range(start, stop):
        row = dense[live[i]]
        for j in range(i):
            out[p] = row[live[j]]
            p += 1
    return p


@njit(cache=_CACHE, nogil=True)
def lower_rows_block(block, start, out):
    """As :func:`lower_rows_dense`, from a gathered block: block[i, j] for j < start + i."""
    p = 0
    for i in range(block.shape[0]):
        for j in range(start + i):
            out[p] = block[i, j]
            p += 1
    return p
