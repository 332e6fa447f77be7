"""Running the lab: every method on every forget set, N seeds, with the null control.

For each forget set (``random``, ``core``, ``edge``) and each seed i < N:

- an *original* weighted-ALS model is trained on all training data (seed i);
- each method unlearns the forget set from it (timed) and the result is measured;
- a *reference* model is retrained without the forget set with an unrelated seed; the N
  references are the "retrained" side every MF method is compared with;
- the *retrain* method (a retrain with yet another seed) compared with the references is the
  **null control**: retrain versus retrain with other seeds. Every figure is read against it.

SISA is compared with SISA models retrained from scratch (its own exact reference) and item-CF
with an item-CF retrain (deterministic, one model per side). ``original`` (nothing forgotten)
is reported too, so the attack's power is visible.

:func:`run_lab` returns the ``lab.json`` document; :mod:`amnesia.lab.report` writes it and
``lab.md``; :func:`main` is ``python -m amnesia lab``.
"""

from __future__ import annotations

import gc
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from ..data.datasets import load
from ..limits import LAB_PAGE_SEEDS
from ..engine.model import ItemCF
from ..errors import AmnesiaError
from . import methods as M
from . import metrics
from .agreement import agreement
from .registry import APPROXIMATE, METHODS
from .verdict import ALPHA, tested
from .result import VERSION
from .data import FORGET_SET_TEXT, FORGET_SETS, LabData, make_lab_data
from .evaluate import (EPSILON_RESAMPLES, Context, Measured, make_context, measure_ease, measure_itemcf, measure_itemknn,
                       measure_mf, measure_sisa, ndcg_gap, summarize)
from .mf import DEFAULT_PARAMS, ALSParams, fit

Progress = Callable[[float, str], None]

NULL_KEYS = (
    "epsilon",
    "epsilon_ci",
    "epsilon_p_value",
    "epsilon_in_sample",
    "forgetting_quality",
    "forgetting_quality_ci",
    "final_score",
    "mia_auc",
    "mia_auc_ci",
    "ndcg_at_10",
    "ndcg_at_10_ci",
    "top10_overlap_with_retrain",
    "top10_overlap_ci",
)
QUICK_SEEDS = 4
FULL_SEEDS = 16
PAGE_SEEDS = LAB_PAGE_SEEDS  # the Lab page's quick run (owned by amnesia.limits)
#: Methods with a model of their own (not the factorisation), measured once: forgetting is deterministic.
EXACT_OWN = ("original-item-cf", "item-cf", "original-item-knn", "item-knn", "original-ease", "ease")
#: Item-kNN's similarity, K and scoring in the lab: chosen on validation items by `python -m amnesia.lab.tune --only
#: item-knn` (docs/lab_tuning.md: Jaccard, 50 neighbours, each candidate scored from its own list: NDCG@10 0.195,
#: against 0.163 for the best reading of the lists of the user's items and 0.137 for every neighbour).
ITEM_KNN_SIMILARITY, ITEM_KNN_K, ITEM_KNN_SCORING = "jaccard", 50, "candidate"
#: EASE's ridge strength in the lab: chosen on validation items of the lab's training part by `python -m amnesia.lab.tune
#: --only ease` (docs/lab_tuning.md: NDCG@10 0.2148 at λ = 100, 0.2147 at 200, 0.2102 at 50). It had been the λ of
#: `bench --part quality`, whose validation items (each user's second-latest) were lab test items for a fifth of users.
EASE_L2 = 100.0
SEED_OFFSETS = {"retrain": 10_000, "reference": 20_000}
#: Retrain-vs-retrain comparisons per forget set that measure how often the verdict wrongly says
#: "does not forget": random N + N splits of the 2N retrains (the retrain method's and the references).
NULL_SPLITS = 20
QUICK_NULL_SPLITS = 5  # a visitor's quick run stays within its budget (the page's: 30 s)
#: Retained users a quick run measures utility on: 120 keep the page's run within its 30 s with 4 models a side
#: (it had 200 with 3, and 3 a side could never reject), ranking every item for each being its largest cost after the fits.
QUICK_EVAL_USERS = 120
NULL_PERMUTATIONS = 199
#: Single-user forget requests timed per approximate method and forget set (their median is reported).
REQUEST_REPEATS, QUICK_REQUEST_REPEATS = 7, 2


@dataclass(frozen=True)
class LabConfig:
    """What to run. ``seeds`` is N (models per side, ≥ 3); ``share`` the forget set's share of
    users; ``eval_users`` measures utility and agreement on a seeded sample of that many retained
    users (None: all of them); ``threads`` is implicit's thread count for ALS fits (0: every core;
    BLAS stays at one thread either way, so the threads do not multiply). Fits are deterministic
    per seed for any thread count: ALS solves each user and each item independently."""

    data: str = "movielens-small"
    forget_sets: tuple[str, ...] = FORGET_SETS
    seeds: int = FULL_SEEDS
    share: float = 0.05
    seed: int = 0
    quick: bool = False
    als: ALSParams = DEFAULT_PARAMS
    methods: M.MethodParams = M.DEFAULT_METHOD_PARAMS
    resamples: int = 1000
    eval_users: int | None = None
    threads: int = 1
    null_splits: int = NULL_SPLITS
    epsilon_resamples: int = EPSILON_RESAMPLES  # bootstrap draws of ε's interval, each a full attack per forgotten user
    agreement_splits: int = 2  # the verdicts again on other splits x draws (amnesia.lab.agreement); 0: not at all
    agreement_draws: int = 3
    workers: int = 0  # processes of the agreement study (untimed work); 0: one per core

    def check(self) -> None:
        """Raise :class:`AmnesiaError` naming the first bad setting (before any work)."""
        unknown = [k for k in self.forget_sets if k not in FORGET_SETS]
        if unknown or not self.forget_sets:
            raise AmnesiaError(f"Unknown forget {'set' if len(unknown) == 1 else 'sets'} {unknown}; "
                               f"choose from {', '.join(FORGET_SETS)} or 'all'.")
        if not 3 <= self.seeds <= 64:
            raise AmnesiaError(
                f"--seeds must be between 3 and 64 (ε needs at least 3 models per side); got {self.seeds}."
            )
        if not 0 <= self.threads <= 64:
            raise AmnesiaError(f"--threads must be between 0 (every core) and 64; got {self.threads}.")
        if not 0 <= self.workers <= 64:
            raise AmnesiaError(f"The agreement study takes 0 (one per core) to 64 worker processes; got {self.workers}.")
        if not (0 <= self.agreement_splits <= 5 and 0 <= self.agreement_draws <= 5):
            raise AmnesiaError("The agreement study takes 0 to 5 splits and 0 to 5 draws (0: no study); "
                               f"got {self.agreement_splits} and {self.agreement_draws}.")
        if not 0 < self.share < 0.5:
            raise AmnesiaError(f"The forget share must be between 0 and 0.5; got {self.share}.")


def quick_config(data: str = "movielens-small", forget_set: str = "random", seeds: int = QUICK_SEEDS) -> LabConfig:
    """The ``--quick`` run: one forget set, few seeds, fewer bootstrap resamples, utility on
    :data:`QUICK_EVAL_USERS` sampled retained users."""
    return LabConfig(data=data, forget_sets=(forget_set,), seeds=seeds, quick=True, resamples=300, eval_users=QUICK_EVAL_USERS,
                     null_splits=QUICK_NULL_SPLITS, epsilon_resamples=30, agreement_splits=0, agreement_draws=0)


def _spread(times: list[float]) -> dict:
    """Repeated timings of one thing: how many, the median and the range, in seconds."""
    return {"runs": len(times), "median": round(float(np.median(times)), 6), "min": round(float(np.min(times)), 6),
            "max": round(float(np.max(times)), 6)}


def _timed(function: Callable[..., object], *args: object, **kwargs: object) -> tuple[object, float]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


class _Ticker:
    """Turns finished work units into progress fractions for a callback."""

    def __init__(self, total: int, callback: Progress | None):
        self.total, self.done, self.callback = max(1, total), 0, callback

    def __call__(self, message: str, units: int = 1) -> None:
        self.done += units
        if self.callback is not None:
            self.callback(min(1.0, self.done / self.total), message)


def _units(config: LabConfig) -> int:
    # 3 ticks a seed, 1 for the null's false positives, 2 each for item-CF, item-kNN and (full runs) EASE,
    # then one per run of the agreement study
    runs = config.agreement_splits * config.agreement_draws
    return len(config.forget_sets) * (config.seeds * 3 + 5 + (0 if config.quick else 2) + runs)


def run_forget_set(data: LabData, config: LabConfig, tick: Callable[..., None]) -> tuple[list[dict], dict]:
    """All methods on one forget set; returns (rows, null control)."""
    n, train, forget, params, mp = config.seeds, data.train, data.forget, config.als, config.methods
    ctx = make_context(data, max_users=config.eval_users, seed=config.seed)
    measured: dict[str, list[Measured]] = {name: [] for name in METHODS if name not in EXACT_OWN}
    seconds: dict[str, list[float]] = {name: [] for name in measured}
    reference: list[Measured] = []
    sisa_reference: list[Measured] = []
    sisa_retrain_seconds: list[float] = []
    shards = min(mp.shards, train.shape[0])  # a tiny data set (the toy world) has fewer users than shards
    partition = M.sisa_partition(train.shape[0], shards, config.seed)
    hit_shards = frozenset(np.unique(partition[forget]).tolist())
    approximate = {name: METHODS[name] for name in APPROXIMATE}
    for i in range(n):
        original = fit(train, params, seed=i, threads=config.threads)
        measured["original"].append(measure_mf(original, ctx))
        seconds["original"].append(0.0)
        model, took = _timed(M.retrain, original, train, forget, SEED_OFFSETS["retrain"] + i, threads=config.threads)
        measured["retrain"].append(measure_mf(model, ctx)), seconds["retrain"].append(took)
        reference.append(
            measure_mf(
                fit(data.retained_train(), params, seed=SEED_OFFSETS["reference"] + i, threads=config.threads), ctx
            )
        )
        tick(f"{data.kind}: seed {i + 1}/{n}: original, retrain and reference trained")
        for name, method in approximate.items():
            model, took = _timed(method.forget, original, train, forget, i, **method.kwargs(mp, config.threads))
            measured[name].append(measure_mf(model, ctx)), seconds[name].append(took)
        tick(f"{data.kind}: seed {i + 1}/{n}: {', '.join(method.label for method in approximate.values())} measured")
        # the original shards a forget hits are replaced unread, so the experiment does not train them (untimed work)
        sisa = M.sisa_fit(train, partition, params, seed=i, threads=config.threads, skip=hit_shards)
        model, took = _timed(M.sisa_forget, sisa, train, forget, i, threads=config.threads)
        measured["sisa"].append(measure_sisa(model, ctx)), seconds["sisa"].append(took)
        model, took = _timed(
            M.sisa_fit, data.retained_train(), partition, params, SEED_OFFSETS["reference"] + i, threads=config.threads
        )
        sisa_reference.append(measure_sisa(model, ctx)), sisa_retrain_seconds.append(took)
        tick(f"{data.kind}: seed {i + 1}/{n}: SISA trained, unlearned and retrained")

    summary = {}
    for name, models in measured.items():
        refs = sisa_reference if name == "sisa" else reference
        summary[name] = summarize(models, refs, ctx.active, n, seed=config.seed, resamples=config.resamples,
                                  epsilon_resamples=config.epsilon_resamples)
    for name, models in measured.items():  # every row against the same retrained factorisations, paired over users
        summary[name].update(ndcg_gap(models, reference, config.seed, config.resamples))
    null = {key: summary["retrain"][key] for key in NULL_KEYS}
    null["verdict_false_positives"] = null_false_positives(measured["retrain"], reference, config.seed, config.null_splits)
    tick(f"{data.kind}: the verdict's false-positive rate measured on {config.null_splits} retrain-vs-retrain splits")
    retrain_seconds = float(np.mean(seconds["retrain"]))
    rows = []
    for name in measured:
        base = float(np.mean(sisa_retrain_seconds)) if name == "sisa" else retrain_seconds
        rows.append(
            _row(
                name,
                data.kind,
                summary[name],
                float(np.mean(seconds[name])),
                float(np.max(seconds[name])),
                base,
                n,
                null,
            )
        )
    # Deletion requests usually arrive one at a time: time each method forgetting a single user too
    # (approximate methods from the last original model, REQUEST_REPEATS users one after another: one
    # timing spreads with the machine's load; a retrain costs a retrain either way, timed N times above).
    by_name = {row["method"]: row for row in rows}
    # medians on both sides, as the report shows them: the speed-ups had divided the retrain's mean (330 ms)
    # by a method's median, beside a retrain shown at its median (327 ms)
    retrain_median = float(np.median(seconds["retrain"]))
    by_name["retrain"].update(seconds_per_request=round(retrain_median, 6), speedup_per_request=1.0,
                              seconds_per_request_spread=_spread(seconds["retrain"]))
    for name, method in approximate.items():
        times = [_timed(method.forget, original, train, forget[k % len(forget):][:1], k, **method.kwargs(mp, config.threads))[1]
                 for k in range(QUICK_REQUEST_REPEATS if config.quick else REQUEST_REPEATS)]
        took = float(np.median(times))
        by_name[name].update(seconds_per_request=round(took, 6), speedup_per_request=round(retrain_median / took, 3),
                             seconds_per_request_spread=_spread(times))
    affected = len(hit_shards)  # shards holding a forgotten user: retrained one after another
    per_shard = float(np.mean(seconds["sisa"])) / max(1, affected)
    by_name["sisa"].update(
        shards=shards,
        affected_shards=affected,
        seconds_per_request=round(per_shard, 6),  # one request hits one shard
        speedup_per_request=round(float(np.mean(sisa_retrain_seconds)) / per_shard, 3),
    )
    rows.extend(_itemcf_rows(data, ctx, config, null, tick, reference))
    rows.extend(_itemcf_rows(data, ctx, config, null, tick, reference, ITEM_KNN_K))
    if not (config.quick and METHODS["ease"].full_only):
        rows.extend(_ease_rows(data, ctx, config, null, tick, reference))
    return rows, null


def _original_row(name: str, data: LabData, config: LabConfig, original: Measured, reference: Measured,
                  ctx: Context, null: dict, als: list[Measured]) -> dict:
    """The exact model before forgetting, against its retrain: how much the attack sees in this model
    (so that the forgotten model's ε = 0 means something)."""
    summary = summarize([original], [reference], ctx.active, config.seeds, seed=config.seed,
                        resamples=config.resamples, deterministic=True)
    return _row(name, data.kind, {**summary, **ndcg_gap([original], als, config.seed, config.resamples)}, 0.0, 0.0, 0.0, 1, null)


def _itemcf_rows(data: LabData, ctx: Context, config: LabConfig, null: dict, tick: Callable[..., None],
                 als: list[Measured], neighbours: int | None = None) -> list[dict]:
    """The item-CF rows (every neighbour, Jaccard), or with ``neighbours`` the item-kNN rows (the
    similarity, K and scoring chosen on validation): the model before forgetting, and forgotten exactly."""
    name, label = ("item-cf", "item-CF") if neighbours is None else ("item-knn", "item-kNN")
    similarity = "jaccard" if neighbours is None else ITEM_KNN_SIMILARITY
    measure = measure_itemcf if neighbours is None else measure_itemknn
    # a throwaway copy forgets the set first: on a fresh install the update kernels compile at the first forget
    # that takes each path (~0.6 s for item-CF, more for the lists' paths), which made the first forget set look
    # 4-12x slower; compiling is not forgetting. Untimed, and a few seconds at most.
    scoring = "history" if neighbours is None else ITEM_KNN_SCORING
    M.forget_users(ItemCF.fit(data.interactions(), similarity, neighbours=neighbours, scoring=scoring),
                   data.user_ids[data.forget])
    model = ItemCF.fit(data.interactions(), similarity, neighbours=neighbours, scoring=scoring)
    tick(f"{data.kind}: {label} trained")
    original = measure(model, ctx)  # before forgetting: forget_user changes the model in place
    model, took = M.forget_users(model, data.user_ids[data.forget])
    certificate, retrained, retrain_seconds = M.itemcf_certificate(model, data.interactions(data.retained))
    unlearned = measure(model, ctx)
    # equal fingerprints mean equal H, n and C (and lists), hence equal scores: measuring twice would repeat them
    reference = unlearned if certificate["equal"] else measure(retrained, ctx)
    del model, retrained
    gc.collect()
    tick(f"{data.kind}: {label} forgot {len(data.forget)} users and was certified")
    summary = summarize(
        [unlearned],
        [reference],
        ctx.active,
        config.seeds,
        seed=config.seed,
        resamples=config.resamples,
        deterministic=True,
    )
    row = _row(name, data.kind, {**summary, **ndcg_gap([unlearned], als, config.seed, config.resamples)}, took, took, retrain_seconds, 1, null)
    row["certificate"] = certificate
    if neighbours is not None:
        row.update(similarity=similarity, neighbours=neighbours, scoring=scoring)
    per_request = took / max(1, len(data.forget))  # the users were forgotten one request at a time
    row.update(seconds_per_request=round(per_request, 6), speedup_per_request=round(retrain_seconds / per_request, 3))
    if not certificate["equal"]:
        row["verdict"] = "NOT exact: the fingerprints differ (a bug in the engine)"
        row["forgets"] = False
    return [_original_row(f"original-{name}", data, config, original, reference, ctx, null, als), row]


def _ease_rows(data: LabData, ctx: Context, config: LabConfig, null: dict, tick: Callable[..., None],
               als: list[Measured]) -> list[dict]:
    model = M.ease_fit(data.interactions(), data.item_ids, EASE_L2)
    tick(f"{data.kind}: EASE trained")
    original = measure_ease(model, ctx)  # before forgetting: forget_user changes P in place
    model, took = M.forget_users(model, data.user_ids[data.forget])
    certificate, retrained, retrain_seconds = M.ease_certificate(model, data.interactions(data.retained))
    unlearned, reference = measure_ease(model, ctx), measure_ease(retrained, ctx)
    del model, retrained
    gc.collect()
    tick(f"{data.kind}: EASE forgot {len(data.forget)} users and was certified")
    summary = summarize([unlearned], [reference], ctx.active, config.seeds, seed=config.seed,
                        resamples=config.resamples, deterministic=True)
    row = _row("ease", data.kind, {**summary, **ndcg_gap([unlearned], als, config.seed, config.resamples)}, took, took, retrain_seconds, 1, null)
    row["certificate"] = certificate
    per_request = took / max(1, len(data.forget))
    row.update(seconds_per_request=round(per_request, 6), speedup_per_request=round(retrain_seconds / per_request, 3),
               l2=EASE_L2)
    if not certificate["equal"]:
        row["verdict"] = "NOT exact: the certificate failed (a bug in the engine)"
        row["forgets"] = False
    return [_original_row("original-ease", data, config, original, reference, ctx, null, als), row]


def null_false_positives(retrains: list[Measured], references: list[Measured], seed: int,
                         splits: int = NULL_SPLITS, permutations: int = NULL_PERMUTATIONS) -> dict:
    """How often the verdict's test says "told apart from retrains" about retrains: the 2N retrained
    models (other seeds, the same data) split at random into N + N, ``splits`` times, each split
    tested as a method would be (:func:`metrics.permutation_test`). The splits share models, so the
    count checks the test's level on this data rather than being ``splits`` independent trials."""
    pooled = np.stack([m.forget_stat for m in [*retrains, *references]])
    n = len(retrains)
    rng = np.random.default_rng([seed, 29])
    p_values = []
    for _ in range(splits):
        order = rng.permutation(len(pooled))
        p_values.append(metrics.permutation_test(pooled[order[:n]], pooled[order[n:]], rng, permutations)[1])
    rejected = int(sum(p <= ALPHA for p in p_values))
    return {"splits": splits, "rejected": rejected, "rate": round(rejected / splits, 4), "alpha": ALPHA,
            "permutations": permutations, "p_values": [round(p, 4) for p in p_values]}


def _row(
    name: str,
    kind: str,
    summary: dict,
    seconds: float,
    seconds_max: float,
    retrain_seconds: float,
    models: int,
    null: dict,
) -> dict:
    method = METHODS[name]
    label, family, text = method.label, method.family, method.description
    p = summary.get("epsilon_p_value")
    if method.family == "reference":
        forgets, verdict = False, "reference (nothing was forgotten)"
    elif p is None:  # one deterministic model a side: identical or not
        forgets = summary["epsilon"] == 0
        verdict = ("forgets: identical to its retrain for every forgotten user" if forgets
                   else "does not forget: differs from its retrain")
    else:
        forgets, verdict = tested(p, summary.get("epsilon_p_floor"))
    return {
        "method": name,
        "label": label,
        "family": family,
        "description": text,
        "forget_set": kind,
        "reference": method.compared_with,
        "models": models,
        "seconds": round(seconds, 6),
        "seconds_max": round(seconds_max, 6),
        "retrain_seconds": round(retrain_seconds, 6),
        "speedup": round(retrain_seconds / seconds, 3) if seconds > 0 else None,
        **summary,
        "forgets": forgets,
        "verdict": verdict,
        "null_control": {
            key: null[key]
            for key in (
                "epsilon",
                "epsilon_ci",
                "forgetting_quality",
                "mia_auc",
                "ndcg_at_10",
                "top10_overlap_with_retrain",
            )
        },
    }


def run_lab(config: LabConfig, progress: Progress | None = None) -> dict:
    """Run the lab and return the ``lab.json`` document (see the module docstring)."""
    config.check()
    started = time.perf_counter()
    load_before = os.getloadavg()
    tick = _Ticker(_units(config), progress)
    dataset = load(config.data)
    rows, null_control, sets = [], {}, {}
    with threadpool_limits(limits=1, user_api="blas"):  # this process only; implicit and numpy both
        for kind in config.forget_sets:
            data = make_lab_data(dataset.interactions, kind, config.share, config.seed, dataset.name)
            sets[kind] = {
                "description": FORGET_SET_TEXT[kind],
                "forget_users": int(len(data.forget)),
                "outsiders": int(len(data.outsider_ids)),
                "training_users": int(len(data.user_ids)),
                "evaluated_users": int(min(len(data.retained), config.eval_users or len(data.retained))),
                "forget_interactions": int(data.forget_train().nnz),
                "mean_history_forgotten": round(float(data.forget_train().nnz / max(1, len(data.forget))), 1),
            }
            kind_rows, null_control[kind] = run_forget_set(data, config, tick)
            rows.extend(kind_rows)
        study = (agreement(dataset.interactions, dataset.name, config, ALPHA, tick)
                 if config.agreement_splits and config.agreement_draws else None)
    return {
        "version": VERSION,
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "config": {
            "data": dataset.name,
            "forget_sets": list(config.forget_sets),
            "seeds": config.seeds,
            "share": config.share,
            "seed": config.seed,
            "quick": config.quick,
            "resamples": config.resamples,
            "epsilon_resamples": config.epsilon_resamples,
            "eval_users": config.eval_users,
            "threads": config.threads,
            "delta": 1e-5,
        },
        "data": {
            "name": dataset.name,
            "users": dataset.num_users,
            "items": dataset.num_items,
            "interactions": int(len(dataset.interactions)),
        },
        "hyper_parameters": {"als": asdict(config.als), "methods": asdict(config.methods),
                             "item_knn": {"similarity": ITEM_KNN_SIMILARITY, "neighbours": ITEM_KNN_K,
                                          "scoring": ITEM_KNN_SCORING},
                             "ease_l2": EASE_L2, "ease_l2_chosen_by": "amnesia.lab.tune"},
        "forget_sets": sets,
        "null_control": null_control,
        "rows": rows,
        **({"agreement": study} if study else {}),
        "seconds_total": round(time.perf_counter() - started, 2),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_before": [round(v, 2) for v in load_before],
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
        },
    }
