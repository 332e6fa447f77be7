"""Seeded synthetic interaction data with the published shape of real MovieLens sets.

No machine here can download MovieLens-25M, but the engine must be measured at its size.
:func:`movielens_like` draws a data set with the same number of users, items and
interactions, a heavy-tailed activity per user (log-normal, at least 20 ratings each, the
heaviest user pinned to the published maximum) and a heavy-tailed item popularity (a
Zipf-Mandelbrot law tuned so the most popular item has about the published maximum). Each
user's items are a weighted sample *without replacement*, so nobody rates a movie twice.

Published shape of MovieLens-25M (GroupLens README and the data itself): 162,541 users,
59,047 rated movies, 25,000,095 ratings, at least 20 ratings per user, median user about 70,
heaviest user 32,202, most popular movie 81,491 (Forrest Gump).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Shape:
    """The published numbers a synthetic data set reproduces."""

    users: int
    items: int
    interactions: int
    median_user: float  # median interactions per user
    max_user: int  # the heaviest user's interactions
    max_item: int  # the most popular item's interactions
    min_user: int = 20


ML_25M = Shape(users=162_541, items=59_047, interactions=25_000_095, median_user=70, max_user=32_202, max_item=81_491)
ML_1M = Shape(users=6_040, items=3_706, interactions=1_000_209, median_user=96, max_user=2_314, max_item=3_428)

# Zipf-Mandelbrot popularity weight of the item ranked r (0-based): (r + offset)^-EXPONENT, the
# offset solved so the most popular item reaches max_item. Only that maximum is published; the
# exponent is our assumption, giving a long tail like the real sets' (see docs/scaling.md).
_EXPONENT = 1.6
_HEAVY = 4_000  # users with more interactions are sampled item by item without replacement


def popularity_weights(shape: Shape, activity: np.ndarray) -> np.ndarray:
    """Draw probability of each popularity rank (0 = most popular), shape (items,), summing to 1.

    The offset is solved so that the most popular item's expected number of users,
    Σ_u 1 - (1 - p_0)^k_u over the users' activity k, is ``max_item``: a user rates an item
    at most once, so a share of draws alone would undershoot the published maximum.
    """
    ranks = np.arange(shape.items, dtype=np.float64)
    low, high = 1e-3, 1e7  # the top item's share falls as the offset grows: bisect on a log scale
    for _ in range(100):
        offset = np.sqrt(low * high)
        weights = (ranks + offset) ** -_EXPONENT
        top = weights[0] / weights.sum()
        if np.sum(-np.expm1(activity * np.log1p(-top))) > shape.max_item:
            low = offset
        else:
            high = offset
    return weights / weights.sum()


def _activity(shape: Shape, rng: np.random.Generator) -> np.ndarray:
    """Interactions per user: log-normal around the median, >= min_user, max pinned, exact total."""
    # log-normal with the published median; sigma solves mean = total / users
    mean = shape.interactions / shape.users
    sigma = float(np.sqrt(2 * np.log(max(mean / shape.median_user, 1.0 + 1e-9))))
    k = rng.lognormal(np.log(shape.median_user), sigma, shape.users)
    k = np.clip(np.rint(k), shape.min_user, shape.max_user).astype(np.int64)
    k[np.argmax(k)] = shape.max_user
    # hit the exact total by spreading the difference over users strictly between the bounds
    difference = shape.interactions - int(k.sum())
    middle = np.flatnonzero((k > shape.min_user) & (k < shape.max_user))
    while difference:
        step = np.sign(difference)
        chosen = rng.choice(middle, size=min(abs(difference), len(middle)), replace=False)
        k[chosen] += step
        difference -= step * len(chosen)
        middle = np.flatnonzero((k > shape.min_user) & (k < shape.max_user))
    return k


def _sample_without_replacement(weights: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """For each user u, counts[u] distinct items drawn successively with probability ∝ weights.

    Draws with replacement in bulk (inverse CDF), keeps each user's first counts[u] distinct
    items in draw order (which is exactly successive sampling without replacement), and
    redraws for the users still short.
    """
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0
    rows: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(counts)
    pending = np.arange(len(counts))
    have: dict[int, np.ndarray] = {}
    while len(pending):
        need = counts[pending] - np.array([len(have.get(int(u), ())) for u in pending])
        draws = np.ceil(need * 1.3 + 8).astype(np.int64)
        owner = np.repeat(pending, draws)
        items = np.searchsorted(cdf, rng.random(len(owner)), side="right")
        still = []
        bounds = np.concatenate([[0], np.cumsum(draws)])
        for position, user in enumerate(pending.tolist()):
            drawn = items[bounds[position] : bounds[position + 1]]
            previous = have.get(user)
            if previous is not None:
                drawn = np.concatenate([previous, drawn])
            _, first = np.unique(drawn, return_index=True)
            distinct = drawn[np.sort(first)][: counts[user]]
            if len(distinct) < counts[user]:
                have[user] = distinct
                still.append(user)
            else:
                rows[user] = np.sort(distinct)
                have.pop(user, None)
        pending = np.array(still, dtype=np.int64)
    return rows


def movielens_like(shape: Shape = ML_25M, seed: int = 0) -> pd.DataFrame:
    """A seeded data set of ``shape``: DataFrame with int64 ``user`` (0..users-1) and ``item``
    (0..items-1) columns, one row per distinct interaction, sorted by user then item.

    Every item has at least one interaction (the count of rated movies is part of the shape).
    MovieLens-25M size: about 10 s and 1 GB while generating, 400 MB as a result.
    """
    rng = np.random.default_rng(seed)
    counts = _activity(shape, rng)
    weights = popularity_weights(shape, counts)
    heavy = counts > _HEAVY
    rows: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * shape.users
    light = np.flatnonzero(~heavy)
    for chunk in np.array_split(light, max(1, len(light) // 20_000)):
        for user, row in zip(chunk.tolist(), _sample_without_replacement(weights, counts[chunk], rng)):
            rows[user] = row
    for user in np.flatnonzero(heavy).tolist():
        rows[user] = np.sort(rng.choice(shape.items, size=counts[user], replace=False, p=weights))
    # items nobody drew (deep tail) go to a random light user in place of one of their items that
    # is also drawn by others, so every item is rated and the totals stay exact
    popularity = np.bincount(np.concatenate(rows), minlength=shape.items)
    for item in np.flatnonzero(popularity == 0).tolist():
        while True:
            user = int(rng.choice(light))
            row = rows[user]
            donors = np.flatnonzero(popularity[row] > 1)
            if len(donors) and item not in row:
                give = row[rng.choice(donors)]
                popularity[give] -= 1
                popularity[item] += 1
                rows[user] = np.sort(np.append(row[row != give], item))
                break
    # rank 0 is the most popular; shuffle so popularity is not simply the item id
    labels = rng.permutation(shape.items)
    user_column = np.repeat(np.arange(shape.users, dtype=np.int64), [len(r) for r in rows])
    item_column = labels[np.concatenate(rows)]
    frame = pd.DataFrame({"user": user_column, "item": item_column.astype(np.int64)})
    return frame.sort_values(["user", "item"], ignore_index=True)
