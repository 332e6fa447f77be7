"""What a change did: measure_change and forget_effect against a plain reference."""

from __future__ import annotations

import itertools

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amnesia import ItemCF
from amnesia.dashboard.effects import (
    MIN_VIEWERS, TOP_PAIRS, _scan_block, _scan_block_numpy, _top_entries, forget_effect, measure_change,
)
from amnesia.engine.neighbours import COMPILED
from amnesia.engine.similarity import MEASURES

from .reference import ReferenceCF


def _dense_similarities(pairs: set[tuple[int, int]], items: list[int]) -> dict[tuple[int, int], tuple[int, float]]:
    """{(a, b): (C_ab, S_ab)} for a > b among ``items``, straight from the definition."""
    reference = ReferenceCF(pairs)
    counts, cooc = reference.counts(), reference.cooccurrences()
    table = {}
    for a, b in itertools.combinations(sorted(items), 2):
        c = cooc.get((b, a), 0)
        union = counts.get(a, 0) + counts.get(b, 0) - c
        table[(b, a)] = (c, c / union if c else 0.0)
    return table


def _apply(pairs: set, request: dict) -> set:
    moved = {tuple(p) for p in request["interactions"]}
    return pairs | moved if request["change"] == "Add" else pairs - moved


requests = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 11)), min_size=1, max_size=40, unique=True)


@settings(max_examples=40, deadline=None)
@given(start=requests, user=st.integers(0, 8), extra=st.lists(st.integers(0, 13), max_size=6, unique=True), block=st.sampled_from([1, 3, 256]))
def test_measure_change_equals_the_definition(start, user, extra, block):
    pairs = set(start)
    history = sorted(i for u, i in pairs if u == user)
    request = (
        {"change": "Remove", "interactions": [[user, i] for i in history]}
        if history and not extra
        else {"change": "Add", "interactions": [[user, i] for i in extra or [0]]}
    )
    before = ItemCF.fit(sorted(pairs))
    after = before.fork()
    changes = after.apply(request)
    effect = measure_change(before, after, changes.count_items.tolist(), changes.touched_users, block_rows=block)
    new_pairs = _apply(pairs, request)
    items = sorted({i for _, i in pairs | new_pairs})
    old, new = _dense_similarities(pairs, items), _dense_similarities(new_pairs, items)
    moved_c = {k for k in old if old[k][0] != new[k][0]}
    moved_s = {k for k in old if old[k][1] != new[k][1]}
    assert (effect.changed_c, effect.changed_s) == (len(moved_c), len(moved_s))
    # the stream's records: a -1 for each old value that was not 0, a +1 for each new one that is not
    assert effect.records_c == sum((old[k][0] > 0) + (new[k][0] > 0) for k in moved_c)
    assert effect.records_s == sum((old[k][1] > 0) + (new[k][1] > 0) for k in moved_s)
    n_old, n_new = ReferenceCF(pairs).counts(), ReferenceCF(new_pairs).counts()
    emptied = sorted(i for i in items if n_old.get(i, 0) > 0 and n_new.get(i, 0) == 0)
    assert list(effect.emptied) == emptied and effect.emptied_count == len(emptied)
    for ranking in effect.rankings:
        popular = {i for i in items if max(n_old.get(i, 0), n_new.get(i, 0)) >= ranking.min_viewers} - set(emptied)
        eligible = sorted((abs(new[k][1] - old[k][1]), k) for k in moved_s if set(k) <= popular)
        # the pairs are the largest changes, with exact values, largest first
        sizes = [abs(p.delta) for p in ranking.pairs]
        assert all(a >= b - 1e-9 for a, b in zip(sizes, sizes[1:]))  # equal fractions may differ in the last bit
        assert len(ranking.pairs) == min(len(eligible), TOP_PAIRS)
        if eligible:
            assert sizes[0] == pytest.approx(eligible[-1][0], rel=1e-6)
        for p in ranking.pairs:
            assert (p.c_old, p.s_old) == old[(p.item_a, p.item_b)] and (p.c_new, p.s_new) == new[(p.item_a, p.item_b)]
        # the ranked movies: those with a changed similarity to another movie of the tier, the largest first
        row_max = {i: max([abs(new[k][1] - old[k][1]) for k in moved_s if i in k and set(k) <= popular] or [0]) for i in popular}
        assert set(ranking.items) == {i for i, size in row_max.items() if size > 0}
        maxima = [row_max[i] for i in ranking.items]
        assert all(a >= b - 1e-6 for a, b in zip(maxima, maxima[1:]))
        # the listed pairs' movies lead, in the list's order, so the chart shows what the list names
        listed = list(dict.fromkeys(item for p in ranking.pairs for item in (p.item_a, p.item_b)))
        assert list(ranking.items[: len(listed)]) == listed


@pytest.mark.parametrize("similarity", ["jaccard", "cosine"])
def test_the_scan_counts_what_the_engines_derivation_streams(similarity):
    """The page's float32 scan (fast, for ranking) and the engine's float64 derivation (the export)
    are two computations of one definition: on MovieLens they count the same changed entries
    and the same stream records."""
    from amnesia.data.datasets import load
    from amnesia.records import change_records

    before = ItemCF.fit(load("movielens-small").interactions, similarity)
    after = before.fork()
    changes = after.forget_user(1)
    effect = measure_change(before, after, changes.count_items.tolist(), changes.touched_users)
    records = {"cooccurrences_c": 0, "similarities_s": 0}
    for record in change_records(after, changes, collections=tuple(records)):
        records[record["data"]] += 1
    assert (effect.records_c, effect.records_s) == (records["cooccurrences_c"], records["similarities_s"])
    assert effect.changed_c == 26_796 and effect.records_c == records["cooccurrences_c"] > effect.changed_c


@pytest.mark.parametrize("similarity", ["jaccard", "cosine"])
def test_the_compiled_scan_gives_the_numpy_scans_bits(similarity):
    """The per-entry scan is compiled for the known measures (numpy for any other): on MovieLens
    blocks of a heavy forget both give the same |ΔS| bits, the same counts and the same scores."""
    from amnesia.data.datasets import load

    before = ItemCF.fit(load("movielens-small").interactions, similarity)
    after = before.fork()
    changes = after.forget_user(68)  # 1,260 movies
    columns = np.array(before.items(), dtype=np.int64)
    touched = np.unique(changes.count_items)
    position = np.searchsorted(columns, touched)
    is_touched = np.zeros(len(columns), dtype=bool)
    is_touched[position] = True
    n_before, n_after = before.counts(columns), after.counts(columns)
    alive = ~((n_before > 0) & (n_after == 0))
    history = np.searchsorted(columns, before.history(68))
    for rows in (position[:128], position[-7:]):
        c_new = after.cooccurrences(columns[rows].tolist(), columns).astype(np.int32)
        c_old = c_new.copy()
        c_old[np.ix_(np.flatnonzero(np.isin(rows, history)), history)] += 1
        scores = np.zeros(len(columns)), np.zeros(len(columns))
        ds = np.empty(c_new.shape, dtype=np.float32)
        counted = _scan_block(c_new, c_old, rows, n_before, n_after, is_touched, columns, alive, COMPILED[similarity], ds, scores[0])
        reference, expected = _scan_block_numpy(MEASURES[similarity], c_new, c_old, rows, n_before, n_after, is_touched,
                                                columns, alive, scores[1])
        assert np.array_equal(ds.view(np.uint32), reference.view(np.uint32))
        assert tuple(map(int, counted)) == tuple(map(int, expected)) and counted[1] > 0
        np.testing.assert_allclose(scores[0], scores[1], rtol=1e-12, atol=0)
        # split between threads, yet every score is summed in the serial order: one thread gives the same bits
        single, ds_single = np.zeros(len(columns)), np.empty(c_new.shape, dtype=np.float32)
        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            again = _scan_block(c_new, c_old, rows, n_before, n_after, is_touched, columns, alive, COMPILED[similarity],
                                ds_single, single)
        finally:
            numba.set_num_threads(threads)
        assert np.array_equal(single.view(np.uint64), scores[0].view(np.uint64)) and tuple(again) == tuple(counted)
        assert np.array_equal(ds_single.view(np.uint32), ds.view(np.uint32))


def test_a_measure_without_a_compiled_formula_is_scanned_with_numpy_to_the_same_effect(monkeypatch):
    from amnesia.dashboard import effects
    from amnesia.data.datasets import load

    before = ItemCF.fit(load("toy").interactions)
    after = before.fork()
    changes = after.forget_user(0)
    compiled = measure_change(before, after, changes.count_items.tolist(), changes.touched_users)
    monkeypatch.setattr(effects, "COMPILED", {})
    assert measure_change(before, after, changes.count_items.tolist(), changes.touched_users) == compiled
    assert compiled.changed_s > 0


def test_measure_change_of_nothing():
    model = ItemCF.fit([(0, 0), (0, 1)])
    effect = measure_change(model, model.fork(), [], [])
    assert (effect.changed_c, effect.changed_s, effect.emptied_count) == (0, 0, 0)
    assert [r.min_viewers for r in effect.rankings] == list(MIN_VIEWERS) and effect.ranking(10).items == ()


def test_ranking_tiers_pick_the_largest_tier_not_above():
    model = ItemCF.fit([(u, i) for u in range(12) for i in range(3)] + [(0, 5)])
    after = model.fork()
    changes = after.forget_user(0)
    effect = measure_change(model, after, changes.count_items.tolist(), [0])
    assert effect.ranking(1).min_viewers == 1 and effect.ranking(9).min_viewers == 1 and effect.ranking(10).min_viewers == 10
    assert 5 not in effect.ranking(10).items and effect.emptied == (5,)


def test_forget_effect_matches_the_reference_recommender():
    pairs = {(u, i) for u in range(6) for i in range(8) if (u * 7 + i * 3) % 4 != 0}
    before = ItemCF.fit(sorted(pairs))
    after = before.fork()
    after.forget_user(2)
    effect = forget_effect(before, after, 2, k=3, max_users=4)
    reference_before, reference_after = ReferenceCF(pairs), ReferenceCF({p for p in pairs if p[0] != 2})
    forgotten = set(reference_before.history(2))
    share = {u: len(forgotten & set(reference_after.history(u))) / len(reference_after.history(u)) for u in reference_after.users()}
    shared = {u: len(forgotten & set(reference_after.history(u))) for u in reference_after.users()}
    examined = sorted(share, key=lambda u: (-share[u], -shared[u], u))[:4]
    assert effect.examined == 4
    expected = []
    for user in examined:
        old = [(i, round(s, 6)) for i, s in reference_before.recommend(user, 3)]
        new = [(i, round(s, 6)) for i, s in reference_after.recommend(user, 3)]
        if old != new:
            expected.append((user, old, new))
    # lists with other movies or order come first, each group in the order the users were examined
    expected.sort(key=lambda e: [i for i, _ in e[1]] == [i for i, _ in e[2]])
    assert [c.user for c in effect.changed] == [e[0] for e in expected]
    assert [c.user for c in effect.reordered] == [e[0] for e in expected if [i for i, _ in e[1]] != [i for i, _ in e[2]]]
    for (user, old, new), change in zip(expected, effect.changed, strict=True):
        assert [i for i, _ in change.before] == [i for i, _ in old] and [i for i, _ in change.after] == [i for i, _ in new]
        assert np.allclose([s for _, s in change.after], [s for _, s in new], atol=1e-6)
        assert change.left == {i for i, _ in old} - {i for i, _ in new}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 4), min_size=1, max_size=60),
    st.integers(1, 6),
    st.integers(1, 8),
    st.sampled_from([0.0, 0.5, 1.5]),
)
def test_top_entries_are_the_largest_ties_first_in_row_major_order(cells, columns, k, floor):
    """The k largest positive entries at or above the floor, largest first and, among equal
    values, smaller flat index first: the same as sorting every entry (the plain reference)."""
    values = np.array(cells + [0] * (-len(cells) % columns), dtype=np.float32).reshape(-1, columns)
    flat = values.reshape(-1)
    eligible = [i for i in range(flat.size) if flat[i] > 0 and flat[i] >= floor]
    expected = sorted(eligible, key=lambda i: (-flat[i], i))[:k]
    assert _top_entries(values, floor, k).tolist() == expected


def test_the_weights_change_of_an_ease_forget_is_every_moved_weight_of_b_measured_exactly():
    from amnesia.dashboard.effects import TOP_PAIRS, measure_weights_change
    from amnesia.engine.ease import EASE

    rng = np.random.default_rng(4)
    pairs = sorted({(int(u), int(i)) for u, i in zip(rng.integers(0, 30, 260), rng.integers(0, 25, 260))})
    before = EASE.fit(pairs, l2=3.0, min_viewers=2)
    after = before.fork()
    forgotten = max(before.users(), key=before.history_length)
    change = after.forget_user(forgotten)
    effect = measure_weights_change(before, after, change, block_rows=7)  # several blocks
    items = before.items_scored.tolist()
    old, new = before.weights(items), after.weights(items)
    delta = np.abs(new - old)
    assert effect.changed_s == np.count_nonzero(delta) > 0.9 * len(items) * (len(items) - 1)  # almost every weight moves
    # C changes: the forgotten user's pairs, exactly as the engine's records count them
    history = before.history(forgotten)
    assert effect.changed_c == len(history) * (len(history) - 1) // 2 and effect.records_s == 0
    ranking = effect.ranking(1)
    alive = after.counts_model.counts(items) > 0
    delta[:, ~alive] = 0
    delta[~alive] = 0
    a, b = np.unravel_index(np.argsort(-delta, axis=None, kind="stable")[:TOP_PAIRS], delta.shape)
    assert [(p.item_a, p.item_b) for p in ranking.pairs][:5] == [(items[i], items[j]) for i, j in zip(a[:5], b[:5])]
    first = ranking.pairs[0]
    assert (first.s_old, first.s_new) == (old[a[0], b[0]], new[a[0], b[0]])
    assert first.c_old - first.c_new == (first.item_a in history and first.item_b in history)
    # the window's movies: the forgotten user's own first (every one whose weights moved), each part in the
    # order of the listed pairs
    own = {item for item in history if item in items and after.counts_model.count(item) > 0}
    mine = [item for item in ranking.items if item in own]
    assert set(mine) == own and ranking.items[: len(mine)] == tuple(mine)
    listed = list(dict.fromkeys(item for pair in ranking.pairs for item in (pair.item_a, pair.item_b)))
    assert mine[:3] == [item for item in listed if item in own][:3]
    assert list(ranking.items[len(mine) :])[:2] == [item for item in listed if item not in own][:2]
