"""The lab's metrics against hand-computed values and distributions with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from amnesia.errors import AmnesiaError
from amnesia.lab import epsilon, epsilon_scores, final_score, forgetting_quality, user_epsilons
from amnesia.lab.metrics import (
    active_mask,
    attack_error_rates,
    auc,
    _best_interval,
    _first_halves,
    _held_out_errors,
    group_gap,
    hierarchical_auc_ci,
    hierarchical_ci,
    hierarchical_gap_ci,
    hierarchical_epsilon,
    in_sample_epsilon,
    max_epsilon,
    mean_capped_epsilon,
    mean_ci,
    pair_wins,
    permutation_test,
    smallest_p_value,
    ranking_metrics,
    top_k,
    top_overlap,
)

DELTA = 1e-5


# ---------------------------------------------------------------------------- epsilon(fpr, fnr)
def test_epsilon_of_one_attack_by_hand():
    # FPR 0.1, FNR 0.2: log((1 - δ - 0.1)/0.2) = log(4.49995) = 1.50407; log((1 - δ - 0.2)/0.1) = log(7.9999) = 2.07943
    assert epsilon(0.1, 0.2) == pytest.approx(math.log(7.9999), abs=1e-12)
    assert epsilon(0.1, 0.2) == pytest.approx(2.0794290, abs=1e-6)
    # FPR 0.25, FNR 0.5: log(0.74999/0.5) = 0.405452, log(0.49999/0.25) = 0.693127
    assert epsilon(0.25, 0.5) == pytest.approx(0.6931272, abs=1e-6)
    # without δ the bound is exactly log 8
    assert epsilon(0.1, 0.2, delta=0.0) == pytest.approx(math.log(8), abs=1e-12)


def test_epsilon_is_clamped_at_zero_for_a_useless_attack():
    assert epsilon(0.5, 0.5) == 0.0  # log(0.49999/0.5) < 0
    assert epsilon(0.7, 0.6) == 0.0  # worse than guessing: both bounds negative
    assert epsilon(1.0, 1.0) == 0.0  # 1 - δ - 1 < 0: no evidence either way


def test_epsilon_takes_the_best_attack_and_follows_the_zero_rules():
    assert epsilon([0.5, 0.1, 0.25], [0.5, 0.2, 0.5]) == pytest.approx(math.log(7.9999), abs=1e-12)
    assert epsilon(0.0, 0.0) == math.inf  # perfect separation
    assert epsilon([0.3, 0.0], [0.3, 0.0]) == math.inf
    assert epsilon(0.0, 0.3) == 0.0  # a single zero rate is dropped: nothing left
    assert epsilon([0.0, 0.1], [0.3, 0.2]) == pytest.approx(math.log(7.9999), abs=1e-12)


def test_epsilon_refuses_bad_rates():
    with pytest.raises(AmnesiaError, match="one FNR per FPR"):
        epsilon([0.1, 0.2], [0.1])
    with pytest.raises(AmnesiaError, match="between 0 and 1"):
        epsilon(1.2, 0.1)
    with pytest.raises(AmnesiaError, match="delta"):
        epsilon(0.1, 0.1, delta=1.0)


@settings(max_examples=60)
@given(st.floats(0.001, 0.999), st.floats(0.001, 0.999))
def test_epsilon_is_symmetric_and_non_negative(fpr, fnr):
    value = epsilon(fpr, fnr)
    assert value >= 0
    assert value == pytest.approx(epsilon(fnr, fpr), abs=1e-12)
    if fpr + fnr >= 1 - DELTA:  # no better than guessing
        assert value == 0.0


# ---------------------------------------------------------------------------- scores and F
def test_scores_follow_the_challenge_bins():
    assert max_epsilon(16) == 3.0  # ⌈ln 15⌉
    assert max_epsilon(512) == 7.0  # ⌈ln 511⌉
    assert max_epsilon(4) == 2.0
    scores = epsilon_scores(np.array([0.0, 0.49, 0.5, 0.99, 1.2, 2.9, 3.0, math.inf]), models=16)
    assert scores.tolist() == [1.0, 1.0, 0.5, 0.5, 0.25, 1 / 32, 0.0, 0.0]
    assert forgetting_quality(np.array([0.0, 0.7, 1.1, math.inf]), models=16) == pytest.approx((1 + 0.5 + 0.25 + 0) / 4)


def test_scores_refuse_too_few_models_and_bad_epsilons():
    with pytest.raises(AmnesiaError, match="at least 3 models"):
        max_epsilon(2)
    with pytest.raises(AmnesiaError, match="non-negative"):
        epsilon_scores(np.array([-0.1]), 16)
    with pytest.raises(AmnesiaError, match="at least one"):
        forgetting_quality(np.array([]), 16)


def test_final_score_by_hand():
    assert final_score(0.5, 0.2, 0.25, 0.3, 0.3) == pytest.approx(0.5 * 0.8 * 1.0)
    assert math.isnan(final_score(0.5, 0.2, 0.0, 0.3, 0.3))


# ---------------------------------------------------------------------------- ε from samples
def test_identical_distributions_give_epsilon_near_zero():
    rng = np.random.default_rng(0)
    same_u, same_r = rng.normal(size=(512, 20)), rng.normal(size=(512, 20))
    eps = user_epsilons(same_u, same_r)
    assert eps.max() < 0.5
    assert eps.mean() < 0.1
    assert forgetting_quality(eps, 512) == 1.0


def test_choosing_the_rule_on_the_scored_models_would_be_biased():
    """Why the attack is cross-fitted: the best threshold measured on the very samples it was
    picked on 'separates' two identical distributions (ε well above 1 at N = 512)."""
    rng = np.random.default_rng(1)
    in_sample, held_out = [], []
    for _ in range(5):
        u, r = rng.normal(size=512), rng.normal(size=512)
        values = np.sort(np.concatenate([u, r]))
        cuts = np.concatenate([[-np.inf], (values[1:] + values[:-1]) / 2, [np.inf]])
        below_u = np.searchsorted(np.sort(u), cuts) / 512
        below_r = np.searchsorted(np.sort(r), cuts) / 512
        i, j = np.triu_indices(len(cuts), k=1)  # every interval [cut_i, cut_j) called "unlearned", and its opposite
        tpr, fpr = below_u[j] - below_u[i], below_r[j] - below_r[i]
        in_sample.append(epsilon(np.concatenate([fpr, 1 - fpr]), np.concatenate([1 - tpr, tpr])))
        held_out.append(user_epsilons(u[:, None], r[:, None])[0])
    assert np.mean(in_sample) > 2.0  # identical distributions, yet "ε ≈ 2.5"
    assert np.mean(held_out) < 0.2


def test_separable_distributions_give_a_large_epsilon():
    rng = np.random.default_rng(2)
    far = user_epsilons(rng.normal(8, 1, size=(16, 10)), rng.normal(0, 1, size=(16, 10)))
    assert np.all(far == math.inf)
    assert forgetting_quality(far, 16) == 0.0
    shifted = user_epsilons(rng.normal(2, 1, size=(512, 10)), rng.normal(0, 1, size=(512, 10)))
    assert shifted.min() > 1.2  # the best threshold of two unit Gaussians 2 apart: log(Φ(1)/Φ(-1)) ≈ 1.67
    wider = user_epsilons(rng.normal(0, 3, size=(512, 10)), rng.normal(0, 1, size=(512, 10)))
    assert wider.min() > 0.8  # same centre, three times the spread: only an interval rule sees it


def test_epsilon_grows_with_the_gap():
    rng = np.random.default_rng(3)
    base = rng.normal(size=(64, 40))
    means = [
        np.minimum(user_epsilons(base + shift, rng.normal(size=(64, 40))), 4).mean() for shift in (0.0, 1.0, 2.0, 4.0)
    ]
    assert means == sorted(means)
    assert means[0] < 0.3 < means[1] < means[2] < means[3]


def test_user_epsilons_special_cases():
    rng = np.random.default_rng(4)
    column = lambda values: np.asarray(values, dtype=np.float64)[:, None]  # noqa: E731  (one example)
    assert user_epsilons(column(np.full(8, 0.25)), column(np.full(8, 0.25)))[0] == 0.0  # identical point masses
    assert user_epsilons(column(np.full(8, 0.25)), column(np.full(8, 0.25) + 1e-9))[0] == 0.0  # float noise is not a difference
    assert user_epsilons(column(np.full(8, 0.25)), column(np.full(8, 0.75)))[0] == math.inf
    assert user_epsilons(column(np.full(8, 0.5)), column(rng.normal(0.5, 0.1, 8)))[0] == math.inf  # a point mass in a spread: peaky
    # the cases side by side in one call give what each gives alone
    spread = rng.normal(size=(8, 2))
    mixed = user_epsilons(np.column_stack([np.full(8, 0.25), np.full(8, 0.5), spread[:, 0]]),
                          np.column_stack([np.full(8, 0.25), rng.normal(0.5, 0.1, 8), spread[:, 1]]))
    assert mixed[:2].tolist() == [0.0, math.inf] and 0 <= mixed[2] < math.inf
    with pytest.raises(AmnesiaError, match="at least 2 models"):
        user_epsilons(np.array([[1.0]]), np.array([[1.0], [2.0]]))
    with pytest.raises(AmnesiaError, match="same examples"):
        user_epsilons(np.zeros((4, 3)), np.zeros((4, 2)))


def test_attack_error_rates_count_held_out_mistakes():
    rng = np.random.default_rng(5)
    fpr, fnr = attack_error_rates(np.arange(10.0)[:, None], np.arange(10.0)[:, None] + 100, rng)
    assert (fpr.tolist(), fnr.tolist()) == ([0.0], [0.0])  # perfectly separated on every held-out half
    fpr, fnr = attack_error_rates(np.arange(10.0)[:, None], np.arange(10.0)[:, None], rng)
    assert 0 < fpr[0] + fnr[0]  # no rule can be right on both sides of identical samples


def _plain_best_interval(unlearned: np.ndarray, retrained: np.ndarray) -> tuple[float, float, bool]:
    """The best interval rule, counted one cut at a time: among the rules with the largest
    |TPR - FPR|, the low cut in the middle of the tied lows and the high one in the middle of the tied highs."""
    values = np.unique(np.concatenate([unlearned, retrained]))
    cuts = np.concatenate([[-np.inf], (values[1:] + values[:-1]) / 2, [np.inf]])
    below = lambda x: np.array([(x < c).mean() for c in cuts])  # noqa: E731
    d = below(unlearned) - below(retrained)
    lows, highs = np.flatnonzero(d == d.min()), np.flatnonzero(d == d.max())
    low_at, high_at = lows[len(lows) // 2], highs[len(highs) // 2]
    return (cuts[low_at], cuts[high_at], True) if low_at <= high_at else (cuts[high_at], cuts[low_at], False)


def _plain_error_counts(a, b, first_a, first_b):
    """The cross-fitted attack's counts (false positives, false negatives, negatives, positives)
    per example, one example, split and half at a time."""
    counts = []
    for s in range(a.shape[1]):
        fp = fn = negatives = positives = 0
        for r in range(first_a.shape[0]):
            for fit in (True, False):
                low, high, inside = _plain_best_interval(a[first_a[r, s] == fit, s], b[first_b[r, s] == fit, s])
                test_a, test_b = a[first_a[r, s] != fit, s], b[first_b[r, s] != fit, s]
                fn += int((((test_a >= low) & (test_a < high)) != inside).sum())
                fp += int((((test_b >= low) & (test_b < high)) == inside).sum())
                negatives, positives = negatives + len(test_b), positives + len(test_a)
        counts.append([fp, fn, negatives, positives])
    return np.array(counts)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 9), st.integers(2, 9), st.integers(1, 4), st.integers(0, 2**31), st.booleans())
def test_the_compiled_attack_equals_a_plain_one(n, m, examples, seed, grouped):
    """The compiled best rule and held-out counts equal a brute-force reference on small samples
    with many ties (values on a coarse grid), with and without bootstrap copies."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 4, size=(n, examples)) / 2, rng.integers(0, 4, size=(m, examples)) / 2
    for s in range(examples):
        got = _best_interval(a[:, s], b[:, s])
        assert (float(got[0]), float(got[1]), bool(got[2])) == _plain_best_interval(a[:, s], b[:, s])
        # no interval rule separates the samples better (every pair of cuts, counted directly)
        inside = lambda x, low, high: ((x >= low) & (x < high)).mean()  # noqa: E731
        cuts = np.concatenate([[-np.inf], np.unique(np.concatenate([a[:, s], b[:, s]])) + 0.25, [np.inf]])
        best = max(abs(inside(a[:, s], lo, hi) - inside(b[:, s], lo, hi)) for lo in cuts for hi in cuts if lo < hi)
        assert abs(inside(a[:, s], got[0], got[1]) - inside(b[:, s], got[0], got[1])) == pytest.approx(best)
    groups = None
    if grouped:  # ids 0..k-1, each drawn at least once, then copies
        groups = tuple(np.concatenate([np.arange(k), rng.integers(0, k, size - k)]) for k, size in ((max(2, n - 1), n), (max(2, m - 1), m)))
    first_a = _first_halves(rng, 3, examples, n, None if groups is None else groups[0])
    first_b = _first_halves(rng, 3, examples, m, None if groups is None else groups[1])
    expected = _plain_error_counts(a, b, first_a, first_b)
    assert _held_out_errors(np.ascontiguousarray(a.T), np.ascontiguousarray(b.T), first_a, first_b).tolist() == expected.tolist()


# ---------------------------------------------------------------------------- membership attack
def test_pair_wins_and_auc_by_hand():
    wins = pair_wins(np.array([3.0, 2.0]), np.array([1.0, 2.0]))
    assert wins.tolist() == [[1.0, 1.0], [1.0, 0.5]]
    assert auc(np.array([3.0, 2.0]), np.array([1.0, 2.0])) == pytest.approx(0.875)
    assert auc(np.array([1.0, 1.0]), np.array([1.0])) == 0.5


def test_auc_interval_equals_explicit_resampling_of_models_then_members_and_others():
    rng = np.random.default_rng(6)
    wins = np.stack([pair_wins(rng.normal(shift, 1, 7), rng.normal(size=5)) for shift in (0.0, 0.5, 1.0)])
    low, high = hierarchical_auc_ci(wins, np.random.default_rng(9), resamples=200)
    draw = np.random.default_rng(9)
    models = draw.integers(0, 3, size=(200, 3))
    rows, cols = draw.integers(0, 7, size=(200, 7)), draw.integers(0, 5, size=(200, 5))
    explicit = np.array([wins[k][:, r][:, :, c].mean() for k, r, c in zip(models, rows, cols)])
    assert (low, high) == pytest.approx(tuple(np.percentile(explicit, [2.5, 97.5])))


# ---------------------------------------------------------------------------- ranking
def test_top_k_breaks_ties_by_the_smaller_column_and_excludes():
    scores = np.array([[0.1, 0.9, 0.5, 0.9, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0]])
    assert top_k(scores, 3).tolist() == [[1, 3, 2], [0, 1, 2]]
    exclude = sp.csr_matrix(np.array([[0, 1, 0, 0, 0], [1, 1, 0, 0, 0]]))
    assert top_k(scores, 3, exclude=exclude).tolist() == [[3, 2, 0], [2, 3, 4]]
    assert top_k(scores, 9).shape == (2, 5)


def test_ndcg_and_recall_by_hand():
    relevant = sp.csr_matrix(np.array([[0, 1, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]]))
    top = np.array([[0, 1, 2], [0, 1, 2], [5, 4, 3]])
    ndcg, recall = ranking_metrics(top, relevant)
    # user 0: one hit at rank 2 -> DCG 1/log2(3); ideal for 2 relevant = 1 + 1/log2(3)
    assert ndcg[0] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert ndcg[0] == pytest.approx(0.386853, abs=1e-6)
    assert recall[0] == pytest.approx(0.5)  # 1 hit of min(2, 3)
    assert math.isnan(ndcg[1]) and math.isnan(recall[1])  # no relevant items
    assert ndcg[2] == pytest.approx(1.0) and recall[2] == pytest.approx(1.0)  # 3 of min(6, 3)


def test_overlap_gap_and_active_users():
    assert top_overlap(np.array([[1, 2, 3]]), np.array([[3, 4, 1]])).tolist() == pytest.approx([2 / 3])
    active = active_mask(np.array([5, 50, 7, 50, 1] * 4), share=0.1)  # 20 users: the 2 most active
    assert active.sum() == 2 and active[[1, 3]].all()
    values = np.where(active, 0.6, 0.2)
    assert group_gap(values, active) == pytest.approx(0.4)
    low, high = hierarchical_gap_ci(values[None], active, np.random.default_rng(0), resamples=100)
    assert (low, high) == pytest.approx((0.4, 0.4))


def test_mean_interval_contains_the_mean_and_narrows_with_more_users():
    rng = np.random.default_rng(7)
    small, large = rng.normal(1.0, 1.0, 30), rng.normal(1.0, 1.0, 3000)
    low_s, high_s = mean_ci(small, np.random.default_rng(0))
    low_l, high_l = mean_ci(large, np.random.default_rng(0))
    assert low_s < small.mean() < high_s and low_l < large.mean() < high_l
    assert (high_l - low_l) < (high_s - low_s) / 5


# ---------------------------------------------------------------------------- over models, then users
def test_the_hierarchical_interval_covers_a_known_mean_where_users_alone_do_not():
    """Values = mean 0 + a model effect + a user effect + noise: N trained models are a sample of
    the models training could give. The interval over models, then users covers the true mean at
    about its level; one over users with the models fixed (the lab's before) is too narrow."""
    rng = np.random.default_rng(0)
    hierarchical = users_only = 0
    trials = 200
    for _ in range(trials):
        values = rng.normal(0, 0.3, (6, 1)) + rng.normal(0, 1, (1, 40)) + rng.normal(0, 0.5, (6, 40))
        low, high = hierarchical_ci(values, rng, resamples=400)
        hierarchical += low <= 0 <= high
        low, high = mean_ci(values.mean(axis=0), rng, 400)
        users_only += low <= 0 <= high
    assert hierarchical / trials >= 0.9  # 0.93 with this seed (nominal 0.95)
    assert users_only / trials <= 0.85  # 0.825


def test_the_paired_difference_shares_the_users_draw():
    """Without model-to-model spread, every draw of a - b with one user draw for both is exactly
    the shift; drawing users separately for each side would spread it."""
    rng = np.random.default_rng(1)
    per_user = rng.normal(0.3, 0.2, 50)
    a, b = np.tile(per_user, (8, 1)), np.tile(per_user - 0.05, (5, 1))
    assert hierarchical_ci(a, np.random.default_rng(2), minus=b, resamples=300) == pytest.approx((0.05, 0.05))
    with_nan = a.copy()
    with_nan[:, 3] = np.nan  # a user without held-out items counts on neither side
    assert hierarchical_ci(with_nan, rng, minus=np.where(np.isnan(with_nan), np.nan, b[:1].repeat(8, 0)),
                           resamples=100) == pytest.approx((0.05, 0.05))
    with pytest.raises(AmnesiaError, match="same users"):
        hierarchical_ci(a, rng, minus=b[:, :10])


def test_copies_of_a_bootstrapped_model_stay_on_one_side_of_the_split():
    rng = np.random.default_rng(3)
    groups = np.array([3, 3, 0, 2, 2, 2, 1, 0])  # 4 models, some drawn more than once
    first = _first_halves(rng, 50, 3, len(groups), groups)
    for half in first.reshape(-1, len(groups)):
        assert not set(groups[half]) & set(groups[~half])  # an id's copies are all on one side
        assert len(set(groups[half])) == 2  # two of the four ids in each half
    # without groups: half the models in the first half, every model there about half the time
    plain = _first_halves(np.random.default_rng(5), 400, 2, 6, None)
    assert (plain.sum(axis=2) == 3).all()
    assert np.abs(plain.mean(axis=(0, 1)) - 0.5).max() < 0.06


def test_the_permutation_test_keeps_its_level_on_equal_distributions_and_finds_a_gap():
    """The verdict's false-positive rate on two samples of models from one distribution is within
    its nominal 5 % (100 seeded comparisons, 6 models a side, 4 users); a clear gap is found."""
    rng = np.random.default_rng(0)
    rejected = sum(permutation_test(rng.normal(size=(6, 4)), rng.normal(size=(6, 4)), rng, 39)[1] <= 0.05
                   for _ in range(100))
    assert rejected <= 10  # binomial(100, 0.05) exceeds 10 with probability ~1 %
    found = sum(permutation_test(rng.normal(size=(6, 4)) + 2.0, rng.normal(size=(6, 4)), rng, 39)[1] <= 0.05
                for _ in range(20))
    assert found >= 16


def test_the_permutation_test_enumerates_small_pools_and_reports_the_observed_epsilon():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(3, 5)) + 5.0, rng.normal(size=(3, 5))
    observed, p = permutation_test(a, b, rng, permutations=499)
    assert observed == pytest.approx(mean_capped_epsilon(a, b))
    # 19 relabellings of 6 models into 3 + 3; only the swap of the sides scores as high as the truth
    assert p == pytest.approx(2 / 20)
    identical = np.zeros((4, 5))
    assert permutation_test(identical, identical, rng, 99) == (0.0, 1.0)


@pytest.mark.parametrize("n", [3, 4, 5])
def test_smallest_p_value_is_what_the_test_gives_two_samples_told_apart(n):
    """3 + 3 models told apart completely get p = 0.1, so a test at 0.05 cannot reject even them."""
    rng = np.random.default_rng(n)
    a, b = rng.normal(size=(n, 6)) + 50.0, rng.normal(size=(n, 6))
    assert permutation_test(a, b, rng, permutations=499)[1] == pytest.approx(smallest_p_value(n, n, 499))
    assert smallest_p_value(n, n, 499) == pytest.approx({3: 2 / 20, 4: 2 / 70, 5: 2 / 252}[n])


def test_a_less_clear_epsilon_can_rank_first_by_chance_and_get_a_lower_p():
    """A quick run showed p = 0.050 under a sentence calling 0.100 the smallest p: an ε below the
    cap that the attack's random halves rank above its mirror labelling's is alone at the top of
    the 20 labellings, so the p of models told apart completely is not the smallest p there is."""
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.0, 1.0, (3, 8)), rng.normal(1.0, 1.0, (3, 8))
    observed, p = permutation_test(a, b, np.random.default_rng(0), 499)
    assert observed == pytest.approx(0.715889493259741) and p == pytest.approx(1 / 20)
    assert p < smallest_p_value(3, 3, 499) == pytest.approx(0.1)


def test_the_smallest_p_of_random_relabellings_and_unequal_sides():
    assert smallest_p_value(16, 16, 499) == pytest.approx(1 / 500)
    assert smallest_p_value(3, 4, 499) == pytest.approx(1 / 35)


def test_the_epsilon_interval_over_models_holds_the_estimate_and_widens_with_fewer_models():
    rng = np.random.default_rng(6)
    a16, b16 = rng.normal(size=(16, 12)), rng.normal(size=(16, 12))
    (low16, high16), (f_low, f_high) = hierarchical_epsilon(a16, b16, np.random.default_rng(0), resamples=60)
    assert 0 <= low16 <= mean_capped_epsilon(a16, b16) <= high16
    assert 0 < f_low <= f_high <= 1
    (low6, high6), _ = hierarchical_epsilon(a16[:6], b16[:6], np.random.default_rng(0), resamples=60)
    assert high6 - low6 > high16 - low16


def test_the_challenges_in_sample_estimator_by_hand_and_its_bias():
    # 4 vs 4 models, separated by one threshold: FPR = FNR = 0 there, so ε = inf
    assert in_sample_epsilon(np.array([[0.0], [1], [2], [3]]), np.array([[4.0], [5], [6], [7]]))[0] == math.inf
    # unlearned {0, 1, 2, 5}, retrained {3, 4, 6, 7}; "below the cut is unlearned" at 3.5: FPR = 1/4 (3),
    # FNR = 1/4 (5): log((1 - δ - 1/4) / (1/4)) = log 3, the best rule (at 4.5: FPR 1/2, FNR 1/4 gives log 2;
    # at 2.5 FPR = 0 alone: dropped, as in the challenge)
    eps = in_sample_epsilon(np.array([[0.0], [1], [2], [5]]), np.array([[3.0], [4], [6], [7]]))[0]
    assert eps == pytest.approx(math.log((1 - 1e-5 - 0.25) / 0.25))
    rng = np.random.default_rng(0)
    same = in_sample_epsilon(rng.normal(size=(16, 200)), rng.normal(size=(16, 200)))
    assert same.mean() > 0.5  # identical distributions, N = 16: biased well above 0 (why the lab cross-fits)


def test_the_auc_and_gap_intervals_resample_models_too_and_widen_with_their_spread():
    rng = np.random.default_rng(8)
    one = pair_wins(rng.normal(size=15), rng.normal(size=12))[None]
    low, high = hierarchical_auc_ci(one, np.random.default_rng(0), resamples=300)  # one model: members and others only
    assert low <= one.mean() <= high
    spread = np.stack([pair_wins(rng.normal(shift, 1, 15), rng.normal(size=12)) for shift in (-1.0, 0.0, 1.0, 2.0)])
    narrow = hierarchical_auc_ci(spread.mean(axis=0)[None], np.random.default_rng(0), 300)  # the models' mean fixed
    wide = hierarchical_auc_ci(spread, np.random.default_rng(0), 300)
    assert wide[1] - wide[0] > narrow[1] - narrow[0]
    values = np.where(np.arange(20) < 4, 0.6, 0.2)[None].repeat(5, 0)  # no spread anywhere: the gap is exact
    assert hierarchical_gap_ci(values, np.arange(20) < 4, rng, 100) == pytest.approx((0.4, 0.4))
