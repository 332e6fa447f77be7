"""Scoring with item-based CF: top-N recommendations and similar items.

Both only read the model through its public API, so they are exact whenever the model is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

import numpy as np

from ..errors import UnknownUserError


class SimilarityReader(Protocol):
    """What scoring reads of a model (external ids): histories and rows of S. A narrow interface,
    so this module depends on no model class."""

    def history(self, user: int) -> list[int]: ...

    def num_items(self) -> int: ...

    def similarities(self, items: Sequence[int], columns: Sequence[int] | None = None) -> np.ndarray: ...

    def similarity_rows(self, items: Sequence[int]) -> tuple[np.ndarray, np.ndarray]: ...

_CELLS_PER_BLOCK = 1 << 21  # cells of S materialised at once while scoring a long history

#: A read of rows of S: items -> (column ids, S of shape (len(items), len(ids))).
RowReader = Callable[[Sequence[int]], tuple[np.ndarray, np.ndarray]]


class Recommendation(NamedTuple):
    """One recommended item and its score Σ_i S_i,item over the user's items i.

    A tuple, so ``(item, score)`` pairs compare equal to it, like :func:`similar_items`' results.
    """

    item: int
    score: float


def top_positions(ids: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest positive scores; ties broken by the smaller item id."""
    positive = np.flatnonzero(scores > 0)
    if 0 < k < len(positive) // 4:  # many candidates: only those at least as good as the k-th can be in the top k
        values = scores[positive]
        kth = np.partition(values, len(values) - k)[len(values) - k]
        positive = positive[values >= kth]  # ties with the k-th stay: the id decides among them
    order = np.lexsort((ids[positive], -scores[positive]))
    return positive[order[:k]]


def recommend(model: SimilarityReader, user: int, k: int = 10, rows: RowReader | None = None) -> list[Recommendation]:
    """Top-``k`` unseen items for ``user``: score_j = Σ over the user's items i of S_ij.

    Items the user has seen and items with score 0 are never recommended. Ties go to the
    smaller item id. The history is summed in item-id order, in blocks of rows, so that
    equal models give bit-identical scores while memory stays bounded for long histories.
    ``rows`` reads the rows of S (default ``model.similarity_rows``); a model may pass a read
    with extra columns whose S is 0 (they can never score above 0).
    """
    read = rows or model.similarity_rows
    history = model.history(user)
    if not history:
        raise UnknownUserError(f"User {user!r} has no interactions, so there is nothing to recommend from.")
    ids, scores = None, None
    step = max(8, _CELLS_PER_BLOCK // max(model.num_items(), 1))
    for start in range(0, len(history), step):
        ids, similarities = read(history[start : start + step])
        block_sum = similarities.sum(axis=0)
        scores = block_sum if scores is None else scores + block_sum
    scores = scores.copy()
    scores[np.isin(ids, history)] = 0.0
    return [Recommendation(int(ids[p]), float(scores[p])) for p in top_positions(ids, scores, k)]


def explain(model: SimilarityReader, user: int, item: int, n: int = 3) -> list[tuple[int, float]]:
    """"Because you watched": the ``n`` items of ``user``'s history most similar to ``item``,
    as ``(history_item, S)`` with S > 0, best first (ties by smaller id)."""
    history = model.history(user)
    if not history:
        return []
    scores = model.similarities(history, [item])[:, 0]
    ids = np.asarray(history)
    return [(int(ids[p]), float(scores[p])) for p in top_positions(ids, scores, n)]


def recommend_from_scores(ids: np.ndarray, scores: np.ndarray, history: np.ndarray, k: int) -> list[Recommendation]:
    """Top-``k`` of ``scores`` (one per item of ``ids``) outside the positions ``history``."""
    scores = scores.copy()
    scores[history] = 0.0
    return [Recommendation(int(ids[p]), float(scores[p])) for p in top_positions(ids, scores, k)]


def similar_items(model: SimilarityReader, item: int, k: int = 10, rows: RowReader | None = None) -> list[tuple[int, float]]:
    """The ``k`` items most similar to ``item`` as ``(item, S)``; S > 0 only, ties by smaller id
    (``rows`` as for :func:`recommend`)."""
    ids, similarities = (rows or model.similarity_rows)([item])
    scores = similarities[0].copy()
    scores[ids == item] = 0.0
    return [(int(ids[p]), float(scores[p])) for p in top_positions(ids, scores, k)]
