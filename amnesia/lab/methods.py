"""Unlearning methods: each takes a trained model, the training data and the users to forget,
and returns a model that should behave as if those users had never been in the data.

- :func:`retrain`: weighted ALS from scratch on the retained data (exact; the reference).
- :func:`sisa_fit` / :func:`sisa_forget`: SISA (Bourtoule et al., S&P 2021) for a recommender: users
  are sharded, one ALS sub-model per shard, scores averaged over shards; forgetting retrains only
  the shards that held a forgotten user (exact, for the sharded model). ALS has no incremental
  training to checkpoint, so there is no slicing: S of SISA's "sharded, isolated, sliced,
  aggregated" without the slices.
- :func:`fine_tune`: a few ALS sweeps on the retained data, warm-started from the trained factors.
- :func:`unlearn_als`: Unlearn-ALS (Xu et al., "Netflix and Forget", 2023), as we read the paper:
  the removed interactions get zero weight, ALS starts from the trained factors and runs until the
  item factors stop moving; the paper says this is consistent with retraining.
- :func:`neggrad`: gradient ascent on the forgotten interactions' loss together with descent on
  the retained loss (diagonally preconditioned steps).
- :func:`fisher_forget`: Golatkar et al.'s Fisher forgetting (CVPR 2020): Gaussian noise with
  standard deviation α · F^(-1/4) per parameter, F the diagonal Fisher information of the
  retained loss, so parameters the retained data pins down move little.
- :func:`drop_vectors`: delete the forgotten users' vectors and nothing else (what a deletion
  pipeline that only deletes rows leaves behind).
- :func:`forget_users`: this project's exact models forget: item-based CF (``amnesia.ItemCF``)
  by decremental counts, with :func:`itemcf_certificate` comparing its fingerprint with a
  retrain's; EASE (``amnesia.EASE``) by exact rank-one updates of its inverse, with
  :func:`ease_certificate` comparing the exact state and P with a retrain's.

Every approximate method also deletes the forgotten users' vectors: a retrained model has none.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..engine.ease import EASE
from ..engine.ease import TOLERANCE as EASE_TOLERANCE
from ..engine.model import ItemCF
from ..errors import AmnesiaError
from .data import rows_only
from .mf import MF, ALSParams, fisher_diagonal, fit, fold_in, loss_and_gradients


@dataclass(frozen=True)
class MethodParams:
    """Hyper-parameters of the approximate methods and SISA: chosen with ``python -m amnesia.lab.tune``
    on a validation forget set and validation items (docs/lab_tuning.md); the shard count is a
    design choice."""

    finetune_sweeps: int = 3
    neggrad_steps: int = 10
    neggrad_rate: float = 0.3
    neggrad_forget_weight: float = 0.3
    fisher_alpha: float = 0.15
    unlearn_tolerance: float = 1e-3
    shards: int = 32  # enough that a small forget set leaves shards untouched (4 were all hit by 30 users)


DEFAULT_METHOD_PARAMS = MethodParams()


def _retained(train: sp.csr_matrix, forget: np.ndarray) -> sp.csr_matrix:
    keep = np.setdiff1d(np.arange(train.shape[0]), forget)
    return rows_only(train, keep)


def _check_forget(train: sp.csr_matrix, forget: np.ndarray) -> np.ndarray:
    forget = np.unique(np.asarray(forget, dtype=np.int64))
    if forget.size and (forget[0] < 0 or forget[-1] >= train.shape[0]):
        raise AmnesiaError(f"Forget-set indices must lie in [0, {train.shape[0]}); got {forget[0]}..{forget[-1]}.")
    return forget


def _without_users(model: MF, forget: np.ndarray) -> MF:
    result = model.copy()
    result.user_factors[forget] = 0.0
    return result


# ---------------------------------------------------------------------------- exact: retrain
def retrain(model: MF, train: sp.csr_matrix, forget: np.ndarray, seed: int, threads: int = 1) -> MF:
    """Weighted ALS from scratch on ``train`` without the ``forget`` users' rows (same params)."""
    forget = _check_forget(train, forget)
    return fit(_retained(train, forget), model.params, seed=seed, threads=threads)


# ---------------------------------------------------------------------------- exact: SISA
@dataclass
class Sisa:
    """A sharded model: ``shard_of_user`` (U,) and one item-factor matrix (I, k) per shard.

    A user is scored by folding their history into every shard's item factors and averaging
    the shards' scores; a shard's factors only ever saw the users assigned to it.
    """

    shard_of_user: np.ndarray
    item_factors: list[np.ndarray]
    params: ALSParams
    seeds: list[int] = field(default_factory=list)

    @property
    def shards(self) -> int:
        return len(self.item_factors)

    def fold_in_loss(self, histories: sp.csr_matrix) -> np.ndarray:
        """Mean over shards of :func:`amnesia.lab.mf.fold_in`'s relative loss; shape (n,)."""
        return np.mean([fold_in(y, histories, self.params)[1] for y in self.item_factors], axis=0)

    def scores(self, histories: sp.csr_matrix) -> np.ndarray:
        """Mean over shards of the folded-in users' scores; shape (n, I)."""
        total = None
        for y in self.item_factors:
            x, _ = fold_in(y, histories, self.params)
            part = x @ y.T.astype(np.float64)
            total = part if total is None else total + part
        return total / self.shards


def sisa_partition(users: int, shards: int, seed: int) -> np.ndarray:
    """A balanced, seeded assignment of ``users`` to ``shards``; shape (users,), int64."""
    if not 1 <= shards <= max(1, users):
        raise AmnesiaError(f"SISA needs between 1 and {users} shards for {users} users; got {shards}.")
    return np.random.default_rng([seed, 7]).permutation(users) % shards


def fit_shard(train: sp.csr_matrix, users: np.ndarray, params: ALSParams, seed: int, threads: int = 1) -> np.ndarray:
    """One shard's item factors (I, k): ALS on the shard's users who have data, restricted to
    the items they interacted with; every other item's factors are 0 (the shard never saw it)."""
    rows = sp.csr_matrix(train[np.asarray(users, dtype=np.int64)])
    rows = rows[np.diff(rows.indptr) > 0]
    item_factors = np.zeros((train.shape[1], params.factors), dtype=np.float32)
    if rows.nnz == 0:
        return item_factors
    columns = np.unique(rows.indices)
    item_factors[columns] = fit(rows[:, columns], params, seed=seed, threads=threads).item_factors
    return item_factors


def _shard_seed(seed: int, shard: int, retrained: bool) -> int:
    return seed * 1000 + shard + (500 if retrained else 0)


def sisa_fit(train: sp.csr_matrix, shard_of_user: np.ndarray, params: ALSParams, seed: int, threads: int = 1,
             skip: frozenset[int] = frozenset()) -> Sisa:
    """Train every shard from scratch (seed per shard derived from ``seed``).

    ``skip``: shards left untrained (zero factors), for an experiment that is about to retrain
    them anyway (a forget that hits them replaces them without reading them).
    """
    shards = int(shard_of_user.max()) + 1 if len(shard_of_user) else 0
    seeds = [_shard_seed(seed, s, False) for s in range(shards)]
    factors = [
        np.zeros((train.shape[1], params.factors), dtype=np.float32) if s in skip
        else fit_shard(train, np.flatnonzero(shard_of_user == s), params, seeds[s], threads)
        for s in range(shards)
    ]
    return Sisa(np.asarray(shard_of_user), factors, params, seeds)


def sisa_forget(model: Sisa, train: sp.csr_matrix, forget: np.ndarray, seed: int, threads: int = 1) -> Sisa:
    """Retrain, from scratch and with fresh seeds, only the shards that held a forgotten user."""
    forget = _check_forget(train, forget)
    retained = _retained(train, forget)
    factors, seeds = list(model.item_factors), list(model.seeds)
    for shard in np.unique(model.shard_of_user[forget]):
        seeds[shard] = _shard_seed(seed, int(shard), True)
        factors[shard] = fit_shard(
            retained, np.flatnonzero(model.shard_of_user == shard), model.params, seeds[shard], threads
        )
    return Sisa(model.shard_of_user, factors, model.params, seeds)


# ---------------------------------------------------------------------------- approximate
def fine_tune(
    model: MF,
    train: sp.csr_matrix,
    forget: np.ndarray,
    seed: int,
    sweeps: int = DEFAULT_METHOD_PARAMS.finetune_sweeps,
    threads: int = 1,
) -> MF:
    """``sweeps`` ALS sweeps on the retained data, starting from the trained factors (the
    forgotten users' vectors deleted first). Deterministic: ``seed`` is unused."""
    forget = _check_forget(train, forget)
    if sweeps < 1:
        raise AmnesiaError(f"Fine-tuning needs at least one ALS sweep; got {sweeps}.")
    return fit(
        _retained(train, forget),
        model.params,
        seed=seed,
        init=_without_users(model, forget),
        iterations=sweeps,
        threads=threads,
    )


def unlearn_als(
    model: MF,
    train: sp.csr_matrix,
    forget: np.ndarray,
    seed: int,
    tolerance: float = DEFAULT_METHOD_PARAMS.unlearn_tolerance,
    max_sweeps: int | None = None,
    threads: int = 1,
) -> MF:
    """Unlearn-ALS for whole users: ALS sweeps on the retained data from the trained factors, one
    at a time, until the item factors move less than ``tolerance`` (relative Frobenius norm) in a
    sweep, or ``max_sweeps`` (default: the model's own training iterations).

    The paper's modifications of fine-tuning are: give the removed entries zero weight (they are
    neither positives nor negatives), start from the trained factors, and iterate to convergence.
    When every interaction of a user is removed, a zero-weight row only yields a zero user vector
    that adds nothing to the item step, so it equals dropping the user's row, which this does; what
    is left to test is the claim that iterating to convergence lands where a retrain does.
    Deterministic: ``seed`` is unused.
    """
    forget = _check_forget(train, forget)
    if not 0 < tolerance < 1:
        raise AmnesiaError(f"Unlearn-ALS's tolerance must be between 0 and 1; got {tolerance}.")
    retained = _retained(train, forget)
    current = _without_users(model, forget)
    for _ in range(max_sweeps or model.params.iterations):
        following = fit(retained, model.params, seed=seed, init=current, iterations=1, threads=threads)
        moved = np.linalg.norm(following.item_factors - current.item_factors)
        scale = max(float(np.linalg.norm(current.item_factors)), 1e-12)
        current = following
        if moved / scale < tolerance:
            break
    return current


def neggrad(
    model: MF,
    train: sp.csr_matrix,
    forget: np.ndarray,
    seed: int,
    steps: int = DEFAULT_METHOD_PARAMS.neggrad_steps,
    rate: float = DEFAULT_METHOD_PARAMS.neggrad_rate,
    forget_weight: float = DEFAULT_METHOD_PARAMS.neggrad_forget_weight,
) -> MF:
    """NegGrad: ``steps`` full-batch steps on L_retained − w · L_forgotten.

    L_retained is the weighted ALS loss on the retained users (all their entries); L_forgotten is
    the loss of the forgotten interactions themselves (Σ α (1 − x_u·y_i)² over their observed
    entries), ascended for the item factors (the forgotten users' own vectors are deleted at the
    end). Each step is preconditioned by the diagonal curvature of the retained loss
    (2 · Fisher), so ``rate`` = 1 is a diagonal Newton step. Deterministic: ``seed`` is unused.
    """
    forget = _check_forget(train, forget)
    if steps < 0 or rate <= 0 or forget_weight < 0:
        raise AmnesiaError("NegGrad needs steps >= 0, a positive rate and a non-negative forget weight.")
    params = model.params
    retained, forgotten = _retained(train, forget), rows_only(train, forget)
    x = model.user_factors.astype(np.float64)
    x_forget = np.zeros_like(x)
    x_forget[forget] = x[forget]
    x[forget] = 0.0
    y = model.item_factors.astype(np.float64)
    for _ in range(steps):
        _, grad_x, grad_y = loss_and_gradients(x, y, retained, params)
        if forget.size and forget_weight:
            _, _, grad_forget = loss_and_gradients(x_forget, y, forgotten, params, observed_only=True, regularize=False)
            grad_y = grad_y - forget_weight * grad_forget
        curvature_x, curvature_y = fisher_diagonal(x, y, retained, params)
        x -= rate * grad_x / (2 * curvature_x)
        y -= rate * grad_y / (2 * curvature_y)
        x[forget] = 0.0
    return MF(x.astype(np.float32), y.astype(np.float32), params)


def fisher_forget(
    model: MF, train: sp.csr_matrix, forget: np.ndarray, seed: int, alpha: float = DEFAULT_METHOD_PARAMS.fisher_alpha
) -> MF:
    """Fisher forgetting: θ' = θ + α · F^(-1/4) · n, n ~ N(0, I), with F the diagonal Fisher of
    the retained loss at θ (λ included), for the item factors and the retained users' vectors;
    the forgotten users' vectors are deleted. ``seed`` seeds the noise."""
    forget = _check_forget(train, forget)
    if alpha < 0:
        raise AmnesiaError(f"Fisher forgetting's noise scale α must be >= 0; got {alpha}.")
    params = model.params
    retained = _retained(train, forget)
    x = model.user_factors.astype(np.float64)
    x[forget] = 0.0
    y = model.item_factors.astype(np.float64)
    fisher_x, fisher_y = fisher_diagonal(x, y, retained, params)
    rng = np.random.default_rng([seed, 11])
    x = x + alpha * fisher_x**-0.25 * rng.standard_normal(x.shape)
    y = y + alpha * fisher_y**-0.25 * rng.standard_normal(y.shape)
    x[forget] = 0.0
    return MF(x.astype(np.float32), y.astype(np.float32), params)


def drop_vectors(model: MF, train: sp.csr_matrix, forget: np.ndarray, seed: int) -> MF:
    """Delete the forgotten users' vectors; the item factors keep what they learnt from them."""
    return _without_users(model, _check_forget(train, forget))


# ---------------------------------------------------------------------------- exact: item-based CF
def forget_users(model: ItemCF | EASE, users: np.ndarray) -> tuple[ItemCF | EASE, float]:
    """Forget ``users`` (external ids) in place, one request each, with the model's own exact
    updates (item-CF's decremental counts, EASE's rank-one updates of P).

    Returns the model and the wall time of the forget calls, in seconds.
    """
    started = time.perf_counter()
    for user in np.asarray(users).tolist():
        model.forget_user(int(user))
    return model, time.perf_counter() - started


def itemcf_certificate(unlearned: ItemCF, retained_interactions: pd.DataFrame) -> tuple[dict, ItemCF, float]:
    """Retrain item-CF (its measure, its neighbour lists if any) on ``retained_interactions`` and
    compare fingerprints (the lists included).

    Returns (certificate, the retrained model, retrain seconds); the certificate holds both
    SHA-256 fingerprints and whether they are equal.
    """
    started = time.perf_counter()
    retrained = ItemCF.fit(retained_interactions, unlearned.measure, neighbours=unlearned.neighbours,
                           scoring=unlearned.scoring)
    seconds = time.perf_counter() - started
    mine, theirs = unlearned.fingerprint(), retrained.fingerprint()
    return {"fingerprint_unlearned": mine, "fingerprint_retrained": theirs, "equal": mine == theirs}, retrained, seconds


# ---------------------------------------------------------------------------- exact: EASE
def ease_fit(interactions: pd.DataFrame, items: np.ndarray, l2: float) -> EASE:
    """EASE on ``interactions`` scoring every item of ``items`` (the lab's item set), ridge ``l2``."""
    return EASE.fit(interactions, l2=l2, items=np.asarray(items).tolist())


def ease_certificate(unlearned: EASE, retained_interactions: pd.DataFrame) -> tuple[dict, EASE, float]:
    """Retrain EASE on ``retained_interactions`` over the same items and compare: the exact state's
    fingerprints and P's largest difference from the retrain's (relative to its largest entry).

    Returns (certificate, the retrained model, retrain seconds)."""
    started = time.perf_counter()
    retrained = EASE.fit(retained_interactions, l2=unlearned.l2, items=unlearned.items_scored.tolist())
    seconds = time.perf_counter() - started
    mine, theirs = unlearned.fingerprint(), retrained.fingerprint()
    difference = float(np.abs(unlearned.inverse - retrained.inverse).max())
    relative = difference / float(np.abs(retrained.inverse).max())
    certificate = {"fingerprint_unlearned": mine, "fingerprint_retrained": theirs, "p_max_rel_diff": relative,
                   "equal": mine == theirs and relative <= EASE_TOLERANCE}
    return certificate, retrained, seconds
