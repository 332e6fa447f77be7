"""Unlearning methods and the matrix factorisation they act on, on a small structured data set."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from amnesia.errors import AmnesiaError
from amnesia.lab import methods as M
from amnesia.lab.data import FORGET_SETS, make_lab_data, rows_only, split_matrix, training_part
from amnesia.lab.methods import DEFAULT_METHOD_PARAMS
from amnesia.lab.mf import MF, ALSParams, fisher_diagonal, fit, fold_in, loss_and_gradients
from amnesia.lab.registry import APPROXIMATE, METHODS, TUNED, Method

from .conftest import clustered

PARAMS = ALSParams(factors=8, regularization=1.0, alpha=5.0, iterations=10)


@pytest.fixture(scope="module")
def data():
    return make_lab_data(clustered(), "random", share=0.1, seed=0, name="clustered")


@pytest.fixture(scope="module")
def original(data):
    return fit(data.train, PARAMS, seed=3)


def matrix_from(frame: pd.DataFrame, data) -> sp.csr_matrix:
    """Build the index-space matrix from external ids independently of the lab's own helpers."""
    rows = np.searchsorted(data.user_ids, frame["user"].to_numpy())
    cols = np.searchsorted(data.item_ids, frame["item"].to_numpy())
    return sp.csr_matrix((np.ones(len(frame), np.float32), (rows, cols)), shape=data.train.shape)


def forget_fit(model, data) -> float:
    """Mean relative loss of folding the forgotten users' histories into the item factors."""
    return float(fold_in(model.item_factors, data.train[data.forget], model.params)[1].mean())


def stored_scores(model, data) -> float:
    """Mean score the model's own vectors give the forgotten users' training items."""
    coo = data.forget_train().tocoo()
    return float(np.einsum("nk,nk->n", model.user_factors[coo.row], model.item_factors[coo.col]).mean())


# ---------------------------------------------------------------------------- data
def test_forget_sets_are_drawn_from_their_stratum(data):
    frame = clustered()
    activity = frame.groupby("user").size()
    for kind in FORGET_SETS:
        lab = make_lab_data(frame, kind, share=0.1, seed=0)
        forgotten = lab.user_ids[lab.forget]
        assert len(forgotten) == 9 and len(lab.outsider_ids) == 9
        assert not set(forgotten) & set(lab.outsider_ids)
        assert len(lab.user_ids) == 81  # outsiders never train
        pool = set(forgotten) | set(lab.outsider_ids)
        if kind == "core":
            assert min(activity[list(pool)]) >= activity.sort_values().iloc[-18]
        if kind == "edge":
            assert max(activity[list(pool)]) <= activity.sort_values().iloc[17]
    # train and test partition each training user's interactions, and the split is the same for every kind
    lab = make_lab_data(frame, "core", share=0.1, seed=0)
    population = frame[frame["user"].isin(lab.user_ids)].drop_duplicates()
    assert lab.train.nnz + lab.test.nnz == len(population)
    assert (lab.train.multiply(lab.test)).nnz == 0
    random = make_lab_data(frame, "random", share=0.1, seed=0)
    both = np.intersect1d(lab.user_ids, random.user_ids)
    rows_core, rows_random = np.searchsorted(lab.user_ids, both), np.searchsorted(random.user_ids, both)
    assert (lab.test[rows_core] != random.test[rows_random]).nnz == 0


def test_split_holds_out_a_fifth_of_each_user(data):
    matrix = sp.csr_matrix(np.ones((3, 10), np.float32))
    kept, held = split_matrix(matrix, 0.2, np.random.default_rng(0))
    assert np.diff(held.indptr).tolist() == [2, 2, 2] and kept.nnz == 24
    tuning = training_part(clustered(), seed=0)
    lab = make_lab_data(clustered(), "random", share=0.1, seed=0)
    test_pairs = set(zip(lab.user_ids[lab.test.tocoo().row], lab.item_ids[lab.test.tocoo().col]))
    assert not test_pairs & set(zip(tuning["user"], tuning["item"]))  # tuning never sees a test item


def test_too_few_users_is_refused_before_any_work():
    with pytest.raises(AmnesiaError, match="too few"):
        make_lab_data(pd.DataFrame({"user": [1, 2, 3], "item": [1, 1, 1]}), "random", share=0.1)
    with pytest.raises(AmnesiaError, match="Unknown forget set"):
        make_lab_data(clustered(), "middle")


# ---------------------------------------------------------------------------- the model
def test_fit_is_deterministic_per_seed_and_zeroes_users_without_data(data):
    a, b = fit(data.train, PARAMS, seed=1), fit(data.train, PARAMS, seed=1)
    assert np.array_equal(a.user_factors, b.user_factors) and np.array_equal(a.item_factors, b.item_factors)
    assert not np.array_equal(a.item_factors, fit(data.train, PARAMS, seed=2).item_factors)
    retrained = fit(data.retained_train(), PARAMS, seed=1)
    assert not retrained.user_factors[data.forget].any()
    unseen = np.bincount(data.retained_train().indices, minlength=data.train.shape[1]) == 0
    assert not retrained.item_factors[unseen].any()


def test_fits_do_not_depend_on_the_thread_count(data):
    one, two = fit(data.train, PARAMS, seed=4, threads=1), fit(data.train, PARAMS, seed=4, threads=2)
    assert np.array_equal(one.item_factors, two.item_factors) and np.array_equal(one.user_factors, two.user_factors)


def test_itemcf_measurement_ranks_as_the_engine_recommends(data):
    from amnesia import ItemCF
    from amnesia.lab.evaluate import make_context, measure_itemcf

    model = ItemCF.fit(data.interactions())
    ctx = make_context(data)
    measured = measure_itemcf(model, ctx, block_rows=7)  # several blocks of S rows
    for row, user in enumerate(ctx.users):
        engine = [rec.item for rec in model.recommend(int(data.user_ids[user]), 10)]
        assert data.item_ids[measured.top[row][: len(engine)]].tolist() == engine


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    matrix = sp.csr_matrix((rng.random((5, 7)) < 0.4).astype(np.float32))
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(7, 3))
    params = ALSParams(factors=3, regularization=0.3, alpha=4.0)
    dense, weights = matrix.toarray(), np.where(matrix.toarray() > 0, 4.0, 1.0)
    loss, grad_x, grad_y = loss_and_gradients(x, y, matrix, params)
    assert loss == pytest.approx((weights * (dense - x @ y.T) ** 2).sum() + 0.3 * ((x**2).sum() + (y**2).sum()))
    step = 1e-6
    for i, k in [(0, 0), (3, 2), (4, 1)]:
        bumped = x.copy()
        bumped[i, k] += step
        assert grad_x[i, k] == pytest.approx(
            (loss_and_gradients(bumped, y, matrix, params)[0] - loss) / step, rel=1e-4, abs=1e-4
        )
    for j, k in [(0, 1), (6, 2)]:
        bumped = y.copy()
        bumped[j, k] += step
        assert grad_y[j, k] == pytest.approx(
            (loss_and_gradients(x, bumped, matrix, params)[0] - loss) / step, rel=1e-4, abs=1e-4
        )
    observed, _, grad_obs = loss_and_gradients(x, y, matrix, params, observed_only=True, regularize=False)
    assert observed == pytest.approx((4.0 * (dense - x @ y.T) ** 2 * (dense > 0)).sum())
    bumped = y.copy()
    bumped[2, 0] += step
    assert grad_obs[2, 0] == pytest.approx(
        (loss_and_gradients(x, bumped, matrix, params, observed_only=True, regularize=False)[0] - observed) / step,
        rel=1e-4,
        abs=1e-4,
    )
    fisher_x, fisher_y = fisher_diagonal(x, y, matrix, params)
    assert fisher_y[6, 2] == pytest.approx((weights[:, 6] * x[:, 2] ** 2).sum() + 0.3)
    assert fisher_x[1, 0] == pytest.approx((weights[1, :] * y[:, 0] ** 2).sum() + 0.3)


def test_fold_in_solves_the_user_step_and_reports_its_relative_loss():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(9, 4))
    histories = sp.csr_matrix(np.array([[1, 0, 1, 1, 0, 0, 0, 0, 1], [0] * 9], dtype=np.float32))
    params = ALSParams(factors=4, regularization=0.5, alpha=3.0)
    x, loss = fold_in(y, histories, params)
    h, w = histories.toarray()[0], np.where(histories.toarray()[0] > 0, 3.0, 1.0)
    expected = np.linalg.solve(y.T @ (w[:, None] * y) + 0.5 * np.eye(4), y.T @ (w * h))
    assert x[0] == pytest.approx(expected)
    direct = (w * (h - y @ expected) ** 2).sum() + 0.5 * expected @ expected
    assert loss[0] == pytest.approx(direct / (3.0 * 4))
    assert loss[1] == 1.0 and not x[1].any()  # an empty history: no vector, nothing explained


# ---------------------------------------------------------------------------- exact methods
def test_retrain_equals_a_fit_on_the_retained_data(data, original):
    retrained = M.retrain(original, data.train, data.forget, seed=11)
    independent = fit(matrix_from(data.interactions(data.retained), data), PARAMS, seed=11)
    assert np.array_equal(retrained.user_factors, independent.user_factors)
    assert np.array_equal(retrained.item_factors, independent.item_factors)
    assert not retrained.user_factors[data.forget].any()


def test_sisa_retrains_exactly_the_shards_that_held_a_forgotten_user(data):
    partition = M.sisa_partition(data.train.shape[0], 4, seed=0)
    assert np.bincount(partition).tolist() == [21, 20, 20, 20]  # balanced
    sisa = M.sisa_fit(data.train, partition, PARAMS, seed=2)
    forget = data.forget[:2]
    unlearned = M.sisa_forget(sisa, data.train, forget, seed=2)
    hit = set(partition[forget].tolist())
    for shard in range(4):
        if shard not in hit:
            assert unlearned.item_factors[shard] is sisa.item_factors[shard]  # untouched
            continue
        # the retrained shard equals ALS fitted on that shard's remaining interactions
        members = data.user_ids[(partition == shard) & ~np.isin(np.arange(len(partition)), forget)]
        frame = data.interactions()
        frame = frame[frame["user"].isin(members)]
        users = np.unique(frame["user"])
        items = np.unique(frame["item"])
        shard_matrix = sp.csr_matrix(
            (
                np.ones(len(frame), np.float32),
                (np.searchsorted(users, frame["user"]), np.searchsorted(items, frame["item"])),
            ),
            shape=(len(users), len(items)),
        )
        expected = fit(shard_matrix, PARAMS, seed=unlearned.seeds[shard]).item_factors
        columns = np.searchsorted(data.item_ids, items)
        assert np.array_equal(unlearned.item_factors[shard][columns], expected)
        others = np.setdiff1d(np.arange(data.train.shape[1]), columns)
        assert not unlearned.item_factors[shard][others].any()
        assert unlearned.seeds[shard] != sisa.seeds[shard]
    # leaving the hit shards untrained beforehand changes nothing: they are replaced unread
    lazy = M.sisa_forget(M.sisa_fit(data.train, partition, PARAMS, seed=2, skip=frozenset(hit)), data.train, forget, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(lazy.item_factors, unlearned.item_factors, strict=True))
    scores = unlearned.scores(data.train[data.retained[:5]])
    assert scores.shape == (5, data.train.shape[1]) and np.isfinite(scores).all()


def test_itemcf_forgetting_is_certified_by_fingerprint(data):
    from amnesia import ItemCF

    model = ItemCF.fit(data.interactions())
    model, seconds = M.forget_users(model, data.user_ids[data.forget])
    certificate, retrained, retrain_seconds = M.itemcf_certificate(model, data.interactions(data.retained))
    assert certificate["equal"] and certificate["fingerprint_unlearned"] == retrained.fingerprint()
    assert seconds > 0 and retrain_seconds > 0
    assert set(model.users()).isdisjoint(data.user_ids[data.forget].tolist())


# ---------------------------------------------------------------------------- approximate methods
@pytest.mark.parametrize("name", APPROXIMATE)
def test_every_registered_approximate_method_keeps_the_contract(data, original, name):
    """What the lab assumes of every approximate method (one registration puts a method in the
    run, report, figures, tuning and page, so this is the check each one passes): it takes its
    registered settings, leaves the trained model alone, deletes the forgotten users' vectors,
    keeps every shape, is deterministic per seed, and refuses a bad forget set with a message."""
    method = METHODS[name]
    before = original.copy()
    unlearned = method.forget(original, data.train, data.forget, 7, **method.kwargs(DEFAULT_METHOD_PARAMS))
    assert isinstance(unlearned, MF) and unlearned is not original
    assert np.array_equal(original.user_factors, before.user_factors)
    assert np.array_equal(original.item_factors, before.item_factors)
    assert unlearned.user_factors.shape == original.user_factors.shape
    assert unlearned.item_factors.shape == original.item_factors.shape
    assert not unlearned.user_factors[data.forget].any()
    retained = np.setdiff1d(np.arange(data.train.shape[0]), data.forget)
    assert unlearned.user_factors[retained].any()
    again = method.forget(original, data.train, data.forget, 7, **method.kwargs(DEFAULT_METHOD_PARAMS))
    assert np.array_equal(again.user_factors, unlearned.user_factors)
    assert np.array_equal(again.item_factors, unlearned.item_factors)
    with pytest.raises(AmnesiaError, match=r"Forget-set indices must lie in \[0, "):
        method.forget(original, data.train, np.array([data.train.shape[0]]), 7, **method.kwargs(DEFAULT_METHOD_PARAMS))


def test_the_registry_is_consistent():
    """Each method's settings exist, its tuning grid covers only its own options, and every
    method is drawn with its own marker."""
    fields = {field.name for field in dataclasses.fields(M.MethodParams)}
    for method in METHODS.values():
        assert {field for _, field in method.options} <= fields, method.name
        assert {option for option, _ in method.grid} <= {option for option, _ in method.options}, method.name
    assert len({method.marker for method in METHODS.values()}) == len(METHODS)
    assert TUNED == ("fine-tune", "neggrad", "fisher")
    assert APPROXIMATE == ("fine-tune", "unlearn-als", "neggrad", "fisher", "drop-vector")
    with pytest.raises(ValueError, match="approximate methods, and only they, need a forget function"):
        Method("x", "X", "approximate", "no function", "cross")


@pytest.mark.parametrize("method", ["fine_tune", "unlearn_als", "neggrad", "fisher_forget"])
def test_approximate_methods_change_the_model_and_lower_the_forget_sets_fit(data, original, method):
    unlearned = getattr(M, method)(original, data.train, data.forget, seed=5)
    assert not np.array_equal(unlearned.item_factors, original.item_factors)
    assert not unlearned.user_factors[data.forget].any()  # their vectors are gone
    assert stored_scores(unlearned, data) == 0.0 < stored_scores(original, data)
    # and the item factors explain the forgotten histories less well than before
    assert forget_fit(unlearned, data) > forget_fit(original, data)


def test_fisher_noise_grows_with_alpha(data, original):
    fits = [
        forget_fit(M.fisher_forget(original, data.train, data.forget, 0, alpha=a), data) for a in (0.0, 0.1, 0.3, 1.0)
    ]
    assert fits[0] == pytest.approx(forget_fit(original, data))  # α = 0: only the vectors are dropped
    assert fits == sorted(fits) and fits[3] > fits[0] + 0.1


def test_dropping_vectors_lowers_only_the_stored_fit(data, original):
    dropped = M.drop_vectors(original, data.train, data.forget, seed=0)
    assert stored_scores(dropped, data) == 0.0 < stored_scores(original, data)
    # what the method leaves behind: the item factors, untouched, still fit the forgotten users
    assert np.array_equal(dropped.item_factors, original.item_factors)
    assert forget_fit(dropped, data) == forget_fit(original, data)
    retained = data.retained
    assert np.array_equal(dropped.user_factors[retained], original.user_factors[retained])


def test_fine_tuning_approaches_retraining_with_more_sweeps(data, original):
    gap = [
        abs(
            forget_fit(M.fine_tune(original, data.train, data.forget, 0, sweeps=s), data)
            - forget_fit(M.retrain(original, data.train, data.forget, 0), data)
        )
        for s in (1, 5)
    ]
    assert gap[1] < gap[0]


def test_methods_refuse_bad_settings(data, original):
    with pytest.raises(AmnesiaError, match="at least one ALS sweep"):
        M.fine_tune(original, data.train, data.forget, 0, sweeps=0)
    with pytest.raises(AmnesiaError, match="NegGrad"):
        M.neggrad(original, data.train, data.forget, 0, rate=0.0)
    with pytest.raises(AmnesiaError, match="noise scale"):
        M.fisher_forget(original, data.train, data.forget, 0, alpha=-1.0)
    with pytest.raises(AmnesiaError, match="Forget-set indices"):
        M.drop_vectors(original, data.train, np.array([10_000]), 0)
    with pytest.raises(AmnesiaError, match="shards"):
        M.sisa_partition(3, 4, 0)
    assert rows_only(data.train, np.array([], dtype=np.int64)).nnz == 0


def test_the_tuning_report_is_rendered_from_its_document():
    """docs/lab_tuning.md is what ``python -m amnesia.lab.tune`` writes from docs/lab_tuning.json,
    its sections in the registry's order of tuned methods."""
    import json
    from pathlib import Path

    from amnesia.lab.tune import markdown

    docs = Path(__file__).resolve().parents[1] / "docs"
    document = json.loads((docs / "lab_tuning.json").read_text())
    assert list(document["chosen"]) == ["als", *TUNED, "item-knn", "ease"]
    assert markdown(document).strip() == (docs / "lab_tuning.md").read_text().strip()


def test_ease_runs_with_the_lambda_the_tuning_chose_on_the_labs_own_validation_items():
    """The lab's λ had come from ``bench --part quality``, whose validation items were lab test items for a fifth
    of the users; it is chosen by ``python -m amnesia.lab.tune --only ease`` now, and the lab runs with it."""
    import json
    from pathlib import Path

    from amnesia.lab.run import EASE_L2
    from amnesia.lab.tune import EASE_GRID

    docs = Path(__file__).resolve().parents[1] / "docs"
    document = json.loads((docs / "lab_tuning.json").read_text())
    assert [e["l2"] for e in document["ease"]] == list(EASE_GRID["l2"])
    best = max(document["ease"], key=lambda e: (e["ndcg_at_10"], -e["l2"]))
    assert document["chosen"]["ease"] == {"l2": best["l2"]} == {"l2": EASE_L2}


def test_item_knn_runs_with_the_choice_the_tuning_made():
    """The lab's item-kNN constants are the ones docs/lab_tuning.md says were chosen on validation."""
    import json
    from pathlib import Path

    from amnesia.lab.run import ITEM_KNN_K, ITEM_KNN_SCORING, ITEM_KNN_SIMILARITY

    docs = Path(__file__).resolve().parents[1] / "docs"
    chosen = json.loads((docs / "lab_tuning.json").read_text())["chosen"]["item-knn"]
    assert chosen == {"similarity": ITEM_KNN_SIMILARITY, "neighbours": ITEM_KNN_K, "scoring": ITEM_KNN_SCORING}


def test_unlearn_als_runs_alternating_sweeps_from_the_trained_factors_until_they_settle(data, original):
    """Unlearn-ALS is fine-tuning iterated: one sweep of it is one fine-tuning sweep, and it stops
    when a sweep moves the item factors by less than the tolerance."""
    one = M.unlearn_als(original, data.train, data.forget, seed=0, max_sweeps=1)
    assert np.array_equal(one.item_factors, M.fine_tune(original, data.train, data.forget, seed=0, sweeps=1).item_factors)
    settled = M.unlearn_als(original, data.train, data.forget, seed=0, tolerance=0.5, max_sweeps=40)
    assert np.array_equal(settled.item_factors, one.item_factors)  # the first sweep already moved them by less than half
    longer = M.unlearn_als(original, data.train, data.forget, seed=0, tolerance=1e-9, max_sweeps=4)
    assert np.array_equal(longer.item_factors, M.fine_tune(original, data.train, data.forget, seed=0, sweeps=4).item_factors)
    assert np.all(longer.user_factors[data.forget] == 0)
    with pytest.raises(AmnesiaError, match="tolerance"):
        M.unlearn_als(original, data.train, data.forget, seed=0, tolerance=0)
