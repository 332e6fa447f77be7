"""Do the lab's verdicts hold beyond one forget-set draw and one train/test split?

The main run (:mod:`amnesia.lab.run`) measures every method on one draw of each forget set from
one split. Here the factorisation's methods are measured again on ``splits`` train/test splits
x ``draws`` forget-set draws of each kind, with as many models a side as the main run (only the
attack's statistic is measured), and each gets the verdict of the main run (the same permutation test at
:data:`~amnesia.lab.run.ALPHA`). Reported: for every method and forget set, in how many of the
runs it was said to forget; and how often the test wrongly told retrains apart on independent
retrain-vs-retrain pairs, for its false-positive rate: in each run, the retrain against its
references, and :data:`NULL_PAIRS` more pairs of 2N fresh retrains.

SISA is left out (32 shard models per model would double the cost), and so are the exact models
(deterministic and certified: their verdict cannot change with a draw). The runs are independent
(each seeds its own models and tests), so they run in worker processes, one per core by default:
nothing here is timed, and the result does not depend on the order in which runs finish.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np
import pandas as pd

from . import metrics
from .data import make_lab_data
from .evaluate import PERMUTATIONS, Context, forget_statistic, make_context
from .mf import fit
from .registry import APPROXIMATE, METHODS

#: Seeds of this study's models: apart from the main run's (0.., 10,000.., 20,000..).
SEED_BASE = 50_000
#: Each run's seeds start this far after the previous run's (a run uses fewer than 40,000). With one
#: seed set for every run, two draws of one split trained on nearly the same retained users gave
#: nearly the same models (a reviewer measured item factors 0.05 % apart for core's draws, against
#: 131 % between seeds), so their tests were not independent trials.
RUN_STRIDE = 100_000
#: Extra retrain-vs-retrain pairs per run. With the runs' own and the main run's, 2 x 3 x 3 runs give
#: 18 x 5 + 3 = 93 independent pairs: the false-positive rate to within about ±4.5 points (±6 with 57
#: pairs, ±10 with 21). Each pair is 2N fresh fits, the study's largest cost; see :func:`agreement` for workers.
NULL_PAIRS = 4


def verdicts(data, ctx: Context, config, permutations: int = PERMUTATIONS, run: int = 0) -> dict[str, dict]:
    """ε and the permutation test's p of the retrain and each approximate method on ``data`` (its
    context ``ctx``; ``config.seeds`` models a side, as in the main run); ``config`` is the run's
    :class:`~amnesia.lab.run.LabConfig`; ``run`` numbers the study's run, whose models and
    relabellings have seeds of their own."""
    base = SEED_BASE + RUN_STRIDE * run
    train, forget, params, options = data.train, data.forget, config.als, config.methods
    stats: dict[str, list[np.ndarray]] = {name: [] for name in ("retrain", *APPROXIMATE)}
    reference: list[np.ndarray] = []
    retained = data.retained_train()
    for i in range(config.seeds):
        original = fit(train, params, seed=base + i, threads=config.threads)
        stats["retrain"].append(forget_statistic(fit(retained, params, seed=base + 10_000 + i, threads=config.threads), ctx))
        reference.append(forget_statistic(fit(retained, params, seed=base + 20_000 + i, threads=config.threads), ctx))
        for name in APPROXIMATE:
            method = METHODS[name]
            model = method.forget(original, train, forget, i, **method.kwargs(options, config.threads))
            stats[name].append(forget_statistic(model, ctx))
    rng = np.random.default_rng([config.seed, 41, run])
    result = {}
    for name, values in stats.items():
        epsilon, p = metrics.permutation_test(np.stack(values), np.stack(reference), rng, permutations)
        result[name] = {"epsilon": round(epsilon, 4), "p_value": round(p, 4)}
    return result


def retrain_pair_p_values(runs: list[dict]) -> list[float]:
    """The verdict's p on every retrain-vs-retrain pair of the study's ``runs``: each run's retrain
    against its references, then its extra pairs of fresh retrains."""
    return [p for run in runs for p in (run["verdicts"]["retrain"]["p_value"], *run["null_p_values"])]


def null_p_values(data, ctx: Context, config, pairs: int = NULL_PAIRS, permutations: int = PERMUTATIONS,
                  run: int = 0) -> list[float]:
    """The verdict's p on ``pairs`` independent retrain-vs-retrain comparisons on ``data`` (its context
    ``ctx``): each pair is 2 x ``config.seeds`` fresh retrains without the forget set (seeds of their
    own, and of study run ``run``). Under the test's H0 by construction."""
    retained, params = data.retained_train(), config.als
    base = SEED_BASE + RUN_STRIDE * run
    rng = np.random.default_rng([config.seed, 43, run])
    found = []
    for pair in range(pairs):
        sides = [np.stack([forget_statistic(fit(retained, params, seed=base + 30_000 + 2_000 * pair + 1_000 * side + i,
                                                threads=config.threads), ctx)
                           for i in range(config.seeds)]) for side in (0, 1)]
        found.append(round(metrics.permutation_test(sides[0], sides[1], rng, permutations)[1], 4))
    return found


def _one_run(interactions: pd.DataFrame, name: str, config, split: int, draw: int, kind: str, null_pairs: int,
             run: int) -> dict:
    """One run of the study (number ``run``): the verdicts and the null pairs on one split x draw
    of one forget set."""
    data = make_lab_data(interactions, kind, config.share, config.seed + split, name, draw=draw)
    ctx = make_context(data, seed=config.seed)
    return {"split": split, "draw": draw, "forget_set": kind, "verdicts": verdicts(data, ctx, config, run=run),
            "null_p_values": null_p_values(data, ctx, config, null_pairs, run=run)}


def agreement(interactions: pd.DataFrame, name: str, config, alpha: float,
              tick: Callable[[str], None] = lambda message: None, null_pairs: int = NULL_PAIRS) -> dict:
    """The study over ``config.agreement_splits`` x ``config.agreement_draws`` x the run's forget
    sets: every run's verdicts, per method and forget set how many runs said "forgets", and the
    test's rejections on 1 + ``null_pairs`` independent retrain-vs-retrain pairs per run. Runs go
    to ``config.workers`` processes (0: one per core; 1: in this process), listed in a fixed order."""
    tasks = [(split, draw, kind) for split in range(config.agreement_splits)
             for draw in range(config.agreement_draws) for kind in config.forget_sets]
    workers = min(len(tasks), config.workers or os.cpu_count() or 1)
    if workers <= 1:
        runs = []
        for run, (split, draw, kind) in enumerate(tasks):
            runs.append(_one_run(interactions, name, config, split, draw, kind, null_pairs, run))
            tick(f"verdicts on split {split + 1}, draw {draw + 1}: {kind}")
    else:
        # spawned, not forked: a forked child of a process whose BLAS/OpenMP threads ran can deadlock
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_one_run, interactions, name, config, *task, null_pairs, run): task
                       for run, task in enumerate(tasks)}
            try:
                for future in as_completed(futures):
                    split, draw, kind = futures[future]
                    future.result()  # a failed run raises here, at once
                    tick(f"verdicts on split {split + 1}, draw {draw + 1}: {kind}")
            except BaseException:  # a failed run or an interrupt: the queued runs are not started
                pool.shutdown(cancel_futures=True)
                raise
            runs = [future.result() for future in futures]
    counts: dict[str, dict[str, dict]] = {}
    for run in runs:
        for method, found in run["verdicts"].items():
            entry = counts.setdefault(method, {}).setdefault(run["forget_set"], {"runs": 0, "forgets": 0})
            entry["runs"] += 1
            entry["forgets"] += int(found["p_value"] > alpha)
    retrain = retrain_pair_p_values(runs)
    return {
        "splits": config.agreement_splits,
        "draws": config.agreement_draws,
        "seeds": config.seeds,
        "run_seeds": "own",  # each run's models have seeds of their own (RUN_STRIDE)
        "permutations": PERMUTATIONS,
        "alpha": alpha,
        "forgets": counts,
        "retrain_pairs": {"pairs": len(retrain), "per_run": 1 + null_pairs, "rejected": int(sum(p <= alpha for p in retrain))},
        "runs": runs,
    }
