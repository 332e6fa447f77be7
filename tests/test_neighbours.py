"""The top-K neighbour index beyond the conformance suite (tests/test_properties.py runs every
store x measure x K against a from-scratch reference): its bounded-memory path, its recompute
rule on data large enough to fill lists, its arguments and its reads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amnesia import ItemCF
from amnesia.errors import ArgumentError
from amnesia.limits import MAX_NEIGHBOURS
from amnesia.engine import neighbours as neighbours_module
from amnesia.engine.neighbours import NeighbourIndex

from .reference import ReferenceCF


@settings(max_examples=40, deadline=None)
@given(
    initial=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 14)), min_size=1, max_size=60),
    forgets=st.lists(st.integers(0, 9), max_size=4),
    added=st.lists(st.tuples(st.integers(20, 23), st.integers(0, 17)), max_size=20),
    k=st.sampled_from([1, 3]),
    cells=st.sampled_from([1, 7, 40]),
    fork=st.booleans(),
)
def test_long_histories_update_in_bounded_slabs_and_stay_exact(initial, forgets, added, k, cells, fork):
    """When T's rows exceed the cell budget, the other rows are settled a slab of columns at a
    time and T's rows a few at a time: the result still equals a fresh fit, also in a fork (its
    slabs read through the fork's log into one reused buffer, items only the fork knows included)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(neighbours_module, "CELLS", cells)
        model = ItemCF.fit(initial, neighbours=k, store="sparse")
        if fork:
            model = model.fork()
        reference = ReferenceCF(initial)
        for user in forgets:
            if user in reference.users():
                model.forget_user(user)
                reference.pairs = {p for p in reference.pairs if p[0] != user}
        if added:
            model.add(added)
            reference.pairs |= set(added)
        retrained = ItemCF.fit(sorted(reference.pairs), neighbours=k, store="dense")
    items = list(range(18))
    lists = reference.neighbour_lists(k)
    assert model.neighbour_lists(items) == [lists.get(item, []) for item in items]
    assert model.fingerprint() == retrained.fingerprint()


def test_adds_that_push_entries_past_a_full_lists_boundary_recompute_those_rows(monkeypatch):
    """On random data with full lists, adding users lowers S for rows outside T; the rows whose
    K-th entry falls are recomputed from C, and after 300 requests the lists equal a fit's."""
    recomputed: list[int] = []
    update = NeighbourIndex.update

    def counting(self, touched, *args, **kwargs):
        rows = update(self, touched, *args, **kwargs)
        recomputed.append(rows - len(np.unique(touched)))
        return rows

    monkeypatch.setattr(NeighbourIndex, "update", counting)
    rng = np.random.default_rng(7)
    pairs = {(int(u), int(i)) for u, i in zip(rng.integers(0, 150, 3000), rng.zipf(1.3, 3000) % 120)}
    for measure in ("jaccard", "cosine"):
        model = ItemCF.fit(sorted(pairs), measure, neighbours=10)
        live = set(pairs)
        for step in range(300):
            user = int(rng.integers(0, 200))
            history = {i for u, i in live if u == user}
            if history and step % 2:
                model.forget_user(user)
                live -= {(user, i) for i in history}
            else:
                new = {(user, int(i)) for i in rng.integers(0, 125, int(rng.integers(1, 30)))}
                model.add(sorted(new))
                live |= new
        assert model.fingerprint() == ItemCF.fit(sorted(live), measure, neighbours=10).fingerprint()
    assert sum(recomputed) > 0  # the boundary rule fired, and the rows it recomputed came out right


def test_neighbours_must_be_a_whole_number_of_at_least_one():
    for bad in (0, -1, 2.5, "5", True, 10**6, MAX_NEIGHBOURS + 1):
        with pytest.raises(ArgumentError, match="neighbours must be a whole number from 1 to 1,000 "):
            ItemCF.fit([(0, 1), (0, 2)], neighbours=bad)
    assert ItemCF.fit([(0, 1)], neighbours=np.int64(3)).neighbours == 3
    assert ItemCF.fit([(0, 1)], neighbours=MAX_NEIGHBOURS).neighbours == MAX_NEIGHBOURS
    assert ItemCF.fit([(0, 1)]).neighbours is None


def test_a_model_of_every_neighbour_has_no_lists_and_says_how_to_get_them():
    with pytest.raises(ArgumentError, match="neighbours=K"):
        ItemCF.fit([(0, 1), (0, 2)]).neighbour_lists([1])


def test_lists_keep_only_k_positive_neighbours_ties_to_the_smaller_id():
    # items 1..4 each co-occur once with item 0 and have one viewer: S(0, b) ties for b = 1..4
    pairs = [(0, 0), (0, 1), (1, 0), (1, 2), (2, 0), (2, 3), (3, 0), (3, 4), (4, 9)]
    model = ItemCF.fit(pairs, neighbours=2)
    assert model.neighbour_lists([0, 9, 77]) == [[(1, 0.25), (2, 0.25)], [], []]
    assert model.similar_items(0, 1) == [(1, 0.25)]
    # user 0 saw items 0 and 1; only lists that hold an item score it
    assert model.recommend(0) == [(2, 0.25)]
    assert model.explain(0, 2) == [(0, 0.25)]
    assert model.explain(0, 3) == []  # item 3 is in no list of user 0's items


def test_forgetting_can_empty_a_list_and_an_empty_model_recommends_nothing():
    model = ItemCF.fit([(0, 1), (0, 2)], neighbours=5)
    assert model.neighbour_lists([1, 2]) == [[(2, 1.0)], [(1, 1.0)]]
    model.forget_user(0)
    assert model.neighbour_lists([1, 2]) == [[], []]
    model.add([(5, 2), (5, 3)])
    assert model.neighbour_lists([1, 2, 3]) == [[], [(3, 1.0)], [(2, 1.0)]]
    assert model.fingerprint() == ItemCF.fit([(5, 2), (5, 3)], neighbours=5).fingerprint()


def test_the_fingerprint_covers_the_lists():
    """Two models with equal counts but different K, or a corrupted list, have other fingerprints."""
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    prints = {ItemCF.fit(pairs, neighbours=k).fingerprint() for k in (1, 2)} | {ItemCF.fit(pairs).fingerprint()}
    assert len(prints) == 3
    model = ItemCF.fit(pairs, neighbours=1)
    before = model.fingerprint()
    model._neighbours._val[0, 0] = np.nextafter(model._neighbours._val[0, 0], 0)  # one bit off
    assert model.fingerprint() != before


def test_a_fork_copies_the_lists_only_when_it_writes():
    base = ItemCF.fit([(0, 1), (0, 2), (1, 2), (1, 3)], neighbours=2)
    fork = base.fork()
    assert fork._neighbours._nbr is base._neighbours._nbr  # shared until a write
    fork.forget_user(1)
    assert fork._neighbours._nbr is not base._neighbours._nbr
    assert base.neighbour_lists([2]) == [[(1, 0.5), (3, 0.5)]]
    assert fork.neighbour_lists([2]) == [[(1, 1.0)]]
    assert base.nbytes() > 0 and fork.nbytes() >= fork._neighbours.nbytes()


def test_the_compiled_formulas_give_the_measures_own_bits():
    """Lists are built with compiled formulas; they must equal each measure's numpy formula bit
    for bit (counts up to 2^31, where cosine's product rounds), or lists would disagree with S."""
    from amnesia.engine.neighbours import COMPILED, similarity_block
    from amnesia.engine.similarity import MEASURES

    assert set(COMPILED) == set(MEASURES)  # a new measure gets a compiled formula (or is slower, not wrong)
    rng = np.random.default_rng(5)
    counts = rng.integers(1, 2**31 - 1, 400)
    rows = rng.integers(0, 400, 30)
    block = np.minimum(rng.integers(0, 2**31 - 1, (30, 400)), np.minimum(counts[rows][:, None], counts[None, :]))
    block[rng.random((30, 400)) < 0.3] = 0
    for measure in MEASURES.values():
        expected = measure(block, counts[rows][:, None], counts[None, :])
        assert similarity_block(measure, block, counts[rows], counts).tobytes() == expected.tobytes()


def test_with_neighbours_forks_a_model_with_other_lists():
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (3, 1), (3, 4)]
    base = ItemCF.fit(pairs)
    knn = base.with_neighbours(1)
    assert knn.neighbours == 1 and base.neighbours is None
    assert knn.fingerprint() == ItemCF.fit(pairs, neighbours=1).fingerprint()
    knn.forget_user(3)
    assert knn.fingerprint() == ItemCF.fit([p for p in pairs if p[0] != 3], neighbours=1).fingerprint()
    assert base.fingerprint() == ItemCF.fit(pairs).fingerprint()  # the shared model is untouched
    assert knn.with_neighbours(None).neighbours is None and knn.with_neighbours(2).neighbours == 2


def test_a_lean_fork_keeps_no_lists_and_rebuilds_them_when_read():
    """Checkpoints are lean forks: lists are derived state, so they are left out (a visitor's
    history keeps one checkpoint every few changes) and rebuilt from C on the first read."""
    pairs = [(0, 1), (0, 2), (1, 2), (1, 3), (2, 1), (2, 3)]
    model = ItemCF.fit(pairs, neighbours=2)
    checkpoint = model.fork(lean=True)
    assert checkpoint._neighbours is None and checkpoint.neighbours == 2
    model.forget_user(0)  # the checkpoint does not see it
    checkpoint.add([(9, 3)])  # a change before any read: nothing to update, built from the new C later
    assert checkpoint.fingerprint() == ItemCF.fit(pairs + [(9, 3)], neighbours=2).fingerprint()
    assert model.fingerprint() == ItemCF.fit(pairs[2:], neighbours=2).fingerprint()


def test_a_list_update_that_fails_half_way_drops_the_lists_and_keeps_the_change(monkeypatch):
    model = ItemCF.fit([(0, 1), (0, 2), (1, 2)], neighbours=1)

    def broken(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(NeighbourIndex, "update", broken)
    model.forget_user(0)  # the change itself is whole and accepted
    monkeypatch.undo()
    assert model._neighbours is None and isinstance(model.lists_error, MemoryError)  # none half-updated: rebuilt from C
    assert model.fingerprint() == ItemCF.fit([(1, 2)], neighbours=1).fingerprint()


def test_a_fault_in_the_list_update_is_kept_and_the_lists_are_rebuilt_right(monkeypatch):
    """Not a MemoryError but a bug: the same recovery, and the model says why (it had been swallowed,
    so a broken update kernel would only have shown as slower reads)."""
    model = ItemCF.fit([(0, 1), (0, 2), (1, 1), (1, 2), (2, 1), (2, 3)], neighbours=1)
    fault = ZeroDivisionError("a bug")

    def broken(*args, **kwargs):
        raise fault

    monkeypatch.setattr(NeighbourIndex, "update", broken)
    model.forget_user(2)  # accepted whole: time moves, nothing raised
    monkeypatch.undo()
    assert model._neighbours is None and model.time == 1 and model.lists_error is fault
    assert model.neighbour_lists([1, 2]) == [[(2, 1.0)], [(1, 1.0)]]
    assert model.fingerprint() == ItemCF.fit([(0, 1), (0, 2), (1, 1), (1, 2)], neighbours=1).fingerprint()
    model.add([(5, 1), (5, 3)])  # the next update works, from the rebuilt lists
    assert model.lists_error is None
    assert model.fingerprint() == ItemCF.fit(model.interactions(), neighbours=1).fingerprint()


def test_read_cost_with_lists_counts_list_entries_and_any_build():
    model = ItemCF.fit([(0, 1), (0, 2), (1, 2), (1, 3)], neighbours=2)
    assert model.read_cost([1, 2, 3]) == 3 * 2
    checkpoint = model.fork(lean=True)  # no lists yet: the first read builds them from C, 3 x 3 cells
    assert checkpoint.read_cost([1]) == 2 + 3 * 3
    assert ItemCF.fit([(0, 1), (0, 2), (1, 2), (1, 3)]).read_cost([1, 2, 3]) == 3 * 3  # full rows without lists


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0, 2.0]), min_size=1, max_size=200),
       k=st.integers(1, 12), seed=st.integers(0, 1000))
def test_top_positions_equals_a_full_sort_with_ties_to_the_smaller_id(values, k, seed):
    """The top k (positive scores, ties to the smaller id) after narrowing to the candidates at
    least as good as the k-th is exactly the top k of a full sort, many ties included."""
    from amnesia.engine.recommend import top_positions

    scores = np.array(values)
    ids = np.random.default_rng(seed).permutation(len(values) * 3)[: len(values)]
    expected = sorted((p for p in range(len(values)) if values[p] > 0), key=lambda p: (-values[p], ids[p]))[:k]
    assert top_positions(ids, scores, k).tolist() == expected


@pytest.mark.parametrize("measure", ["jaccard", "cosine"])
def test_lists_built_straight_from_a_dense_store_equal_the_row_by_row_build(measure):
    """A whole dense C (no overflow) builds the lists in one parallel pass; a sparse store, or a
    fork that changed, builds them row block by row block: the same lists, bit for bit."""
    rng = np.random.default_rng(9)
    pairs = sorted({(int(u), int(i)) for u, i in zip(rng.integers(0, 120, 2500), rng.zipf(1.3, 2500) % 150)})
    dense = ItemCF.fit(pairs, measure, store="dense", neighbours=7)
    assert dense._store.dense_matrix() is not None  # the fast path was taken
    sparse = ItemCF.fit(pairs, measure, store="sparse", neighbours=7)
    assert sparse._store.dense_matrix() is None
    assert dense.fingerprint() == sparse.fingerprint()
    fork = ItemCF.fit(pairs, measure, store="dense").fork()
    assert fork._store.dense_matrix() is not None  # an unchanged fork reads its base's C
    fork.forget_user(pairs[0][0])
    assert fork._store.dense_matrix() is None
    remaining = [p for p in pairs if p[0] != pairs[0][0]]
    assert fork.with_neighbours(7).fingerprint() == ItemCF.fit(remaining, measure, store="dense", neighbours=7).fingerprint()


@settings(max_examples=60, deadline=None)
@given(
    initial=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 13)), min_size=1, max_size=70),
    steps=st.lists(st.tuples(st.booleans(), st.integers(0, 13), st.lists(st.integers(0, 13), min_size=1, max_size=8)),
                   max_size=8),
    k=st.sampled_from([1, 2, 4]),
    measure=st.sampled_from(["jaccard", "cosine"]),
    tile_cells=st.sampled_from([1, 7, neighbours_module.TILE_CELLS]),
    part_cells=st.sampled_from([0, neighbours_module.PART_CELLS]),
)
def test_the_dense_in_place_update_equals_the_row_block_update_step_by_step(initial, steps, k, measure, tile_cells,
                                                                             part_cells):
    """A dense store (lists updated in one pass over C in place, tiles of rows whose S with T is
    read from T's rows: one row per tile up to all of them; T's own lists from the tiles' values,
    or with no room for their partial lists from C) and a sparse one (row blocks of S) keep the
    same lists after every forget and add, bit for bit."""
    from unittest import mock

    dense = ItemCF.fit(initial, measure, store="dense", neighbours=k)
    sparse = ItemCF.fit(initial, measure, store="sparse", neighbours=k)
    catalog = set(dense.items())
    with mock.patch.object(neighbours_module, "TILE_CELLS", tile_cells), \
            mock.patch.object(neighbours_module, "PART_CELLS", part_cells):
        _step_both(dense, sparse, catalog, steps)


def _step_both(dense: ItemCF, sparse: ItemCF, catalog: set, steps) -> None:
    for forget, user, add in steps:
        if forget:
            if dense.history_length(user):
                dense.forget_user(user), sparse.forget_user(user)
        else:
            add = [i for i in add if i in catalog]  # known items: the dense block keeps the dense path
            if add:
                dense.add_user(user, add), sparse.add_user(user, add)
        assert dense._store.dense_matrix() is not None
        assert dense.fingerprint() == sparse.fingerprint()


def test_a_long_add_updates_the_lists_within_one_pair_of_buffers():
    """A 1,500-item add on 2,000 items reads its rows a slab at a time and then recomputes the
    rows whose boundary fell: both share one C and one S buffer of CELLS cells (16 MB). The slabs'
    pair was still held while the recomputed rows took two more (34 MB): ten visitors' heavy
    requests at once took the app's server past its memory target."""
    import tracemalloc

    rng = np.random.default_rng(3)
    pairs = [(int(u), int(i)) for u, i in zip(rng.integers(0, 400, 30_000), rng.integers(0, 2_000, 30_000))]
    request = [(9_999, item) for item in range(0, 2_000, 4)] + [(9_999, item) for item in range(1, 2_000, 4)][:500]
    # the same add once on a throwaway copy first: on a cold numba cache (a fresh clone, this test run alone) the
    # kernels compile at their first call, and the compiler's memory is not the request's
    ItemCF.fit(pairs, neighbours=5).fork().add(request)
    model = ItemCF.fit(pairs, neighbours=5).fork()
    recomputed: list[int] = []
    original = NeighbourIndex._recompute

    def counting(self, rows, *args):
        recomputed.append(len(rows))
        return original(self, rows, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(NeighbourIndex, "_recompute", counting)
        tracemalloc.start()
        try:
            model.add(request)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert recomputed and recomputed[0] > 0  # the add lowered S: some full lists were recomputed from C
    cells = neighbours_module.CELLS
    assert peak < 2 * 8 * cells + 4 * 2**20, f"{peak / 2**20:.1f} MB"
    retrained = ItemCF.fit(sorted(set(pairs) | {(9_999, i) for i in range(0, 2_000, 4)} | {(9_999, i) for i in list(range(1, 2_000, 4))[:500]}),
                           neighbours=5)
    assert model.fingerprint() == retrained.fingerprint()


@settings(max_examples=40, deadline=None)
@given(initial=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 11)), min_size=1, max_size=40),
       forgets=st.lists(st.integers(0, 7), max_size=4), k=st.sampled_from([1, 2, 5]),
       measure=st.sampled_from(["jaccard", "cosine"]), layout=st.sampled_from(["dense", "sparse"]))
def test_candidate_scoring_after_forgets_equals_a_refit_and_says_what_scored(initial, forgets, k, measure, layout):
    model = ItemCF.fit(initial, measure, store=layout, neighbours=k, scoring="candidate")
    for user in forgets:
        if user in model.users():
            model.forget_user(user)
    retrained = model.retrained()
    assert (retrained.scoring, retrained.neighbours) == ("candidate", k)
    lists = dict(zip(model.items(), model.neighbour_lists(model.items())))
    for user in model.users():
        got = model.recommend(user, 5)
        assert [(r.item, r.score) for r in got] == [(r.item, r.score) for r in retrained.recommend(user, 5)]
        history = set(model.history(user))
        for r in got:  # "because you watched": the user's items in the candidate's own list, and they sum to its score
            reasons = model.explain(user, r.item, n=k)
            assert reasons == sorted(((i, v) for i, v in lists[r.item] if i in history), key=lambda p: (-p[1], p[0]))[:k]
            assert sum(v for _, v in reasons) == pytest.approx(r.score)


def test_scoring_is_checked_and_kept_by_forks():
    with pytest.raises(ArgumentError, match="scoring must be 'history'"):
        ItemCF.fit([(1, 2), (1, 3)], neighbours=2, scoring="items")
    model = ItemCF.fit([(1, 2), (1, 3), (2, 3), (2, 4)], neighbours=2)
    assert model.scoring == "history"
    other = model.with_neighbours(2, "candidate")
    assert (other.scoring, model.scoring, other.fork().scoring) == ("candidate", "history", "candidate")
    assert other.with_neighbours(1).scoring == "candidate"
    assert "scoring=candidate" in repr(other) and "scoring" not in repr(model)


def test_list_updates_reuse_at_most_two_zeroed_pairs_of_buffers(monkeypatch):
    """A fork's update reads its blocks into a pair of buffers left by an earlier update (a fresh
    pair was faulted in anew each time: up to 6 ms of a visitor's 13 ms forget). What is left is
    zeroed (it held a visitor's rows of C), at most SPARE pairs are kept, and none over CELLS."""
    from amnesia.engine.neighbours import SPARE, _Scratch

    monkeypatch.setattr(_Scratch, "_spare", [])
    pairs = [(u, i) for u in range(30) for i in range(40) if (u * 7 + i * 3) % 5 < 2]
    model = ItemCF.fit(pairs, neighbours=3).fork()  # a fork: its C is a log over the shared one
    model.forget_user(4)
    assert len(_Scratch._spare) == 1
    cells, values = _Scratch._spare[0]
    assert len(cells) > 0 and not cells.any() and not values.any()
    held = [_Scratch().__enter__() for _ in range(SPARE + 1)]  # three updates at once: one pair each
    for scratch in held:
        scratch.take(2, 3)[0][:] = 7
    assert _Scratch._spare == []
    for scratch in held:
        scratch.__exit__(None, None, None)
    assert len(_Scratch._spare) == SPARE and all(not c.any() for c, _ in _Scratch._spare)
    _Scratch._spare.clear()
    with _Scratch() as large:
        large.take(1, neighbours_module.CELLS + 1)
    assert _Scratch._spare == []  # over CELLS: not kept
    assert model.fingerprint() == ItemCF.fit(model.interactions(), neighbours=3).fingerprint()
