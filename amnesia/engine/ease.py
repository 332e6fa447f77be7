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
downdate of the old row and an update of the new one. A single change is one in-place BLAS
rank-one update of P (dger, no items² temporary); a request changing several users' rows is one
Woodbury update of rank r (up to WOODBURY_RANK) per chunk: one in-place dgemm pass over P
instead of r.

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
from scipy.linalg.blas import dgemm, dger

from ..errors import AmnesiaError, ArgumentError, UnknownUserError
from ..limits import Limits
from .arguments import check_count, check_id, check_ids
from .changes import ChangeSet
from .model import ItemCF
from .recommend import Recommendation
from .requests import ChangeRequest, parse_request

#: Default ridge strength λ (Steck's MovieLens setting is in the hundreds; the quality benchmark chooses it).
DEFAULT_L2 = 100.0
#: Largest residual max|(G + λI)·P − I| on the probe columns before P is recomputed from G.
TOLERANCE = 1e-9
#: Scores closer than this (absolute) rank as ties, broken by the smaller item id: far above the
#: rounding of updates (~1e-15), far below real differences. A gap, not a rounding grid: two scores
#: equal in exact arithmetic stay tied wherever they lie (rounding to 10 decimals split a tie that
#: sat on a rounding boundary, depending on the order of the updates).
TIE_GAP = 1e-10
#: Rank-one changes between two residual checks (a check costs two matrix-vector products).
CHECK_EVERY = 16
#: Largest rank of one Woodbury update (a request changing more users' rows is applied in chunks).
WOODBURY_RANK = 64


def rank_with_ties(scores: np.ndarray, ids: np.ndarray, gap: float = TIE_GAP) -> np.ndarray:
    """Positions of ``scores`` (shape (m,), float64) best first, where a run of scores each within
    ``gap`` of the next is one tie, ordered by ``ids`` (shape (m,), int64) ascending.

    Scores equal in exact arithmetic differ in their last bits depending on the order of the
    updates that made them; grouped by gaps they tie, and the ranking is the same for a model
    forgotten by updates and for its retrain."""
    order = np.lexsort((ids, -scores))
    ordered = scores[order]
    tie_group = np.concatenate([[0], np.cumsum(ordered[:-1] - ordered[1:] > gap)]) if len(order) else order
    return order[np.lexsort((ids[order], tie_group))]


class _UpdateRefused(ArithmeticError):
    """An update of P that cannot be right (a denominator ≤ 0): P is recomputed from G instead."""


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
    fingerprint: str = ""  # of this model's exact state (H, n, C, λ, items)
    retrained_fingerprint: str = ""  # of the retrain's

    @property
    def exact(self) -> bool:
        """Equal exact state, equal top-10 lists, and P within :data:`TOLERANCE` (relative)."""
        return self.fingerprint_equal and self.top10_equal and self.max_rel_diff <= TOLERANCE


#: Rows of G (or of P) handled at once while building G and mirroring P's triangle: bounds the
#: temporaries to _BLOCK × items (an int64 block of C, a transposed strip), far below items².
_BLOCK = 512


def _inverse(gram: np.ndarray) -> np.ndarray:
    """(gram)⁻¹ of a symmetric positive definite matrix by Cholesky, float64, in place of ``gram``.

    ``gram``: shape (k, k), float64, C-contiguous and symmetric. Its transpose is the same matrix
    in Fortran order, so LAPACK factors and inverts it where it lies; the inverse is returned in
    the same memory (C-contiguous), so inverting costs no second items² array.
    """
    if gram.size == 0:
        return gram
    # gram.T is F-contiguous: dpotrf/dpotri work in place and fill its upper triangle,
    # which is gram's lower triangle
    factor, info = sl.lapack.dpotrf(gram.T, lower=0, overwrite_a=1)
    if info != 0:
        raise AmnesiaError(f"G + λI is not positive definite (LAPACK dpotrf info {info}); use a larger l2.")
    inverse, info = sl.lapack.dpotri(factor, lower=0, overwrite_c=1)
    if info != 0:
        raise AmnesiaError(f"Inverting G + λI failed (LAPACK dpotri info {info}).")
    if not np.shares_memory(inverse, gram):  # a LAPACK wrapper that copied: take its result
        gram[...] = inverse.T
    _mirror_lower(gram)
    return gram


def _largest_magnitude(matrix: np.ndarray) -> float:
    """max |matrix| without an items² temporary (np.abs would allocate one)."""
    return float(max(matrix.max(), -matrix.min()))


def _mirror_lower(matrix: np.ndarray) -> None:
    """Copy the lower triangle of a square C-contiguous ``matrix`` onto its upper one, in place,
    a strip of :data:`_BLOCK` rows at a time (temporaries of _BLOCK × k, not k²)."""
    k = len(matrix)
    for start in range(0, k, _BLOCK):
        stop = min(start + _BLOCK, k)
        square = matrix[start:stop, start:stop]
        square[np.triu_indices(stop - start, 1)] = square.T[np.triu_indices(stop - start, 1)]
        if stop < k:
            matrix[start:stop, stop:] = matrix[stop:, start:stop].T


def _distinct(items: Sequence[int]) -> np.ndarray:
    """``items`` as checked ids, refused when one repeats: B among them would give a repeated
    item a weight towards itself off the diagonal, where B_jj = 0."""
    ids = check_ids(items)
    unique, counts = np.unique(ids, return_counts=True)
    if len(unique) != len(ids):
        raise ArgumentError(f"Item {int(unique[counts > 1][0])} is given more than once; pass each item once.")
    return ids


def _check_settings(l2: float, min_viewers: int) -> None:
    """Refuse a ridge strength or popularity threshold that cannot be used, saying which."""
    if not (isinstance(l2, (int, float)) and not isinstance(l2, bool) and np.isfinite(l2) and l2 > 0):
        raise ArgumentError(f"l2 must be a positive number (the ridge strength λ), got {l2!r}.")
    if isinstance(min_viewers, bool) or not isinstance(min_viewers, int) or min_viewers < 1:
        raise ArgumentError(f"min_viewers must be a whole number of at least 1, got {min_viewers!r}.")


class EASE:
    """EASE over a fixed item set, forgotten exactly. Build with :meth:`fit`; change with
    :meth:`apply` or :meth:`forget_user` (the same JSON requests and limits as ItemCF)."""

    def __init__(self, counts: ItemCF, items: np.ndarray, l2: float, inverse: np.ndarray):
        self.counts_model = counts  # the exact H, n, C (G = C with n on the diagonal)
        self.items_scored = items  # external ids of P's rows, sorted, int64
        self.l2 = float(l2)
        self._p = inverse  # (k, k) float64, C-contiguous, symmetric
        self._since_check = 0
        self.refreshes = 0  # times P was recomputed from G (residual past the tolerance, an update refused, refresh())

    # ------------------------------------------------------------------ construction
    @classmethod
    def fit(cls, interactions: Any, l2: float = DEFAULT_L2, min_viewers: int = 1,
            items: Sequence[int] | None = None) -> EASE:
        """Train on ``interactions`` (as :meth:`ItemCF.fit` takes them). The scored items are
        ``items`` if given, else every item at least ``min_viewers`` users interacted with."""
        _check_settings(l2, min_viewers)  # before the counts are built
        return cls.from_counts(ItemCF.fit(interactions), l2, min_viewers, items)

    @classmethod
    def from_counts(cls, counts: ItemCF, l2: float = DEFAULT_L2, min_viewers: int = 1,
                    items: Sequence[int] | None = None) -> EASE:
        """EASE over the exact counts of ``counts`` (taken over, not copied: pass a fork to keep
        the original unchanged, e.g. ``EASE.from_counts(shared.fork())`` shares a trained
        ItemCF's H, n and C copy-on-write, so the only new memory is P). Scored items as in
        :meth:`fit`; P is a new inverse of G + λI."""
        _check_settings(l2, min_viewers)
        if items is None:
            known = np.asarray(counts.items(), dtype=np.int64)
            scored = known[counts.counts(known.tolist()) >= min_viewers] if len(known) else known
        else:
            scored = np.unique(check_ids(items))
        model = cls(counts, np.sort(scored), l2, np.zeros((0, 0)))
        model._p = _inverse(model.gram())
        return model

    def gram(self, out: np.ndarray | None = None) -> np.ndarray:
        """G + λI over the scored items, shape (k, k), float64, C-contiguous (from the exact
        counts, a block of rows at a time: the only items² array is the result, written into
        ``out`` when given)."""
        items = self.items_scored.tolist()
        k = len(items)
        gram = np.empty((k, k), dtype=np.float64) if out is None else out
        for start in range(0, k, _BLOCK):
            gram[start:start + _BLOCK] = self.counts_model.cooccurrences(items[start:start + _BLOCK], items)
        gram[np.diag_indices(k)] += self.l2
        return gram

    def fork(self) -> EASE:
        """An independent copy (P is copied: items² floats)."""
        copy = EASE(self.counts_model.fork(), self.items_scored, self.l2, self._p.copy())
        copy.refreshes = self.refreshes
        return copy

    # ------------------------------------------------------------------ changes
    @property
    def time(self) -> int:
        return self.counts_model.time

    def scored_positions(self, items: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(position, scored) of external ids ``items``: each one's row of P (meaningful where it is
        scored) and whether it is among :attr:`items_scored`; both shape (len(items),)."""
        ids = check_ids(items)
        position = np.searchsorted(self.items_scored, ids)
        inside = position < len(self.items_scored)
        inside[inside] &= self.items_scored[position[inside]] == ids[inside]
        return position, inside

    def _rows(self, users: Sequence[int]) -> dict[int, np.ndarray]:
        """Each user's items as positions among the scored items, sorted."""
        rows = {}
        for user in users:
            position, inside = self.scored_positions(self.counts_model.history(user))
            rows[user] = position[inside]
        return rows

    def _row_sum(self, row: np.ndarray) -> np.ndarray:
        """P x for the 0/1 vector x with ones at positions ``row``: the sum of P's rows there
        (P is symmetric), shape (k,), float64. Gathered :data:`_BLOCK` rows at a time, so a long
        history (MovieLens has one of 2,698 movies) never copies more than _BLOCK × k floats."""
        total = np.zeros(self._p.shape[1])
        for start in range(0, len(row), _BLOCK):
            total += self._p[row[start:start + _BLOCK]].sum(axis=0)
        return total

    def _rank_one(self, row: np.ndarray, sign: int) -> None:
        """P ← (P⁻¹ + sign · x xᵀ)⁻¹ for the 0/1 vector x with ones at ``row`` (Sherman–Morrison)."""
        if len(row) == 0:
            return
        u = self._row_sum(row)  # P x
        denominator = 1.0 + sign * float(u[row].sum())
        if not denominator > 0:  # 1 ± xᵀPx > 0 whenever P is (G + λI)⁻¹ of a positive definite matrix
            raise _UpdateRefused(f"Sherman–Morrison denominator {denominator!r}: P has drifted from (G + λI)⁻¹.")
        # the ones of x are the positions of C, so G + λI stays positive definite and this is > 0
        dger(-sign / denominator, u, u, a=self._p.T, overwrite_a=1)  # in place: P is C-ordered and symmetric

    def _low_rank(self, vectors: Sequence[tuple[np.ndarray, int]]) -> None:
        """P ← (P⁻¹ + U S Uᵀ)⁻¹ for the 0/1 columns x_j of U (ones at the given positions) and the
        signs S = diag(±1) (Woodbury): P − (PU)(S + UᵀPU)⁻¹(PU)ᵀ, one in-place BLAS rank-r
        update of P (a pass over P for r vectors, where r rank-one updates would make r passes).

        S + UᵀPU is r × r and never singular: det(S + UᵀPU) = det(S)·det(G' + λI)/det(G + λI),
        and both G + λI are positive definite. One vector is a Sherman–Morrison update.
        """
        if len(vectors) == 1:
            self._rank_one(*vectors[0])
            return
        if not vectors:
            return
        w = np.stack([self._row_sum(row) for row, _ in vectors])  # (r, k): row j is (P x_j)ᵀ
        middle = np.diag(np.array([sign for _, sign in vectors], dtype=np.float64))  # S⁻¹ = S
        for a, (row, _) in enumerate(vectors):
            middle[a] += w[:, row].sum(axis=1)  # (UᵀPU)[a, b] = x_aᵀ P x_b
        z = np.linalg.solve(middle, w)  # (r, k)
        # P.T is P in Fortran order: dgemm writes P − wᵀ z where it lies
        dgemm(-1.0, w, z, beta=1.0, c=self._p.T, trans_a=1, overwrite_c=1)

    def apply(self, request: str | bytes | Mapping[str, Any] | ChangeRequest, limits: Limits | None = None) -> ChangeSet:
        """Apply a JSON change request (Add or Remove, as for ItemCF) and update P exactly.
        Invalid requests raise before anything changes. The ChangeSet's ``seconds`` is the whole
        change: the counts and P."""
        started = time.perf_counter()
        request = parse_request(request, limits)  # a bad request is refused here, before anything is read
        users = sorted({int(u) for u in request.pairs[:, 0].tolist()})
        before = self._rows(users)
        changes = self.counts_model.apply(request, limits)  # plans first: a rejected request changes nothing
        after = self._rows(list(changes.touched_users))
        vectors: list[tuple[np.ndarray, int]] = []  # G changes by Σ sign · x xᵀ over these
        for user in changes.touched_users:
            old, new = before.get(user, np.zeros(0, np.int64)), after[user]
            if np.array_equal(old, new):
                continue
            vectors += [(row, sign) for row, sign in ((old, -1), (new, +1)) if len(row)]
        try:
            for start in range(0, len(vectors), WOODBURY_RANK):
                self._low_rank(vectors[start:start + WOODBURY_RANK])
        except (np.linalg.LinAlgError, _UpdateRefused):
            # only a P already far from (G + λI)⁻¹ gets here (in exact arithmetic the update always
            # exists): the counts have changed, so P is recomputed from them and the model stays whole
            self.refresh()
            self._since_check = 0
            return changes.timed(time.perf_counter() - started)
        self._since_check += len(vectors)
        if self._since_check >= CHECK_EVERY:
            self._since_check = 0
            if self.error() > TOLERANCE:
                self.refresh()
        # the ChangeSet's time is the whole change: the counts' and P's update
        return changes.timed(time.perf_counter() - started)

    def forget_user(self, user: int) -> ChangeSet:
        """Remove every interaction of ``user`` (exactly as if they had never been in the data)."""
        history = self.counts_model.history(user)
        if not history:
            raise UnknownUserError(f"User {user!r} has no interactions left to forget.")
        return self.apply({"change": "Remove", "interactions": [[user, item] for item in history]})

    def error(self, probes: int = 2, seed: int = 0) -> float:
        """max |(G + λI)·P − I| over ``probes`` seeded columns: how far rounding has moved P."""
        probes, seed = check_count(probes, "probes", "columns of P to check", at_least=1), check_count(seed, "seed", "a seed")
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
        return _inverse(self.gram())

    def refresh(self) -> None:
        """Replace P by a new inverse of G + λI, computed in P's own memory (no second items² array)."""
        self._p = _inverse(self.gram(out=self._p))
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
        user = check_id(user, "user")
        return self._scores(user, self._history_row(user))

    def _history_row(self, user: int) -> np.ndarray:
        """The user's items as positions among the scored items; UnknownUserError if they have none."""
        row = self._rows([user])[user]
        if not self.counts_model.history_length(user):
            raise UnknownUserError(f"User {user!r} has no interactions, so there is nothing to recommend from.")
        return row

    def _scores(self, user: int, row: np.ndarray) -> np.ndarray:
        scores = -self._row_sum(row) / np.diagonal(self._p) + 0.0  # + 0.0: no −0.0 score for an unrelated item
        scores[row] = 0.0  # (x·B)_j for j in the history: B_jj = 0 and the rest are not recommended anyway
        return scores

    def _alive(self) -> np.ndarray:
        """Which scored items someone still has (n > 0), shape (k,), bool."""
        return self.counts_model.counts(self.items_scored.tolist()) > 0

    def recommend(self, user: int, k: int = 10) -> list[Recommendation]:
        """Top-``k`` items the user has not seen, among scored items someone still has (n > 0),
        best first, ties (scores within :data:`TIE_GAP` of the next one) to the smaller item id.
        Scores may be negative (B has negative weights). Why an item is recommended:
        :meth:`explain` (the "because you watched" items). A ``k`` below 0 or not a whole number
        is an ArgumentError, as for :meth:`ItemCF.recommend` (it returned an empty list). A user
        none of whose items is scored gets ``[]``: every score is 0, so there is nothing to rank
        (it listed the first ``k`` items by id, as ItemCF does not)."""
        user, k = check_id(user, "user"), check_count(k, "k")
        return self._recommend(user, k, self._alive())

    def _recommend(self, user: int, k: int, alive: np.ndarray) -> list[Recommendation]:
        row = self._history_row(user)
        if len(row) == 0:
            return []
        scores = self._scores(user, row)
        candidate = alive.copy()
        candidate[row] = False
        candidates = np.flatnonzero(candidate)
        order = rank_with_ties(scores[candidates], self.items_scored[candidates])[:k]
        return [Recommendation(int(self.items_scored[candidates[p]]), float(scores[candidates[p]])) for p in order]

    def explain(self, user: int, item: int, n: int = 3) -> list[tuple[int, float]]:
        """"Because you watched": the ``n`` items of ``user``'s history with the largest positive
        weight B_i,item towards ``item``, as (history item, B), best first (ties by smaller id)."""
        user, item, n = check_id(user, "user"), check_id(item), check_count(n, "n")
        row = self._rows([user])[user]
        position, inside = self.scored_positions([item])
        if not inside[0] or len(row) == 0:
            return []
        column = int(position[0])
        weights = -self._p[row, column] / self._p[column, column]
        weights[row == column] = 0.0
        ids = self.items_scored[row]
        keep = np.flatnonzero(weights > 0)
        order = keep[np.lexsort((ids[keep], -weights[keep]))][:n]
        return [(int(ids[p]), float(weights[p])) for p in order]

    def weights(self, items: Sequence[int]) -> np.ndarray:
        """B among ``items`` (scored external ids, each once), shape (len(items), len(items)), B_jj = 0."""
        ids = _distinct(items)
        position, scored = self.scored_positions(ids)
        if not scored.all():  # searchsorted would have read another item's weights
            raise ArgumentError(f"Item {int(ids[~scored][0])} is not scored by this EASE model, so it has no "
                                f"weights; use weights_among() for items that may be outside the scored set.")
        block = self._p[np.ix_(position, position)]
        weights = -block / np.diagonal(self._p)[position][None, :]
        weights += 0.0  # −0.0 (a movie nobody watches any more has P_ij = 0) reads as 0 in charts and files
        np.fill_diagonal(weights, 0.0)
        return weights

    def weights_among(self, items: Sequence[int]) -> np.ndarray:
        """B among any ``items`` (external ids, in the given order), shape (m, m), float64: rows
        and columns of items outside the scored set are 0 (they have no weights), B_jj = 0."""
        ids = _distinct(items)
        _, inside = self.scored_positions(ids)
        weights = np.zeros((len(ids), len(ids)))
        where = np.flatnonzero(inside)
        weights[np.ix_(where, where)] = self.weights(ids[where].tolist()) if len(where) else 0.0
        return weights

    def is_scored(self, item: int) -> bool:
        """True when ``item`` is in the scored set (it has weights and can be recommended)."""
        return bool(self.scored_positions([check_id(item)])[1][0])

    # the exact counts' reads, so code written for an ItemCF (the dashboard's effects) reads an EASE too
    def users(self) -> list[int]:
        return self.counts_model.users()

    def history(self, user: int) -> list[int]:
        """The items ``user`` has interacted with, sorted (every item, scored or not)."""
        return self.counts_model.history(user)

    def history_length(self, user: int) -> int:
        return self.counts_model.history_length(user)

    def history_matrix(self, users: Sequence[int], items: Sequence[int]) -> np.ndarray:
        """Dense H for ``users`` x ``items``, shape (u, m), uint8."""
        return self.counts_model.history_matrix(users, items)

    def read_cost(self, items: Sequence[int]) -> int:
        """The work (multiply-adds) of scoring a user with ``items``: len(items) rows of P over
        the scored items (what :meth:`scores` and :meth:`recommend` read), known before reading."""
        return len(check_ids(items)) * len(self.items_scored)

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
        compare P (largest absolute difference, and relative to the recomputed P's largest
        entry), the exact state and every user's top-``k``. Holds at most two items² arrays
        besides this model's P (the recomputed P is dropped before the retrain is fitted)."""
        k = check_count(k, "k")
        started = time.perf_counter()
        recomputed = self.new_inverse()
        scale = _largest_magnitude(recomputed) if recomputed.size else 1.0
        np.subtract(recomputed, self._p, out=recomputed)
        difference = _largest_magnitude(recomputed) if recomputed.size else 0.0
        del recomputed
        retrained = EASE.fit(self.counts_model.interactions(), self.l2, items=self.items_scored.tolist())
        users = self.users()
        alive, alive_retrained = self._alive(), retrained._alive()
        same = all(
            [r.item for r in self._recommend(user, k, alive)] == [r.item for r in retrained._recommend(user, k, alive_retrained)]
            for user in users
        )
        mine, theirs = self.fingerprint(), retrained.fingerprint()
        return Certificate(difference, difference / scale if scale else difference, mine == theirs, same, len(users),
                           time.perf_counter() - started, mine, theirs)

    def __repr__(self) -> str:
        return (f"EASE(users={self.counts_model.num_users()}, items_scored={len(self.items_scored)}, l2={self.l2:g}, "
                f"time={self.time})")
