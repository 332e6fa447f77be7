"""EASE that forgets exactly: the item-item ridge regression of Steck (WWW 2019), kept up to date
by rank-one updates of its inverse.

State: the exact integer counts of :class:`~amnesia.engine.model.ItemCF` (H, n and C, so
G = XᵀX is C with n on its diagonal) and, over the model's item set, the float64 inverse
P = (G + λI)⁻¹. The weights B = I − P·diag(1/diag P) and a user's scores x_u·B are derived
from P when read.

Forgetting user u subtracts x_u x_uᵀ from G (x_u the 0/1 row of their items in the item set),
a rank-one change, so P follows by Sherman–Morrison in O(items²) instead of a new O(items³)
inverse:  (A − x xᵀ)⁻¹ = P + (P x)(P x)ᵀ / (1 − xᵀ P x),  where P x is the sum of P's rows
over the user's items. Adding a user is the same with +x; changing a user's history is a
downdate of the old row and an update of the new one. Each update is one in-place BLAS rank-one
update of P (no items² temporary).

The item set is fixed at fit: the items at least ``min_viewers`` users had then (P is dense,
items² float64: 756 MB for MovieLens latest-small's 9,724 items). Items that arrive later are
counted exactly in H, n and C but are not scored. A retrain "on the same data" is therefore
``EASE.fit(remaining, l2, items=model.items_scored)``, and :meth:`EASE.verify` compares with one.

Rounding: each update adds a few ulps of error to P; :meth:`EASE.error` measures the residual
‖(G + λI)·P − I‖ on probe columns, and :meth:`EASE.apply` recomputes P from G when it passes
``tolerance`` (checked every ``check_every`` updates).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg as sl
from scipy.linalg.blas import dger

from ..errors import AmnesiaError, UnknownUserError
from ..limits import Limits
from .changes import ChangeSet
from .model import ItemCF
from .recommend import Recommendation
from .requests import ChangeRequest, parse_request

#: Default ridge strength λ (Steck's MovieLens setting is in the hundreds; the quality benchmark chooses it).
DEFAULT_L2 = 100.0
#: Largest residual max|(G + λI)·P − I| on the probe columns before P is recomputed from G.
TOLERANCE = 1e-9
#: Decimals scores are ranked at: far above the rounding of updates (~1e-15), far below real differences.
RANK_DECIMALS = 10
#: Updates between two residual checks (a check costs two matrix-vector products).
CHECK_EVERY = 16


@dataclass(frozen=True)
class Certificate:
    """What :meth:`EASE.verify` found: P recomputed from G against the maintained P (largest
    absolute difference, and relative to P's largest entry), and a retrain on the remaining
    interactions over the same items (fingerprints of the exact state, every user's top-10)."""

    max_abs_diff: float
    max_rel_diff: float
    fingerprint_equal: bool
    top10_equal: bool
    users_compared: int
    seconds: float

    @property
    def exact(self) -> bool:
        """Equal exact state, equal top-10 lists, and P within :data:`TOLERANCE` (relative)."""
        return self.fingerprint_equal and self.top10_equal and self.max_rel_diff <= TOLERANCE


def _inverse(gram: np.ndarray) -> np.ndarray:
    """(gram)⁻¹ of a symmetric positive definite matrix by Cholesky, float64, C-contiguous, in
    place of ``gram`` (no second items² array)."""
    factor, info = sl.lapack.dpotrf(gram, lower=0, overwrite_a=1)
    if info != 0:
        raise AmnesiaError(f"G + λI is not positive definite (LAPACK dpotrf info {info}); use a larger l2.")
    inverse, info = sl.lapack.dpotri(factor, lower=0, overwrite_c=1)
    if info != 0:
        raise AmnesiaError(f"Inverting G + λI failed (LAPACK dpotri info {info}).")
    # dpotri fills the upper triangle: mirror it block by block (index arrays of the whole triangle
    # would take as much memory as P again)
    size, step = inverse.shape[0], 512
    for start in range(0, size, step):
        stop = min(start + step, size)
        inverse[start:stop, :start] = inverse[:start, start:stop].T
        block = inverse[start:stop, start:stop]
        block[...] = np.triu(block) + np.triu(block, 1).T
    return inverse.T if inverse.flags.f_contiguous else np.ascontiguousarray(inverse)  # symmetric: .T is C-ordered


class EASE:
    """EASE over a fixed item set, forgotten exactly. Build with :meth:`fit`; change with
    :meth:`apply` or :meth:`forget_user` (the same JSON requests and limits as ItemCF)."""

    def __init__(self, counts: ItemCF, items: np.ndarray, l2: float, inverse: np.ndarray):
        self.counts_model = counts  # the exact H, n, C (G = C with n on the diagonal)
        self.items_scored = items  # external ids of P's rows, sorted, int64
        self.l2 = float(l2)
        self._p = inverse  # (k, k) float64, C-contiguous, symmetric
        self._since_check = 0
        self.refreshes = 0  # times P was recomputed from G because the residual passed the tolerance

    # ------------------------------------------------------------------ construction
    @classmethod
    def fit(cls, interactions: Any, l2: float = DEFAULT_L2, min_viewers: int = 1,
            items: Sequence[int] | None = None) -> EASE:
        """Train on ``interactions`` (as :meth:`ItemCF.fit` takes them). The scored items are
        ``items`` if given, else every item at least ``min_viewers`` users interacted with."""
        if not (isinstance(l2, (int, float)) and np.isfinite(l2) and l2 > 0):
            raise AmnesiaError(f"l2 must be a positive number (the ridge strength λ), got {l2!r}.")
        if isinstance(min_viewers, bool) or not isinstance(min_viewers, int) or min_viewers < 1:
            raise AmnesiaError(f"min_viewers must be a whole number of at least 1, got {min_viewers!r}.")
        counts = ItemCF.fit(interactions)
        if items is None:
            known = np.asarray(counts.items(), dtype=np.int64)
            scored = known[counts.counts(known.tolist()) >= min_viewers] if len(known) else known
        else:
            scored = np.unique(np.asarray(list(items), dtype=np.int64))
        model = cls(counts, np.sort(scored), l2, np.zeros((0, 0)))
        model._p = _inverse(model._gram())
        return model

    def _gram(self) -> np.ndarray:
        """G + λI over the scored items, float64 (from the exact counts)."""
        items = self.items_scored.tolist()
        gram = self.counts_model.cooccurrences(items, items).astype(np.float64) if items else np.zeros((0, 0))
        gram[np.diag_indices_from(gram)] += self.l2
        return gram.T  # symmetric: the transpose of the C-ordered array is the Fortran array LAPACK wants, no copy

    def fork(self) -> EASE:
        """An independent copy (P is copied: items² floats)."""
        copy = EASE(self.counts_model.fork(), self.items_scored, self.l2, self._p.copy())
        copy.refreshes = self.refreshes
        return copy

    # ------------------------------------------------------------------ changes
    @property
    def time(self) -> int:
        return self.counts_model.time

    def _rows(self, users: Sequence[int]) -> dict[int, np.ndarray]:
        """Each user's items as positions among the scored items, sorted."""
        rows = {}
        for user in users:
            history = np.asarray(self.counts_model.history(user), dtype=np.int64)
            position = np.searchsorted(self.items_scored, history)
            inside = position < len(self.items_scored)
            inside[inside] &= self.items_scored[position[inside]] == history[inside]
            rows[user] = position[inside]
        return rows

    def _rank_one(self, row: np.ndarray, sign: int) -> None:
        """P ← (P⁻¹ + sign · x xᵀ)⁻¹ for the 0/1 vector x with ones at ``row`` (Sherman–Morrison)."""
        if len(row) == 0:
            return
        u = self._p[row].sum(axis=0)  # P x (P is symmetric: the sum of its rows at x's ones)
        denominator = 1.0 + sign * float(u[row].sum())
        # the ones of x are the positions of C, so G + λI stays positive definite and this is > 0
        dger(-sign / denominator, u, u, a=self._p.T, overwrite_a=1)  # in place: P is C-ordered and symmetric

    def apply(self, request: str | bytes | Mapping[str, Any] | ChangeRequest, limits: Limits | None = None) -> ChangeSet:
        """Apply a JSON change request (Add or Remove, as for ItemCF) and update P exactly.
        Invalid requests raise before anything changes."""
        request = parse_request(request, limits)  # a bad request is refused here, before anything is read
        users = sorted({int(u) for u in request.pairs[:, 0].tolist()})
        before = self._rows(users)
        changes = self.counts_model.apply(request, limits)  # validates first: a rejected request changes nothing
        after = self._rows(list(changes.touched_users))
        for user in changes.touched_users:
            old, new = before.get(user, np.zeros(0, np.int64)), after[user]
            if np.array_equal(old, new):
                continue
            self._rank_one(old, -1)
            self._rank_one(new, +1)
            self._since_check += 1
        if self._since_check >= CHECK_EVERY:
            self._since_check = 0
            if self.error() > TOLERANCE:
                self.refresh()
        return changes

    def forget_user(self, user: int) -> ChangeSet:
        """Remove every interaction of ``user`` (exactly as if they had never been in the data)."""
        history = self.counts_model.history(user)
        if not history:
            raise UnknownUserError(f"User {user!r} has no interactions left to forget.")
        return self.apply({"change": "Remove", "interactions": [[user, item] for item in history]})

    def error(self, probes: int = 2, seed: int = 0) -> float:
        """max |(G + λI)·P − I| over ``probes`` seeded columns: how far rounding has moved P."""
        k = len(self.items_scored)
        if k == 0:
            return 0.0
        columns = np.random.default_rng(seed + self.time).choice(k, size=min(probes, k), replace=False)
        items = self.items_scored.tolist()
        worst = 0.0
        for column in columns.tolist():
            gram_row = self.counts_model.cooccurrences([items[column]], items)[0].astype(np.float64)
            gram_row[column] += self.l2
            residual = self._p @ gram_row  # P symmetric: row of (G+λI)P = column of P(G+λI)
            residual[column] -= 1.0
            worst = max(worst, float(np.abs(residual).max()))
        return worst

    def new_inverse(self) -> np.ndarray:
        """P recomputed from G: a new inverse of G + λI (what retraining P costs), without keeping it."""
        return _inverse(self._gram())

    def refresh(self) -> None:
        """Replace P by a new inverse of G + λI."""
        self._p = self.new_inverse()
        self.refreshes += 1

    @property
    def inverse(self) -> np.ndarray:
        """P = (G + λI)⁻¹ over :attr:`items_scored`, shape (k, k), float64, read-only view."""
        view = self._p.view()
        view.flags.writeable = False
        return view

    # ------------------------------------------------------------------ reads
    def scores(self, user: int) -> np.ndarray:
        """x_u·B over :attr:`items_scored`, float64, shape (k,): Σ over the user's items i of B_ij,
        with B = I − P·diag(1/diag P) (B_jj = 0)."""
        row = self._rows([user])[user]
        if not self.counts_model.history_length(user):
            raise UnknownUserError(f"User {user!r} has no interactions, so there is nothing to recommend from.")
        diagonal = np.diagonal(self._p)
        summed = self._p[row].sum(axis=0) if len(row) else np.zeros(len(diagonal))
        scores = -summed / diagonal
        scores[row] = 0.0  # (x·B)_j for j in the history: B_jj = 0 and the rest are not recommended anyway
        return scores

    def recommend(self, user: int, k: int = 10) -> list[Recommendation]:
        """Top-``k`` items the user has not seen, among scored items someone still has (n > 0),
        best first, ties (scores equal to :data:`RANK_DECIMALS` decimals) to the smaller item id.
        Scores may be negative (B has negative weights)."""
        scores = self.scores(user)
        seen = np.zeros(len(scores), dtype=bool)
        seen[self._rows([user])[user]] = True
        alive = self.counts_model.counts(self.items_scored.tolist()) > 0
        candidates = np.flatnonzero(~seen & alive)
        # ranked at RANK_DECIMALS: scores equal in exact arithmetic (ties) differ in their last bits
        # depending on the order of the updates; rounded, they tie and go to the smaller id
        ranked = np.round(scores[candidates], RANK_DECIMALS)
        order = np.lexsort((self.items_scored[candidates], -ranked))[:k]
        return [Recommendation(int(self.items_scored[candidates[p]]), float(scores[candidates[p]])) for p in order]

    def explain(self, user: int, item: int, n: int = 3) -> list[tuple[int, float]]:
        """"Because you watched": the ``n`` items of ``user``'s history with the largest positive
        weight B_i,item towards ``item``, as (history item, B), best first (ties by smaller id)."""
        row = self._rows([user])[user]
        column = int(np.searchsorted(self.items_scored, item))
        if column >= len(self.items_scored) or self.items_scored[column] != item or len(row) == 0:
            return []
        weights = -self._p[row, column] / self._p[column, column]
        weights[row == column] = 0.0
        ids = self.items_scored[row]
        keep = np.flatnonzero(weights > 0)
        order = keep[np.lexsort((ids[keep], -weights[keep]))][:n]
        return [(int(ids[p]), float(weights[p])) for p in order]

    def weights(self, items: Sequence[int]) -> np.ndarray:
        """B among ``items`` (scored external ids), shape (len(items), len(items)), B_jj = 0."""
        position = np.searchsorted(self.items_scored, np.asarray(items, dtype=np.int64))
        block = self._p[np.ix_(position, position)]
        weights = -block / np.diagonal(self._p)[position][None, :]
        np.fill_diagonal(weights, 0.0)
        return weights

    def users(self) -> list[int]:
        return self.counts_model.users()

    def fingerprint(self) -> str:
        """A digest of the exact state: H, n and C (ItemCF's fingerprint), λ and the scored items."""
        digest = hashlib.sha256(self.counts_model.fingerprint().encode())
        digest.update(np.float64(self.l2).tobytes())
        digest.update(np.ascontiguousarray(self.items_scored, dtype=np.int64).tobytes())
        return digest.hexdigest()

    def nbytes(self) -> int:
        """Bytes of P plus the exact counts' own state."""
        return self._p.nbytes + self.counts_model.nbytes()

    def verify(self, k: int = 10) -> Certificate:
        """Recompute P from G and retrain on the remaining interactions over the same items;
        compare P, the exact state and every user's top-``k``."""
        started = time.perf_counter()
        recomputed = self.new_inverse()
        difference = float(np.abs(recomputed - self._p).max()) if recomputed.size else 0.0
        scale = float(np.abs(recomputed).max()) if recomputed.size else 1.0
        retrained = EASE.fit(self.counts_model.interactions(), self.l2, items=self.items_scored.tolist())
        users = self.users()
        same = all(
            [r.item for r in self.recommend(user, k)] == [r.item for r in retrained.recommend(user, k)] for user in users
        )
        return Certificate(difference, difference / scale, self.fingerprint() == retrained.fingerprint(), same,
                           len(users), time.perf_counter() - started)

    def __repr__(self) -> str:
        return (f"EASE(users={self.counts_model.num_users()}, items_scored={len(self.items_scored)}, l2={self.l2:g}, "
                f"time={self.time})")
