"""The quality benchmark's protocol: the leave-latest-out split and the ranking metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amnesia.bench.quality import K, evaluate, leave_latest_out, metrics


def test_each_users_latest_is_the_test_item_and_the_second_latest_the_validation_item():
    interactions = pd.DataFrame({"user": [1, 1, 1, 1, 2, 2, 3, 3, 3], "item": [10, 11, 12, 13, 10, 11, 5, 6, 7]})
    times = np.array([4, 1, 3, 2, 1, 2, 7, 7, 1])  # user 3: items 5 and 6 tie at 7 -> the larger id is latest
    train, validation, test = leave_latest_out(interactions, times)
    assert test.values.tolist() == [[1, 10], [3, 6]]
    assert validation.values.tolist() == [[1, 12], [3, 5]]
    assert sorted(train.values.tolist()) == [[1, 11], [1, 13], [2, 10], [2, 11], [3, 7]]  # user 2 has too few


def test_metrics_of_one_held_out_item():
    top = np.array([[3, 1, 2] + [9] * (K - 3), [4, 5, 6] + [9] * (K - 3), [-1] * K])
    result = metrics(top, np.array([1, 6, 1]))
    assert result["hr"] == pytest.approx(2 / 3) and result["recall"] == result["hr"]
    assert result["ndcg"] == pytest.approx((1 / np.log2(3) + 1 / np.log2(4)) / 3)
    # the interval over users lies between the worst and best resample: all misses, and all hits at the best rank seen
    low, high = result["ndcg_ci"]
    assert 0 <= low < result["ndcg"] < high <= 1 / np.log2(3)
    assert metrics(np.array([[1] * K] * 4), np.array([1, 1, 1, 1]))["ndcg_ci"] == [1.0, 1.0]


@pytest.mark.parametrize("kind, setting", [("popularity", {}), ("item-CF cosine", {}), ("item-kNN jaccard", {"neighbours": 3}),
                                           ("item-kNN cosine", {"neighbours": 3, "scoring": "candidate"}), ("EASE", {"l2": 1.0}),
                                           ("weighted ALS", {"factors": 4, "regularization": 0.1, "alpha": 5.0})])
def test_every_model_ranks_unseen_items_only(kind, setting):
    rng = np.random.default_rng(0)
    pairs = pd.DataFrame({"user": rng.integers(0, 30, 400), "item": rng.integers(0, 25, 400)}).drop_duplicates()
    users, items = np.unique(pairs["user"]), np.unique(pairs["item"])
    held = pairs.groupby("user").tail(1)
    train = pairs.drop(held.index)
    scores = evaluate(kind, train, held, users, items, setting)
    assert 0 <= scores["ndcg"] <= scores["hr"] <= 1


def test_popularity_ranks_the_most_watched_unseen_items_first():
    train = pd.DataFrame({"user": [0, 1, 2, 0, 1, 0, 3], "item": [1, 1, 1, 2, 2, 3, 4]})
    held = pd.DataFrame({"user": [3, 2], "item": [1, 3]})  # user 2 has seen item 1: item 2, then item 3
    users, items = np.array([0, 1, 2, 3]), np.array([1, 2, 3, 4])
    result = evaluate("popularity", train, held, users, items, {})
    assert result["hr"] == 1.0 and result["ndcg"] == pytest.approx((1.0 + 1 / np.log2(3)) / 2)


def test_item_knn_is_tuned_over_k_and_both_scorings_and_old_runs_still_render():
    """The grid pairs every K with both ways of reading the lists; a saved run from before the
    scorings were compared (history only) still renders its table."""
    import json
    from pathlib import Path

    from amnesia.bench.quality import NEIGHBOURS, _settings, models_table

    grid = _settings("item-kNN jaccard")
    assert len(grid) == 2 * len(NEIGHBOURS) and {"neighbours": 5, "scoring": "candidate"} in grid
    old = json.loads((Path(__file__).resolve().parents[1] / "docs" / "bench" / "quality-1m.json").read_text())
    for entry in old["models"].values():
        for row in entry.get("test_by_setting", []):
            row.pop("scoring", None)
    table = models_table(old, ["x"], targets=False)
    assert "| K | jaccard, history | cosine, history |" in table
