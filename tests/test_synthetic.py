"""The synthetic data sets reproduce the published shape they are given, exactly where it is exact."""

from __future__ import annotations

import numpy as np

from amnesia.data.synthetic import ML_1M, Shape, movielens_like

SMALL = Shape(users=2_000, items=1_500, interactions=120_000, median_user=40, max_user=700, max_item=900)


def test_counts_are_exact_and_the_tails_match_the_shape():
    data = movielens_like(SMALL, seed=4)
    per_user, per_item = data.groupby("user").size(), data.groupby("item").size()
    assert (len(data), data["user"].nunique(), data["item"].nunique()) == (120_000, 2_000, 1_500)
    assert not data.duplicated().any()  # nobody rates a movie twice
    assert per_user.min() >= 20 and per_user.max() == 700
    assert abs(per_user.median() - 40) <= 6
    assert 0.85 * 900 <= per_item.max() <= 1.15 * 900
    assert per_item.min() >= 1 and per_item.median() < per_item.mean() / 2  # a long tail
    assert data["user"].is_monotonic_increasing


def test_seeded():
    assert movielens_like(SMALL, seed=5).equals(movielens_like(SMALL, seed=5))
    assert not movielens_like(SMALL, seed=5).equals(movielens_like(SMALL, seed=6))


def test_the_1m_shape_is_generated_with_its_published_counts():
    data = movielens_like(ML_1M, seed=1)
    assert (len(data), data["user"].nunique(), data["item"].nunique()) == (1_000_209, 6_040, 3_706)
    assert np.isclose(data.groupby("item").size().max(), 3_428, rtol=0.15)
