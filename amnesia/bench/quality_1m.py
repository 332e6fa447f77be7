"""``python -m amnesia bench --part quality-1m``: the quality part's protocol at the MovieLens-1M shape.

MovieLens-1M cannot be downloaded here, so this runs on seeded synthetic data of its published
shape (:data:`~amnesia.data.synthetic.ML_1M`: 6,040 users, 3,706 items, 1,000,209
interactions). Two honest limits, stated in the report: the synthetic data has no time, so each
user's held-out items are a seeded random two of theirs (test, then validation); and it has no
taste structure (each user's items are drawn by item popularity alone), so popularity is the
best possible ranking and no model can beat it by more than noise. What the run shows is that
every model, its tuning grid and the protocol run at this size, and at what cost; accuracy
comparisons belong to the real data of ``--part quality``.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..data.synthetic import ML_1M, movielens_like
from .common import measured
from .quality import measure_models, models_table

SEED = 1


def run(args: argparse.Namespace | None = None) -> dict[str, Any]:
    interactions = movielens_like(ML_1M, seed=SEED)
    times = np.random.default_rng(SEED).permutation(len(interactions))  # no time: a seeded random order
    figures = measure_models(interactions, times)
    figures["shape"] = {"users": ML_1M.users, "items": ML_1M.items, "interactions": len(interactions), "seed": SEED}
    figures["targets"] = []  # the quality part's targets are stated for MovieLens, not for data without taste
    return figures


def markdown(figures: dict[str, Any]) -> str:
    popularity = figures["models"]["popularity"]["test"]["ndcg"]
    best = max(figures["models"].items(), key=lambda entry: entry[1]["test"]["ndcg"])
    return models_table(figures, [
        "## Accuracy at the MovieLens-1M shape (`--part quality-1m`, synthetic)",
        "",
        measured(figures) + f". Seeded synthetic data of MovieLens-1M's published shape ({figures['shape']['users']:,} "
        f"users, {figures['items']:,} items, {figures['shape']['interactions']:,} interactions, seed "
        f"{figures['shape']['seed']}); the protocol of `--part quality` with {figures['users_evaluated']:,} users.",
        "",
        "**Read with care.** The synthetic data has no time: each user's test and validation items are a seeded random "
        "two of theirs. It has no taste either: each user's items are drawn by popularity alone, so popularity is the "
        f"best ranking there is. Popularity scores NDCG@10 {popularity:.3f}; the best model here is {best[0]} "
        f"({best[1]['test']['ndcg']:.3f}). The run shows that every model, its grid and the protocol work at this "
        "size and what they cost; which model is more accurate is answered by MovieLens itself, above. (The targets "
        "of the quality part are stated for MovieLens and are not repeated here.)",
        "",
    ], targets=False)
