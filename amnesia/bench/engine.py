"""Engine benchmark (``python -m amnesia bench``): MovieLens latest-small and a 1M-shaped set.

Measured on MovieLens latest-small (bundled), with both stores, and on a seeded synthetic set
with MovieLens-1M's published shape (:func:`amnesia.data.synthetic.movielens_like`): fit;
forget_user latency over random users; add_user; recommend; a retrain from scratch in the
same run and the speedup; memory; a fork that forgot 10 users; catalog resolution; and a
sweep over sizes.
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd

from ..data.datasets import load
from ..data.synthetic import ML_1M, Shape, movielens_like
from ..engine.model import ItemCF
from ..words import count
from .common import fmt, machine, peak_mb, percentiles, reset_peak, target_rows, target_table, timed, when

TARGETS = {  # MovieLens latest-small, dense store (issues 2 and 9: no regression)
    "fit_s": ("fit (the first in a process)", "<=", 1.5, "s"),
    "forget_p50_ms": ("forget_user p50", "<=", 0.5, "ms"),
    "forget_p99_ms": ("forget_user p99", "<=", 30.0, "ms"),
    "speedup": ("speedup (retrain / forget p50)", ">=", 2000.0, "x"),
    "recommend_p50_ms": ("recommend p50", "<=", 20.0, "ms"),
    "model_mb": ("whole model", "<=", 250.0, "MB"),
    "fork_10_forgotten_mb": ("fork that forgot 10 users, extra", "<=", 20.0, "MB"),
    "resolve_p50_ms": ("resolve a title (p50)", "<=", 5.0, "ms"),
    "resolve_max_ms": ("resolve a title (max)", "<=", 5.0, "ms"),
}


def measure(
    interactions: pd.DataFrame, users_to_forget: int, fit_repeats: int, seed: int = 7,
    similarity: str = "jaccard", store: str = "auto",
) -> dict[str, Any]:
    """All engine figures for one data set on one store."""
    # compiled kernels are loaded (or compiled, in a fresh checkout) before timing: the fit's and a forget's
    warm = ItemCF.fit(interactions.head(100), similarity, store)
    warm.forget_user(int(warm.users()[0]))
    # a fit's time is mostly the machine's: MovieLens latest-small's fitting kernel takes ~0.07 s, but a fit
    # whose 190 MB C lands on memory the kernel must first find and zero as huge pages takes 0.3-0.7 s: the
    # first fit in a process, and some later ones at random. So the first fit is reported apart (its target
    # is held to it, the worse), and the retrain the speed-up divides is the median of several later fits
    fit_times = []
    for _ in range(fit_repeats):
        gc.collect()
        reset_peak()
        seconds, model = timed(lambda: ItemCF.fit(interactions, similarity, store))
        fit_times.append(seconds)
    result: dict[str, Any] = {
        "store": model.store_kind,
        "similarity": model.measure.name,
        "users": len(model.users()),
        "items": len(model.items()),
        "interactions": model.num_interactions(),
        "fit_s": fit_times[0],
        "fit_warm_s": float(np.median(fit_times[1:])) if len(fit_times) > 1 else None,
        "fit_peak_mb": peak_mb(),
        "model_mb": model.nbytes() / 1e6,
    }
    rng = np.random.default_rng(seed)
    chosen = rng.choice(model.users(), size=min(users_to_forget, len(model.users()) - 1), replace=False).tolist()
    histories = {user: model.history(user) for user in chosen}
    result["forgotten_history_sizes"] = {
        "p50": float(np.median([len(h) for h in histories.values()])),
        "max": max(len(h) for h in histories.values()),
    }

    recommend_users = rng.choice(model.users(), size=min(200, len(model.users())), replace=False).tolist()
    result["recommend"] = percentiles([timed(lambda u=u: model.recommend(u, 10))[0] for u in recommend_users])

    # the retrain that forgetting one user replaces: everything except that user
    without_one = interactions[interactions["user"] != chosen[0]]
    retrain_times = []
    for _ in range(fit_repeats):
        gc.collect()
        retrain_times.append(timed(lambda: ItemCF.fit(without_one, similarity, store))[0])
    result["retrain_s"] = float(np.median(retrain_times))
    result["retrain_spread"] = {"min": min(retrain_times), "max": max(retrain_times), "runs": len(retrain_times)}

    # wall time of forget_user (what a caller waits), and the engine's own time inside apply
    forgets = [timed(lambda u=user: model.forget_user(u)) for user in chosen]
    result["forget"] = percentiles([seconds for seconds, _ in forgets])
    result["forget_engine"] = percentiles([changes.seconds for _, changes in forgets])
    result["speedup"] = result["retrain_s"] / (result["forget"]["p50_ms"] / 1e3)
    # a retrain run as a batch job is a first fit in a fresh process
    result["speedup_first_fit"] = result["fit_s"] / (result["forget"]["p50_ms"] / 1e3)
    result["exact"] = model.retrained().fingerprint() == model.fingerprint()
    result["add_user"] = percentiles([model.add_user(user, histories[user]).seconds for user in chosen])

    # change records (what the stream needs), for a typical user
    typical = sorted(chosen, key=lambda u: len(histories[u]))[len(chosen) // 2]
    for _ in range(2):  # the second is timed: the first may compile the derivation's kernels (0.6 s against 0.1 s)
        changes = model.forget_user(typical)
        records_s, pairs = timed(lambda c=changes: len(model.cooccurrence_changes(c)) + len(model.similarity_changes(c)))
        model.add_user(typical, histories[typical])
    result["typical_user_records"] = {"items": len(histories[typical]), "records": pairs, "seconds": records_s}

    # a visitor's fork that forgets 10 users: overlay size, and all Python/numpy allocations
    gc.collect()
    tracemalloc.start()
    fork = model.fork()
    logs = [fork.forget_user(user) for user in chosen[:10]]
    traced = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    result["fork_10_forgotten_mb"] = fork.nbytes() / 1e6
    result["fork_10_forgotten_with_changesets_mb"] = traced / 1e6
    del logs, fork
    return result


def measure_resolution(repeats: int = 3) -> dict[str, Any]:
    """Catalog resolution on the 9,742 MovieLens titles: exact, typo and unknown inputs."""
    catalog = load("movielens-small").catalog
    queries = {
        "exact": ["toy story", "the matrix", "Matrix, The (1999)", "pulp fiction 1994", "#2571", "amelie"],
        "typo": ["godfater", "forest gump", "pulp fictoin", "the matirx", "shawshenk redemtion"],
        "unknown or ambiguous": ["xyzzy qwerty", "psycho", "harry poter", "star wars"],
    }
    timings: dict[str, list[float]] = {}
    for kind, texts in queries.items():
        for _ in range(repeats):
            for text in texts:
                seconds, _ = timed(lambda text=text: _resolve_quietly(catalog, text))
                timings.setdefault(kind, []).append(seconds)
    every = [t for values in timings.values() for t in values]
    return {kind: percentiles(values) for kind, values in timings.items()} | {"all": percentiles(every)}


def _resolve_quietly(catalog: Any, text: str) -> None:
    try:
        catalog.resolve(text)
    except ValueError:
        pass


def sweep(quick: bool, similarity: str) -> list[dict[str, Any]]:
    """How fit and forget grow with users (items fixed) and with items (users fixed), both stores."""
    sizes = [(1_000, 3_706), (3_000, 3_706), (6_040, 3_706), (12_000, 3_706), (6_040, 1_000), (6_040, 8_000), (6_040, 16_000)]
    if quick:
        sizes = [(500, 1_000), (1_000, 2_000)]
    rows = []
    for users, items in sizes:
        shape = Shape(users, items, int(users * 165.6), median_user=96, max_user=min(2_314, items // 2), max_item=int(users * 0.57))
        data = movielens_like(shape, seed=users + items)
        for store in ("dense", "sparse"):
            figures = measure(data, users_to_forget=50 if not quick else 10, fit_repeats=1, similarity=similarity, store=store)
            rows.append(
                {"users": users, "items": items, "interactions": figures["interactions"], "store": store,
                 "fit_s": figures["fit_s"], "forget_p50_ms": figures["forget"]["p50_ms"],
                 "forget_p99_ms": figures["forget"]["p99_ms"], "model_mb": figures["model_mb"], "exact": figures["exact"]}
            )
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every engine benchmark; returns the figures as a JSON-ready dict."""
    quick, similarity = args.quick, args.similarity
    forget_n = 50 if quick else 300
    movielens = load("movielens-small").interactions
    figures: dict[str, Any] = {
        "when": when(),
        "machine": machine(),
        "quick": quick,
        "similarity": similarity,
        "movielens_small": measure(movielens, forget_n, fit_repeats=1 if quick else 7, similarity=similarity, store="dense"),
        "movielens_small_sparse": measure(movielens, forget_n, fit_repeats=1, similarity=similarity, store="sparse"),
        "synthetic_ml1m": measure(movielens_like(ML_1M, seed=1), forget_n, fit_repeats=1 if quick else 3, similarity=similarity),
        "resolve": measure_resolution(),
        "sweep": sweep(quick, similarity),
    }
    figures["targets"] = check_targets(figures)
    return figures


def check_targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Each MovieLens target with its measured value and whether it was met."""
    ml = figures["movielens_small"]
    return target_rows(TARGETS, {
        "fit_s": ml["fit_s"],
        "forget_p50_ms": ml["forget"]["p50_ms"],
        "forget_p99_ms": ml["forget"]["p99_ms"],
        "speedup": ml["speedup"],
        "recommend_p50_ms": ml["recommend"]["p50_ms"],
        "model_mb": ml["model_mb"],
        "fork_10_forgotten_mb": ml["fork_10_forgotten_with_changesets_mb"],
        "resolve_p50_ms": figures["resolve"]["all"]["p50_ms"],
        "resolve_max_ms": figures["resolve"]["all"]["max_ms"],
    })


def _column(figures: dict[str, Any]) -> list[str]:
    f = figures
    return [
        f"{f['store']}",
        f"{f['users']:,} × {f['items']:,}, {f['interactions']:,}",
        (f"{f['fit_s']:.2f} / {f['fit_warm_s']:.2f} s" if f.get("fit_warm_s") is not None else f"{f['fit_s']:.2f} s / –")
        + f" (peak {f['fit_peak_mb']:,.0f} MB)",
        f"{f['forget']['p50_ms']:.3f} / {f['forget']['p95_ms']:.2f} / {f['forget']['p99_ms']:.2f} / {f['forget']['max_ms']:.1f} ms (n={f['forget']['n']})",
        f"{f['forgotten_history_sizes']['p50']:.0f} / {f['forgotten_history_sizes']['max']}",
        f"{f['add_user']['p50_ms']:.3f} / {f['add_user']['p99_ms']:.2f} ms",
        f"{f['recommend']['p50_ms']:.2f} / {f['recommend']['p99_ms']:.2f} ms",
        f"{f['retrain_s']:.3f} s" + (f" ({f['retrain_spread']['min']:.3f}–{f['retrain_spread']['max']:.3f} s, "
                                     f"{count(f['retrain_spread']['runs'], 'run')})"
                                     if f.get("retrain_spread", {}).get("runs", 0) > 1 else ""),
        f"{f['speedup']:,.0f}×" + (f" ({f['speedup_first_fit']:,.0f}× the first fit)" if f.get("speedup_first_fit") else ""),
        f"{f['exact']}",
        f"{f['model_mb']:.0f} MB",
        f"{f['fork_10_forgotten_mb'] * 1e3:.0f} kB / {f['fork_10_forgotten_with_changesets_mb']:.1f} MB",
        f"{f['typical_user_records']['records']:,} in {f['typical_user_records']['seconds'] * 1e3:.0f} ms ({f['typical_user_records']['items']} items)",
    ]


_ROWS = [
    "store", "users × items, interactions", "fit: the first of its runs / later ones (median)", "forget_user p50 / p95 / p99 / max",
    "forgotten users' history size p50 / max", "add_user p50 / p99", "recommend p50 / p99",
    "retrain from scratch without one user (same run; later fits: median, range)",
    "speedup (retrain ÷ forget p50; against the first fit)",
    "after forgetting them all, fingerprint equals a retrain on the rest", "model memory (H, n, C)",
    "fork that forgot 10 users: overlay / all allocations", "change records of a typical forget (C and S pairs)",
]


def _sweep_note(figures: dict[str, Any]) -> str:
    """What the scaling table's sets are; beside the MovieLens-1M-shaped set when a row has its size."""
    note = "Each row is a set of its own, seeded by its size, with MovieLens-1M's 165.6 interactions a user."
    ml1m = figures["synthetic_ml1m"]
    same = [row for row in figures["sweep"] if (row["users"], row["items"]) == (ml1m["users"], ml1m["items"])]
    if same and same[0]["interactions"] != ml1m["interactions"]:
        note += (f" The {same[0]['users']:,} × {same[0]['items']:,} rows are not the MovieLens-1M-shaped set above: "
                 f"{same[0]['interactions']:,} interactions against {ml1m['interactions']:,}.")
    return note


def _fit_note(f: dict[str, Any]) -> str:
    """What the fit and retrain figures are, from their spread."""
    if not f.get("retrain_spread") or f.get("fit_warm_s") is None:
        return "Fit and retrain: one run each."
    spread = f["retrain_spread"]
    return (f"On MovieLens latest-small (dense), the same retrain ranged from {spread['min']:.3f} to "
            f"{spread['max']:.3f} s over {spread['runs']} runs, and the process's first fit took {f['fit_s']:.2f} s: the "
            "same work, so the spread is the machine's, not the code's (most likely the kernel finding fresh memory for "
            "the 190 MB C; this run does not measure that). The speed-up target is held to the median retrain, so it "
            f"moves with the machine: against the fastest retrain it is "
            f"{spread['min'] / (f['forget']['p50_ms'] / 1e3):,.0f}×. The other columns' first fits come later in the "
            "process.")


def markdown(figures: dict[str, Any]) -> str:
    """The engine section of docs/benchmarks.md."""
    columns = [("MovieLens latest-small", figures["movielens_small"]),
               ("MovieLens latest-small, sparse store", figures["movielens_small_sparse"]),
               ("synthetic, MovieLens-1M shape", figures["synthetic_ml1m"])]
    lines = [
        "## Engine",
        "",
        f"`python -m amnesia bench{' --quick' if figures['quick'] else ''}` on {figures['when']} ({figures['machine']}), "
        f"similarity {figures['similarity']}.",
        "",
        "### Targets (MovieLens latest-small, dense store)",
        "",
        *target_table(figures["targets"]),
        "",
        "`forget_user` is its wall time, from the call to the returned ChangeSet (which sorts the change's item "
        "ids when first read, not before it returns; its own `seconds`, which the app shows, starts inside `apply` "
        "and is lower: "
        f"p50 {figures['movielens_small']['forget_engine']['p50_ms']:.3f} ms here). The fork figure counts every "
        "allocation while a fresh fork forgets 10 users, ChangeSets included.",
        "",
        _fit_note(figures["movielens_small"]),
        "",
        "### Data sets and stores",
        "",
        "| | " + " | ".join(name for name, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    cells = [_column(f) for _, f in columns]
    for position, label in enumerate(_ROWS):
        lines.append(f"| {label} | " + " | ".join(column[position] for column in cells) + " |")
    lines += [
        "",
        "For scale: the original Amnesia's Differential Dataflow implementation forgot 100 users from MovieLens-1M "
        "in about 2.1 s on one worker, about 21 ms a user.",
        "",
        "### Catalog resolution (9,742 MovieLens titles)",
        "",
        "| input | p50 | p95 | max |",
        "|---|---|---|---|",
    ]
    for kind, values in figures["resolve"].items():
        lines.append(f"| {kind} | {values['p50_ms']:.2f} ms | {values['p95_ms']:.2f} ms | {values['max_ms']:.2f} ms |")
    lines += [
        "",
        "### Scaling (synthetic, MovieLens-1M shape; both stores)",
        "",
        _sweep_note(figures),
        "",
        "| users | items | interactions | store | fit | forget p50 | forget p99 | model | exact |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in figures["sweep"]:
        lines.append(
            f"| {row['users']:,} | {row['items']:,} | {row['interactions']:,} | {row['store']} | {row['fit_s']:.2f} s | "
            f"{row['forget_p50_ms']:.3f} ms | {row['forget_p99_ms']:.2f} ms | {row['model_mb']:.0f} MB | {row['exact']} |"
        )
    lines += [
        "",
        "Fit costs Σ over users of k² increments (each user's pairs), done by compiled loops a row of C at a time; "
        "the dense store's memory grows with items² (2 bytes a cell), the sparse store's with the non-zero pairs "
        "(6 bytes each, both halves). Forgetting a user with k items touches k² entries, whatever the number of users.",
        "",
    ]
    return "\n".join(lines)


__all__ = ["TARGETS", "check_targets", "fmt", "markdown", "measure", "run"]
