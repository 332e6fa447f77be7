"""The lab's data: a per-user train/test split, and forget sets drawn as CURE4Rec draws them.

Every user's interactions are split once (seeded): 20 % held out as test items, the rest for
training. A forget set takes a stated share of the users (default 5 %):

- ``random``: drawn uniformly;
- ``core``: the most active users (CURE4Rec's "core data");
- ``edge``: the least active users (its "edge data").

The membership attack needs users the models never saw, from the same population as the
forgotten ones. So twice the forget set's size is drawn (uniformly; or the 2x most / least
active users), and a seeded half becomes the forget set, the other half the *outsiders*, who are
left out of every model's training. Activity is a user's number of interactions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import AmnesiaError

FORGET_SETS = ("random", "core", "edge")
FORGET_SET_TEXT = {
    "random": "users drawn uniformly at random",
    "core": "the most active users (most interactions)",
    "edge": "the least active users (fewest interactions)",
}
TEST_SHARE = 0.2


@dataclass(frozen=True)
class LabData:
    """One forget-set experiment's data, in index space.

    ``user_ids`` (U,): external ids of the training population (everyone but the outsiders);
    ``item_ids`` (I,): external ids of all items; ``train``/``test`` (U, I): binary CSR of each
    user's training and held-out interactions; ``forget``: sorted user indices to forget;
    ``outsider_ids`` and ``outsider_train`` (O, I): the never-seen users and their training-part
    histories (the same 80 % share the forgotten users' statistics use).
    """

    name: str
    kind: str
    user_ids: np.ndarray
    item_ids: np.ndarray
    train: sp.csr_matrix
    test: sp.csr_matrix
    forget: np.ndarray
    outsider_ids: np.ndarray
    outsider_train: sp.csr_matrix

    @property
    def retained(self) -> np.ndarray:
        """Indices of the users that stay (the training population minus the forget set)."""
        mask = np.ones(len(self.user_ids), dtype=bool)
        mask[self.forget] = False
        return np.flatnonzero(mask)

    def retained_train(self) -> sp.csr_matrix:
        """``train`` with the forgotten users' rows emptied (same shape: indices stay aligned)."""
        return rows_only(self.train, self.retained)

    def forget_train(self) -> sp.csr_matrix:
        """``train`` with only the forgotten users' rows."""
        return rows_only(self.train, self.forget)

    def interactions(self, users: np.ndarray | None = None) -> pd.DataFrame:
        """Training interactions of ``users`` (indices; default all) in external ids."""
        matrix = self.train if users is None else rows_only(self.train, users)
        coo = matrix.tocoo()
        return pd.DataFrame({"user": self.user_ids[coo.row], "item": self.item_ids[coo.col]}).sort_values(
            ["user", "item"], ignore_index=True
        )


def rows_only(matrix: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
    """A copy of ``matrix`` keeping only ``rows`` (the others become empty; the shape stays)."""
    keep = np.zeros(matrix.shape[0], dtype=np.float32)
    keep[np.asarray(rows, dtype=np.int64)] = 1.0
    result = sp.csr_matrix(sp.diags(keep) @ matrix)
    result.eliminate_zeros()
    return result


def split_matrix(matrix: sp.csr_matrix, share: float, rng: np.random.Generator) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Hold out ``share`` of each row's non-zeros (at least one if the row has two or more;
    rounded), chosen with ``rng``. Returns (kept, held_out), both of ``matrix``'s shape."""
    matrix = sp.csr_matrix(matrix)
    counts = np.diff(matrix.indptr)
    held = np.where(counts >= 2, np.maximum(1, np.round(share * counts)), 0).astype(np.int64)
    # rank each row's entries by a random key; the lowest ``held`` ranks are held out
    keys = rng.random(matrix.nnz)
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    order = np.lexsort((keys, rows))
    rank = np.empty(matrix.nnz, dtype=np.int64)
    rank[order] = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], counts)
    out = rank < held[rows]
    coo = matrix.tocoo()
    kept = sp.csr_matrix((coo.data[~out], (coo.row[~out], coo.col[~out])), shape=matrix.shape, dtype=np.float32)
    held_out = sp.csr_matrix((coo.data[out], (coo.row[out], coo.col[out])), shape=matrix.shape, dtype=np.float32)
    return kept, held_out


def forget_size(users: int, share: float) -> int:
    """How many users a forget set of ``share`` takes (at least one); checks enough remain."""
    if not 0 < share < 0.5:
        raise AmnesiaError(
            f"The forget-set share must be between 0 and 0.5 (it is doubled to draw outsiders); got {share}."
        )
    size = max(1, int(round(share * users)))
    if users - 2 * size < 2:
        raise AmnesiaError(
            f"{users} users are too few for a forget set of {size}: it needs {size} more never-seen users "
            f"and at least 2 users who stay."
        )
    return size


def _matrix(interactions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
    pairs = interactions[["user", "item"]].drop_duplicates()
    if pairs.empty:
        raise AmnesiaError("The data set has no interactions.")
    users, user_index = np.unique(pairs["user"].to_numpy(), return_inverse=True)
    items, item_index = np.unique(pairs["item"].to_numpy(), return_inverse=True)
    matrix = sp.csr_matrix((np.ones(len(pairs), np.float32), (user_index, item_index)), shape=(len(users), len(items)))
    return users, items, matrix


def training_part(interactions: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The interactions :func:`make_lab_data` keeps for training with this ``seed`` (every user's
    80 %): what hyper-parameters may be tuned on without ever seeing a test item."""
    users, items, full = _matrix(interactions)
    train, _ = split_matrix(full, TEST_SHARE, np.random.default_rng([seed, 0]))
    coo = train.tocoo()
    return pd.DataFrame({"user": users[coo.row], "item": items[coo.col]}).sort_values(
        ["user", "item"], ignore_index=True
    )


def make_lab_data(interactions: pd.DataFrame, kind: str, share: float = 0.05, seed: int = 0, name: str = "",
                  draw: int = 0) -> LabData:
    """Split ``interactions`` (``user``, ``item`` columns) and draw a ``kind`` forget set.

    The train/test split depends on ``seed`` only (the same for every kind); the forget set and
    outsiders depend on ``seed``, ``kind`` and ``draw`` (another draw of the same kind from the
    same split; draw 0 is the lab's main one).
    """
    if kind not in FORGET_SETS:
        raise AmnesiaError(f"Unknown forget set {kind!r}; choose one of {', '.join(FORGET_SETS)}.")
    all_users, item_ids, full = _matrix(interactions)
    train, test = split_matrix(full, TEST_SHARE, np.random.default_rng([seed, 0]))

    size = forget_size(len(all_users), share)
    rng = np.random.default_rng([seed, 1 + FORGET_SETS.index(kind)] + ([draw] if draw else []))
    activity = np.diff(full.indptr)
    tiebreak = rng.random(len(all_users))
    if kind == "random":
        pool = rng.permutation(len(all_users))[: 2 * size]
    elif kind == "core":
        pool = np.lexsort((tiebreak, -activity))[: 2 * size]
    else:
        pool = np.lexsort((tiebreak, activity))[: 2 * size]
    pool = rng.permutation(pool)
    forget_all, outsiders = np.sort(pool[:size]), np.sort(pool[size:])

    population = np.setdiff1d(np.arange(len(all_users)), outsiders)
    position = np.full(len(all_users), -1)
    position[population] = np.arange(len(population))
    return LabData(
        name=name,
        kind=kind,
        user_ids=all_users[population],
        item_ids=item_ids,
        train=sp.csr_matrix(train[population]),
        test=sp.csr_matrix(test[population]),
        forget=np.sort(position[forget_all]),
        outsider_ids=all_users[outsiders],
        outsider_train=sp.csr_matrix(train[outsiders]),
    )
