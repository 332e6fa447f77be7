"""Exact top-K item neighbourhoods, kept in step with C and n under every add and forget.

For every item a, its list L_a holds the K other items b with the largest S_ab > 0, best first,
ties to the smaller external id: item-kNN as implicit, LensKit and the Amnesia paper practise it.
The lists are a deterministic function of C and n, so they can be kept exact, in the spirit of
CaboOSE (Schelter et al., SIGIR 2023) for user-kNN: a change updates only what it touched and
recomputes a list from its row of C only when it must.

After a change, let T be the items whose count n moved (every item a user gained or lost). Then
S_ab changes only where a or b is in T (a pair with neither in T keeps C and both counts), so:

- a row of T is recomputed from its row of C (all of its S moved with n_a);
- any other row j sees new values only in its columns T. Its new list is the best K of its old
  entries outside T (unchanged values) and its T columns (new values). When the old list was
  not full, it held every positive entry, so that is exact. When it was full, every item
  outside it was worse than its K-th entry (the *boundary*); if the new K-th candidate is at
  least as good as the boundary, no outsider can beat it and the list is exact, otherwise the
  row is recomputed from C. Forgetting only raises S_jt (n_t fell) for rows outside T, so a
  forget never recomputes them; adding lowers them and recomputes a row only when one of its
  entries falls past its boundary.

Values are computed by the same measure on the same integers as a fresh fit, so an updated
index equals a fitted one bit for bit (the certificate checks it).

Two ways to score a user from the same lists (:data:`SCORINGS`): ``"history"`` sums, for each
item the user has, its own list (score_j = Σ over the user's items i with j in L_i of S_ij: the
top-N item-kNN of Deshpande & Karypis and implicit); ``"candidate"`` scores each candidate j
from its own list (score_j = Σ over the user's items i in L_j of S_ji: the item-based model of
Sarwar et al. 2001 and LensKit). The lists, and so forgetting, are the same for both.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

import numpy as np
from numba import get_num_threads, njit, prange

from ..errors import ArgumentError
from ..limits import MAX_NEIGHBOURS
from .similarity import Measure

_CACHE = True
#: Cells of S materialised at once while building or updating lists (8 MB of float64). With the
#: temporaries of a slab, 1 << 22 cells cost ~140 MB per 3,000-movie request: ten such visitors at
#: once took the app's server to 2 GB (docs/benchmarks.md, "The app"); 1 << 20 peaks at ~23 MB and
#: was no slower (1.41 s against 1.54 s for the request on MovieLens).
CELLS = 1 << 20
#: The dense update's per-tile S of rows x T (float64): 1 << 16 cells (512 KB) stay in a core's L2 cache.
TILE_CELLS = 1 << 16
#: The dense update's partial lists of T's rows, threads x |T| x K entries of 24 bytes: 1 << 18 (6 MB)
#: covers every forget on MovieLens at K = 50 on two threads; a longer request selects T's rows from C.
PART_CELLS = 1 << 18


@njit(cache=_CACHE, nogil=True, inline="always")
def _better(value_a, id_a, value_b, id_b):
    return value_a > value_b or (value_a == value_b and id_a < id_b)


@njit(cache=_CACHE, nogil=True, inline="always")
def _formula(cooc, count_a, count_b, code):
    """S of one pair for the measure ``code`` (see :data:`COMPILED`): the numpy formula's IEEE
    operations. A pair with cooc > 0 has a denominator >= 1, so dividing by max(den, 1) is
    dividing by den (the same bits); a pair with cooc = 0 gets 0 without a branch on the data,
    whatever the counts, so a loop over a row of C vectorises."""
    value = np.float64(cooc)
    if code == 0:
        den = np.float64(count_a) + np.float64(count_b) - value
    else:
        den = np.sqrt(np.float64(count_a) * np.float64(count_b))
    return value / (den if den > 1.0 else 1.0)


@njit(cache=_CACHE, nogil=True, inline="always")
def _close_row(a, filled, k, nbr, val, length):
    """Row a's list holds its first ``filled`` entries: pad the rest (-1, 0.0) and record the length."""
    for e in range(filled, k):
        nbr[a, e], val[a, e] = -1, 0.0
    length[a] = filled


@njit(cache=_CACHE, nogil=True)
def _insert(buf_idx, buf_val, buf_id, filled, k, index, value, ident):
    """Insert (index, value) into the sorted buffer of at most k entries; returns the new fill."""
    if filled == k and not _better(value, ident, buf_val[k - 1], buf_id[k - 1]):
        return filled
    position = filled if filled < k else k - 1  # a full buffer drops its last entry
    while position > 0 and _better(value, ident, buf_val[position - 1], buf_id[position - 1]):
        buf_idx[position], buf_val[position], buf_id[position] = buf_idx[position - 1], buf_val[position - 1], buf_id[position - 1]
        position -= 1
    buf_idx[position], buf_val[position], buf_id[position] = index, value, ident
    return filled + 1 if filled < k else k


@njit(parallel=True, cache=_CACHE, nogil=True)
def select_rows(similarity, rows, ids, k, nbr, val, length):
    """Lists of ``rows[r]`` from their full rows of S (``similarity[r]``, one value per item),
    written into ``nbr``/``val``/``length`` (the diagonal is skipped), rows split between threads
    (each writes only its own lists: the rows of T of an add, or rows recomputed from C)."""
    threads = 64
    for t in prange(threads):
        buf_id = np.empty(k, dtype=np.int64)
        for r in range(t, len(rows), threads):
            a = rows[r]
            filled = 0
            row = similarity[r]
            for b in range(len(row)):
                value = row[b]
                if value > 0.0 and b != a:
                    filled = _insert(nbr[a], val[a], buf_id, filled, k, b, value, ids[b])
            _close_row(a, filled, k, nbr, val, length)


@njit(parallel=True, cache=_CACHE, nogil=True)
def merge_rows(similarity, first, rows, ids, k, nbr, val, length):
    """Merge columns ``first .. first + width`` of the S rows of ``rows`` (``similarity[r]``) into
    their lists so far: after every slab of columns has been merged, each list is the one
    :func:`select_rows` gives from the whole row (the diagonal is skipped). Rows are split
    between threads (each writes only its own list; only long histories take this path)."""
    threads = 64
    for t in prange(threads):
        buf_id = np.empty(k, dtype=np.int64)
        for r in range(t, len(rows), threads):
            a = rows[r]
            filled = length[a]
            for e in range(filled):
                buf_id[e] = ids[nbr[a, e]]
            row = similarity[r]
            for column in range(len(row)):
                value = row[column]
                b = first + column
                if value > 0.0 and b != a:
                    filled = _insert(nbr[a], val[a], buf_id, filled, k, b, value, ids[b])
            length[a] = filled


@njit(cache=_CACHE, nogil=True)
def _raise_row(j, values, usable, touched, position_t, ids, k, nbr, val, length, seen):
    """Row j (outside T) after a forget, in place, from ``values[p]``, its new S with
    ``touched[p]``: given for every listed item of T, and for an unlisted one where ``usable[p]``
    (False: it cannot enter, its value was not computed). A forget kept C_jt (j is not the
    user's) and lowered n_t, so S_jt only grew (the IEEE formula is monotone in the count) and
    every other entry kept its value: each listed item of T moves up, then each unlisted one that
    beats the K-th entry (or finds a free place) comes in from the bottom. The list stays exact:
    every item outside it was worse than the old K-th entry, and the new K-th is at least as
    good. ``seen`` (one flag per item of T, all False) is left all False."""
    filled = length[j]
    for e in range(filled):
        p = position_t[nbr[j, e]]
        if p < 0:
            continue
        seen[p] = True
        b, value = nbr[j, e], values[p]
        position = e  # the entries above it are settled; it can only rise among them
        while position > 0 and _better(value, ids[b], val[j, position - 1], ids[nbr[j, position - 1]]):
            nbr[j, position], val[j, position] = nbr[j, position - 1], val[j, position - 1]
            position -= 1
        nbr[j, position], val[j, position] = b, value
    for p in range(len(touched)):
        if seen[p]:
            seen[p] = False
            continue
        if not usable[p]:
            continue
        value, b = values[p], touched[p]
        if value <= 0.0:
            continue
        if filled == k:
            if not _better(value, ids[b], val[j, k - 1], ids[nbr[j, k - 1]]):
                continue
            position = k - 1  # the K-th entry leaves
        else:
            position = filled
            filled += 1
        while position > 0 and _better(value, ids[b], val[j, position - 1], ids[nbr[j, position - 1]]):
            nbr[j, position], val[j, position] = nbr[j, position - 1], val[j, position - 1]
            position -= 1
        nbr[j, position], val[j, position] = b, value
    length[j] = filled


@njit(cache=_CACHE, nogil=True, inline="always")
def _reaches(j, values, k, val, length):
    """Does any of ``values`` (row j's new S with T, after a forget) reach row j's list: positive
    and at least its K-th entry when the list is full? If none does, the list is unchanged (an
    item of T that was listed grew and would reach it)."""
    floor = val[j, k - 1] if length[j] == k else 0.0
    for p in range(len(values)):
        if values[p] >= floor and values[p] > 0.0:
            return True
    return False


@njit(cache=_CACHE, nogil=True)
def _settle_row(j, values, touched, position_t, ids, k, nbr, val, length, buf_idx, buf_val, buf_id):
    """Row j (outside T) after an add or a partial removal, from ``values[p]``, its new S with
    ``touched[p]``. Returns False when its full row of C is needed (the list was full and an item
    it never listed might now beat its K-th entry); otherwise the list is settled (maybe
    unchanged). (After a forget, :func:`_raise_row` settles it in place.)"""
    count_t = len(touched)
    old = length[j]
    listed = False  # is an item of T in the list? then its value moved
    for e in range(old):
        if position_t[nbr[j, e]] >= 0:
            listed = True
            break
    if not listed:  # only T's items can enter: is any of them good enough?
        enters = False
        floor = val[j, k - 1] if old == k else 0.0
        for p in range(count_t):
            value = values[p]
            if value >= floor and value > 0.0 and (old < k or _better(value, ids[touched[p]], val[j, k - 1], ids[nbr[j, k - 1]])):
                enters = True
                break
        if not enters:
            return True
    filled = 0
    candidates = 0
    for e in range(old):
        b = nbr[j, e]
        if position_t[b] < 0:
            candidates += 1
            filled = _insert(buf_idx, buf_val, buf_id, filled, k, b, val[j, e], ids[b])
    for p in range(count_t):
        value = values[p]
        if value > 0.0:
            candidates += 1
            filled = _insert(buf_idx, buf_val, buf_id, filled, k, touched[p], value, ids[touched[p]])
    if old == k:  # a full list: settled only if its K-th entry still beats every outsider
        boundary = nbr[j, k - 1]
        if candidates < k or _better(val[j, k - 1], ids[boundary], buf_val[k - 1], buf_id[k - 1]):
            return False
    for e in range(filled):
        nbr[j, e], val[j, e] = buf_idx[e], buf_val[e]
    _close_row(j, filled, k, nbr, val, length)
    return True


@njit(cache=_CACHE, nogil=True, inline="always")
def _update_columns(similarity_t, first, start, step, touched, position_t, ids, k, nbr, val, length, recompute, grows):
    """:func:`update_rows` for the columns ``start, start + step, ...`` of ``similarity_t``."""
    buf_idx = np.empty(k, dtype=np.int64)
    buf_val = np.empty(k, dtype=np.float64)
    buf_id = np.empty(k, dtype=np.int64)
    seen = np.zeros(len(touched), dtype=np.bool_)
    usable = np.ones(len(touched), dtype=np.bool_)
    for column in range(start, similarity_t.shape[1], step):
        j = first + column
        if position_t[j] >= 0:
            continue
        values = similarity_t[:, column]
        if grows:
            if _reaches(j, values, k, val, length):
                _raise_row(j, values, usable, touched, position_t, ids, k, nbr, val, length, seen)
        elif not _settle_row(j, values, touched, position_t, ids, k, nbr, val, length, buf_idx, buf_val, buf_id):
            recompute[j] = True


@njit(cache=_CACHE, nogil=True)
def update_rows(similarity_t, first, touched, position_t, ids, k, nbr, val, length, recompute, grows):
    """Update rows ``first .. first + width`` outside ``touched`` (T) from the new S between T
    and them (``similarity_t``, shape (|T|, width): by symmetry their columns T). Rows that
    cannot be settled without their full row of C get ``recompute[j] = True``. ``grows``: the
    change removed whole rows (a forget: see :func:`_raise_row`; no row is recomputed)."""
    _update_columns(similarity_t, first, 0, 1, touched, position_t, ids, k, nbr, val, length, recompute, grows)


@njit(parallel=True, cache=_CACHE, nogil=True)
def update_rows_wide(similarity_t, first, touched, position_t, ids, k, nbr, val, length, recompute, grows):
    """:func:`update_rows` with the rows split between threads (each settles only its own row):
    for a slab of a long history's columns, where the work outweighs waking the threads."""
    threads = 64
    for t in prange(threads):
        _update_columns(similarity_t, first, t, threads, touched, position_t, ids, k, nbr, val, length, recompute, grows)


@njit(parallel=True, cache=_CACHE, nogil=True)
def _similarity_block(block, row_counts, counts, code, out):
    """S of C rows ``block`` (int64) for the measure ``code`` (see :data:`COMPILED`) into ``out``
    (float64, the block's shape), the same IEEE operations as its numpy formula, so the same
    bits, in one pass, rows split between threads."""
    for r in prange(block.shape[0]):
        for b in range(block.shape[1]):
            out[r, b] = _formula(block[r, b], row_counts[r], counts[b], code) if block[r, b] > 0 else 0.0
    return out


@njit(parallel=True, cache=_CACHE, nogil=True)
def select_dense(core, counts, ids, k, code, nbr, val, length):
    """Every item's list straight from the dense C (``core``, uint16, no saturated entry) and n,
    S computed on the fly by the measure ``code``: :func:`select_rows` without materialising S,
    rows split between threads."""
    size = core.shape[0]
    threads = 64
    for t in prange(threads):
        buf_id = np.empty(k, dtype=np.int64)
        for a in range(t, size, threads):
            _select_row(core[a], a, counts, ids, k, code, nbr, val, length, buf_id)


@njit(parallel=True, cache=_CACHE, nogil=True)
def select_block(block, start, counts, ids, k, code, nbr, val, length):
    """The lists of items ``start .. start + len(block)`` from their full rows of C (``block``),
    as :func:`select_dense` does from the whole C, rows split between threads."""
    threads = 64
    for t in prange(threads):
        buf_id = np.empty(k, dtype=np.int64)
        for r in range(t, block.shape[0], threads):
            _select_row(block[r], start + r, counts, ids, k, code, nbr, val, length, buf_id)


@njit(cache=_CACHE, nogil=True)
def _select_row(row, a, counts, ids, k, code, nbr, val, length, buf_id):
    """Item a's list from its row of C (what select_rows does from a row of S)."""
    filled = 0
    for b in range(len(row)):
        if row[b] > 0 and b != a:
            filled = _insert(nbr[a], val[a], buf_id, filled, k, b, _formula(row[b], counts[a], counts[b], code), ids[b])
    _close_row(a, filled, k, nbr, val, length)


@njit(cache=_CACHE, nogil=True, inline="always")
def _tile_values(row_b, counts, count_b, code, out, floor, reach, grows):
    """out[j] = S between item b and the tile's items j from b's row of C (uint16) and n as float64
    (every cell, empty pairs too: :func:`_formula` has no branch on the data, so the loop
    vectorises), and, when ``grows``, reach[j] |= out[j] > 0 and out[j] >= floor[j]."""
    for j in range(len(row_b)):
        out[j] = _formula(row_b[j], counts[j], count_b, code)
    if grows:
        for j in range(len(row_b)):
            reach[j] |= (out[j] > 0.0) & (out[j] >= floor[j])


@njit(cache=_CACHE, nogil=True)
def _kth_of_listed(row, a, counts, k, code, nbr, length):
    """The K-th best new S of the items item a listed before a change, from its row of C and n
    as they are now (0.0 when its list was not full or fewer than K of them stay positive). K
    items are at least that good, so an item below it cannot be in a's new list."""
    if length[a] < k:
        return 0.0
    # K values, all positive, rank their least K-th: it is their minimum (no sort needed)
    least = np.inf
    for e in range(k):
        b = nbr[a, e]
        value = _formula(row[b], counts[a], counts[b], code)
        if value <= 0.0:
            return 0.0
        least = min(least, value)
    return least


#: A forget's tiles test each cell against its thresholds times this factor without dividing (a
#: product and a comparison, which vectorise) and compute the exact S only for cells that pass. The
#: exact S and the division-free test differ by fewer than eight roundings of 2^-53 each, far less
#: than this 2^-40, so a cell whose S reaches a threshold always passes.
_SHRINK = 1.0 - 2.0 ** -40


@njit(cache=_CACHE, nogil=True)
def _forget_tiles(rows_c, row_of, countsf, roots, touched, position_t, ids, k, code, nbr, val, length, least, w,
                  workers, tile, part_idx, part_val, part_id, part_len):
    """Worker ``w``'s tiles (``w, w + workers, ...``) of a forget's update (see
    :func:`forget_update`): the rows outside T raised in place, the partial lists of T's rows
    grown. A cell matters only if its new S reaches row j's K-th entry (``floor``) or the
    partial list's bar (``lowest``); a first pass marks, without a division, every cell that
    might, a second computes those few exactly (about 1 % of the cells on MovieLens)."""
    size, count_t = len(countsf), len(touched)
    seen = np.zeros(count_t, dtype=np.bool_)
    values = np.empty((count_t, tile), dtype=np.float64)  # exact S where marks[p, c] stays 1
    marks = np.empty((count_t, tile), dtype=np.uint8)
    floor = np.empty(tile, dtype=np.float64)
    floor_s = np.empty(tile, dtype=np.float64)
    reached = np.empty(tile, dtype=np.bool_)
    for t in range(w, _tiling(size, tile, workers)[0], workers):
        first, last = t * tile, min(size, (t + 1) * tile)
        width = last - first
        for c in range(width):
            j = first + c
            floor[c] = val[j, k - 1] if length[j] == k else 0.0
            floor_s[c] = floor[c] * _SHRINK
            reached[c] = False
        # (the tile's slices, and a count of the booleans themselves rather than of the marks read
        # back, let the loops below vectorise: the marking took 2.75x as long the other way)
        counts_tile, roots_tile = countsf[first:last], roots[first:last]
        for p in range(count_t):
            b = touched[p]
            row, mark = rows_c[row_of[p], first:last], marks[p]
            count_b, root_b = countsf[b], roots[b]
            filled = part_len[w, p]
            lowest = max(least[p], part_val[w, p, k - 1]) if filled == k else least[p]
            lowest_s = lowest * _SHRINK
            marked = 0
            if code == 0:  # jaccard: S >= x  <=>  C >= x * (n_b + n_j - C)
                for c in range(width):
                    cooc = np.float64(row[c])
                    hit = (cooc > 0.0) & (cooc >= min(lowest_s, floor_s[c]) * (count_b + counts_tile[c] - cooc))
                    mark[c] = hit
                    marked += np.int64(hit)
            else:  # cosine: S >= x  <=>  C >= x * sqrt(n_b) * sqrt(n_j)
                for c in range(width):
                    cooc = np.float64(row[c])
                    hit = (cooc > 0.0) & (cooc >= min(lowest_s, floor_s[c]) * (root_b * roots_tile[c]))
                    mark[c] = hit
                    marked += np.int64(hit)
            c = 0
            while marked > 0:  # the marked cells, exactly; a mark stays only where S reaches row j's list
                if mark[c]:
                    marked -= 1
                    j = first + c
                    value = _formula(row[c], countsf[j], count_b, code)
                    if value >= floor[c]:
                        values[p, c] = value
                        reached[c] = True
                    else:
                        mark[c] = 0
                    if value >= lowest and j != b:
                        filled = _insert(part_idx[w, p], part_val[w, p], part_id[w, p], filled, k, j, value, ids[j])
                        if filled == k:
                            lowest = max(least[p], part_val[w, p, k - 1])
                c += 1
            part_len[w, p] = filled
        for c in range(width):
            j = first + c
            if reached[c] and position_t[j] < 0:
                _raise_row(j, values[:, c], marks[:, c], touched, position_t, ids, k, nbr, val, length, seen)


@njit(cache=_CACHE, nogil=True)
def _merge_parts(a, p, k, nbr, val, length, part_idx, part_val, part_id, part_len):
    """Row a = T[p]'s list from the workers' partial lists of it: each is sorted best first and
    holds other columns, so the list is their merge, K at most (one pass; inserting the entries
    one by one moved up to K of them each)."""
    workers = part_len.shape[0]
    head = np.zeros(workers, dtype=np.int64)
    filled = 0
    while filled < k:
        best = -1
        for w in range(workers):
            e = head[w]
            if e < part_len[w, p] and (best < 0 or _better(part_val[w, p, e], part_id[w, p, e],
                                                           part_val[best, p, head[best]], part_id[best, p, head[best]])):
                best = w
        if best < 0:
            break
        e = head[best]
        nbr[a, filled], val[a, filled] = part_idx[best, p, e], part_val[best, p, e]
        head[best] = e + 1
        filled += 1
    _close_row(a, filled, k, nbr, val, length)


@njit(cache=_CACHE, nogil=True)
def _partial_lists(rows_c, row_of, counts, touched, ids, k, code, nbr, length, parts):
    """Empty partial lists of T's rows for ``parts`` workers (index, S, external id: parts x |T| x
    K; fill: parts x |T|) and ``least`` (|T|): a value below least[p] cannot enter row T[p]'s
    list (:func:`_kth_of_listed` from its row ``rows_c[row_of[p]]``; all 0 when parts is 0).
    One thread: |T| x K values (~0.04 ms for a typical MovieLens forget) cost less than waking
    the other thread for them (kernel threads sleep between parallel loops: see :mod:`amnesia`)."""
    count_t = len(touched)
    part_idx = np.empty((parts, count_t, k), dtype=np.int64)
    part_val = np.empty((parts, count_t, k), dtype=np.float64)
    part_id = np.empty((parts, count_t, k), dtype=np.int64)
    part_len = np.zeros((parts, count_t), dtype=np.int64)
    least = np.zeros(count_t, dtype=np.float64)
    if parts:
        for p in range(count_t):
            least[p] = _kth_of_listed(rows_c[row_of[p]], touched[p], counts, k, code, nbr, length)
    return part_idx, part_val, part_id, part_len, least


@njit(cache=_CACHE, nogil=True)
def _tiling(size, tile, threads):
    """(tiles, workers) of a pass over ``size`` rows ``tile`` at a time: one worker per tile up to
    ``threads``; worker ``w`` takes tiles ``w, w + workers, ...``."""
    tiles = (size + tile - 1) // tile
    return tiles, max(1, min(tiles, threads))


def shares_tiles(size: int, count_t: int, k: int) -> tuple[int, bool]:
    """(tile width, whether T's lists are grown from the tiles' values) for an update of
    ``count_t`` items over ``size``: the partial lists, workers x |T| x K entries, within
    :data:`PART_CELLS`."""
    tile = min(1024, max(1, TILE_CELLS // max(count_t, 1)))
    workers = _tiling(size, tile, get_num_threads())[1]
    return tile, workers * count_t * k <= PART_CELLS


@njit(cache=_CACHE, nogil=True)
def _counts_and_roots(counts):
    """n as float64 and its square roots, on the calling thread: in a parallel function these array
    expressions are parallel loops of their own, each a wake-up of the sleeping threads that costs
    more than the few thousand values."""
    countsf = np.empty(len(counts), dtype=np.float64)
    roots = np.empty(len(counts), dtype=np.float64)
    for a in range(len(counts)):
        countsf[a] = np.float64(counts[a])
        roots[a] = np.sqrt(countsf[a])
    return countsf, roots


@njit(parallel=True, cache=_CACHE, nogil=True)
def forget_update(rows_c, row_of, counts, touched, position_t, ids, k, code, nbr, val, length, tile, threads):
    """The lists after a forget (users' whole rows removed), from T's rows of C: T[p]'s row is
    ``rows_c[row_of[p]]`` (the store's whole dense C with ``row_of`` = T, or T's rows read from
    any store with ``row_of`` = 0..|T|-1: a forget needs no other row). Rows outside T are raised
    in place (:func:`_raise_row`, none recomputed), T's lists grown from the same tiles as
    :func:`update_dense` grows them; the caller checks :func:`shares_tiles`. Returns |T|."""
    size, count_t = len(counts), len(touched)
    countsf, roots = _counts_and_roots(counts)
    tiles, workers = _tiling(size, tile, threads)
    part_idx, part_val, part_id, part_len, least = _partial_lists(rows_c, row_of, counts, touched, ids, k, code, nbr,
                                                                 length, workers)
    for w in prange(workers):
        _forget_tiles(rows_c, row_of, countsf, roots, touched, position_t, ids, k, code, nbr, val, length, least, w,
                      workers, tile, part_idx, part_val, part_id, part_len)
    # the rows of T last, on one thread: |T| merges of K entries (~0.02 ms) cost less than a third parallel loop's wake-up
    for p in range(count_t):
        _merge_parts(touched[p], p, k, nbr, val, length, part_idx, part_val, part_id, part_len)
    return count_t


@njit(parallel=True, cache=_CACHE, nogil=True)
def update_dense(core, counts, touched, position_t, ids, k, code, nbr, val, length, tile, shared, threads, grows):
    """The whole update from a dense C (see :meth:`NeighbourIndex.update`), ``tile`` rows at a
    time split between threads: a row outside T is settled from its columns T and, when its
    boundary may have been passed, selected from its row of C at once; a row of T gets its whole
    new list from the same values. Returns how many rows were selected over a whole row (the
    rows of T included).

    A tile's new S with T is computed once, from the rows of T (C_tj = C_jt: C is symmetric),
    and read both ways: row j's columns T settle row j, and column p gives row t = T[p] its
    candidates in the tile (S_tj and S_jt are the same IEEE operations on the same integers:
    the same bits), kept per thread as a partial list and merged at the end. Reading row j at
    T's scattered columns instead cost a cache miss per entry (a typical MovieLens forget with
    K = 50 took 9.4 ms with them, 5.0 ms without: docs/benchmarks.md); selecting T's rows from
    their rows of C again cost as much as the tiles. A partial list takes only values at least
    the K-th best new S of what the row listed before (:func:`_kth_of_listed`): most cells fail
    that one test, where filling each list from nothing inserted hundreds of values that later
    left it. Unless ``shared`` (:func:`shares_tiles`: the partial lists, ``threads`` x |T| x K
    entries, fit), the rows of T are selected from C in a pass of their own instead, split evenly
    between threads. ``grows``: the change removed whole rows (a forget: rows outside T are raised in
    place by :func:`_raise_row`, none recomputed); :meth:`NeighbourIndex.update` sends here
    only the forgets whose partial lists would not fit (the rest go to :func:`forget_update`),
    so the partial lists serve adds."""
    size = core.shape[0]
    count_t = len(touched)
    countsf = counts.astype(np.float64)
    tiles, workers = _tiling(size, tile, threads)
    part_idx, part_val, part_id, part_len, least = _partial_lists(core, touched, counts, touched, ids, k, code, nbr,
                                                                 length, workers if shared else 0)
    selected = np.zeros(workers, dtype=np.int64)
    spread = min(count_t, 64)
    for w in prange(workers):
        buf_idx = np.empty(k, dtype=np.int64)
        buf_val = np.empty(k, dtype=np.float64)
        buf_id = np.empty(k, dtype=np.int64)
        seen = np.zeros(count_t, dtype=np.bool_)
        usable = np.ones(count_t, dtype=np.bool_)
        for t in range(w, tiles, workers):
            first, last = t * tile, min(size, (t + 1) * tile)
            # the tile's new S with T, a row per item of T: written and read along rows of C (the
            # settling pass reads a column, |T| cache lines that serve the next rows j too)
            values = np.empty((count_t, last - first), dtype=np.float64)
            reach = np.zeros(last - first, dtype=np.bool_)  # after a forget: may a value of T reach row j's list?
            floor = np.zeros(last - first, dtype=np.float64)
            if grows:
                for j in range(first, last):
                    floor[j - first] = val[j, k - 1] if length[j] == k else 0.0
            for p in range(count_t):
                _tile_values(core[touched[p], first:last], countsf[first:last], countsf[touched[p]], code, values[p],
                             floor, reach, grows)
            if shared:
                for p in range(count_t):
                    b = touched[p]
                    filled = part_len[w, p]
                    # a value below the full list's K-th cannot enter: one predictable test for most cells
                    lowest = max(least[p], part_val[w, p, k - 1]) if filled == k else least[p]
                    for j in range(first, last):
                        value = values[p, j - first]
                        if value >= lowest and value > 0.0 and j != b:
                            filled = _insert(part_idx[w, p], part_val[w, p], part_id[w, p], filled, k, j, value, ids[j])
                            if filled == k:
                                lowest = max(least[p], part_val[w, p, k - 1])
                    part_len[w, p] = filled
            for j in range(first, last):
                if position_t[j] >= 0:
                    continue
                if grows:
                    if reach[j - first]:
                        _raise_row(j, values[:, j - first], usable, touched, position_t, ids, k, nbr, val, length, seen)
                elif not _settle_row(j, values[:, j - first], touched, position_t, ids, k, nbr, val, length, buf_idx,
                                     buf_val, buf_id):
                    _select_row(core[j], j, counts, ids, k, code, nbr, val, length, buf_id)
                    selected[w] += 1
    # the rows of T last: a row outside T reads only its own list, so the passes never race
    for s in prange(spread):
        buf_id = np.empty(k, dtype=np.int64)
        for p in range(s, count_t, spread):
            a = touched[p]
            if not shared:
                _select_row(core[a], a, counts, ids, k, code, nbr, val, length, buf_id)
                continue
            _merge_parts(a, p, k, nbr, val, length, part_idx, part_val, part_id, part_len)
    return selected.sum() + count_t


#: Measures with a compiled formula (the rest use their numpy one, a little slower): name -> code.
COMPILED = {"jaccard": 0, "cosine": 1}


def _in_place(dense: np.ndarray | None, measure: Measure, size: int) -> int | None:
    """The measure's compiled code when the lists can be read from ``dense`` in place (the
    store's whole C for all ``size`` items, and a compiled measure), else None."""
    code = COMPILED.get(measure.name)
    return code if dense is not None and code is not None and dense.shape == (size, size) else None


def _counts(read: RowReader) -> np.ndarray:
    """n of every item, int64 (the counts a read of no rows returns)."""
    return np.asarray(read(np.zeros(0, dtype=np.int64), None)[1], dtype=np.int64)


def similarity_block(measure: Measure, block: np.ndarray, row_counts: np.ndarray, counts: np.ndarray,
                     out: np.ndarray | None = None) -> np.ndarray:
    """``measure(block, row_counts[:, None], counts[None, :])``, compiled when the measure is known
    (then written into ``out`` when given: float64, the block's shape, C-contiguous)."""
    code = COMPILED.get(measure.name)
    if code is None:
        return measure(block, row_counts[:, None], counts[None, :])
    if out is None:
        out = np.empty(block.shape, dtype=np.float64)
    return _similarity_block(block, row_counts.astype(np.int64), counts.astype(np.int64), code, out)


@njit(cache=_CACHE, nogil=True)
def _sum_lists(rows, nbr, val, length, size):
    """out[b] = Σ over rows a (in order) and their list entries (in order) with neighbour b of S_ab."""
    out = np.zeros(size, dtype=np.float64)
    for a in rows:
        for e in range(length[a]):
            out[nbr[a, e]] += val[a, e]
    return out


@njit(cache=_CACHE, nogil=True)
def _sum_candidates(held, nbr, val, length, size):
    """out[b] = Σ over b's list entries (in order) whose neighbour a is held of S_ba."""
    out = np.zeros(size, dtype=np.float64)
    for b in range(size):
        total = 0.0
        for e in range(length[b]):
            if held[nbr[b, e]]:
                total += val[b, e]
        out[b] = total
    return out


class _Scratch:
    """One C (int64) and one S (float64) buffer for every block an update or a build reads, grown
    when a block needs more: fresh ~8 MB blocks were mapped and faulted in anew for each slab, and
    an add's recomputed rows took two more while the slabs' were still held (a 3,000-movie add's
    list update peaked at 36 MB; ten visitors sending one at once share the server's memory).

    Used as a context manager, it takes a pair left by an earlier update and leaves its own for
    the next, at most :data:`SPARE` pairs of at most :data:`CELLS` cells each process-wide (a
    visitor's forget, on a fork whose C is not one dense matrix, spent up to 6 of its 13 ms
    faulting in a fresh 11 MB pair). A pair is zeroed before it is left: it held a visitor's
    rows of C, and no other request may find them in memory."""

    _spare: list[tuple[np.ndarray, np.ndarray]] = []
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._cells = np.empty(0, dtype=np.int64)
        self._values = np.empty(0, dtype=np.float64)
        self._used = self._used_values = 0  # cells written so far, of each buffer

    def __enter__(self) -> _Scratch:
        with _Scratch._lock:
            if _Scratch._spare:
                self._cells, self._values = _Scratch._spare.pop()
        return self

    def __exit__(self, *exc: object) -> None:
        cells, values, used, used_values = self._cells, self._values, self._used, self._used_values
        self._cells, self._values = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        self._used = self._used_values = 0
        if not 0 < len(cells) <= CELLS:
            return
        cells[:used] = 0
        values[:used_values] = 0.0
        with _Scratch._lock:
            if len(_Scratch._spare) < SPARE:
                _Scratch._spare.append((cells, values))

    def take(self, rows: int, columns: int) -> tuple[np.ndarray, np.ndarray]:
        """(C buffer, S buffer), each (rows, columns), C-contiguous views of the same memory each call."""
        cells = self.take_cells(rows, columns)
        self._used_values = max(self._used_values, cells.size)
        return cells, self._values[: cells.size].reshape(rows, columns)

    def take_cells(self, rows: int, columns: int) -> np.ndarray:
        """The C buffer alone, (rows, columns), for a caller that computes no S block."""
        size = rows * columns
        if len(self._cells) < size:
            self._cells = self._values = None  # the old pair goes before the new one is made
            # zeros (calloc: pages mapped when first written), so a pair left for the next update holds only zeros
            self._cells, self._values = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.float64)
        self._used = max(self._used, size)
        return self._cells[:size].reshape(rows, columns)


#: Spare pairs of buffers kept between updates (see :class:`_Scratch`): two, as this machine's
#: two cores run at most two updates at once.
SPARE = 2


RowReader = Callable[[np.ndarray, "np.ndarray | None", "np.ndarray | None"], tuple[np.ndarray, np.ndarray]]
"""``(rows, columns or None for all, out or None) -> (C[rows][:, columns] as int64, written into
out when given, n of every item)``."""


#: How a user's score reads the lists (see the module docstring): the default first.
SCORINGS = ("history", "candidate")


def check_scoring(value: object) -> str:
    """One of :data:`SCORINGS`, else an ArgumentError that names them."""
    if not isinstance(value, str) or value not in SCORINGS:
        raise ArgumentError(
            f"scoring must be 'history' (each of the user's items votes for its own K neighbours) or 'candidate' "
            f"(each candidate is scored from its own K neighbours among the user's items); got {value!r}."
        )
    return value


def check_neighbours(value: object) -> int | None:
    """``None`` (every neighbour) or a whole number from 1 to :data:`~amnesia.limits.MAX_NEIGHBOURS`
    of neighbours per item, else an ArgumentError (checked before the lists, items x K, are allocated)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 1 <= int(value) <= MAX_NEIGHBOURS:
        raise ArgumentError(
            f"neighbours must be a whole number from 1 to {MAX_NEIGHBOURS:,} (how many most similar items each item "
            f"keeps; the lists take items x K x 12 bytes), or None for every neighbour without lists; got {value!r}."
        )
    return int(value)


class NeighbourIndex:
    """The K most similar items of every item (internal indices), copy-on-write between forks.

    ``nbr[a, :length[a]]`` are the neighbours of item a best first, ``val[a, :length[a]]`` their
    S (float64); the rest of a row is -1 / 0.
    """

    def __init__(self, k: int, size: int = 0) -> None:
        self.k = k
        capacity = max(size, 16)
        self._nbr = np.full((capacity, k), -1, dtype=np.int32)
        self._val = np.zeros((capacity, k), dtype=np.float64)
        self._length = np.zeros(capacity, dtype=np.int32)
        self.size = size
        self._shared = False
        self.item_ids: np.ndarray | None = None  # a neighbour_state()'s external ids by internal index, when taken

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, k: int, size: int, read: RowReader, measure: Measure, ids: np.ndarray,
              dense: np.ndarray | None = None) -> NeighbourIndex:
        """The lists of items 0..size-1 from their rows of C, ``CELLS`` at a time; straight from
        ``dense`` (the store's whole C, see ``Store.dense_matrix``) when given and the measure is
        compiled, on every core."""
        index = cls(k, size)
        code = _in_place(dense, measure, size)
        if code is not None:
            select_dense(dense, _counts(read), np.asarray(ids, dtype=np.int64), k, code, index._nbr, index._val, index._length)
        else:
            index._recompute(np.arange(size, dtype=np.int64), read, measure, ids)
        return index

    def select_from_rows(self, block: np.ndarray, start: int, counts: np.ndarray, measure: Measure, ids: np.ndarray) -> None:
        """Set the lists of items ``start .. start + len(block)`` from their full rows of C
        (``block``, one column per item) and n (``counts``, int64, every item): an index built a
        block of rows at a time, as a streamed retrain builds it."""
        code = COMPILED.get(measure.name)
        if code is not None:
            select_block(block, start, counts, ids, self.k, code, self._nbr, self._val, self._length)
        else:
            rows = np.arange(start, start + len(block), dtype=np.int64)
            similarity = similarity_block(measure, block.astype(np.int64), counts[rows], counts)
            select_rows(similarity, rows, ids, self.k, self._nbr, self._val, self._length)

    def _recompute(self, rows: np.ndarray, read: RowReader, measure: Measure, ids: np.ndarray,
                   scratch: _Scratch | None = None) -> None:
        if scratch is None:
            with _Scratch() as scratch:
                self._recompute(rows, read, measure, ids, scratch)
            return
        width = len(_counts(read))
        step = max(1, CELLS // max(width, 1))
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            cells, buffer = scratch.take(len(chunk), width)
            block, counts = read(chunk, None, cells)
            similarity = similarity_block(measure, block, counts[chunk], counts, buffer)
            select_rows(similarity, chunk, ids, self.k, self._nbr, self._val, self._length)

    def fork(self) -> NeighbourIndex:
        """A copy sharing the arrays until either side writes (then that side copies them)."""
        child = NeighbourIndex.__new__(NeighbourIndex)
        child.k, child.size, child.item_ids = self.k, self.size, self.item_ids
        child._nbr, child._val, child._length = self._nbr, self._val, self._length
        self._shared = child._shared = True
        return child

    def _own(self, size: int) -> None:
        """Make the arrays this index's own, with room for ``size`` items."""
        capacity = len(self._length)
        if size > capacity or self._shared:
            capacity = max(capacity, 16)
            while capacity < size:
                capacity *= 2
            nbr = np.full((capacity, self.k), -1, dtype=np.int32)
            val = np.zeros((capacity, self.k), dtype=np.float64)
            length = np.zeros(capacity, dtype=np.int32)
            nbr[: self.size], val[: self.size], length[: self.size] = self._nbr[: self.size], self._val[: self.size], self._length[: self.size]
            self._nbr, self._val, self._length, self._shared = nbr, val, length, False
        self.size = max(self.size, size)

    # ------------------------------------------------------------------ updating
    def update(self, touched: np.ndarray, size: int, read: RowReader, measure: Measure, ids: np.ndarray,
               dense: np.ndarray | None = None, forgets: bool = False) -> int:
        """Bring the lists in step after a change that moved the counts of ``touched`` (internal
        indices) and left ``size`` items; C and n must already be the new ones. Returns the
        number of rows recomputed from C (the rows of T included). A forget (``forgets``: the
        change removed users' whole rows) with a compiled measure needs only T's rows of C:
        :func:`forget_update` reads them in place from ``dense`` (the store's whole C) or from one
        block read from any store. Otherwise, with ``dense``, one parallel pass reads C in place
        (:func:`update_dense`), else slabs of T's rows are read; both skip the lists no item of T
        can reach after a forget too long for the first path."""
        self._own(size)
        touched = np.unique(np.asarray(touched, dtype=np.int64))
        if len(touched) == 0:
            return 0
        position_t = np.full(size, -1, dtype=np.int64)
        position_t[touched] = np.arange(len(touched))
        code = _in_place(dense, measure, size)
        tile, shared = shares_tiles(size, len(touched), self.k)
        ids = np.asarray(ids, dtype=np.int64)
        if forgets and shared and COMPILED.get(measure.name) is not None:
            # a forget reads only T's rows: in place from a dense C, else read once from any store (a
            # visitor's fork, a sparse store)
            lists = (self._nbr, self._val, self._length, tile, get_num_threads())
            if code is not None:
                return int(forget_update(dense, touched, _counts(read), touched, position_t, ids, self.k, code, *lists))
            if len(touched) * size <= CELLS:
                with _Scratch() as scratch:
                    block, counts = read(touched, None, scratch.take_cells(len(touched), size))
                    return int(forget_update(block, np.arange(len(touched)), np.asarray(counts, dtype=np.int64),
                                             touched, position_t, ids, self.k, COMPILED[measure.name], *lists))
        if code is not None:
            return int(update_dense(dense, _counts(read), touched, position_t, ids, self.k, code, self._nbr, self._val,
                                    self._length, tile, shared, get_num_threads(), forgets))
        recompute = np.zeros(size, dtype=np.bool_)
        with _Scratch() as scratch:  # the slabs' blocks and then the recomputed rows' share one pair of buffers
            if len(touched) * size <= CELLS:  # T's rows at once: their columns settle the other rows
                cells, buffer = scratch.take(len(touched), size)
                block, counts = read(touched, None, cells)
                similarity_t = similarity_block(measure, block, counts[touched], counts, buffer)
                update_rows(similarity_t, 0, touched, position_t, ids, self.k, self._nbr, self._val, self._length,
                            recompute, forgets)
                select_rows(similarity_t, touched, ids, self.k, self._nbr, self._val, self._length)
            else:  # a long history: a slab of T's columns at a time settles the other rows and grows T's lists
                width = max(1, CELLS // len(touched))
                self._length[touched] = 0
                for first in range(0, size, width):
                    columns = np.arange(first, min(first + width, size), dtype=np.int64)
                    cells, buffer = scratch.take(len(touched), len(columns))
                    block, counts = read(touched, columns, cells)
                    similarity_t = similarity_block(measure, block, counts[touched], counts[columns], buffer)
                    update_rows_wide(similarity_t, first, touched, position_t, ids, self.k, self._nbr, self._val,
                                     self._length, recompute, forgets)
                    merge_rows(similarity_t, first, touched, ids, self.k, self._nbr, self._val, self._length)
                padding = np.arange(self.k)[None, :] >= self._length[touched][:, None]  # as select_rows leaves it
                self._nbr[touched] = np.where(padding, -1, self._nbr[touched])
                self._val[touched] = np.where(padding, 0.0, self._val[touched])
            flagged = np.flatnonzero(recompute)
            if len(flagged):
                self._recompute(flagged, read, measure, ids, scratch)
        return len(touched) + len(flagged)

    # ------------------------------------------------------------------ reads
    def row(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """(neighbour internal indices, S) of ``item``, best first."""
        if not 0 <= item < self.size:
            return np.zeros(0, dtype=np.int32), np.zeros(0)
        filled = self._length[item]
        return self._nbr[item, :filled], self._val[item, :filled]

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """Σ over ``rows`` (in the given order) of their lists as a dense vector over the items,
        shape (size,): the item-kNN score. Summed in order, so equal inputs give equal bits."""
        rows = np.asarray(rows, dtype=np.int64)
        return _sum_lists(rows[rows < self.size], self._nbr, self._val, self._length, self.size)

    def candidate_scores(self, rows: np.ndarray) -> np.ndarray:
        """For every item b, Σ over its list entries that are among ``rows`` of S_ba, shape
        (size,): the item-kNN score with ``scoring="candidate"`` (reads items x K entries)."""
        rows = np.asarray(rows, dtype=np.int64)
        held = np.zeros(self.size, dtype=np.bool_)
        held[rows[rows < self.size]] = True
        return _sum_candidates(held, self._nbr, self._val, self._length, self.size)

    def changes_since(self, before: NeighbourIndex, ids: np.ndarray) -> tuple[np.ndarray, ...]:
        """Entries that differ from ``before`` (a fork of this index taken earlier): arrays
        (item, neighbour, old S, new S) in external ids, 0 for an entry not in that list, sorted
        by (item, neighbour)."""
        old_size = before.size
        rows = np.arange(self.size)
        differ = np.ones(self.size, dtype=bool)
        if old_size:
            common = rows[:old_size]
            differ[:old_size] = (
                (self._length[common] != before._length[common])
                | (self._nbr[common] != before._nbr[common]).any(axis=1)
                | (self._val[common] != before._val[common]).any(axis=1)
            )
        parts = []
        for row in rows[differ].tolist():
            old_n, old_v = before.row(row) if row < old_size else (np.zeros(0, np.int32), np.zeros(0))
            new_n, new_v = self.row(row)
            old, new = dict(zip(ids[old_n].tolist(), old_v.tolist())), dict(zip(ids[new_n].tolist(), new_v.tolist()))
            for neighbour in sorted(old.keys() | new.keys()):
                if old.get(neighbour, 0.0) != new.get(neighbour, 0.0):
                    parts.append((int(ids[row]), neighbour, old.get(neighbour, 0.0), new.get(neighbour, 0.0)))
        parts.sort()
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
        item, neighbour, old, new = zip(*parts)
        return np.array(item, np.int64), np.array(neighbour, np.int64), np.array(old), np.array(new)

    def digest(self, items: np.ndarray, ids: np.ndarray) -> bytes:
        """SHA-256 of the lists of ``items`` (internal indices, in the order given) as (external
        neighbour id, S bits) pairs: equal for equal indexes whatever the internal order."""
        digest = hashlib.sha256(b"amnesia-neighbours-v1 k=%d" % self.k)
        for start in range(0, len(items), 4096):
            chunk = items[start : start + 4096]
            lengths = self._length[chunk].astype(np.int64)
            keep = np.arange(self.k)[None, :] < lengths[:, None]
            digest.update(lengths.tobytes())
            digest.update(ids[self._nbr[chunk][keep]].astype(np.int64).tobytes())
            digest.update(self._val[chunk][keep].tobytes())
        return digest.digest()

    def nbytes(self) -> int:
        """Bytes of the arrays (shared ones counted by every holder)."""
        return self._nbr.nbytes + self._val.nbytes + self._length.nbytes
