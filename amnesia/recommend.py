"""Scoring with item-based CF: top-N recommendations and similar items.

Both only read the model through its public API, so they are exact whenever the model is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import UnknownUserError

if TYPE_CHECKING:
    from .model import ItemCF

_ROWS_PER_BLOCK = 256  # rows of S materialised at once while scoring a long history


@dataclass(frozen=True)
class Recommendation:
    """One recommended item: its score Σ_i S_i,item over the user's items i, and the
    user's items that contributed most (``because``, best first)."""

    item: int
    score: float
    because: tuple[int, ...]


def _top(ids: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest positive scores; ties broken by the smaller item id."""
    positive = np.flatnonzero(scores > 0)
    order = np.lexsort((ids[positive], -scores[positive]))
    return positive[order[:k]]


def recommend(model: ItemCF, user: int, k: int = 10, explain: int = 3) -> list[Recommendation]:
    """Top-``k`` unseen items for ``user``: score_j = Σ over the user's items i of S_ij.

    Items the user has seen and items with score 0 are never recommended. Ties go to the
    smaller item id. The history is summed in item-id order so that equal models give
    bit-identical scores.
    """
    history = model.history(user)
    if not history:
        raise UnknownUserError(f"User {user!r} has no interactions, so there is nothing to recommend from.")
    ids = None
    scores = None
    blocks = []
    for start in range(0, len(history), _ROWS_PER_BLOCK):
        ids, similarities = model.similarity_rows(history[start : start + _ROWS_PER_BLOCK])
        block_sum = similarities.sum(axis=0)
        scores = block_sum if scores is None else scores + block_sum
        blocks.append(similarities)
    assert ids is not None and scores is not None
    scores = scores.copy()
    seen = np.isin(ids, history)
    scores[seen] = 0.0
    top = _top(ids, scores, k)
    if len(top) == 0:
        return []
    contributions = np.concatenate([block[:, top] for block in blocks], axis=0)  # (len(history), len(top))
    history_ids = np.asarray(history)
    result = []
    for column, position in enumerate(top):
        order = np.lexsort((history_ids, -contributions[:, column]))
        because = tuple(int(history_ids[i]) for i in order[:explain] if contributions[i, column] > 0)
        result.append(Recommendation(int(ids[position]), float(scores[position]), because))
    return result


def similar_items(model: ItemCF, item: int, k: int = 10) -> list[tuple[int, float]]:
    """The ``k`` items most similar to ``item`` as ``(item, S)``; S > 0 only, ties by smaller id."""
    ids, similarities = model.similarity_rows([item])
    scores = similarities[0].copy()
    scores[ids == item] = 0.0
    return [(int(ids[p]), float(scores[p])) for p in _top(ids, scores, k)]
