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
        scores = self.x[self.row[user]] @ self.b
        alive = self.gram.diagonal() > 0
        seen = self.x[self.row[user]] > 0
        candidates = [j for j in range(len(self.items)) if alive[j] and not seen[j]]
        candidates.sort(key=lambda j: (-round(scores[j], 10), self.items[j]))
        return [self.items[j] for j in candidates[:k]]


pair_sets = st.sets(st.tuples(st.integers(0, 9), st.integers(0, 11)), min_size=3, max_size=50)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("forget"), st.integers(0, 12)),
        st.tuples(st.just("add"), st.lists(st.tuples(st.integers(0, 12), st.integers(0, 13)), min_size=1, max_size=6)),
        st.tuples(st.just("remove"), st.lists(st.tuples(st.integers(0, 12), st.integers(0, 13)), min_size=1, max_size=3)),
    ),
    max_size=12,
)


@settings(max_examples=80, deadline=None)
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
    if retrained is not None:
        assert model.fingerprint() == retrained.fingerprint()


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
