"""What a change did: which similarities moved and by how much, and whose recommendations changed.

Pure library code (no Streamlit): the dashboard calls these right after a change, with the
model before (a fork taken just before) and after it, and keeps only the small results.

- :func:`measure_change` scans the rows of S (and C) of the items whose count changed, in
  blocks, and returns a :class:`ChangeEffect`: how much each movie's similarities moved
  (Σ|ΔS| and Σ|ΔC| per movie, to choose the focus window), the largest single similarity
  changes with their exact old and new values, and exact counts of the changed C and S
  entries (for the export's size estimate). Memory is bounded by the block size: nothing
  items² is created.
- :func:`forget_effect` compares the top-k lists of the users most affected by a forget.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ..engine.changes import ChangeSet, iter_cooccurrence_changes
from ..engine.ease import EASE
from ..engine.model import ItemCF
from ..engine.neighbours import COMPILED
from ..engine.similarity import Measure

#: Rows of S scanned at a time: bounds the scan's memory to ~4 arrays of BLOCK x items floats.
BLOCK_ROWS = 128
#: Largest similarity changes kept per change (the ranked list shows the first ten).
TOP_PAIRS = 50
#: Movies kept in the ranking that chooses the focus window (the page's slider goes up to this).
RANKED_ITEMS = 40


@dataclass(frozen=True)
class PairChange:
    """One changed entry of S (and C) with ``item_a > item_b``: values before and after. For
    EASE, one changed weight B from ``item_a`` (watched) to ``item_b`` (recommended), with G."""

    item_a: int
    item_b: int
    s_old: float
    s_new: float
    c_old: int
    c_new: int

    @property
    def delta(self) -> float:
        return self.s_new - self.s_old


#: Scans that may run at once in one process. Each holds a few blocks of rows (~40 MB on MovieLens
#: for a 3,000-movie request); ten visitors sending such requests together would otherwise hold ten
#: times that, and on two cores they finish no sooner side by side than in turn.
CONCURRENT_SCANS = 2
_SCANS = threading.BoundedSemaphore(CONCURRENT_SCANS)

#: Popularity tiers: the ranking and the list are also kept for movies at least this many people
#: watched (before or after the change), so that a presenter can show recognisable movies.
MIN_VIEWERS = (1, 10, 50)


@dataclass(frozen=True)
class Ranking:
    """The movies and pairs that changed most, among movies at least ``min_viewers`` people watched.

    - ``items``: up to :data:`RANKED_ITEMS` movies whose similarities moved most: the largest
      |ΔS| between the movie and another of the tier, then Σ|ΔS| over the movie's whole row of
      S, then smaller id first. So the movies of the largest single changes (``pairs``) come
      first, and the focus window shows what the ranked list describes. EASE's ranking
      (:func:`measure_weights_change`) puts the change's own movies first, each part in that order.
    - ``pairs``: up to :data:`TOP_PAIRS` single entries with the largest |ΔS|, exact values.
    Movies that lost their last viewer are left out of both (their similarities all became 0).
    """

    min_viewers: int
    items: tuple[int, ...]
    pairs: tuple[PairChange, ...]


@dataclass(frozen=True)
class ChangeEffect:
    """A small, exact summary of one change, kept in the visitor's log.

    - ``rankings``: one :class:`Ranking` per popularity tier of :data:`MIN_VIEWERS`.
    - ``changed_c``, ``changed_s``: how many C and S entries (``item_a > item_b``) changed.
    - ``records_c``, ``records_s``: how many change-stream records those changes make (a
      ``-1`` for each old value that was not 0, a ``+1`` for each new one that is not 0; see
      :mod:`amnesia.records`): the exact count the export's estimate uses.
    - ``emptied``: up to :data:`RANKED_ITEMS` movies whose count went to 0 (n = 0 now, so
      every similarity of theirs is 0; for EASE, only the movies it scores: the others have no weights);
      ``emptied_count``: how many there are in all.
    """

    rankings: tuple[Ranking, ...]
    changed_c: int
    changed_s: int
    emptied: tuple[int, ...]
    emptied_count: int
    records_c: int = 0
    records_s: int = 0

    @classmethod
    def nothing(cls) -> ChangeEffect:
        """The effect of a request that changed nothing."""
        return cls(tuple(Ranking(tier, (), ()) for tier in MIN_VIEWERS), 0, 0, (), 0)

    def ranking(self, min_viewers: int = 1) -> Ranking:
        """The ranking for the largest tier not above ``min_viewers``."""
        chosen = self.rankings[0]
        for ranking in self.rankings:
            if ranking.min_viewers <= min_viewers:
                chosen = ranking
        return chosen


def _similarity_f32(measure: Measure, cooc: np.ndarray, count_rows: np.ndarray, count_cols: np.ndarray) -> np.ndarray:
    """S = C / denominator(C, n_a, n_b) under the model's ``measure``, in float32, for ranking (0 where C = 0).

    Division is correctly rounded, so (for Jaccard, whose denominator is an integer) equal
    fractions give equal results: no change is counted that did not happen; two distinct
    values round to the same float32 only when their denominators pass ~2,800. Values shown
    to people are read exactly from the models.
    """
    c = cooc.astype(np.float32)
    denominator = measure.denominator(c, count_rows.astype(np.float32)[:, None], count_cols.astype(np.float32)[None, :])
    np.maximum(denominator, np.float32(1e-6), out=denominator)  # where C > 0 the denominator is >= 1
    c /= denominator
    return c


@njit(cache=True, nogil=True, inline="always")
def _similarity32(cooc, count_a, count_b, code):
    """One entry of :func:`_similarity_f32` for the measure ``code`` (neighbours.COMPILED): the same
    float32 operations in the same order, so both give the same bits."""
    value = np.float32(cooc)
    if code == 0:
        denominator = (np.float32(count_a) + np.float32(count_b)) - value
    else:
        denominator = np.sqrt(np.float32(count_a) * np.float32(count_b))
    if denominator < np.float32(1e-6):
        denominator = np.float32(1e-6)
    return value / denominator


@njit(parallel=True, cache=True, nogil=True)
def _scan_block(c_new, c_old, rows, n_before, n_after, is_touched, columns, alive, code, ds, s_score):
    """The per-entry part of :func:`_measure` for one block of rows, compiled, on every core.

    ``c_new``/``c_old``: the block's rows of C after and before (int32, rows x columns);
    ``rows``: their positions among the columns. Writes ``ds`` = |ΔS| in float32 (0 on the
    diagonal, for a pair already seen from its other touched row, and for movies no longer
    alive), adds each row's and each untouched column's sum of |ΔS| to ``s_score`` (before
    those zeros, as the numpy scan did), and returns the counts of changed C and S entries and
    their stream records.

    Rows are split between threads first (|ΔS|, row sums, counts), then columns (column sums,
    each added row after row as a serial loop adds them, so the scores' bits do not depend on
    the number of threads; then the zeros)."""
    height, width = c_new.shape
    row_sums = np.zeros(height)
    tallies = np.zeros((height, 4), dtype=np.int64)  # changed C, changed S, their records
    for i in prange(height):
        a = rows[i]
        row_sum = 0.0
        for j in range(width):
            new, old = c_new[i, j], c_old[i, j]
            if j == a or (new == 0 and old == 0):
                ds[i, j] = 0.0
                continue
            size = abs(_similarity32(new, n_after[a], n_after[j], code) - _similarity32(old, n_before[a], n_before[j], code))
            ds[i, j] = size
            row_sum += size
            if is_touched[j] and columns[j] >= columns[a]:  # seen from row j: kept where row id > column id
                continue
            ends = (old > 0) + (new > 0)
            if new != old:
                tallies[i, 0] += 1
                tallies[i, 2] += ends
            if size > 0:
                tallies[i, 1] += 1
                tallies[i, 3] += ends
        row_sums[i] = row_sum
    threads = 16
    step = (width + threads - 1) // threads
    for t in prange(threads):
        for i in range(height):
            a = rows[i]
            for j in range(t * step, min(width, (t + 1) * step)):
                if not is_touched[j]:
                    s_score[j] += ds[i, j]
                elif columns[j] >= columns[a]:
                    ds[i, j] = 0.0
                if not (alive[a] and alive[j]):
                    ds[i, j] = 0.0
    for i in range(height):
        s_score[rows[i]] += row_sums[i]
    totals = tallies.sum(axis=0)
    return totals[0], totals[1], totals[2], totals[3]


@njit(parallel=True, cache=True, nogil=True)
def _shift(block, rows, columns, delta):
    """block[rows[i], columns[j]] += delta for every i, j: one user's row of H taken off (or put
    back) a block of C, without the copies of numpy's ``np.ix_`` indexing."""
    for i in prange(len(rows)):
        for j in range(len(columns)):
            block[rows[i], columns[j]] += delta


def _top_entries(values: np.ndarray, floor: float, k: int = TOP_PAIRS) -> np.ndarray:
    """Flat indices of the ``k`` largest positive entries of a 2-D block at or above ``floor``.

    Cheaper than a partition of the whole block: the k-th largest row maximum is a lower
    bound of the k-th largest entry, so only entries at or above it are looked at. Ties at
    the cut keep the first entries in row-major order (smaller ids first); the result is
    ordered largest first, ties in row-major order.
    """
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    row_max = values.max(axis=1)
    # with at least k rows, k entries reach the k-th largest row maximum; with fewer, there is no bound
    bound = np.partition(row_max, len(row_max) - k)[len(row_max) - k] if len(row_max) >= k else 0.0
    flat = values.reshape(-1)
    found = np.flatnonzero(flat >= max(bound, floor, np.finfo(np.float32).tiny))
    if len(found) > k:
        # the k-th largest value, then everything above it and the first ties at it (row-major):
        # linear, where sorting every candidate took most of a heavy change's scan (many ties)
        values_found = flat[found]
        cut = np.partition(values_found, len(found) - k)[len(found) - k]
        above = values_found > cut
        ties = np.flatnonzero(values_found == cut)[: k - int(above.sum())]
        found = found[np.sort(np.concatenate([np.flatnonzero(above), ties]))]
    return found[np.argsort(-flat[found], kind="stable")]  # largest first, ties in row-major order


def measure_change(
    before: ItemCF, after: ItemCF, touched: Sequence[int], users: Sequence[int], block_rows: int = BLOCK_ROWS
) -> ChangeEffect:
    """The effect of the change that took ``before`` to ``after``.

    ``touched``: the items whose count n changed (a ChangeSet's ``count_items``); only their
    rows of C and S can change. ``users``: the users whose history changed. ``before`` must
    still be the model before the change (a fork taken just before it).

    Cost: reading len(touched) x items entries of C from ``before``, ``block_rows`` rows at a
    time (memory: a few blocks of that size). The new rows are not read again: C = HᵀH, so a
    user whose row of H went from h to h' moved C[a, :] by h'[a] h' - h[a] h.
    """
    touched = np.unique(np.asarray(list(touched), dtype=np.int64))
    if len(touched) == 0:
        return ChangeEffect.nothing()
    with _SCANS:
        return _measure(before, after, touched, users, block_rows)


def _scan_block_numpy(measure: Measure, c_new, c_old, rows, n_before, n_after, is_touched, columns, alive, s_score):
    """:func:`_scan_block` with numpy, for a measure without a compiled formula: returns (ds, counts)."""
    ds = _similarity_f32(measure, c_new, n_after[rows], n_after)
    ds -= _similarity_f32(measure, c_old, n_before[rows], n_before)
    np.abs(ds, out=ds)
    # S is 0 exactly where C is: a changed entry makes a -1 record where C was > 0, a +1 where it is
    ends = (c_old > 0).astype(np.int8) + (c_new > 0)
    dc = c_new != c_old
    local = np.arange(len(rows))
    ds[local, rows] = 0.0  # the diagonal (S_aa; C_aa = n_a) is not a pair
    dc[local, rows] = False
    s_score[rows] += ds.sum(axis=1, dtype=np.float64)
    s_score[~is_touched] += ds.sum(axis=0, dtype=np.float64)[~is_touched]
    # a pair of two touched items is seen from both of their rows: keep it where row id > column id
    twice = is_touched[None, :] & (columns[None, :] >= columns[rows][:, None])
    ds[twice] = 0.0
    dc[twice] = False
    counts = (np.count_nonzero(dc), np.count_nonzero(ds), ends[dc].sum(dtype=np.int64), ends[ds > 0].sum(dtype=np.int64))
    ds[:, ~alive] = 0.0  # pairs with a movie nobody watches any more are summarised, not ranked
    ds[~alive[rows]] = 0.0
    return ds, counts


def _measure(before: ItemCF, after: ItemCF, touched: np.ndarray, users: Sequence[int], block_rows: int) -> ChangeEffect:
    columns = np.array(sorted(set(before.items()) | set(after.items()) | set(touched.tolist())), dtype=np.int64)
    n_before, n_after = before.counts(columns), after.counts(columns)
    popularity = np.maximum(n_before, n_after)
    position = np.searchsorted(columns, touched)
    is_touched = np.zeros(len(columns), dtype=bool)
    is_touched[position] = True
    alive = ~((n_before > 0) & (n_after == 0))
    tier_columns = {tier: np.flatnonzero(alive & (popularity >= tier)) for tier in MIN_VIEWERS}
    s_max = {tier: np.zeros(len(columns), dtype=np.float32) for tier in MIN_VIEWERS}  # largest |ΔS| within the tier
    s_score = np.zeros(len(columns))
    changed_c = changed_s = records_c = records_s = 0
    best: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {tier: [] for tier in MIN_VIEWERS}
    floor = {tier: 0.0 for tier in MIN_VIEWERS}  # the TOP_PAIRS-th largest |ΔS| kept so far
    histories = [
        (np.searchsorted(columns, before.history(user)), np.searchsorted(columns, after.history(user))) for user in users
    ]
    code = COMPILED.get(after.measure.name)  # a measure without a compiled formula is scanned with numpy
    # one set of block buffers for the whole scan: fresh ones for each block were mapped and faulted
    # in anew (large blocks bypass the heap, see workspace._map_large_blocks_directly), ~0.1 s of a
    # heavy forget's scan on this machine
    height = min(block_rows, len(touched))
    buffers = np.empty((height, len(columns)), dtype=np.int32), np.empty((height, len(columns)), dtype=np.int32)
    scanned = np.empty((height, len(columns)), dtype=np.float32)
    for start in range(0, len(touched), block_rows):
        rows = position[start : start + block_rows]
        c_new, c_old = buffers[0][: len(rows)], buffers[1][: len(rows)]
        # read before the change: a visitor's first forget then reads the shared model's rows as
        # they are, where the fork after it adds its logged change to every row it reads
        before.cooccurrences(columns[rows], columns, out=c_old)  # C <= users: int32 is exact
        c_new[...] = c_old
        for old, new in histories:  # redo each user's change on these rows: C_new = C_old - h[a] h + h'[a] h'
            in_old = np.flatnonzero(np.isin(rows, old, assume_unique=True))
            in_new = np.flatnonzero(np.isin(rows, new, assume_unique=True))
            _shift(c_new, in_old, old, -1)
            _shift(c_new, in_new, new, 1)
        if code is not None:
            ds = scanned[: len(rows)]
            counted = _scan_block(c_new, c_old, rows, n_before, n_after, is_touched, columns, alive, code, ds, s_score)
        else:
            ds, counted = _scan_block_numpy(after.measure, c_new, c_old, rows, n_before, n_after, is_touched, columns, alive, s_score)
        changed_c, changed_s = changed_c + int(counted[0]), changed_s + int(counted[1])
        records_c, records_s = records_c + int(counted[2]), records_s + int(counted[3])
        for tier, keep in tier_columns.items():
            keep_rows = np.flatnonzero(popularity[rows] >= tier)
            sub = ds if tier == MIN_VIEWERS[0] else ds[np.ix_(keep_rows, keep)]
            if sub.size:  # each pair is in sub once: it counts for both of its movies
                sub_rows = rows if tier == MIN_VIEWERS[0] else rows[keep_rows]
                sub_cols = slice(None) if tier == MIN_VIEWERS[0] else keep
                s_max[tier][sub_rows] = np.maximum(s_max[tier][sub_rows], sub.max(axis=1))
                s_max[tier][sub_cols] = np.maximum(s_max[tier][sub_cols], sub.max(axis=0))
            top = _top_entries(sub, floor[tier])
            r, c = np.unravel_index(top, sub.shape)
            if tier != MIN_VIEWERS[0]:
                r, c = keep_rows[r], keep[c]
            best[tier].append((columns[rows[r]], columns[c], sub.reshape(-1)[top]))
            kept = np.concatenate([size for _, _, size in best[tier]])
            if len(kept) >= TOP_PAIRS:
                floor[tier] = float(np.partition(kept, len(kept) - TOP_PAIRS)[len(kept) - TOP_PAIRS])
    # each tier's largest pairs among those its blocks kept, then their exact values, read from
    # the models in one block per model (measure-agnostic) for the listed pairs' items only
    kept = {}
    for tier in MIN_VIEWERS:
        a, b, size = (np.concatenate(part) for part in zip(*best[tier]))
        top = np.lexsort((np.minimum(a, b), np.maximum(a, b), -size))[:TOP_PAIRS]
        kept[tier] = a[top], b[top]
    exact = _exact_values(before, after, np.unique(np.concatenate([np.concatenate(pair) for pair in kept.values()])))
    rankings = []
    for tier in MIN_VIEWERS:
        candidates = np.flatnonzero(s_max[tier] > 0)
        order = candidates[np.lexsort((columns[candidates], -s_score[candidates], -s_max[tier][candidates]))]
        a, b = kept[tier]
        pairs = tuple(exact(int(x), int(y)) for x, y in zip(a.tolist(), b.tolist()))
        # the movies of the listed pairs first, in the list's order: an item first appears in the
        # size-sorted pairs at its own largest |ΔS|, so this is still "largest |ΔS| first", and among
        # the many ties of a heavy forget the chart then shows the movies the ranked list names
        listed = [item for pair in pairs for item in (pair.item_a, pair.item_b)]
        items = tuple(dict.fromkeys(listed + columns[order].tolist()))[:RANKED_ITEMS]
        rankings.append(Ranking(tier, items, pairs))
    emptied = columns[~alive]
    return ChangeEffect(
        tuple(rankings), changed_c, changed_s, tuple(emptied[:RANKED_ITEMS].tolist()), len(emptied), records_c, records_s
    )


def _exact_values(before: ItemCF, after: ItemCF, ids: np.ndarray):
    """A function (a, b) -> PairChange with S and C before and after, read from the models for
    all of ``ids`` at once (``item_a > item_b`` in the result)."""
    items = ids.tolist()
    where = {item: k for k, item in enumerate(items)}
    s_old, s_new = before.similarities(items), after.similarities(items)
    c_old, c_new = before.cooccurrences(items), after.cooccurrences(items)

    def pair(a: int, b: int) -> PairChange:
        a, b = max(a, b), min(a, b)
        i, j = where[a], where[b]
        return PairChange(a, b, float(s_old[i, j]), float(s_new[i, j]), int(c_old[i, j]), int(c_new[i, j]))

    return pair


def measure_weights_change(before: EASE, after: EASE, change: ChangeSet, block_rows: int = BLOCK_ROWS) -> ChangeEffect:
    """The effect of the change that took EASE model ``before`` to ``after`` (same scored items):
    how every weight of B moved, as a :class:`ChangeEffect` whose pairs are *directed*
    (``item_a`` watched, ``item_b`` recommended: B_ab before and after in ``s_old``/``s_new``, G_ab
    in ``c_old``/``c_new``), ``changed_s`` the weights that changed and ``changed_c``/``records_c``
    the C entries (exact, from the engine, for the export's estimate). B is not in the change
    stream, so ``records_s`` is 0.

    Unlike item-CF, where only the rows of the changed movies move, one rank-one change of P
    moves almost every weight a little: the scan reads all of P, ``block_rows`` rows of B at a
    time (memory: a few blocks of block_rows x scored items floats)."""
    items = after.items_scored
    if not np.array_equal(items, before.items_scored):
        raise ValueError("before and after must score the same items")
    if len(items) == 0:  # nothing scored (min_viewers above every count): no weight to move
        return ChangeEffect.nothing()
    with _SCANS:
        return _measure_weights(before, after, change, block_rows)


def _weights_block(model: EASE, rows: slice, diagonal: np.ndarray) -> np.ndarray:
    """B[rows, :] = −P[rows, :] / diag(P) with B_jj = 0, float64."""
    block = -model.inverse[rows] / diagonal[None, :]
    start = rows.start
    local = np.arange(block.shape[0])
    block[local, start + local] = 0.0
    return block


def _measure_weights(before: EASE, after: EASE, change: ChangeSet, block_rows: int) -> ChangeEffect:
    items = after.items_scored
    k = len(items)
    counts = after.counts_model
    n_after = counts.counts(items.tolist())
    n_before = n_after.astype(np.int64).copy()
    where, inside = after.scored_positions(change.count_items)
    n_before[where[inside]] = change.count_old[inside]
    own = set(items[where[inside]].tolist())  # the scored movies whose n the change moved
    popularity = np.maximum(n_before, n_after)
    alive = n_after > 0
    diag_before, diag_after = np.diagonal(before.inverse).copy(), np.diagonal(after.inverse).copy()
    w_max = {tier: np.zeros(k) for tier in MIN_VIEWERS}
    w_score = np.zeros(k)
    best: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {tier: [] for tier in MIN_VIEWERS}
    floor = {tier: 0.0 for tier in MIN_VIEWERS}
    changed = 0
    for start in range(0, k, block_rows):
        rows = slice(start, min(start + block_rows, k))
        delta = _weights_block(after, rows, diag_after)
        delta -= _weights_block(before, rows, diag_before)
        np.abs(delta, out=delta)
        changed += int(np.count_nonzero(delta))
        w_score[rows] += delta.sum(axis=1)
        w_score += delta.sum(axis=0)
        delta[:, ~alive] = 0.0  # weights of a movie nobody watches any more are summarised, not ranked
        delta[~alive[rows]] = 0.0
        row_ids = np.arange(rows.start, rows.stop)
        for tier in MIN_VIEWERS:
            keep = popularity >= tier
            sub = delta * keep[None, :] * keep[row_ids][:, None]
            np.maximum.at(w_max[tier], row_ids, sub.max(axis=1, initial=0.0))
            np.maximum(w_max[tier], sub.max(axis=0, initial=0.0), out=w_max[tier])
            top = _top_entries(sub, floor[tier])
            r, c = np.unravel_index(top, sub.shape)
            best[tier].append((row_ids[r], c, sub.reshape(-1)[top]))
            kept = np.concatenate([size for _, _, size in best[tier]])
            if len(kept) >= TOP_PAIRS:
                floor[tier] = float(np.partition(kept, len(kept) - TOP_PAIRS)[len(kept) - TOP_PAIRS])
    rankings = []
    for tier in MIN_VIEWERS:
        a, b, size = (np.concatenate(part) for part in zip(*best[tier]))
        top = np.lexsort((items[b], items[a], -size))[:TOP_PAIRS]
        pairs = tuple((int(items[a[t]]), int(items[b[t]])) for t in top.tolist())
        candidates = np.flatnonzero(w_max[tier] > 0)
        order = candidates[np.lexsort((items[candidates], -w_score[candidates], -w_max[tier][candidates]))]
        listed = list(dict.fromkeys([item for pair in pairs for item in pair] + items[order].tolist()))
        # the change's own movies first: one rank-one change moves every weight of B, and the largest moves
        # can all be between movies the user never watched (a heavy forget), so a window of those alone showed
        # H, n and G unchanged at every step until B; the window is where the change happened, then its reach
        rankings.append((tier, tuple([i for i in listed if i in own] + [i for i in listed if i not in own])[:RANKED_ITEMS],
                         pairs))
    # exact values of the kept pairs, read from both models for all of their movies at once
    exact = _exact_weights(before, after, sorted({item for _, _, pairs in rankings for pair in pairs for item in pair}))
    rankings = [Ranking(tier, ranked, tuple(exact(a, b) for a, b in pairs)) for tier, ranked, pairs in rankings]
    changed_c = records_c = 0
    for chunk in iter_cooccurrence_changes(counts, change):  # the C records the export writes, exactly
        changed_c += len(chunk.old)
        records_c += int(np.count_nonzero(chunk.old) + np.count_nonzero(chunk.new))
    # only scored movies have weights to lose: a movie below min_viewers that lost its last viewer never had one
    emptied = change.count_items[(change.count_new == 0) & inside]
    return ChangeEffect(tuple(rankings), changed_c, changed, tuple(emptied[:RANKED_ITEMS].tolist()), len(emptied), records_c, 0)


def _exact_weights(before: EASE, after: EASE, items: list[int]):
    """A function (watched, recommended) -> PairChange with B and G before and after, read from
    the models for all of ``items`` (scored ids) at once (one B and one G block per model)."""
    where = {item: k for k, item in enumerate(items)}
    b_old, b_new = before.weights(items), after.weights(items)
    g_old, g_new = before.counts_model.cooccurrences(items), after.counts_model.cooccurrences(items)

    def pair(watched: int, recommended: int) -> PairChange:
        i, j = where[watched], where[recommended]
        return PairChange(watched, recommended, float(b_old[i, j]), float(b_new[i, j]), int(g_old[i, j]), int(g_new[i, j]))

    return pair


@dataclass(frozen=True)
class ListChange:
    """One user's top-k before and after a forget, as (item, score) pairs, best first."""

    user: int
    before: tuple[tuple[int, float], ...]
    after: tuple[tuple[int, float], ...]

    @property
    def left(self) -> set[int]:
        """Items that left the list."""
        return {item for item, _ in self.before} - {item for item, _ in self.after}

    @property
    def entered(self) -> set[int]:
        """Items that entered the list."""
        return {item for item, _ in self.after} - {item for item, _ in self.before}

    @property
    def reordered(self) -> bool:
        """True when the movies or their order changed, not only the scores."""
        return [item for item, _ in self.before] != [item for item, _ in self.after]


@dataclass(frozen=True)
class ForgetEffect:
    """How a forget changed other users' recommendations: ``examined`` users were compared
    (see :func:`forget_effect`), ``changed`` lists those whose top-``k`` changed (items or
    scores at 6 decimals). ``limited``: more users were exposed, but comparing them would have
    gone over the read budget."""

    forgotten_user: int
    k: int
    examined: int
    changed: tuple[ListChange, ...]
    limited: bool = False

    @property
    def reordered(self) -> tuple[ListChange, ...]:
        """The changed lists whose movies or order changed (not only the scores)."""
        return tuple(change for change in self.changed if change.reordered)


def forget_effect(
    before: ItemCF, after: ItemCF, forgotten_user: int, k: int = 5, max_users: int = 12, budget: int | None = None
) -> ForgetEffect:
    """Compare the top-``k`` lists, before and after forgetting ``forgotten_user``, of the
    ``max_users`` remaining users most exposed to the forget: those with the largest share of
    their movies that the forgotten user also watched (then more movies shared, then smaller
    id). Their scores are sums over exactly the similarities the forget moved.

    ``budget``: the most reading work (:meth:`ItemCF.read_cost`, both models) the comparisons
    may take; users are examined in order while the next one fits (a user with 3,000 movies
    among thousands of imported ones can cost a billion steps)."""
    forgotten = before.history(forgotten_user)
    others = [user for user in after.users() if user != forgotten_user]
    # one vectorised pass: how many of the forgotten user's movies each other user has
    shared = after.history_matrix(others, forgotten).sum(axis=1).astype(np.int64) if forgotten else np.zeros(len(others), np.int64)
    lengths = np.array([after.history_length(user) for user in others], dtype=np.int64)
    share = shared / np.maximum(lengths, 1)
    order = np.lexsort((np.array(others, dtype=np.int64), -shared, -share))[:max_users] if others else []
    candidates = [others[position] for position in order]
    examined, changed, spent, limited = [], [], 0, False
    for user in candidates:
        if budget is not None:
            history = before.history(user)
            cost = before.read_cost(history) + after.read_cost(history)
            if spent + cost > budget:
                limited = True
                break
            spent += cost
        examined.append(user)
        old = _top(before, user, k)
        new = _top(after, user, k)
        if old != new:
            changed.append(ListChange(user, old, new))
    changed.sort(key=lambda change: not change.reordered)  # lists with other movies or order first (stable)
    return ForgetEffect(forgotten_user, k, len(examined), tuple(changed), limited)


def _top(model: ItemCF, user: int, k: int) -> tuple[tuple[int, float], ...]:
    return tuple((int(rec.item), round(float(rec.score), 6)) for rec in model.recommend(user, k))
