"""Unlearning metrics: ε and forgetting quality as the NeurIPS 2023 challenge defines them, the
membership attack's AUC, ranking utility, fairness, agreement, and bootstrap intervals.

Forgetting quality (Triantafillou et al., *Are we making progress in unlearning?*, 2024, and the
challenge's evaluation note). For one forgotten example (here: one forgotten user) the evaluator
has a statistic of N unlearned models and of N models retrained without the example. An attacker
who sees one model's statistic guesses "unlearned" or "retrained"; a decision rule has a
false-positive rate (FPR) and a false-negative rate (FNR), and by the hypothesis-testing reading of
(ε, δ)-indistinguishability

    ε ≥ max( log((1 − δ − FPR) / FNR),  log((1 − δ − FNR) / FPR) ),   δ = 10⁻⁵.

The rules are thresholds and intervals on the statistic. The challenge takes the best bound over
all of them, measured on the same models; with few models that maximum is biased upward (two
*identical* distributions, 512 models each, come out at ε ≈ 2.5, because the best of a thousand
rules always "separates" a few samples by chance). So here the attack is cross-fitted: the rule is
chosen on half of the models and its FPR and FNR are counted on the other half (both ways, over
five random splits, pooled); identical distributions then give ε ≈ 0 and separated ones a large ε.

ε is binned with width 0.5 and the example scores 2 / 2^bin (bin 1 is [0, 0.5), so an
indistinguishable example scores 1); ε ≥ ⌈ln(N − 1)⌉, the largest value N samples per side can
resolve, scores 0 (both as in the challenge). Forgetting quality F is the mean score; the final
score multiplies F by the unlearned-to-retrained utility ratios on retained and on test data.

All functions are pure and vectorised; arrays are float64 unless said otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

import numpy as np
import scipy.sparse as sp
from numba import njit

from ..errors import AmnesiaError

DELTA = 1e-5
BIN_WIDTH = 0.5
PEAKY_RATIO = 0.01  # a distribution 100x narrower than the other is flagged as separable (as in the challenge)
REPEATS = 5  # random 2-fold splits of the models per example (10 held-out evaluations)
RESOLUTION = 1e-6  # statistics are compared at this resolution (float32 factors carry ~1e-7 relative noise)


# ---------------------------------------------------------------------------- ε and F
def _bounds(fpr: np.ndarray, fnr: np.ndarray, delta: float) -> np.ndarray:
    """Each rule's ``max(log((1 - δ - FPR) / FNR), log((1 - δ - FNR) / FPR))``, elementwise; nan where
    both rates leave 1 - δ - rate <= 0 (no evidence). Rates must be > 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.fmax(np.log(1 - delta - fpr) - np.log(fnr), np.log(1 - delta - fnr) - np.log(fpr))


def epsilon(
    fpr: float | Sequence[float] | np.ndarray, fnr: float | Sequence[float] | np.ndarray, delta: float = DELTA
) -> float:
    """ε of an attack family given each attack's false-positive and false-negative rate.

    ``fpr``, ``fnr``: equal-length rates in [0, 1] (one entry per decision rule). Returns the
    largest ``max(log((1 - δ - FPR) / FNR), log((1 - δ - FNR) / FPR))`` over the rules, clamped at 0.
    A rule with FPR = FNR = 0 separates the two sides perfectly: ε = inf. A rule with exactly one
    zero rate is dropped, as in the challenge: from N samples a zero rate only says "below 1/N",
    so its ratio is unbounded and carries no estimate. If no rule is left, ε = 0.
    """
    fpr = np.atleast_1d(np.asarray(fpr, dtype=np.float64))
    fnr = np.atleast_1d(np.asarray(fnr, dtype=np.float64))
    if fpr.shape != fnr.shape:
        raise AmnesiaError(f"epsilon() needs one FNR per FPR; got {fpr.size} FPRs and {fnr.size} FNRs.")
    if not (np.all((fpr >= 0) & (fpr <= 1)) and np.all((fnr >= 0) & (fnr <= 1))):
        raise AmnesiaError("epsilon() takes rates between 0 and 1; a rate outside that range is not a rate.")
    if not 0 <= delta < 1:
        raise AmnesiaError(f"delta must be in [0, 1); got {delta}.")
    if np.any((fpr == 0) & (fnr == 0)):
        return math.inf
    keep = (fpr > 0) & (fnr > 0)
    if not keep.any():
        return 0.0
    bound = _bounds(fpr[keep], fnr[keep], delta)
    if np.all(np.isnan(bound)):
        return 0.0
    return max(0.0, float(np.nanmax(bound)))


@njit(cache=True, nogil=True)
def _best_interval(unlearned: np.ndarray, retrained: np.ndarray) -> tuple[float, float, bool]:
    """The interval rule that best tells the two samples apart: (low, high, inside_means_unlearned).

    Rules are "x in [low, high) -> unlearned" and its opposite, at cuts between distinct values
    (±inf included, so single thresholds are intervals too). With D(c) = F_unlearned(c) −
    F_retrained(c) (empirical CDFs below cut c), the rule [c_i, c_j) has TPR − FPR = D(c_j) − D(c_i),
    so the best |TPR − FPR| pairs the lowest and the highest D: O(cuts), no search over pairs.
    Ties take the middle of the tied cuts (the centre of a gap between the samples).
    """
    a, b = np.sort(unlearned), np.sort(retrained)
    values = np.unique(np.concatenate((a, b)))
    cuts = np.empty(len(values) + 1)
    cuts[0], cuts[-1] = -np.inf, np.inf
    cuts[1:-1] = (values[1:] + values[:-1]) / 2
    d = np.searchsorted(a, cuts) / len(a) - np.searchsorted(b, cuts) / len(b)  # shares strictly below each cut
    lows, highs = np.flatnonzero(d == d.min()), np.flatnonzero(d == d.max())
    low_at, high_at = lows[len(lows) // 2], highs[len(highs) // 2]
    if low_at <= high_at:
        return cuts[low_at], cuts[high_at], True
    return cuts[high_at], cuts[low_at], False


@njit(cache=True, nogil=True)
def _held_out_errors(a: np.ndarray, b: np.ndarray, first_a: np.ndarray, first_b: np.ndarray) -> np.ndarray:
    """Errors of the cross-fitted attack per example: (S, 4) int64 of false positives, false
    negatives, negatives and positives, pooled over splits and both fitting halves.

    ``a`` (S, N) and ``b`` (S, M): each example's statistic under the unlearned and the retrained
    models; ``first_a`` (R, S, N) and ``first_b`` (R, S, M): whether a model is in the first half
    in split r. The rule is chosen on one half (:func:`_best_interval`) and scored on the other.
    """
    splits, examples = first_a.shape[0], a.shape[0]
    counts = np.zeros((examples, 4), dtype=np.int64)
    for s in range(examples):
        for r in range(splits):
            for fit_half in (True, False):
                fit_a, test_a = a[s][first_a[r, s] == fit_half], a[s][first_a[r, s] != fit_half]
                fit_b, test_b = b[s][first_b[r, s] == fit_half], b[s][first_b[r, s] != fit_half]
                low, high, inside_unlearned = _best_interval(fit_a, fit_b)
                for x in test_a:  # an unlearned model called "retrained": a false negative
                    counts[s, 1] += ((x >= low) & (x < high)) != inside_unlearned
                for x in test_b:  # a retrained model called "unlearned": a false positive
                    counts[s, 0] += ((x >= low) & (x < high)) == inside_unlearned
                counts[s, 2] += len(test_b)
                counts[s, 3] += len(test_a)
    return counts


def _first_halves(rng: np.random.Generator, splits: int, examples: int, size: int, groups: np.ndarray | None) -> np.ndarray:
    """(splits, examples, size) bool: whether each of ``size`` models falls in the first of two random
    halves, drawn independently for every split and example; with ``groups`` (each model's id,
    numbered 0..k-1), the ids are halved and each model follows its id (an id's copies never
    straddle the halves)."""
    ids = size if groups is None else int(groups.max()) + 1
    rank = np.argsort(rng.random((splits, examples, ids)), axis=2).argsort(axis=2)  # a uniform permutation of the ids
    first = rank < ids // 2
    return first if groups is None else first[:, :, groups]


def attack_error_rates(
    unlearned: np.ndarray, retrained: np.ndarray, rng: np.random.Generator, repeats: int = REPEATS,
    groups: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, FNR) per example of a threshold/interval attack measured on models it was not chosen on.

    ``unlearned`` (N, S) and ``retrained`` (M, S): the statistic per model and example. For every
    example, the models of each side are split in two halves; the best rule (:func:`_best_interval`,
    largest TPR − FPR) is chosen on one half and its errors are counted on the other, both ways,
    ``repeats`` times with fresh random splits; the rates are pooled. Positive = "unlearned":
    FPR = share of retrained models called unlearned, FNR = share of unlearned models called
    retrained. Choosing the rule on the very models it is scored on would be biased: with two
    identical distributions the best of many rules still "separates" a few samples by chance.
    Both rates 0 means every held-out model was classified correctly (ε = inf downstream).
    ``groups``: each model's id on its side, numbered 0..k-1 (a bootstrap draws some models twice);
    the halves split ids, so no model is both chosen on and scored on. Returns two (S,) arrays.
    """
    a, b = np.asarray(unlearned, dtype=np.float64), np.asarray(retrained, dtype=np.float64)
    examples = a.shape[1]
    first_a = _first_halves(rng, repeats, examples, len(a), None if groups is None else groups[0])
    first_b = _first_halves(rng, repeats, examples, len(b), None if groups is None else groups[1])
    counts = _held_out_errors(np.ascontiguousarray(a.T), np.ascontiguousarray(b.T), first_a, first_b)
    fpr, fnr = counts[:, 0] / counts[:, 2], counts[:, 1] / counts[:, 3]
    # :func:`epsilon` drops a rule with one zero rate because other rules carry the evidence; this
    # is the only rule, and one error-free side is strong evidence, not none: count half an error
    # there instead (a continuity correction), which bounds ε at about log(2 · trials)
    one_zero = (fpr == 0) != (fnr == 0)
    fpr = np.where(one_zero, np.maximum(fpr, 0.5 / counts[:, 2]), fpr)
    fnr = np.where(one_zero, np.maximum(fnr, 0.5 / counts[:, 3]), fnr)
    return fpr, fnr


def user_epsilons(
    unlearned: np.ndarray, retrained: np.ndarray, delta: float = DELTA, resolution: float = RESOLUTION, seed: int = 0,
    groups: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Per-example ε from statistics of shape (N, S) and (M, S) (models x examples); shape (S,).

    Values are first rounded to ``resolution``, so that floating-point noise between models that
    are equal in exact arithmetic is not taken for a difference. Identical point masses give 0;
    if one side's range is below 1 % of the other's (or one side is a point mass and the other is
    not), the sides count as separable (inf), as in the challenge's evaluation, because a very
    peaky distribution inside a wide one is easy to miss with few samples. Otherwise ε comes from
    :func:`attack_error_rates` (one rule per example). Deterministic for a given ``seed`` (it
    seeds the attack's splits); ``groups``: each row's model id on its side, when a bootstrap drew
    some models more than once (see :func:`attack_error_rates`).
    """
    unlearned, retrained = np.asarray(unlearned), np.asarray(retrained)
    if unlearned.ndim != 2 or retrained.ndim != 2 or unlearned.shape[1] != retrained.shape[1]:
        raise AmnesiaError(
            f"user_epsilons() takes (models, examples) arrays with the same examples; got {unlearned.shape} and {retrained.shape}."
        )
    if len(unlearned) < 2 or len(retrained) < 2:
        raise AmnesiaError(f"ε needs at least 2 models on each side; got {len(unlearned)} unlearned and {len(retrained)} retrained.")
    a = np.round(unlearned.astype(np.float64) / resolution) * resolution
    b = np.round(retrained.astype(np.float64) / resolution) * resolution
    spread_a, spread_b = np.ptp(a, axis=0), np.ptp(b, axis=0)
    widest, narrowest = np.maximum(spread_a, spread_b), np.minimum(spread_a, spread_b)
    result = np.full(a.shape[1], math.inf)
    result[(widest == 0) & (a[0] == b[0])] = 0.0  # identical point masses; other cases without spread: separable
    with np.errstate(invalid="ignore", divide="ignore"):
        attacked = np.flatnonzero((widest > 0) & (narrowest / widest >= PEAKY_RATIO))
    if attacked.size:
        rng = np.random.default_rng([seed, 13])
        fpr, fnr = attack_error_rates(a[:, attacked], b[:, attacked], rng, groups=groups)
        # one rule per example (:func:`epsilon` for each, without a Python loop): both rates 0 separate
        # perfectly; after the continuity correction no example has exactly one
        perfect = (fpr == 0) & (fnr == 0)
        bound = _bounds(np.where(perfect, 1.0, fpr), np.where(perfect, 1.0, fnr), delta)
        result[attacked] = np.where(perfect, math.inf, np.maximum(0.0, np.nan_to_num(bound, nan=0.0)))
    return result


def in_sample_epsilon(unlearned: np.ndarray, retrained: np.ndarray, delta: float = DELTA) -> np.ndarray:
    """Per-example ε as the challenge estimates it, for comparison: every single threshold on the
    statistic, both ways, with its rates counted on the very models it was chosen on; the best
    bound over them (:func:`epsilon`). Statistics (N, S) and (M, S); shape (S,). Biased upward
    with few models (identical distributions give ε well above 0): read it against its own null."""
    unlearned, retrained = np.asarray(unlearned, dtype=np.float64), np.asarray(retrained, dtype=np.float64)
    result = np.empty(unlearned.shape[1])
    for s in range(unlearned.shape[1]):
        a, b = np.sort(unlearned[:, s]), np.sort(retrained[:, s])
        values = np.unique(np.concatenate([a, b]))
        cuts = np.concatenate([[-np.inf], (values[1:] + values[:-1]) / 2, [np.inf]])
        below_a, below_b = np.searchsorted(a, cuts) / len(a), np.searchsorted(b, cuts) / len(b)
        # "below the cut means unlearned": FPR = retrained below, FNR = unlearned above; and the reverse
        fpr = np.concatenate([below_b, 1 - below_b])
        fnr = np.concatenate([1 - below_a, below_a])
        result[s] = epsilon(fpr, fnr, delta)
    return result


def max_epsilon(models: int) -> float:
    """⌈ln(N − 1)⌉: the largest ε that N models per side can resolve (the challenge's bound)."""
    if models < 3:
        raise AmnesiaError(
            f"Forgetting quality needs at least 3 models per side (got {models}); use --seeds 3 or more."
        )
    return float(math.ceil(math.log(models - 1)))


def epsilon_scores(epsilons: np.ndarray, models: int) -> np.ndarray:
    """Each example's score 2 / 2^bin, bin = ⌊ε / 0.5⌋ + 1; 0 at or above :func:`max_epsilon`."""
    eps = np.asarray(epsilons, dtype=np.float64)
    if np.any(np.isnan(eps)) or np.any(eps < 0):
        raise AmnesiaError("ε values must be non-negative numbers (inf allowed).")
    finite = np.where(np.isfinite(eps), eps, 0.0)
    scores = 2.0 / 2.0 ** (np.floor(finite / BIN_WIDTH) + 1)
    return np.where(eps < max_epsilon(models), scores, 0.0)


def forgetting_quality(epsilons: np.ndarray, models: int) -> float:
    """F: the mean of :func:`epsilon_scores` over the forget set (1 = indistinguishable)."""
    eps = np.asarray(epsilons)
    if eps.size == 0:
        raise AmnesiaError("Forgetting quality needs at least one forgotten example.")
    return float(epsilon_scores(eps, models).mean())


def final_score(
    quality: float, retain_unlearned: float, retain_retrained: float, test_unlearned: float, test_retrained: float
) -> float:
    """The challenge's final score: F x (retain utility ratio) x (test utility ratio); nan if a
    retrained utility is 0 (no ratio exists)."""
    if retain_retrained == 0 or test_retrained == 0:
        return math.nan
    return quality * (retain_unlearned / retain_retrained) * (test_unlearned / test_retrained)


# ---------------------------------------------------------------------------- membership attack
def pair_wins(members: np.ndarray, others: np.ndarray) -> np.ndarray:
    """1 where a member's attack score beats an other's, 0.5 on ties; shape (len(members), len(others)).

    The mean of this matrix is the attack's AUC (Mann-Whitney): 0.5 means indistinguishable.
    """
    m = np.asarray(members, dtype=np.float64)[:, None]
    o = np.asarray(others, dtype=np.float64)[None, :]
    return (m > o) + 0.5 * (m == o)


def auc(members: np.ndarray, others: np.ndarray) -> float:
    """P(attack score of a member > that of an other), ties counting half."""
    return float(pair_wins(members, others).mean())


# ---------------------------------------------------------------------------- ranking utility
def top_k(scores: np.ndarray, k: int = 10, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """The k best columns per row of ``scores`` (U, I), best first, ties by the smaller column.

    ``exclude``: a (U, I) sparse matrix whose non-zeros may not be recommended (the user's
    training items). Returns int64 (U, k); k is capped at I.
    """
    scores = np.array(scores, copy=True)
    if exclude is not None and exclude.nnz:
        coo = exclude.tocoo()
        scores[coo.row, coo.col] = -np.inf
    users, columns = scores.shape
    k = min(k, columns)
    if k == 0:
        return np.zeros((users, 0), dtype=np.int64)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < columns else np.tile(np.arange(k), (users, 1))
    values = np.take_along_axis(scores, part, axis=1)
    top = np.take_along_axis(part, np.lexsort((part, -values), axis=1), axis=1)
    # where the k-th best ties with a column argpartition left out, redo the row with every tied column
    kth = values.min(axis=1, keepdims=True)
    for row in np.flatnonzero((scores >= kth).sum(axis=1) > k):
        candidates = np.flatnonzero(scores[row] >= kth[row, 0])
        top[row] = candidates[np.lexsort((candidates, -scores[row, candidates]))[:k]]
    return top.astype(np.int64)


def ranking_metrics(top: np.ndarray, relevant: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """NDCG@k and Recall@k per row of ``top`` (U, k) against the non-zeros of ``relevant`` (U, I).

    NDCG@k = Σ_r hit_r / log2(r + 1) over ranks r ≤ k, divided by its ideal value for
    min(|relevant|, k) hits. Recall@k = hits / min(|relevant|, k), so a perfect list scores 1 for
    users with many relevant items too. Rows without relevant items give nan.
    """
    relevant = sp.csr_matrix(relevant)
    users, k = top.shape
    if users == 0:
        return np.zeros(0), np.zeros(0)
    # membership of (row, item) pairs as one sorted-key lookup instead of sparse element indexing
    width = relevant.shape[1]
    keys = np.repeat(np.arange(users, dtype=np.int64), np.diff(relevant.indptr)) * width + relevant.indices
    hits = np.isin(np.arange(users, dtype=np.int64)[:, None] * width + top, keys)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    counts = np.diff(relevant.indptr)
    ideal_hits = np.minimum(counts, k)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])[ideal_hits]
    with np.errstate(invalid="ignore", divide="ignore"):
        ndcg = np.where(counts > 0, (hits * discount).sum(axis=1) / ideal, np.nan)
        recall = np.where(counts > 0, hits.sum(axis=1) / ideal_hits, np.nan)
    return ndcg, recall


def top_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a_u ∩ b_u| / k for two (U, k) top-k lists; shape (U,)."""
    if a.shape != b.shape:
        raise AmnesiaError(f"top_overlap() compares lists of equal shape; got {a.shape} and {b.shape}.")
    if a.shape[1] == 0:
        return np.ones(len(a))
    return (a[:, :, None] == b[:, None, :]).any(axis=2).sum(axis=1) / a.shape[1]


def active_mask(activity: np.ndarray, share: float = 0.05) -> np.ndarray:
    """The most active ``share`` of users (at least one) by ``activity``; ties by the lower index.

    User-oriented fairness (Li et al., WWW 2021, as used by CURE4Rec) calls the top 5 % by number of
    interactions the advantaged group and the rest the disadvantaged group.
    """
    activity = np.asarray(activity)
    count = max(1, int(round(share * len(activity)))) if len(activity) > 1 else 0
    order = np.lexsort((np.arange(len(activity)), -activity))
    mask = np.zeros(len(activity), dtype=bool)
    mask[order[:count]] = True
    return mask


def group_gap(values: np.ndarray, active: np.ndarray) -> float:
    """mean(values of active users) − mean(values of the others), nan values ignored; nan if a
    group is empty."""
    values = np.asarray(values, dtype=np.float64)
    a, b = values[active & ~np.isnan(values)], values[~active & ~np.isnan(values)]
    return float(a.mean() - b.mean()) if len(a) and len(b) else math.nan


# ---------------------------------------------------------------------------- bootstrap
def _percentiles(samples: np.ndarray, level: float) -> tuple[float, float]:
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        return (math.nan, math.nan)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return (float(low), float(high))


def mean_ci(
    values: np.ndarray, rng: np.random.Generator, resamples: int = 1000, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (nan ignored), resampling entries."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return (math.nan, math.nan)
    picks = rng.integers(0, values.size, size=(resamples, values.size))
    return _percentiles(values[picks].mean(axis=1), level)


# ---------------------------------------------------------------------------- over models, then users
def _counts(rng: np.random.Generator, size: int, resamples: int) -> np.ndarray:
    """How often each of ``size`` units is drawn in each of ``resamples`` bootstrap draws; (resamples, size)."""
    picks = rng.integers(0, size, size=(resamples, size))
    # one bincount over all draws: draw r's units are offset by r * size
    offsets = np.arange(resamples)[:, None] * size
    return np.bincount((picks + offsets).ravel(), minlength=resamples * size).reshape(resamples, size)


def _weighted_means(values: np.ndarray, model_counts: np.ndarray, user_counts: np.ndarray) -> np.ndarray:
    """Each draw's mean of ``values`` (models, users) with cells weighted by model x user counts, nan skipped."""
    present = ~np.isnan(values)
    filled = np.where(present, values, 0.0)
    total = ((model_counts @ filled) * user_counts).sum(axis=1)
    weight = ((model_counts @ present.astype(np.float64)) * user_counts).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / weight


def hierarchical_ci(
    values: np.ndarray,
    rng: np.random.Generator,
    minus: np.ndarray | None = None,
    resamples: int = 1000,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of a mean over models and users, resampling models, then users.

    ``values``: (models, users), one row per independently trained model (nan: no value for that
    user). Each draw takes the models with replacement, then the users with replacement, so the
    interval carries model-to-model variance as well as user-to-user: a bootstrap over users with
    the models fixed treats N trained models as the only ones possible and is too narrow.
    ``minus``: (other models, the same users): the interval of the difference of the two means,
    paired over users (one user draw serves both) with each side's models drawn on their own (the
    sides' seeds are unrelated).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or (minus is not None and (np.ndim(minus) != 2 or np.shape(minus)[1] != values.shape[1])):
        raise AmnesiaError("hierarchical_ci() takes (models, users) arrays over the same users.")
    models, users = values.shape
    if models == 0 or users == 0:
        return (math.nan, math.nan)
    user_counts = _counts(rng, users, resamples)
    samples = _weighted_means(values, _counts(rng, models, resamples), user_counts)
    if minus is not None:
        minus = np.asarray(minus, dtype=np.float64)
        samples = samples - _weighted_means(minus, _counts(rng, minus.shape[0], resamples), user_counts)
    return _percentiles(samples, level)


def hierarchical_auc_ci(
    wins: np.ndarray, rng: np.random.Generator, resamples: int = 1000, level: float = 0.95
) -> tuple[float, float]:
    """Interval of an AUC over models, then members and others: ``wins`` (models, members,
    others) holds each model's :func:`pair_wins` matrix; each draw takes the models, the members
    and the others with replacement (with the models' mean fixed, the interval is too narrow)."""
    wins = np.asarray(wins, dtype=np.float64)
    models, m, n = wins.shape
    if models == 0 or m == 0 or n == 0:
        return (math.nan, math.nan)
    mixed = (_counts(rng, models, resamples) @ wins.reshape(models, m * n)).reshape(resamples, m, n) / models
    rows, cols = _counts(rng, m, resamples), _counts(rng, n, resamples)
    return _percentiles(np.einsum("rm,rmn,rn->r", rows, mixed, cols) / (m * n), level)


def hierarchical_gap_ci(
    values: np.ndarray, active: np.ndarray, rng: np.random.Generator, resamples: int = 1000, level: float = 0.95
) -> tuple[float, float]:
    """Interval of the fairness gap (mean of the ``active`` users minus the rest) over models, then
    users within each group: ``values`` (models, users), nan skipped."""
    values, active = np.asarray(values, dtype=np.float64), np.asarray(active, dtype=bool)
    if values.ndim != 2 or not active.any() or active.all():
        return (math.nan, math.nan)
    model_counts = _counts(rng, values.shape[0], resamples)
    means = [_weighted_means(values[:, group], model_counts, _counts(rng, int(group.sum()), resamples))
             for group in (active, ~active)]
    return _percentiles(means[0] - means[1], level)


def hierarchical_epsilon(
    unlearned: np.ndarray,
    retrained: np.ndarray,
    rng: np.random.Generator,
    resamples: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Intervals of the mean capped ε and of F (forgetting quality) over models, then users.

    ``unlearned`` (N, S) and ``retrained`` (M, S): the attack statistic per model and forgotten
    user. Each draw takes N and M models with replacement (each side at least two distinct), puts
    the copies of a model on the same side of the attack's split (:func:`user_epsilons` with
    groups: a copy in both halves would let the attack score a model it was chosen on), then takes
    the users with replacement. Returns ((ε low, ε high), (F low, F high)).
    """
    unlearned, retrained = np.asarray(unlearned, dtype=np.float64), np.asarray(retrained, dtype=np.float64)
    n, m, users = unlearned.shape[0], retrained.shape[0], unlearned.shape[1]
    cap = max_epsilon(min(n, m))
    eps_draws, quality_draws = np.empty(resamples), np.empty(resamples)
    for r in range(resamples):
        while True:
            pick_u, pick_r = rng.integers(0, n, n), rng.integers(0, m, m)
            if len(np.unique(pick_u)) >= 2 and len(np.unique(pick_r)) >= 2:
                break
        # ids numbered 0..k-1 once per draw (the attack halves them for every user and split)
        groups = (np.unique(pick_u, return_inverse=True)[1], np.unique(pick_r, return_inverse=True)[1])
        eps = user_epsilons(unlearned[pick_u], retrained[pick_r], seed=seed + r, groups=groups)
        who = rng.integers(0, users, users)
        eps_draws[r] = np.minimum(eps[who], cap).mean()
        quality_draws[r] = epsilon_scores(eps[who], min(n, m)).mean()
    return _percentiles(eps_draws, level), _percentiles(quality_draws, level)


def mean_capped_epsilon(unlearned: np.ndarray, retrained: np.ndarray, seed: int = 0) -> float:
    """The lab's ε of a method: the mean over forgotten users of the per-user ε, capped at what
    the smaller side's model count can resolve (:func:`max_epsilon`)."""
    cap = max_epsilon(min(len(unlearned), len(retrained)))
    return float(np.minimum(user_epsilons(unlearned, retrained, seed=seed), cap).mean())


def smallest_p_value(n: int, m: int, permutations: int = 499) -> float:
    """The p :func:`permutation_test` gives ``n`` unlearned and ``m`` retrained models that the
    attack tells apart completely, the clearest evidence there is: 1 / (1 + relabellings), or with
    every relabelling of n = m models 2 / C(2n, n), since swapping the two sides of such samples
    scores the same capped ε. With 3 + 3 models it is 2 / 20 = 0.1: such a test cannot reject at
    0.05 even then, so its "not rejected" says nothing (a quick run had read "forgets: yes" beside
    ε = 1 and F = 0). It is not the smallest p there is: a less clear ε that the attack's random
    halves happen to rank first of the 20 labellings gets 1 / 20 (a visitor saw 0.050 under a
    sentence that called 0.100 the smallest)."""
    relabellings = math.comb(n + m, n)
    if relabellings - 1 <= permutations:
        return (2 if n == m else 1) / relabellings
    return 1 / (1 + permutations)


def permutation_test(
    unlearned: np.ndarray, retrained: np.ndarray, rng: np.random.Generator, permutations: int = 499, seed: int = 0
) -> tuple[float, float]:
    """Can the attack tell the unlearned models from the retrained ones? (observed ε, p-value).

    H0: the N + M models are exchangeable (unlearning gave models distributed like retrains). The
    statistic is :func:`mean_capped_epsilon`; under H0 any relabelling of whole models (the same
    one for every user: a model is the unit) is as likely as the observed one. The p-value is
    (1 + #relabellings with ε ≥ observed) / (1 + #relabellings), over every relabelling when there
    are at most ``permutations`` of them, else over ``permutations`` random ones: a test at level
    α rejects H0 in at most a share α of retrain-vs-retrain comparisons, whatever N.
    """
    unlearned, retrained = np.asarray(unlearned, dtype=np.float64), np.asarray(retrained, dtype=np.float64)
    pooled = np.concatenate([unlearned, retrained])
    n, total = len(unlearned), len(unlearned) + len(retrained)
    observed = mean_capped_epsilon(unlearned, retrained, seed)
    if math.comb(total, n) - 1 <= permutations:
        splits = [np.array(c) for c in combinations(range(total), n) if c != tuple(range(n))]
    else:
        splits = [rng.permutation(total)[:n] for _ in range(permutations)]
    at_least = 0
    for chosen in splits:
        mask = np.zeros(total, dtype=bool)
        mask[chosen] = True
        at_least += mean_capped_epsilon(pooled[mask], pooled[~mask], seed) >= observed - 1e-12
    return observed, (1 + at_least) / (1 + len(splits))
