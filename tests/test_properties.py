"""The conformance suite, run against every store and every measure: any sequence of requests leaves the model
equal to a retrain, ChangeSets list exactly the changed entries, forks are isolated, and the
fingerprint does not depend on the order of forgetting.

Every model is drawn with or without neighbour lists (K = 1, 2, 5 or every neighbour), so the
lists, recommendations from them and similar items are held to a from-scratch reference too.

Stores: dense, sparse, a tiered one (the 4 most popular items dense, the rest sparse rows),
and dense and sparse ones whose counts saturate at 3 so that the overflow table (used above
65,535 in real data) is exercised by small examples. Sparse pools compact as soon as they can,
so moving rows and compaction are exercised too.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amnesia import ItemCF, RequestError
from amnesia.errors import ArgumentError
from amnesia.engine.fingerprint import retrain_fingerprint
from amnesia.engine.similarity import MEASURES
from amnesia.engine.store import ArrayStore

from .reference import ReferenceCF

STORES = {  # name: (layout, saturation, shards)
    "dense": ("dense", None, None),
    "sparse": ("sparse", None, None),
    "tiered": (4, None, None),
    "dense-saturating": ("dense", 3, None),
    "sparse-saturating": ("sparse", 3, None),
    # C's rows split by item over W shards in this process (amnesia.engine.sharded); Ray's: test_ray_backend
    "sharded-1-dense": ("dense", None, 1),
    "sharded-2-sparse-saturating": ("sparse", 3, 2),
    "sharded-3-dense-saturating": ("dense", 3, 3),
}


# The fixture only returns a pure function (and lowers the saturation for the whole test), so
# sharing it between generated inputs is safe.
CONFORMANCE = settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Engine:
    """One engine under test: a store layout and a measure; ``fit`` and ``reference`` start both sides."""

    def __init__(self, layout, measure: str, shards: int | None = None, backend: str = "memory"):
        self.layout, self.measure, self.shards, self.backend = layout, measure, shards, backend

    def __call__(self, pairs, neighbours: int | None = None) -> ItemCF:
        return ItemCF.fit(pairs, self.measure, store=self.layout, neighbours=neighbours, backend=self.backend,
                          shards=self.shards)

    def reference(self, pairs) -> ReferenceCF:
        return ReferenceCF(pairs, self.measure)


@pytest.fixture(params=[(store, measure) for store in STORES for measure in MEASURES], ids="-".join)
def fit(request, monkeypatch):
    """ItemCF.fit on one of the stores with one of the measures (an empty set of pairs gives an
    empty model, which starts sparse); ``fit.reference`` is the plain model to compare with."""
    store, measure = request.param
    layout, saturation, shards = STORES[store]
    if saturation:
        monkeypatch.setattr(ArrayStore, "default_saturation", saturation)
    monkeypatch.setattr(ArrayStore, "compact_min_slots", 0)
    return Engine(layout, measure, shards)


USERS = st.integers(0, 7)
ITEMS = st.integers(0, 9)
PAIRS = st.lists(st.tuples(USERS, ITEMS), max_size=25)
NEIGHBOURS = st.sampled_from([None, 1, 2, 5])


def assert_matches_reference(model: ItemCF, reference: ReferenceCF) -> None:
    """Every read of the model equals the plain reference, and a retrain gives the same fingerprint."""
    assert model.users() == reference.users()
    assert model.items() == reference.items()
    for user in reference.users():
        assert model.history(user) == reference.history(user)
    counts = reference.counts()
    catalog = list(range(10))
    assert model.counts(catalog).tolist() == [counts.get(i, 0) for i in catalog]
    cooc = reference.cooccurrences()
    dense = model.cooccurrences(catalog)
    for a in catalog:
        for b in catalog:
            expected = counts.get(a, 0) if a == b else cooc.get((max(a, b), min(a, b)), 0)
            assert dense[a, b] == expected, (a, b)
            assert model.similarity(a, b) == reference.similarity(a, b)
    # into a caller's buffer (as the dashboard's scan reads a heavy user's rows), whatever it held
    for dtype in (np.int32, np.int64):
        buffer = np.full((10, 10), 7, dtype=dtype)
        assert model.cooccurrences(catalog, out=buffer) is buffer
        np.testing.assert_array_equal(buffer, dense)
        shuffled = [3, 9, 0, 7]
        assert model.cooccurrences(shuffled, catalog[::-1], out=buffer[:4]).tolist() == dense[np.ix_(shuffled, catalog[::-1])].tolist()
    assert model.num_interactions() == len(reference.pairs)
    k = model.neighbours
    retrained = ItemCF.fit(sorted(reference.pairs), reference.measure, neighbours=k)
    assert model.fingerprint() == retrained.fingerprint()
    # Verify's retrain, counted a few rows at a time and never kept, hashes to the same value
    assert retrain_fingerprint(sorted(reference.pairs), reference.measure, k, cells=12) == retrained.fingerprint()
    if k is None:
        assert model.fingerprint() == reference.fingerprint()
    else:  # the lists, entry for entry and bit for bit, against lists sorted from scratch
        lists = reference.neighbour_lists(k)
        assert model.neighbour_lists(catalog) == [lists.get(item, []) for item in catalog]
        assert [model.similar_items(item, 3) for item in catalog] == [lists.get(item, [])[:3] for item in catalog]
    for user in reference.users():
        got = [(r.item, r.score) for r in model.recommend(user, k=5)]
        expected = reference.recommend(user, k=5, neighbours=k)
        assert [item for item, _ in got] == [item for item, _ in expected]
        if k is None:
            assert [score for _, score in got] == pytest.approx([s for _, s in expected])
        else:  # summed in the same order: the same bits
            assert got == expected
        # bit-identical to a retrained model, not just close
        assert got == [(r.item, r.score) for r in retrained.recommend(user, k=5)]
    if k is not None:  # the same lists (equal to the model's, above) read the other way: each candidate from its own list
        candidate = retrained.with_neighbours(k, "candidate")
        for user in reference.users():
            got = [(r.item, r.score) for r in candidate.recommend(user, k=5)]
            assert got == reference.recommend(user, k=5, neighbours=k, scoring="candidate")


requests = st.lists(st.tuples(st.sampled_from(["Add", "Remove", "Forget"]), PAIRS), max_size=12)


def run(model: ItemCF, reference: ReferenceCF, steps, data) -> None:
    for kind, pairs in steps:
        before = model.fingerprint()
        if kind == "Forget":
            user = pairs[0][0] if pairs else 0
            if user in reference.users():
                changes = model.forget_user(user)
                gone = {(u, i) for u, i in reference.pairs if u == user}
                reference.pairs -= gone
                assert changes.interactions_dict() == {p: -1 for p in gone}
            else:
                with pytest.raises(RequestError):
                    model.forget_user(user)
                assert model.fingerprint() == before
            continue
        if kind == "Remove" and data.draw(st.booleans()):
            # mostly remove existing interactions, so removals actually happen
            pairs = [p for p in pairs if p in reference.pairs] or pairs
        request = {"change": kind, "interactions": [list(p) for p in pairs]}
        if kind == "Remove" and not set(pairs) <= reference.pairs:
            with pytest.raises(RequestError, match="not exist"):
                model.apply(request)
            assert model.fingerprint() == before  # atomic: nothing half-applied
            continue
        time_before = model.time
        changes = model.apply(request)
        assert changes.time == time_before + 1 == model.time
        flipped = set(pairs) - reference.pairs if kind == "Add" else set(pairs)
        assert changes.interactions_dict() == {p: (1 if kind == "Add" else -1) for p in flipped}
        reference.pairs = reference.pairs | set(pairs) if kind == "Add" else reference.pairs - set(pairs)


@CONFORMANCE
@given(initial=PAIRS, steps=requests, data=st.data(), neighbours=NEIGHBOURS)
def test_any_sequence_of_requests_equals_a_retrain(fit, initial, steps, data, neighbours):
    model, reference = fit(initial, neighbours), fit.reference(initial)
    run(model, reference, steps, data)
    assert_matches_reference(model, reference)


@CONFORMANCE
@given(initial=PAIRS, steps=requests, data=st.data(), neighbours=NEIGHBOURS)
def test_forks_are_exact_and_isolated(fit, initial, steps, data, neighbours):
    base = fit(initial, neighbours)
    base_print = base.fingerprint()
    if fit.shards is not None:  # a sharded model's rows live in its shards: no fork, it says so, nothing changes
        with pytest.raises(ArgumentError, match="cannot be forked"):
            base.fork()
        assert base.fingerprint() == base_print
        return
    fork, reference = base.fork(), fit.reference(initial)
    run(fork, reference, steps, data)
    assert_matches_reference(fork, reference)
    assert base.fingerprint() == base_print  # the parent never sees a fork's changes
    sibling = base.fork()
    assert sibling.fingerprint() == base_print
    grandchild = fork.fork()
    assert grandchild.fingerprint() == fork.fingerprint()


@CONFORMANCE
@given(initial=PAIRS, pairs=PAIRS.filter(bool), kind=st.sampled_from(["Add", "Remove"]))
def test_changeset_lists_exactly_the_changed_entries(fit, initial, pairs, kind):
    model = fit(initial)
    reference = fit.reference(initial)
    if kind == "Remove":
        pairs = [p for p in pairs if p in reference.pairs]
    old_n, old_c, old_s = reference.counts(), reference.cooccurrences(), reference.similarities()
    changes = model.apply({"change": kind, "interactions": [list(p) for p in pairs]})
    reference.pairs = reference.pairs | set(pairs) if kind == "Add" else reference.pairs - set(pairs)
    new_n, new_c, new_s = reference.counts(), reference.cooccurrences(), reference.similarities()

    def diff(old, new):
        keys = set(old) | set(new)
        return {k: (old.get(k, 0), new.get(k, 0)) for k in keys if old.get(k, 0) != new.get(k, 0)}

    assert changes.counts_dict() == diff(old_n, new_n)
    assert model.cooccurrence_changes(changes).as_dict() == diff(old_c, new_c)
    assert model.similarity_changes(changes).as_dict() == diff(old_s, new_s)
    # sorted as the stream emits them
    pairs_c = model.cooccurrence_changes(changes)
    assert list(zip(pairs_c.item_a, pairs_c.item_b)) == sorted(zip(pairs_c.item_a, pairs_c.item_b))


@CONFORMANCE
@given(initial=PAIRS, users=st.lists(USERS, unique=True, max_size=4), neighbours=NEIGHBOURS)
def test_forgetting_in_any_order_gives_the_same_fingerprint(fit, initial, users, neighbours):
    reference = fit.reference(initial)
    users = [u for u in users if u in reference.users()]
    forward, backward = fit(initial, neighbours), fit(initial, neighbours)
    for u in users:
        forward.forget_user(u)
    for u in reversed(users):
        backward.forget_user(u)
    remaining = [p for p in sorted(reference.pairs) if p[0] not in users]
    retrained = ItemCF.fit(remaining, fit.measure, neighbours=neighbours)
    assert forward.fingerprint() == backward.fingerprint() == retrained.fingerprint()


@settings(max_examples=80)
@given(
    pairs=st.lists(st.tuples(st.integers(0, 30), st.sampled_from([3, 7, 8, 40, 1_000_003, 2**31 - 1])), max_size=40),
    measure=st.sampled_from(sorted(MEASURES)), neighbours=NEIGHBOURS, cells=st.sampled_from([1, 5, 13, 1 << 22]),
)
def test_a_streamed_retrain_hashes_like_a_fitted_model(pairs, measure, neighbours, cells):
    """Verify's retrain (C counted a block of rows at a time, hashed, never kept) gives exactly the
    fingerprint of a fitted model: sparse and huge ids, blocks of one row to all rows, every measure and K."""
    fitted = ItemCF.fit(pairs, measure, neighbours=neighbours).fingerprint()
    assert retrain_fingerprint(pairs, measure, neighbours, cells=cells) == fitted
    if pairs:  # and it notices a missing interaction
        assert retrain_fingerprint(pairs[1:] if pairs[0] not in pairs[1:] else pairs[:0], measure, neighbours) != fitted


def test_property_helpers_can_fail():
    """The comparison above really compares: a model missing one interaction does not match."""
    reference = ReferenceCF([(0, 1), (0, 2), (1, 2)])
    with pytest.raises(AssertionError):
        assert_matches_reference(ItemCF.fit([(0, 1), (0, 2)]), reference)
    assert np.array_equal(ItemCF.fit(sorted(reference.pairs)).cooccurrences([1, 2]), [[1, 1], [1, 2]])


@settings(max_examples=30)
@given(initial=PAIRS.filter(lambda pairs: len({i for _, i in pairs}) > 1))
def test_the_fingerprint_names_the_measure(initial):
    """The same counts under two measures are two models: their fingerprints differ."""
    assert len({ItemCF.fit(initial, name).fingerprint() for name in MEASURES}) == len(MEASURES)


def changeset_fields(model: ItemCF, changes) -> tuple:
    """Everything a ChangeSet says, with the derived C and S changes, as comparable values."""
    plain = (changes.time, changes.change, changes.interactions_dict(), changes.counts_dict(), changes.touched_users)
    per_user = [(c.user, c.changed.tolist(), c.columns.tolist()) for c in changes.user_changes]
    return plain, per_user, model.cooccurrence_changes(changes).as_dict(), model.similarity_changes(changes).as_dict()


@settings(max_examples=80)
@given(initial=PAIRS, steps=requests, data=st.data())
def test_dense_and_sparse_stores_agree_step_by_step(initial, steps, data):
    models = [ItemCF.fit(initial, store=layout) for layout in ("dense", "sparse", 3)]
    assert len({model.fingerprint() for model in models}) == 1
    for kind, pairs in steps:
        if kind == "Forget":
            kind, pairs = "Remove", [(pairs[0][0], item) for item in models[0].history(pairs[0][0])] if pairs else []
        request = {"change": kind, "interactions": [list(p) for p in pairs]}
        outcomes = []
        for model in models:
            try:
                outcomes.append(changeset_fields(model, model.apply(request)))
            except RequestError as error:
                outcomes.append(str(error))
        assert outcomes[0] == outcomes[1] == outcomes[2]
        assert len({model.fingerprint() for model in models}) == 1


@pytest.mark.parametrize("layout", ["dense", "sparse"])
def test_a_fork_that_changed_many_users_reads_through_sparse_products(layout):
    """More than 32 changed users switch the fork's overlay from loops to sparse products."""
    rng = np.random.default_rng(3)
    initial = sorted({(int(u), int(i)) for u, i in rng.integers(0, 60, size=(400, 2))})
    base = ItemCF.fit(initial, store=layout)
    fork, reference = base.fork(), ReferenceCF(initial)
    for user in range(0, 60, 2):
        fork.forget_user(user) if user in reference.users() else None
        reference.pairs = {p for p in reference.pairs if p[0] != user}
    fork.add([(100 + k, k) for k in range(10)] + [(100 + k, k + 1) for k in range(10)])
    reference.pairs |= {(100 + k, k) for k in range(10)} | {(100 + k, k + 1) for k in range(10)}
    assert len(fork._store._rows) > 32
    assert fork.fingerprint() == ItemCF.fit(sorted(reference.pairs)).fingerprint()
    items = list(range(0, 60, 7))
    assert fork.cooccurrences(items).tolist() == ItemCF.fit(sorted(reference.pairs)).cooccurrences(items).tolist()
    assert base.fingerprint() == ItemCF.fit(initial).fingerprint()


@settings(max_examples=60)
@given(initial=PAIRS.filter(bool), neighbours=NEIGHBOURS, layout=st.sampled_from(["dense", "sparse", 3]))
def test_forget_user_is_the_remove_of_every_interaction(initial, neighbours, layout):
    """forget_user builds its plan from the user's row instead of parsing a request: its ChangeSet,
    the derived C and S changes and the state after are those of apply(Remove every pair)."""
    user = initial[0][0]
    fast, plain = (ItemCF.fit(initial, store=layout, neighbours=neighbours) for _ in range(2))
    request = {"change": "Remove", "interactions": [[user, item] for item in plain.history(user)]}
    got, expected = fast.forget_user(user), plain.apply(request)
    assert changeset_fields(fast, got) == changeset_fields(plain, expected)
    assert fast.fingerprint() == plain.fingerprint() and fast.time == plain.time
