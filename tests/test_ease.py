"""EASE forgotten exactly: after any sequence of requests, P equals a new inverse of G + λI and the
recommendations equal a retrain's; bad requests change nothing. Compared with a plain numpy model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amnesia import AmnesiaError, RequestError, UnknownUserError
from amnesia.engine.ease import EASE, TOLERANCE


class PlainEASE:
    """The definition, in dense numpy: X (users x items) 0/1, G = XᵀX, P = (G + λI)⁻¹,
    B = I − P diag(1/diag P), scores x_u B."""

    def __init__(self, pairs: set[tuple[int, int]], items: list[int], l2: float):
        self.items = items
        users = sorted({u for u, _ in pairs})
        self.row = {u: k for k, u in enumerate(users)}
        x = np.zeros((len(users), len(items)))
        where = {item: k for k, item in enumerate(items)}
        for u, i in pairs:
            if i in where:
                x[self.row[u], where[i]] = 1.0
        self.x = x
        self.gram = x.T @ x
        self.p = np.linalg.inv(self.gram + l2 * np.eye(len(items)))
        self.b = np.eye(len(items)) - self.p / np.diagonal(self.p)[None, :]
        self.pairs = pairs

    def top(self, user: int, k: int) -> list[int]:
        if not self.x[self.row[user]].any():  # none of their items is scored: every score is 0, nothing to rank
            return []
        scores = self.x[self.row[user]] @ self.b
        alive = self.gram.diagonal() > 0
        seen = self.x[self.row[user]] > 0
        candidates = [j for j in range(len(self.items)) if alive[j] and not seen[j]]
        candidates.sort(key=lambda j: (-scores[j], self.items[j]))
        # scores within 1e-10 of the next one are one tie, ordered by item id
        groups, group = [], 0
        for position, j in enumerate(candidates):
            if position and scores[candidates[position - 1]] - scores[j] > 1e-10:
                group += 1
            groups.append(group)
        ranked = sorted(zip(groups, candidates), key=lambda p: (p[0], self.items[p[1]]))
        return [self.items[j] for _, j in ranked[:k]]


pair_sets = st.sets(st.tuples(st.integers(0, 9), st.integers(0, 11)), min_size=3, max_size=50)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("forget"), st.integers(0, 12)),
        st.tuples(st.just("add"), st.lists(st.tuples(st.integers(0, 12), st.integers(0, 13)), min_size=1, max_size=6)),
        st.tuples(st.just("remove"), st.lists(st.tuples(st.integers(0, 12), st.integers(0, 13)), min_size=1, max_size=3)),
    ),
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(start=pair_sets, steps=steps, l2=st.sampled_from([0.5, 3.0, 50.0]))
def test_any_sequence_of_requests_keeps_p_exact_and_recommendations_equal_to_a_retrain(start, steps, l2):
    model = EASE.fit(sorted(start), l2=l2)
    items = model.items_scored.tolist()
    pairs = set(start)
    for kind, argument in steps:
        fingerprint = model.fingerprint()
        p_before = model.inverse.copy()
        try:
            if kind == "forget":
                model.forget_user(argument)
                pairs = {(u, i) for u, i in pairs if u != argument}
            elif kind == "add":
                model.apply({"change": "Add", "interactions": [list(p) for p in argument]})
                pairs |= set(argument)
            else:
                model.apply({"change": "Remove", "interactions": [list(p) for p in argument]})
                pairs -= set(argument)
        except (RequestError, UnknownUserError):
            # rejected: nothing changed, not even P
            assert model.fingerprint() == fingerprint and np.array_equal(model.inverse, p_before)
    plain = PlainEASE(pairs, items, l2)
    np.testing.assert_allclose(model.inverse, plain.p, rtol=1e-9, atol=1e-12 * np.abs(plain.p).max())
    retrained = EASE.fit(sorted(pairs), l2=l2, items=items) if pairs else None
    for user in model.users():
        expected = plain.top(user, 5)
        assert [r.item for r in model.recommend(user, 5)] == expected
        assert [r.item for r in retrained.recommend(user, 5)] == expected
    if retrained is not None:  # G (and H, n) bit for bit
        assert model.fingerprint() == retrained.fingerprint()
        assert np.array_equal(model.counts_model.cooccurrences(items), retrained.counts_model.cooccurrences(items))
    np.testing.assert_array_equal(model.counts_model.cooccurrences(items).astype(np.float64), plain.gram)


def test_scores_weights_and_because_follow_the_definition():
    pairs = {(0, 1), (0, 2), (1, 1), (1, 3), (2, 2), (2, 3), (2, 1), (3, 4), (3, 1), (4, 2), (4, 4)}
    model = EASE.fit(sorted(pairs), l2=2.0)
    plain = PlainEASE(pairs, model.items_scored.tolist(), 2.0)
    np.testing.assert_allclose(model.weights(model.items_scored.tolist()), plain.b - np.diag(np.diagonal(plain.b)), atol=1e-12)
    scores = model.scores(0)
    expected = plain.x[plain.row[0]] @ plain.b
    seen = plain.x[plain.row[0]] > 0
    np.testing.assert_allclose(scores[~seen], expected[~seen], atol=1e-12)
    top = model.recommend(0, 1)[0]
    because = model.explain(0, top.item)
    b_column = plain.b[:, plain.items.index(top.item)]
    history = [1, 2]
    weights = {i: b_column[plain.items.index(i)] for i in history}
    expected_because = sorted(((i, w) for i, w in weights.items() if w > 0), key=lambda p: (-p[1], p[0]))[:3]
    assert [i for i, _ in because] == [i for i, _ in expected_because] == [1, 2]
    np.testing.assert_allclose([w for _, w in because], [w for _, w in expected_because], rtol=1e-12)


def test_a_fit_keeps_items_enough_people_watched_and_refuses_bad_settings():
    pairs = [(0, 1), (1, 1), (2, 1), (0, 2), (1, 2), (2, 5)]
    assert EASE.fit(pairs, min_viewers=2).items_scored.tolist() == [1, 2]
    assert EASE.fit(pairs).items_scored.tolist() == [1, 2, 5]
    for l2 in (0, -1.0, float("nan"), "100"):
        with pytest.raises(AmnesiaError, match="l2 must be a positive number"):
            EASE.fit(pairs, l2=l2)
    with pytest.raises(AmnesiaError, match="min_viewers must be a whole number of at least 1"):
        EASE.fit(pairs, min_viewers=0)


def test_forks_are_independent_and_unknown_users_are_explained():
    pairs = [(0, 1), (0, 2), (1, 1), (1, 3), (2, 2), (2, 3)]
    model = EASE.fit(pairs, l2=1.0)
    fork = model.fork()
    fork.forget_user(0)
    assert model.users() == [0, 1, 2] and fork.users() == [1, 2]
    assert not np.array_equal(model.inverse, fork.inverse)
    assert model.verify().exact and fork.verify().exact
    with pytest.raises(UnknownUserError, match="User 9 has no interactions left to forget"):
        model.forget_user(9)
    with pytest.raises(UnknownUserError, match="User 9 has no interactions"):
        model.recommend(9)


def test_after_many_updates_p_stays_within_the_tolerance_and_the_certificate_says_so():
    rng = np.random.default_rng(3)
    pairs = {(int(u), int(i)) for u, i in zip(rng.integers(0, 60, 900), rng.integers(0, 40, 900))}
    model = EASE.fit(sorted(pairs), l2=5.0)
    for step in range(100):  # forget a user, then add them back with other items
        user = int(rng.integers(0, 60))
        if model.counts_model.history_length(user):
            model.forget_user(user)
        items = sorted({int(i) for i in rng.integers(0, 40, 12)})
        model.apply({"change": "Add", "interactions": [[user, i] for i in items]})
    certificate = model.verify()
    assert certificate.exact and certificate.users_compared == len(model.users())
    assert certificate.max_rel_diff <= TOLERANCE and model.error() <= TOLERANCE


def _state(model: EASE) -> tuple[str, int, np.ndarray]:
    return model.fingerprint(), model.time, model.inverse.copy()


@pytest.mark.parametrize("request_", [
    '{"change": "Add", "interactions": [[0, 1], [1, 2]',  # not JSON
    {"change": "add", "interactions": [[0, 1]]},  # the kind is case-sensitive
    {"change": "Add", "interactions": [[0, -1]]},  # a negative id
    {"change": "Add", "interactions": [[0, 1.5]]},  # not an integer
    {"change": "Add", "interactions": [[0, 1, 2]]},  # not a pair
    {"change": "Remove", "interactions": [[0, 1], [0, 3]]},  # (0, 3) is not there: the whole request is refused
    {"change": "Remove", "interactions": [[7, 1]]},  # an unknown user
    {"interactions": [[0, 1]]},  # no kind
])
def test_a_bad_request_is_refused_with_a_message_and_changes_nothing(request_):
    model = EASE.fit([(0, 1), (0, 2), (1, 1), (1, 3), (2, 2), (2, 3)], l2=1.0)
    before = _state(model)
    with pytest.raises(AmnesiaError) as refused:
        model.apply(request_)
    assert str(refused.value)  # a message that says what is wrong
    fingerprint, time, inverse = _state(model)
    assert (fingerprint, time) == before[:2] and np.array_equal(inverse, before[2])


def test_a_request_over_the_limits_changes_nothing():
    from amnesia import APP_LIMITS
    model = EASE.fit([(0, 1), (0, 2), (1, 1)], l2=1.0)
    before = _state(model)
    too_many = {"change": "Add", "interactions": [[100 + u, 1] for u in range(APP_LIMITS.new_users + 1)]}
    with pytest.raises(AmnesiaError, match="new_users|users"):
        model.apply(too_many, APP_LIMITS)
    fingerprint, time, inverse = _state(model)
    assert (fingerprint, time) == before[:2] and np.array_equal(inverse, before[2])


def test_g_after_forgets_and_adds_is_bit_equal_to_a_retrains():
    pairs = {(u, i) for u in range(8) for i in range(10) if (u * 7 + i * 3) % 4 == 0}
    model = EASE.fit(sorted(pairs), l2=2.0)
    items = model.items_scored.tolist()
    model.forget_user(0)
    model.apply({"change": "Add", "interactions": [[9, 1], [9, 2], [0, 5]]})
    model.apply({"change": "Remove", "interactions": [[4, 0]]})
    remaining = (pairs - {p for p in pairs if p[0] == 0} | {(9, 1), (9, 2), (0, 5)}) - {(4, 0)}
    retrained = EASE.fit(sorted(remaining), l2=2.0, items=items)
    g, g_retrained = (m.counts_model.cooccurrences(items) for m in (model, retrained))
    assert g.dtype == np.int64 and np.array_equal(g, g_retrained)
    assert np.array_equal(model.counts_model.counts(items), retrained.counts_model.counts(items))
    assert model.fingerprint() == retrained.fingerprint()


def test_the_certificate_reports_the_difference_it_finds_and_a_refresh_repairs_it():
    rng = np.random.default_rng(5)
    pairs = sorted({(int(u), int(i)) for u, i in zip(rng.integers(0, 30, 200), rng.integers(0, 15, 200))})
    model = EASE.fit(pairs, l2=4.0)
    plain = PlainEASE(set(pairs), model.items_scored.tolist(), 4.0)
    clean = model.verify()
    assert clean.exact and clean.max_abs_diff <= 1e-15 and clean.users_compared == len(model.users())
    # corrupt P symmetrically by a known amount: the certificate must see exactly that
    model._p[2, 3] += 1e-6
    model._p[3, 2] += 1e-6
    corrupt = model.verify()
    assert corrupt.max_abs_diff == pytest.approx(1e-6, rel=1e-6)
    assert corrupt.max_rel_diff == pytest.approx(1e-6 / np.abs(plain.p).max(), rel=1e-6)
    assert not corrupt.exact and corrupt.fingerprint_equal
    assert model.error(probes=len(model.items_scored)) > TOLERANCE
    model.refresh()
    assert model.refreshes == 1 and model.verify().exact
    np.testing.assert_allclose(model.inverse, plain.p, rtol=1e-12, atol=1e-15)


def test_updates_recompute_p_when_the_measured_error_passes_the_tolerance():
    from amnesia.engine import ease
    rng = np.random.default_rng(6)
    pairs = sorted({(int(u), int(i)) for u, i in zip(rng.integers(0, 30, 200), rng.integers(0, 6, 200))})
    model = EASE.fit(pairs, l2=4.0)
    model._p += 1e-6  # every entry off: any probe column sees it
    for user in range(100, 100 + ease.CHECK_EVERY):
        model.apply({"change": "Add", "interactions": [[user, 0], [user, 1]]})
    assert model.refreshes == 1 and model.verify().exact


def test_a_request_touching_many_users_is_one_exact_woodbury_update_per_chunk():
    from amnesia.engine import ease
    rng = np.random.default_rng(7)
    pairs = {(int(u), int(i)) for u, i in zip(rng.integers(0, 40, 300), rng.integers(0, 20, 300))}
    model = EASE.fit(sorted(pairs), l2=3.0)
    items = model.items_scored.tolist()
    # existing users gain items (a downdate and an update each), new users arrive (an update each):
    # more vectors than one chunk holds
    batch = {(int(u), int(i)) for u, i in zip(rng.integers(0, 40 + ease.WOODBURY_RANK, 400), rng.integers(0, 20, 400))}
    model.apply({"change": "Add", "interactions": sorted(batch)})
    removed = sorted(p for p in pairs | batch if p[0] % 3 == 0)[:60]
    model.apply({"change": "Remove", "interactions": removed})
    remaining = (pairs | batch) - set(removed)
    plain = PlainEASE(remaining, items, 3.0)
    np.testing.assert_allclose(model.inverse, plain.p, rtol=1e-9, atol=1e-12 * np.abs(plain.p).max())
    assert model.verify().exact


@pytest.mark.slow
def test_movielens_forgets_and_a_batch_add_equal_a_retrain():
    """MovieLens latest-small over the 1,297 movies 20 users watched (the small item set): forget 30
    users one request each, add 10 of them back in one request (a Woodbury update), then P, G and
    every user's top-10 equal a retrain's on the remaining interactions."""
    from amnesia.data.datasets import load

    interactions = load("movielens-small").interactions
    model = EASE.fit(interactions, l2=100.0, min_viewers=20)
    assert len(model.items_scored) == 1297
    users = np.random.default_rng(18).choice(model.users(), 30, replace=False).tolist()
    histories = {u: model.counts_model.history(u) for u in users}
    for user in users:
        model.forget_user(user)
    back = users[:10]
    model.apply({"change": "Add", "interactions": [[u, i] for u in back for i in histories[u]]})
    gone = set(users[10:])
    remaining = interactions[~interactions["user"].isin(gone)]
    retrained = EASE.fit(remaining, l2=100.0, items=model.items_scored.tolist())
    assert model.fingerprint() == retrained.fingerprint()
    np.testing.assert_allclose(model.inverse, retrained.inverse, rtol=0, atol=1e-9 * np.abs(retrained.inverse).max())
    certificate = model.verify()
    assert certificate.exact and certificate.users_compared == 610 - 20


def test_blocked_building_inverting_and_row_sums_equal_the_plain_model(monkeypatch):
    """With blocks of 3 rows, G + λI is built, P's triangle mirrored and long histories summed
    in several blocks each: the same P and top-k as the plain model."""
    from amnesia.engine import ease
    monkeypatch.setattr(ease, "_BLOCK", 3)
    rng = np.random.default_rng(8)
    pairs = {(int(u), int(i)) for u, i in zip(rng.integers(0, 12, 150), rng.integers(0, 17, 150))}
    model = EASE.fit(sorted(pairs), l2=2.0)
    items = model.items_scored.tolist()
    np.testing.assert_allclose(model.inverse, PlainEASE(pairs, items, 2.0).p, rtol=1e-12, atol=1e-15)
    assert np.array_equal(model.inverse, model.inverse.T)
    model.forget_user(0)
    model.apply({"change": "Add", "interactions": [[1, i] for i in range(17)] + [[2, 0]]})
    pairs = {p for p in pairs if p[0] != 0} | {(1, i) for i in range(17)} | {(2, 0)}
    plain = PlainEASE(pairs, items, 2.0)
    np.testing.assert_allclose(model.inverse, plain.p, rtol=1e-9, atol=1e-12 * np.abs(plain.p).max())
    for user in model.users():
        assert [r.item for r in model.recommend(user, 5)] == plain.top(user, 5)


def test_an_update_that_cannot_be_right_recomputes_p_from_the_counts():
    model = EASE.fit([(0, 1), (0, 2), (1, 1), (1, 3), (2, 2), (2, 3)], l2=1.0)
    model._p *= 1e6  # so far from (G + λI)⁻¹ that forgetting user 0 gets a denominator 1 − xᵀPx < 0
    changes = model.forget_user(0)
    assert list(changes.touched_users) == [0] and model.refreshes == 1
    assert model.verify().exact and model.users() == [1, 2]


def test_scores_equal_but_for_rounding_tie_even_on_a_rounding_boundary():
    from amnesia.engine.ease import rank_with_ties
    boundary = 0.12345678905  # half-way between two 10-decimal values: rounding would split this tie
    scores = np.array([boundary + 2e-17, 0.5, boundary - 2e-17, -0.25, 0.5 + 1e-15])
    ids = np.array([9, 7, 3, 1, 8])
    assert ids[rank_with_ties(scores, ids)].tolist() == [7, 8, 3, 9, 1]
    assert rank_with_ties(np.zeros(0), np.zeros(0, dtype=np.int64)).tolist() == []


def test_an_ease_over_a_shared_models_counts_leaves_that_model_unchanged_and_equals_a_fit():
    from amnesia import ItemCF

    pairs = [(u, i) for u in range(8) for i in range(10) if (u * 7 + i * 3) % 4 != 0]
    shared = ItemCF.fit(pairs)
    before = shared.fingerprint()
    model = EASE.from_counts(shared.fork(), l2=2.0, min_viewers=3)
    fitted = EASE.fit(pairs, l2=2.0, min_viewers=3)
    assert model.items_scored.tolist() == fitted.items_scored.tolist()
    np.testing.assert_array_equal(model.inverse, fitted.inverse)
    model.forget_user(0)
    assert shared.fingerprint() == before and shared.history(0) == ItemCF.fit(pairs).history(0)
    assert model.history(0) == [] and model.history_length(1) == len(shared.history(1))
    with pytest.raises(AmnesiaError, match="l2 must be a positive number"):
        EASE.from_counts(shared.fork(), l2=True)


def test_weights_among_any_items_are_zero_outside_the_scored_set():
    pairs = [(0, 1), (0, 2), (1, 1), (1, 2), (2, 1), (2, 3), (3, 2), (3, 9)]
    model = EASE.fit(pairs, l2=1.0, min_viewers=2)  # items 1 and 2 are scored; 3 and 9 are not
    assert model.items_scored.tolist() == [1, 2] and model.is_scored(2) and not model.is_scored(9)
    weights = model.weights_among([9, 2, 3, 1])
    expected = np.zeros((4, 4))
    expected[np.ix_([1, 3], [1, 3])] = model.weights([2, 1])
    np.testing.assert_array_equal(weights, expected)
    assert weights[1, 3] != 0 and model.read_cost(model.history(0)) == 2 * 2


def test_recommend_checks_its_arguments_as_item_cf_does():
    """EASE.recommend(0, k=-1) returned [] where ItemCF's raised (a researcher's run)."""
    from amnesia.errors import ArgumentError

    model = EASE.fit([(0, 0), (0, 1), (1, 1), (1, 2), (2, 0), (2, 2)], l2=1.0)
    with pytest.raises(ArgumentError, match="k"):
        model.recommend(0, k=-1)
    with pytest.raises(ArgumentError, match="The user id must be an integer from 0 to"):
        model.recommend(-3)
    assert [r.item for r in model.recommend(0, k=1)] == [2]
