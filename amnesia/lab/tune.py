"""Choosing the lab's hyper-parameters on validation data: ``python -m amnesia.lab.tune``.

Nothing here sees a test item: tuning works on the training part of every user (the 80 % that
:func:`amnesia.lab.data.make_lab_data` keeps with seed 0), split again 80/20 into fitting and
validation items, with a validation forget set drawn with another seed (1).

1. Weighted ALS: a grid over factors x regularisation x α (15 sweeps), each fitted with two
   seeds; the best mean NDCG@10 on the validation items wins.
2. Approximate unlearning methods, with that ALS: for every grid point, N = 8 original models
   are unlearned and compared with 8 retrained ones; the best final score (forgetting quality x
   utility ratios) wins, ties broken by the smaller mean |z| of the attack statistic (how many
   retrained-model standard deviations the unlearned models sit from the retrained ones). The
   grids stop short of a retrain's work in steps (fine-tuning at 5 of its 15 ALS sweeps, NegGrad
   at 10 steps), but a step is not a sweep: the lab report states what each chosen setting cost
   per request in its run (10 NegGrad steps have cost about half a retrain, not a third).

SISA's shard count is a design choice, not tuned (:data:`amnesia.lab.methods` keeps 32, so that a
small forget set leaves shards untouched; more make one shard's retrain cheaper and the model weaker).
EASE's λ and item-kNN's similarity x K x scoring are chosen here too, on the same validation items. Writes ``lab_tuning.json`` and ``lab_tuning.md``; the chosen values are
then written into :data:`amnesia.lab.mf.DEFAULT_PARAMS` and
:data:`amnesia.lab.methods.DEFAULT_METHOD_PARAMS` by hand (they are fixed, stated constants).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from ..data.datasets import load
from ..engine.neighbours import SCORINGS
from .registry import METHODS, TUNED
from .data import make_lab_data, training_part
from .evaluate import make_context, measure_mf, nan_mean, summarize
from .metrics import ranking_metrics, top_k
from .mf import ALSParams, fit

KNN_GRID = {"similarity": ("jaccard", "cosine"), "neighbours": (5, 10, 20, 50, 100, 200, None), "scoring": SCORINGS}
ALS_GRID = {"factors": (16, 32, 64), "regularization": (0.01, 0.1, 1.0, 10.0), "alpha": (1.0, 5.0, 10.0, 20.0, 40.0)}
#: EASE's ridge strength: the grid of `python -m amnesia bench --part quality`, here on the lab's own validation items.
EASE_GRID = {"l2": (10.0, 25.0, 50.0, 100.0, 200.0, 500.0)}
TUNING_SEEDS = 8


def _grid(spec: dict) -> list[dict]:
    return [dict(zip(spec, values)) for values in itertools.product(*spec.values())]


def tune_als(data, seeds: int = 2, log=print) -> list[dict]:
    """NDCG@10 on validation items for every ALS grid point (mean over ``seeds``)."""
    results = []
    users = data.retained
    for point in _grid(ALS_GRID):
        params = ALSParams(**point)
        scores, seconds = [], []
        for seed in range(seeds):
            started = time.perf_counter()
            model = fit(data.train, params, seed=seed)
            seconds.append(time.perf_counter() - started)
            top = top_k(model.scores(users), 10, exclude=data.train[users])
            ndcg, _ = ranking_metrics(top, data.test[users])
            scores.append(float(nan_mean(ndcg)))
        results.append(
            {**point, "ndcg_at_10": round(float(np.mean(scores)), 5), "fit_seconds": round(float(np.mean(seconds)), 3)}
        )
        log(f"ALS {point}: NDCG@10 {results[-1]['ndcg_at_10']:.4f}, fit {results[-1]['fit_seconds']:.2f} s")
    return results


def _validation_ndcg(model, data, users: np.ndarray, unlisted: float) -> float:
    """Mean NDCG@10 on validation items of ``model.recommend``'s top 10 for ``users`` (indices into
    ``data.user_ids``); items a list leaves out score ``unlisted`` (below every listed score)."""
    scores = np.full((len(users), len(data.item_ids)), unlisted)
    for n, user in enumerate(data.user_ids[users].tolist()):
        for rec in model.recommend(int(user), 10):
            scores[n, np.searchsorted(data.item_ids, rec.item)] = rec.score
    top = top_k(scores, 10, exclude=data.train[users])
    ndcg, _ = ranking_metrics(top, data.test[users])
    return float(nan_mean(ndcg))


def tune_itemknn(data, log=print) -> list[dict]:
    """NDCG@10 on validation items of item-CF for every similarity x neighbours K (None: every
    neighbour) x scoring (whose lists a score reads); deterministic, so one fit each. Without K
    both scorings are the same model (S is symmetric), so it is fitted once."""
    from ..engine.model import ItemCF

    results = []
    users = data.retained
    fitting = data.interactions()  # the fitting part of the training data (validation items held out)
    for point in _grid(KNN_GRID):
        if point["neighbours"] is None and point["scoring"] != KNN_GRID["scoring"][0]:
            continue
        started = time.perf_counter()
        model = ItemCF.fit(fitting, point["similarity"], neighbours=point["neighbours"], scoring=point["scoring"])
        seconds = time.perf_counter() - started
        ndcg = _validation_ndcg(model, data, users, unlisted=0.0)  # item-CF's scores are > 0
        results.append({**point, "ndcg_at_10": round(ndcg, 5), "fit_seconds": round(seconds, 3)})
        log(f"item-kNN {point}: NDCG@10 {results[-1]['ndcg_at_10']:.4f}, fit {seconds:.2f} s")
    return results


def tune_ease(data, log=print) -> list[dict]:
    """NDCG@10 on validation items of EASE for every λ of :data:`EASE_GRID`, over the lab's item set;
    deterministic, so one fit each."""
    from .methods import ease_fit

    results = []
    users = data.retained
    fitting = data.interactions()  # the fitting part of the training data (validation items held out)
    for l2 in EASE_GRID["l2"]:
        started = time.perf_counter()
        model = ease_fit(fitting, data.item_ids, l2)
        seconds = time.perf_counter() - started
        ndcg = _validation_ndcg(model, data, users, unlisted=-np.inf)  # EASE's scores can be negative
        del model
        results.append({"l2": l2, "ndcg_at_10": round(ndcg, 5), "fit_seconds": round(seconds, 3)})
        log(f"EASE λ = {l2:g}: NDCG@10 {results[-1]['ndcg_at_10']:.4f}, fit {seconds:.2f} s")
    return results


def tune_methods(data, params: ALSParams, seeds: int = TUNING_SEEDS, log=print) -> dict[str, list[dict]]:
    """Final score and mean |z| of every grid point of each tuned method (registry.TUNED)."""
    ctx = make_context(data)
    train, forget = data.train, data.forget
    originals = [fit(train, params, seed=i) for i in range(seeds)]
    references = [measure_mf(fit(data.retained_train(), params, seed=20_000 + i), ctx) for i in range(seeds)]
    retrain_seconds = []
    for i in range(2):
        started = time.perf_counter()
        fit(data.retained_train(), params, seed=10_000 + i)
        retrain_seconds.append(time.perf_counter() - started)
    runs = {  # name: (grid, run(original, seed, point))
        name: (dict(METHODS[name].grid), lambda o, i, p, name=name: METHODS[name].forget(o, train, forget, i, **p))
        for name in TUNED
    }
    results: dict[str, list[dict]] = {"retrain_seconds": [round(float(np.mean(retrain_seconds)), 3)]}
    for name, (grid, run) in runs.items():
        results[name] = []
        for point in _grid(grid):
            measured, seconds = [], []
            for i, original in enumerate(originals):
                started = time.perf_counter()
                model = run(original, i, point)
                seconds.append(time.perf_counter() - started)
                measured.append(measure_mf(model, ctx))
            # point estimates only: the verdict's test and ε's interval would cost ~5 s a grid point
            summary = summarize(measured, references, ctx.active, seeds, resamples=200, permutations=0, epsilon_resamples=0)
            z = np.abs(np.array(summary["attack_z"]["unlearned"], dtype=float))
            entry = {
                **point,
                "final_score": summary["final_score"],
                "forgetting_quality": summary["forgetting_quality"],
                "epsilon": summary["epsilon"],
                "mean_abs_z": round(float(np.mean(z)), 3),
                "ndcg_at_10": summary["ndcg_at_10"],
                "seconds": round(float(np.mean(seconds)), 4),
            }
            results[name].append(entry)
            log(
                f"{name} {point}: final {entry['final_score']}, F {entry['forgetting_quality']}, |z| {entry['mean_abs_z']}, "
                f"NDCG {entry['ndcg_at_10']}, {entry['seconds']} s"
            )
    return results


def best(entries: list[dict], keys: tuple[str, ...]) -> dict:
    """The entry with the best final score, ties by the smaller mean |z|; only ``keys`` kept."""
    winner = max(entries, key=lambda e: ((e["final_score"] or 0.0), -e["mean_abs_z"]))
    return {key: winner[key] for key in keys}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m amnesia.lab.tune", description="Choose the lab's hyper-parameters on validation data."
    )
    parser.add_argument("--data", default="movielens-small")
    parser.add_argument("--out", default="docs")
    parser.add_argument("--only", choices=list(ONLY), default=None,
                        help="tune only item-kNN (a minute) or EASE (two minutes) and update that part of an existing "
                        "lab_tuning.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    dataset = load(args.data)
    data = make_lab_data(training_part(dataset.interactions, seed=0), "random", seed=1, name=dataset.name)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    out = Path(args.out)
    if args.only:  # one model's part of an existing lab_tuning.json, tuned again
        tune, grid, choose, seconds_key = ONLY[args.only]
        document = json.loads((out / "lab_tuning.json").read_text(encoding="utf-8"))
        entries = tune(data, log=log)
        document["grids"][args.only] = grid
        document[args.only] = entries
        document["chosen"][args.only] = choose(entries)
        document[seconds_key] = round(time.perf_counter() - started, 1)
        (out / "lab_tuning.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        (out / "lab_tuning.md").write_text(markdown(document), encoding="utf-8")
        log(f"chosen: {json.dumps(document['chosen'][args.only])}")
        return 0
    with threadpool_limits(limits=1, user_api="blas"):
        knn = tune_itemknn(data, log=log)
        ease = tune_ease(data, log=log)
        als = tune_als(data, log=log)
        chosen = max(als, key=lambda e: e["ndcg_at_10"])
        params = ALSParams(factors=chosen["factors"], regularization=chosen["regularization"], alpha=chosen["alpha"])
        unlearning = tune_methods(data, params, log=log)
    choice = {
        "als": asdict(params),
        **{name: best(unlearning[name], tuple(option for option, _ in METHODS[name].grid)) for name in TUNED},
        "item-knn": _best_knn(knn),
        "ease": _best_ease(ease),
    }
    document = {
        "data": dataset.name,
        "validation": {
            "users": int(len(data.user_ids)),
            "forget_users": int(len(data.forget)),
            "fit_interactions": int(data.train.nnz),
            "validation_interactions": int(data.test.nnz),
        },
        "grids": {"als": ALS_GRID, **{name: dict(METHODS[name].grid) for name in TUNED}, "item-knn": KNN_GRID, "ease": EASE_GRID},
        "als": als,
        "item-knn": knn,
        "ease": ease,
        "unlearning": unlearning,
        "chosen": choice,
        "seconds": round(time.perf_counter() - started, 1),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "lab_tuning.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    (out / "lab_tuning.md").write_text(markdown(document), encoding="utf-8")
    log(f"chosen: {json.dumps(choice)}")
    return 0


def _best_ease(entries: list[dict]) -> dict:
    """The best validation NDCG@10; ties to the smaller λ."""
    winner = max(entries, key=lambda e: (e["ndcg_at_10"], -e["l2"]))
    return {"l2": winner["l2"]}


def _best_knn(entries: list[dict]) -> dict:
    """The best validation NDCG@10; ties to the smaller K (every neighbour counts as the largest)."""
    winner = max(entries, key=lambda e: (e["ndcg_at_10"], -(e["neighbours"] or 10**9)))
    return {"similarity": winner["similarity"], "neighbours": winner["neighbours"], "scoring": winner.get("scoring", SCORINGS[0])}


#: ``--only``: what tunes a model alone (its tuner, grid, choice and the document's key for its time).
ONLY = {"item-knn": (tune_itemknn, KNN_GRID, _best_knn, "item_knn_seconds"),
        "ease": (tune_ease, EASE_GRID, _best_ease, "ease_seconds")}


def markdown(document: dict) -> str:
    """The tuning report: the protocol, every grid point's result and the choice."""
    v = document["validation"]
    lines = [
        "# Unlearning lab: how the hyper-parameters were chosen",
        "",
        f"Generated by `python -m amnesia.lab.tune` on {document['data']} in {document['seconds']:.0f} s.",
        "",
        f"Validation data: the training part (80 %) of every user's interactions, split again into {v['fit_interactions']:,} "
        f"fitting and {v['validation_interactions']:,} validation interactions (seed 1); {v['users']} users in training, "
        f"a random validation forget set of {v['forget_users']} users. No test item of the lab is used.",
        "",
        "Times are wall times on the shared 2-core development machine: indicative only.",
        "",
        "## Weighted ALS (15 sweeps): NDCG@10 on validation items, mean of 2 seeds",
        "",
        "| factors | λ | α | NDCG@10 | fit (s) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for e in sorted(document["als"], key=lambda e: -e["ndcg_at_10"]):
        lines.append(
            f"| {e['factors']} | {e['regularization']} | {e['alpha']} | {e['ndcg_at_10']:.4f} | {e['fit_seconds']:.2f} |"
        )
    chosen = document["chosen"]
    lines += [
        "",
        f"Chosen: {chosen['als']}.",
        "",
    ]
    if "item-knn" in document:
        lines += [
            "## Item-kNN: NDCG@10 on validation items (deterministic: one fit each)",
            "",
            "Scoring: *history* sums the lists of the user's items (implicit's item-kNN); *candidate* scores each "
            "candidate from its own list, counting the user's items in it (Sarwar et al.'s item-based model). Both read "
            "the same exact lists; with every neighbour they are one model.",
            "",
            "| similarity | neighbours K | scoring | NDCG@10 | fit (s) |",
            "|---|---:|---|---:|---:|",
            *[f"| {e['similarity']} | {e['neighbours'] or 'every'} | {'either' if e['neighbours'] is None else e.get('scoring', 'history')} "
              f"| {e['ndcg_at_10']:.4f} | {e['fit_seconds']:.2f} |"
              for e in sorted(document["item-knn"], key=lambda e: -e["ndcg_at_10"])],
            "",
            f"Chosen: {chosen['item-knn']} (best NDCG@10; ties to the smaller K)."
            + (f" Tuned on its own in {document['item_knn_seconds']:.0f} s (`--only item-knn`)." if "item_knn_seconds" in document else ""),
            "",
        ]
    if "ease" in document:
        lines += [
            "## EASE: NDCG@10 on validation items (deterministic: one fit each, over the lab's item set)",
            "",
            "| λ | NDCG@10 | fit (s) |",
            "|---:|---:|---:|",
            *[f"| {e['l2']:g} | {e['ndcg_at_10']:.4f} | {e['fit_seconds']:.2f} |"
              for e in sorted(document["ease"], key=lambda e: -e["ndcg_at_10"])],
            "",
            f"Chosen: {chosen['ease']} (best NDCG@10; ties to the smaller λ)."
            + (f" Tuned on its own in {document['ease_seconds']:.0f} s (`--only ease`)." if "ease_seconds" in document else ""),
            "",
        ]
    lines += [
        f"## Approximate methods: {TUNING_SEEDS} unlearned vs {TUNING_SEEDS} retrained models on the validation forget set",
        "",
        f"A retrain took {document['unlearning']['retrain_seconds'][0]:.2f} s. Best final score wins; ties go to the smaller mean |z|.",
        "",
    ]
    for name in TUNED:
        entries = document["unlearning"][name]
        keys = [
            k
            for k in entries[0]
            if k not in ("final_score", "forgetting_quality", "epsilon", "mean_abs_z", "ndcg_at_10", "seconds")
        ]
        lines += [
            f"### {name}",
            "",
            "| " + " | ".join(keys) + " | final score | F | ε | mean abs z | NDCG@10 | seconds |",
            "|" + "---:|" * (len(keys) + 6),
        ]
        for e in entries:
            lines.append(
                "| "
                + " | ".join(str(e[k]) for k in keys)
                + f" | {e['final_score']} | {e['forgetting_quality']} | {e['epsilon']} | {e['mean_abs_z']} | {e['ndcg_at_10']} | {e['seconds']} |"
            )
        lines += ["", f"Chosen: {chosen[name]}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
