"""Forget 50 random users from the bundled MovieLens data and compare with a retrain."""

from __future__ import annotations

import numpy as np
import pytest

from amnesia import ItemCF
from amnesia.data.datasets import load


@pytest.mark.slow
def test_forgetting_50_movielens_users_equals_a_retrain():
    data = load("movielens-small")
    model = ItemCF.fit(data.interactions)
    forgotten = np.random.default_rng(2020).choice(model.users(), 50, replace=False).tolist()
    witness_item = 2571  # The Matrix: its count must drop by exactly the forgotten fans
    fans = sum(1 for user in forgotten if witness_item in model.history(user))
    count_before = model.count(witness_item)
    fork = model.fork()  # the hosted-demo path: a visitor's fork of a shared base
    for user in forgotten:
        changes = model.forget_user(user)
        assert changes.counts_dict() and all(new == old - 1 for old, new in changes.counts_dict().values())
        fork.forget_user(user)
    remaining = data.interactions[~data.interactions["user"].isin(forgotten)]
    retrained = ItemCF.fit(remaining)
    assert model.count(witness_item) == count_before - fans
    assert model.users() == retrained.users() and len(model.users()) == 560
    assert model.fingerprint() == retrained.fingerprint() == fork.fingerprint()
    probe = [1, 260, 296, 318, 356, 2571, 4993]
    assert np.array_equal(model.cooccurrences(probe), retrained.cooccurrences(probe))
    assert np.array_equal(fork.similarities(probe), retrained.similarities(probe))
    for user in retrained.users()[:5]:
        assert model.recommend(user) == retrained.recommend(user) == fork.recommend(user)
