"""Store-specific behaviour the conformance suite cannot see: real uint16 overflow, memory per
request, atomic failure, pool compaction, the automatic layout."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from amnesia import ItemCF
from amnesia.engine.store import ArrayStore


@pytest.mark.parametrize("layout", ["dense", "sparse"])
def test_counts_above_65535_are_exact(layout):
    users = 70_000  # two items share 70,000 users: more than a uint16 holds
    pairs = [(u, 0) for u in range(users)] + [(u, 1) for u in range(users)] + [(u, 2) for u in range(0, users, 7)]
    model = ItemCF.fit(pairs, store=layout)
    assert model.cooccurrence(0, 1) == 70_000 and model.count(0) == 70_000 and model.cooccurrence(2, 1) == 10_000
    assert model._store._overflow == {(0, 1): 70_000}  # popular items have the smallest indices
    gone = list(range(5_000))
    changes = model.remove([(u, i) for u in gone for i in (0, 1)])
    assert model.cooccurrence(0, 1) == 65_000 and model._store._overflow == {}  # back below: exact in the array
    assert model.cooccurrence_changes(changes).as_dict()[(1, 0)] == (70_000, 65_000)
    model.add([(u, i) for u in gone for i in (0, 1)])
    assert model.cooccurrence(0, 1) == 70_000 and model._store._overflow == {(0, 1): 70_000}
    assert model.fingerprint() == ItemCF.fit(pairs, store="sparse" if layout == "dense" else "dense").fingerprint()


def test_adding_items_to_a_dense_model_does_not_allocate_items_squared():
    rng = np.random.default_rng(0)
    pairs = np.column_stack([rng.integers(0, 3_000, 60_000), rng.integers(0, 6_000, 60_000)])
    model = ItemCF.fit(pairs, store="dense")
    assert model.store_kind == "dense" and len(model.items()) > 5_900  # a dense block of ~72 MB
    new_items = list(range(100_000, 100_010)) + [1, 2, 3]  # ten items the model never saw
    model.fork().add_user(10_000, new_items)  # compiles the kernels on a cold numba cache: not the request's memory
    tracemalloc.start()
    model.add_user(10_000, new_items)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2_000_000  # growing the dense block would take (6,010)² × 2 bytes = 72 MB
    assert model.cooccurrence(100_000, 100_009) == 1 and model.similarity(100_003, 1) > 0
    assert model.fingerprint() == model.retrained().fingerprint()


@pytest.mark.parametrize("layout", ["dense", "sparse"])
def test_running_out_of_memory_while_preparing_changes_nothing(layout, monkeypatch):
    model = ItemCF.fit([(0, 0), (0, 1), (1, 1), (1, 2)], store=layout)
    before = model.fingerprint()

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(ArrayStore, "_reserve_items", no_memory)
    with pytest.raises(MemoryError):
        model.add([(2, 0), (2, 5), (0, 2)])
    with pytest.raises(MemoryError):
        model.forget_user(0)
    assert model.fingerprint() == before and model.time == 0 and model.history(0) == [0, 1]


def test_sparse_rows_move_and_the_pool_compacts(monkeypatch):
    monkeypatch.setattr(ArrayStore, "compact_min_slots", 64)
    rng = np.random.default_rng(1)
    pairs = sorted({(int(u), int(i)) for u, i in rng.integers(0, 40, size=(300, 2))})
    model = ItemCF.fit(pairs, store="sparse")
    store = model._store
    compactions = 0
    compact = store._compact

    def counting():
        nonlocal compactions
        compactions += 1
        compact()

    monkeypatch.setattr(store, "_compact", counting)
    for step in range(100):  # new items keep arriving: rows outgrow their slots again and again
        user = 100 + step
        new = rng.choice(np.arange(40, 48 + 4 * step), size=6, replace=False)
        items = np.unique(np.concatenate([rng.choice(20, size=4, replace=False), new])).tolist()
        model.add_user(user, items)
        pairs += [(user, i) for i in items]
        if step % 3 == 0:
            model.forget_user(100 + step // 2)
            pairs = [p for p in pairs if p[0] != 100 + step // 2]
    assert compactions > 0 and store._holes <= store._free
    assert model.fingerprint() == ItemCF.fit(pairs).fingerprint()


def test_auto_picks_the_smaller_store():
    rng = np.random.default_rng(2)
    # 20,000 items, users with 5 items each: C is very sparse, a dense block would be 800 MB
    sparse_data = np.column_stack([np.repeat(np.arange(4_000), 5), rng.integers(0, 20_000, 20_000)])
    assert ItemCF.fit(sparse_data).store_kind == "sparse"
    # 5,000 items, heavy users: C is mostly full
    dense_data = np.column_stack([np.repeat(np.arange(400), 600), rng.integers(0, 5_000, 240_000)])
    assert ItemCF.fit(dense_data).store_kind == "dense"
    assert ItemCF.fit([(0, 1)]).store_kind == "dense"  # tiny catalogs are dense
    assert ItemCF.fit([(0, 1)]).shard_kinds == ["dense"]  # one process: one store
    assert ItemCF.fit([(0, 1)]).checkpoint_error is None  # nothing to checkpoint
    assert ItemCF().store_kind == "sparse"  # an empty model grows item by item


def test_a_fork_that_adds_items_leaves_parent_and_sibling_alone():
    base = ItemCF.fit([(0, 0), (0, 1), (1, 1)], store="dense")
    printed = base.fingerprint()
    fork, sibling = base.fork(), base.fork()
    fork.add_user(5, [1, 50, 51])
    assert fork.cooccurrence(50, 1) == 1 and fork.count(51) == 1
    assert base.count(50) == 0 and sibling.count(50) == 0 and base.fingerprint() == sibling.fingerprint() == printed
    assert fork.fingerprint() == ItemCF.fit([(0, 0), (0, 1), (1, 1), (5, 1), (5, 50), (5, 51)]).fingerprint()
    base.forget_user(0)  # the parent goes on, on its own overlay
    assert fork.history(0) == [0, 1] and base.history(0) == []


@pytest.mark.parametrize("layout", ["dense", "sparse"])
def test_a_forgotten_user_leaves_no_trace_in_memory(layout):
    """Erasure, not just a mask: the fitted history and the sparse entries only that user made are gone."""
    model = ItemCF.fit([(0, 1), (0, 2), (1, 2), (1, 3), (7, 3), (7, 9), (7, 11)], store=layout)
    fitted = model._base_rows[7].base  # every fitted row is a view of one array
    only_theirs = set(model._index.lookup(np.array([9, 11]))[0].tolist())
    assert only_theirs <= set(fitted.tolist())
    model.forget_user(7)
    assert 7 not in model._base_rows and 7 not in model._rows
    assert not only_theirs & set(fitted.tolist())  # the fitted array no longer holds user 7's items
    store = model._store
    if layout == "sparse":
        live = np.concatenate([store._pool_val[s : s + n] for s, n in zip(store._starts, store._lengths)])
        assert (live > 0).all()  # no zero entry recalls a pair only user 7 had (3-9, 3-11, 9-11)
    assert model.fingerprint() == ItemCF.fit([(0, 1), (0, 2), (1, 2), (1, 3)]).fingerprint()
    # a model shared with a fork masks instead: the fork still has the user
    model = ItemCF.fit([(0, 1), (7, 3), (7, 9)], store=layout)
    fork = model.fork()
    model.forget_user(7)
    assert fork.history(7) == [3, 9] and model.history(7) == []


@pytest.mark.parametrize("layout", ["dense", "sparse"])
@pytest.mark.parametrize("similarity", ["jaccard", "cosine"])
def test_no_read_names_an_item_only_a_forgotten_user_had(layout, similarity):
    """Item 123 keeps its slot after its only viewer goes (indices are only appended), but a retrain
    never saw it: similarity_rows listed it among its columns (an engineer found the id there)."""
    pairs = [(0, 1), (0, 2), (1, 2), (1, 3), (2, 1), (2, 3)]
    model, retrain = ItemCF.fit(pairs, similarity, layout), ItemCF.fit(pairs, similarity, layout)
    model.add_user(9, [1, 123])
    model.forget_user(9)
    ids, rows = model.similarity_rows([1, 2, 123])
    retrain_ids, retrain_rows = retrain.similarity_rows([1, 2, 123])
    assert sorted(ids.tolist()) == sorted(retrain_ids.tolist()) == [1, 2, 3]
    order, retrain_order = np.argsort(ids), np.argsort(retrain_ids)
    assert rows[:, order].tolist() == retrain_rows[:, retrain_order].tolist()
    assert rows[2].tolist() == [0.0, 0.0, 0.0]  # the dead item's own row: nothing, as for an unknown one
    assert model.similar_items(1) == retrain.similar_items(1) and model.recommend(0) == retrain.recommend(0)


def test_an_empty_model_answers_reads():
    model = ItemCF()
    assert model.similar_items(1) == [] and model.similarity_rows([1])[1].shape == (1, 0)
    assert model.items() == [] and model.num_items() == 0 and model.fingerprint() == ItemCF.fit([]).fingerprint()


def test_layout_for_names_the_store_fit_builds():
    """The large benchmark asks which store a data set gets without building it: the same answer as fit."""
    rng = np.random.default_rng(8)
    wide = sorted({(int(u), int(i)) for u, i in zip(rng.integers(0, 300, 6000), rng.integers(0, 20_000, 6000))})
    for pairs in ([(0, 1), (1, 2)], wide):
        for layout in ("auto", "dense", "sparse"):
            assert ItemCF.layout_for(pairs, layout) == ItemCF.fit(pairs, store=layout).store_kind
    assert ItemCF.layout_for(wide, "auto") == "sparse"  # ~5,300 items, a few pairs each
    assert ItemCF.layout_for([], "auto") == "sparse"


@pytest.mark.parametrize("layout", ["dense", "sparse"])
def test_a_wide_read_in_any_column_order_has_n_on_its_diagonal(layout):
    """A read of 1,024 columns or more out of order (the dashboard's scan reads every movie in
    id order, which is not the store's) places n by a map of the columns instead of a sort."""
    rng = np.random.default_rng(5)
    pairs = sorted({(int(u), int(i)) for u, i in zip(rng.integers(0, 300, 6000), rng.integers(0, 1500, 6000))})
    model = ItemCF.fit(pairs, store=layout)
    items = np.array(model.items())
    rows, shuffled = items[rng.choice(len(items), 40, replace=False)], rng.permutation(items)
    ordered = model.cooccurrences(rows, np.sort(items))
    got = model.cooccurrences(rows, shuffled)
    np.testing.assert_array_equal(got, ordered[:, np.searchsorted(np.sort(items), shuffled)])
    assert [got[r, list(shuffled).index(item)] for r, item in enumerate(rows)] == model.counts(rows).tolist()
    fork = model.fork()
    fork.forget_user(pairs[0][0])
    np.testing.assert_array_equal(fork.cooccurrences(rows, shuffled),
                                  fork.cooccurrences(rows, np.sort(items))[:, np.searchsorted(np.sort(items), shuffled)])


@pytest.mark.parametrize("layout", ["dense", "sparse"])
def test_counts_saturate_after_a_forget_taught_the_store_they_were_low(layout, monkeypatch):
    # The store skips its saturation lookups while an upper bound of n is below saturation - 1;
    # a forget works the bound out (here 2), and later adds must raise it and saturate exactly.
    monkeypatch.setattr(ArrayStore, "default_saturation", 3)
    pairs = [(0, 10), (0, 11), (1, 10), (1, 11), (2, 12)]
    model = ItemCF.fit(pairs, store=layout)
    model.forget_user(2)
    assert model._store._peak == 2
    more = [(u, i) for u in range(3, 8) for i in (10, 11)]
    model.add(more)
    assert model._store._peak == 7 and model.cooccurrence(10, 11) == 7
    assert model._store._overflow == {(0, 1): 7}  # item 10 and 11 hold indices 0 and 1 (most popular first)
    model.forget_user(3)
    assert model.cooccurrence(10, 11) == 6 and model._store._overflow == {(0, 1): 6}
    rest = [(u, i) for u, i in pairs + more if u not in (2, 3)]
    assert model.fingerprint() == ItemCF.fit(rest, store=layout).fingerprint()


def test_a_write_without_the_saturation_test_leaves_every_other_cell_alone():
    """shift_dense adds to a whole row of columns without a branch and then undoes the diagonal:
    every cell it must not touch (the diagonal, other users' cells) keeps its value, bit for bit."""
    rng = np.random.default_rng(5)
    pairs = sorted({(u, int(i)) for u in range(40) for i in rng.choice(30, 8, replace=False)})
    model = ItemCF.fit(pairs, store="dense")
    store = model._store
    core = store._core.reshape(store.dense_size, store.dense_size)
    core[np.diag_indices_from(core)] = 7  # (unused by the store: any value must survive)
    before = core.copy()
    history = model.history(3)
    model.forget_user(3)
    rows = np.sort(model._index.lookup(np.asarray(history))[0])
    touched = np.zeros_like(core, dtype=bool)
    touched[np.ix_(rows, rows)] = True
    np.fill_diagonal(touched, False)
    assert (core[~touched] == before[~touched]).all() and (core[touched] == before[touched] - 1).all()
    model.add_user(3, history)
    assert (core == before).all()


@pytest.mark.parametrize("layout", ["sparse", 300])
def test_reads_of_many_columns_equal_the_plain_product(layout):
    """A read of 256 columns or more writes a short sparse row into a scratch row and reads every
    cell from it; a long one is still searched cell by cell. One read holds both kinds of row."""
    rng = np.random.default_rng(11)
    heavy = [(u, int(i)) for u in range(30) for i in rng.choice(1200, 1100, replace=False)]  # long rows: < 1,200
    light = [(u, int(i)) for u in range(30, 400) for i in 1200 + rng.choice(300, 3, replace=False)]  # short rows
    alone = [(1000 + i, i) for i in range(1500)]  # every item is live
    pairs = sorted(set(heavy + light + alone))
    history = np.zeros((2500, 1500))  # floats: BLAS's product, exact for counts this small
    history[tuple(np.array(pairs).T)] = 1
    model = ItemCF.fit(pairs, store=layout)
    rows, cols = rng.permutation(1500), rng.choice(1500, 256, replace=False)
    lengths = np.count_nonzero(history.T @ history, axis=1) - 1  # a row's stored entries (its diagonal is n)
    assert lengths[rows].min() < 100 and lengths[rows].max() > 4 * len(cols)  # both ways of reading a row
    for forgotten in (None, 3, 200):
        if forgotten is not None:
            model.forget_user(forgotten)
            history[forgotten] = 0
        product = (history.T @ history).astype(np.int64)
        np.testing.assert_array_equal(model.cooccurrences(rows, cols), product[np.ix_(rows, cols)])  # threads
        np.testing.assert_array_equal(model.cooccurrences(rows[:1], cols), product[np.ix_(rows[:1], cols)])  # serial
