"""Implicit-feedback matrix factorisation (weighted ALS, Hu, Koren & Volinsky 2008) for the lab.

Training uses the ``implicit`` package (CPU, conjugate-gradient ALS). The loss it minimises, on a
binary user-item matrix R (U x I) with P = R, is

    L(X, Y) = Σ_{u,i} w_ui (p_ui − x_u·y_i)² + λ (‖X‖² + ‖Y‖²),   w_ui = α if r_ui = 1 else 1,

with user factors X (U x k) and item factors Y (I x k). The approximate unlearning methods need
that loss's gradients and its diagonal Fisher information; they are here, in numpy/scipy, using
the identity Σ_{u,i} (x_u·y_i)² = tr(XᵀX YᵀY) so that nothing U x I is ever materialised.

A user index with no training data (a forgotten user) gets a zero vector, and so does an item
nobody in the data interacted with: such rows hold only random initialisation, no information.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from ..errors import AmnesiaError


@dataclass(frozen=True)
class ALSParams:
    """Hyper-parameters of weighted ALS (chosen on a validation split; see docs/lab.md)."""

    factors: int = 32
    regularization: float = 10.0
    alpha: float = 5.0
    iterations: int = 15


# Chosen with `python -m amnesia.lab.tune` on a validation split of MovieLens latest-small's
# training interactions (best NDCG@10 on validation items of 60 grid points); docs/lab_tuning.md.
DEFAULT_PARAMS = ALSParams()


@dataclass
class MF:
    """A factorisation: ``user_factors`` (U, k) and ``item_factors`` (I, k), float32.

    Row u of ``user_factors`` belongs to user index u of the lab's data; a zero row means the
    model has no vector for that user.
    """

    user_factors: np.ndarray
    item_factors: np.ndarray
    params: ALSParams = field(default_factory=ALSParams)

    def copy(self) -> MF:
        return MF(self.user_factors.copy(), self.item_factors.copy(), self.params)

    def scores(self, users: np.ndarray) -> np.ndarray:
        """x_u·y_i for ``users`` (indices) and every item; shape (len(users), I)."""
        return self.user_factors[users] @ self.item_factors.T


def as_matrix(matrix: sp.spmatrix) -> sp.csr_matrix:
    """A binary float32 CSR copy of ``matrix`` (duplicates and values collapse to 1)."""
    csr = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    csr.sum_duplicates()
    csr.data[:] = 1.0
    csr.eliminate_zeros()
    return csr


def fit(
    matrix: sp.csr_matrix,
    params: ALSParams = DEFAULT_PARAMS,
    seed: int = 0,
    init: MF | None = None,
    iterations: int | None = None,
    threads: int = 1,
) -> MF:
    """Weighted ALS on the binary ``matrix`` (U, I) with ``implicit``; deterministic per ``seed``.

    ``init``: start from these factors instead of random ones (a warm start, for fine-tuning);
    ``iterations``: ALS sweeps (default ``params.iterations``). BLAS is limited to one thread
    during the fit (implicit parallelises over users itself and nested BLAS threads only slow it
    down on a small machine); the limit is lifted when the fit returns.
    """
    from implicit.cpu.als import AlternatingLeastSquares

    matrix = as_matrix(matrix)
    users, items = matrix.shape
    with threadpool_limits(limits=1, user_api="blas"):
        model = AlternatingLeastSquares(
            factors=params.factors,
            regularization=params.regularization,
            alpha=params.alpha,
            iterations=params.iterations if iterations is None else iterations,
            num_threads=threads,
            random_state=seed,
        )
        if init is not None:
            if init.user_factors.shape != (users, params.factors) or init.item_factors.shape != (items, params.factors):
                raise AmnesiaError(
                    f"A warm start needs factors of shape ({users}, {params.factors}) and ({items}, {params.factors}); "
                    f"got {init.user_factors.shape} and {init.item_factors.shape}."
                )
            model.user_factors = np.array(init.user_factors, dtype=np.float32, copy=True)
            model.item_factors = np.array(init.item_factors, dtype=np.float32, copy=True)
        model.fit(matrix, show_progress=False)
    x = np.asarray(model.user_factors, dtype=np.float32)
    y = np.asarray(model.item_factors, dtype=np.float32)
    x[np.diff(matrix.indptr) == 0] = 0.0
    y[np.bincount(matrix.indices, minlength=items) == 0] = 0.0
    return MF(x, y, params)


def fold_in(item_factors: np.ndarray, histories: sp.csr_matrix, params: ALSParams) -> tuple[np.ndarray, np.ndarray]:
    """Each history's best user vector for fixed item factors, and its relative loss.

    ``histories``: (n, I) binary. For history h_u (items I_u) the vector is
    x_u = argmin Σ_i w_ui (h_ui − x·y_i)² + λ‖x‖²  = (YᵀY + (α−1) Y_Iᵀ Y_I + λI)⁻¹ α Y_Iᵀ 1,
    the same solve an ALS user step makes. The loss at the optimum is α|I_u| − bᵀx_u; it is
    returned divided by α|I_u| (its value for x = 0), so it lies in [0, 1]: 0 = the item factors
    explain the history perfectly, 1 = not at all. Returns (X (n, k), loss (n,)); an empty
    history gives a zero vector and loss 1.
    """
    y = np.asarray(item_factors, dtype=np.float64)
    k = y.shape[1]
    histories = as_matrix(histories)
    gram = y.T @ y + params.regularization * np.eye(k)
    n = histories.shape[0]
    a = np.empty((n, k, k))
    b = np.zeros((n, k))
    for u in range(n):  # one small (k x |I_u|) product per user: faster here than any blocked form
        items = histories.indices[histories.indptr[u] : histories.indptr[u + 1]]
        y_u = y[items]
        a[u] = gram + (params.alpha - 1.0) * (y_u.T @ y_u)
        b[u] = params.alpha * y_u.sum(axis=0)
    x = np.linalg.solve(a, b[:, :, None])[:, :, 0] if n else np.zeros((0, k))
    counts = np.diff(histories.indptr)
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = np.where(counts > 0, 1.0 - np.einsum("uk,uk->u", b, x) / (params.alpha * counts), 1.0)
    return x, loss


def _observed_dots(x: np.ndarray, y: np.ndarray, matrix: sp.csr_matrix) -> np.ndarray:
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    return np.einsum("nk,nk->n", x[rows], y[matrix.indices])


def loss_and_gradients(
    x: np.ndarray,
    y: np.ndarray,
    matrix: sp.csr_matrix,
    params: ALSParams,
    observed_only: bool = False,
    regularize: bool = True,
) -> tuple[float, np.ndarray, np.ndarray]:
    """L(X, Y) of the module docstring on ``matrix`` (U, I) and its gradients (U, k), (I, k).

    ``observed_only``: only the observed entries' term Σ_{r_ui=1} α (1 − x_u·y_i)² (the loss of
    "the data" itself, which NegGrad ascends for the forgotten users). ``regularize``: add λ‖·‖².
    Float64 throughout.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    matrix = as_matrix(matrix)
    alpha = params.alpha
    s = _observed_dots(x, y, matrix)
    if observed_only:
        loss = float((alpha * (1 - s) ** 2).sum())
        slope = -2 * alpha * (1 - s)
        grad_x, grad_y = np.zeros_like(x), np.zeros_like(y)
    else:
        xtx, yty = x.T @ x, y.T @ y
        # all entries as if unobserved (Σ s²), then the observed ones corrected to α(1 − s)²
        loss = float(np.sum(xtx * yty) + (alpha * (1 - s) ** 2 - s**2).sum())
        slope = -2 * alpha * (1 - s) - 2 * s
        grad_x, grad_y = 2 * x @ yty, 2 * y @ xtx
    g = sp.csr_matrix((slope, matrix.indices, matrix.indptr), shape=matrix.shape)
    grad_x += g @ y
    grad_y += g.T @ x
    if regularize:
        lam = params.regularization
        loss += lam * (float(np.sum(x**2)) + float(np.sum(y**2)))
        grad_x += 2 * lam * x
        grad_y += 2 * lam * y
    return loss, grad_x, grad_y


def fisher_diagonal(
    x: np.ndarray, y: np.ndarray, matrix: sp.csr_matrix, params: ALSParams
) -> tuple[np.ndarray, np.ndarray]:
    """Diagonal Fisher information of the weighted loss on ``matrix`` for X and for Y.

    Reading the loss as a Gaussian likelihood with precision w_ui per entry, the Fisher of
    x_uk is Σ_i w_ui y_ik² and that of y_ik is Σ_u w_ui x_uk² (equal to the Gauss-Newton Hessian
    up to a factor 2); λ is added for the prior. Shapes (U, k) and (I, k), float64.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    matrix = as_matrix(matrix)
    extra = params.alpha - 1.0
    x2, y2 = x**2, y**2
    fisher_x = y2.sum(axis=0)[None, :] + extra * (matrix @ y2) + params.regularization
    fisher_y = x2.sum(axis=0)[None, :] + extra * (matrix.T @ x2) + params.regularization
    return fisher_x, fisher_y


def with_params(params: ALSParams, **changes: float) -> ALSParams:
    """``params`` with some fields replaced (for the tuning grid)."""
    return replace(params, **changes)
