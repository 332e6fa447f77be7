"""The fork store's log of signed rows against a dense reference, and forks that stay bounded."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amnesia import ItemCF
from amnesia.engine import rowlog
from amnesia.engine.rowlog import SHORT, RowLog

WIDTH = 90


def _dense(rows: list[tuple[int, np.ndarray]], size: int) -> np.ndarray:
    total = np.zeros((size, size), dtype=np.int64)
    for sign, row in rows:
        total[np.ix_(row, row)] += sign
    return total


_row = st.lists(st.integers(0, WIDTH - 1), min_size=0, max_size=SHORT + 20, unique=True).map(lambda r: np.array(sorted(r), np.int32))
_batch = st.lists(st.tuples(st.sampled_from([1, -1]), _row), min_size=0, max_size=6)


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(_batch, min_size=1, max_size=12), data=st.data())
def test_reads_equal_the_dense_sum_after_any_appends_seals_and_merges(batches, data):
    """Short rows summed into pairs, long rows kept, chunks merged: every read equals Σ sign · row ⊗ row."""
    log, logged = RowLog(), []
    for batch in batches:
        log = log.append(list(batch)).sealed(WIDTH)
        logged += [(sign, row) for sign, row in batch]
    reference = _dense(logged, WIDTH)
    rows = np.array(data.draw(st.lists(st.integers(0, WIDTH + 5), max_size=8)), dtype=np.int64)
    cols = np.array(data.draw(st.lists(st.integers(0, WIDTH + 5), max_size=8)), dtype=np.int64)
    padded = np.zeros((WIDTH + 6, WIDTH + 6), dtype=np.int64)
    padded[:WIDTH, :WIDTH] = reference
    off = ~np.eye(WIDTH + 6, dtype=bool)  # the diagonal is n, written by the store: not the log's to answer
    got = log.block(rows, cols, WIDTH + 6)
    np.testing.assert_array_equal(got * off[np.ix_(rows, cols)], padded[np.ix_(rows, cols)] * off[np.ix_(rows, cols)])
    full = log.block(rows, None, WIDTH + 6)
    np.testing.assert_array_equal(full * off[rows], padded[rows] * off[rows])
    with pytest.MonkeyPatch.context() as patch:  # the same reads with the rows split between threads
        patch.setattr(rowlog, "WIDE_CELLS", 0)
        np.testing.assert_array_equal(log.block(rows, cols, WIDTH + 6), got)
        np.testing.assert_array_equal(log.block(rows, None, WIDTH + 6), full)
    a, b = rows[: len(cols)], cols[: len(rows)]
    np.testing.assert_array_equal(log.pairs(a, b) * (a != b), padded[a, b] * (a != b))
    assert len(log.chunks) <= 2 * max(1, int(np.log2(max(log.entries, 1))) + 1)  # the counter rule keeps few chunks


def test_read_cost_counts_the_work_of_long_rows():
    long = np.arange(0, 200, dtype=np.int32)
    log = RowLog().append([(1, long), (1, long), (-1, np.arange(3, dtype=np.int32))]).sealed(300)
    # two logged rows of 200 items hold item 5: reading its full row walks both (400); the short row is summed into pairs
    assert log.cost(np.array([5])) == 400 + 0
    assert log.cost(np.array([1])) == 400 + 2  # item 1's summed pairs: (1, 0) and (1, 2), each -1
    assert log.cost(np.array([250])) == 0


def test_many_forks_of_a_busy_fork_cost_what_changed():
    """Forking copied every changed user's row map (memory grew with the square of the changes)."""
    import tracemalloc

    rng = np.random.default_rng(3)
    base = ItemCF.fit(np.column_stack([rng.integers(0, 200, 4_000), rng.integers(0, 300, 4_000)]))
    model = base.fork()
    for user in range(1_000, 6_000):
        model.add_user(user, rng.choice(300, 3, replace=False).tolist())
    tracemalloc.start()
    checkpoints = [model.fork(lean=True) for _ in range(200)]
    grown = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert grown < 200 * 2_000  # a few hundred bytes a fork, not 5,000 users' rows (~0.5 MB) each
    assert checkpoints[-1].fingerprint() == model.fingerprint()
    reference = ItemCF.fit(model.interactions())
    assert checkpoints[0].similarities([0, 1, 2, 299]).tolist() == reference.similarities([0, 1, 2, 299]).tolist()


def test_distinct_counts_without_sorting_and_falls_back_for_large_ids():
    assert rowlog._distinct(np.array([3, 1, 2], np.int64))
    assert not rowlog._distinct(np.array([3, 1, 3], np.int64))
    assert rowlog._distinct(np.array([2**40, 5], np.int64))  # beyond the counting range: sorted instead
    assert not rowlog._distinct(np.array([2**40, 2**40], np.int64))
    assert rowlog._distinct(np.array([], np.int64)) and rowlog._distinct(np.array([7], np.int64))
