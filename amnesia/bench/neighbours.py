"""``python -m amnesia bench --part neighbours``: exact top-K lists beside implicit's item-kNN, one run.

MovieLens latest-small, dense store, Jaccard (implicit's ItemItemRecommender counts co-occurrences,
the same C). Every figure is the median of ``ROUNDS`` rounds, with the spread (smallest and largest
round) beside it; a round fits each model afresh, then times:

- forget: ``TYPICAL`` users with a history length in the middle half, then the ``HEAVY`` users with
  the longest histories (p50, p95, p99 over the users of the round), with lists (K = 50) and
  without (every neighbour); each forgotten user is added back right after, so a round ends on
  the data it started from;
- recommend (top 10) for 200 users: this engine with K = 50 lists, implicit with K = 20 and with
  every neighbour (K = the catalog);
- implicit's refit (its only way to forget), and so the speedup of a forget over the cheapest
  same-run refit (implicit, K = 20).

The first fit of a fresh process (compiled kernels loaded from numba's cache, the dense matrix
faulted in) is timed in a child process per round, apart from the warm fits. What a forget with
lists cannot avoid is timed beside it: reading the forgotten user's items' rows of C (the same
uint16 rows a dense store keeps, two threads, the caches flushed first), for the same typical users. Once per run: 1,000
random adds and forgets on a K = 50 model, then its fingerprint (lists included) against a fresh
fit's. Memory: each model's own arrays (``nbytes``) and the process's peak.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numba import njit, prange

from .common import (fmt, load_average, machine, measured, peak_mb, percentiles, reset_peak, target_rows, target_table, timed,
                     when)

K = 50
IMPLICIT_K = 20
ROUNDS = 5
#: Typical users a round forgets: a p99 needs a few hundred draws (over 40 it was the largest but one,
#: and one scheduler hiccup set it: rounds read 9.3 to 35 ms); the middle half of MovieLens has 306.
TYPICAL = 200
HEAVY = 5
RECOMMEND_USERS = 200
REQUESTS = 1_000
SPREAD = 30  # users at evenly spaced quantiles of history length, for the a + b·k + c·k² fit

TARGETS = {  # issue 17: (label, comparison, target, unit)
    "recommend_p50_ms": (f"recommend top-10 p50, K = {K}", "<=", 0.1, "ms"),
    "recommend_p95_ms": (f"recommend top-10 p95, K = {K}", "<=", 1.0, "ms"),
    "recommend_vs_implicit": (f"recommend p50 / implicit K = {IMPLICIT_K}'s p50", "<=", 5.0, "×"),
    "forget_p50_ms": (f"forget p50 (typical users), K = {K}", "<=", 0.1, "ms"),
    "forget_p99_ms": (f"forget p99 (typical users), K = {K}", "<=", 10.0, "ms"),
    "forget_all_p50_ms": ("forget p50 (typical users), every neighbour", "<=", 0.05, "ms"),
    "speedup": (f"implicit K = {IMPLICIT_K} refit / forget p50 (K = {K})", ">=", 10_000.0, "×"),
    "identical": (f"lists after {REQUESTS:,} random requests equal a fresh fit's (1 = yes)", ">=", 1.0, ""),
}

_COLD = """
import sys, time
import pandas as pd
from amnesia.data.datasets import load
from amnesia.engine.model import ItemCF
frame = load("movielens-small").interactions
started = time.perf_counter()
ItemCF.fit(frame, "jaccard", store="dense", neighbours=int(sys.argv[1]))
print(time.perf_counter() - started)
"""


def _users(interactions: pd.DataFrame, seed: int) -> tuple[list[int], list[int]]:
    """(typical users: history length in the middle half, seeded; the heaviest users)."""
    lengths = interactions.groupby("user").size()
    low, high = np.percentile(lengths, [25, 75])
    middle = sorted(lengths[(lengths >= low) & (lengths <= high)].index.tolist())
    typical = np.random.default_rng(seed).choice(middle, size=TYPICAL, replace=False).tolist()
    heavy = lengths.sort_values(ascending=False).index[:HEAVY].tolist()
    return [int(u) for u in typical], [int(u) for u in heavy]


def _spread_users(interactions: pd.DataFrame) -> list[int]:
    """``SPREAD`` users at evenly spaced quantiles of history length (shortest to longest)."""
    lengths = interactions.groupby("user").size().sort_values(kind="stable")
    positions = np.linspace(0, len(lengths) - 1, SPREAD).round().astype(int)
    return [int(u) for u in lengths.index[positions]]


def cost_fit(lengths: list[int], seconds: list[float]) -> dict[str, float]:
    """Least-squares a + b·k + c·k² of forget time against history length k: a in µs, b in µs per
    item, c in ns per item pair (what the counts' k² updates would cost if they dominated).

    Each user's error counts relative to their time (weights 1/t): unweighted, the one 2,698-item
    history (0.1 s) set the whole fit and a came out negative or several times a short history's
    whole time (643 µs where k = 20 took 470 µs)."""
    times = np.asarray(seconds, dtype=float)
    c, b, a = np.polyfit(np.asarray(lengths, dtype=float), times, 2, w=1.0 / times)
    return {"a_us": float(a * 1e6), "b_us": float(b * 1e6), "c_ns": float(c * 1e9)}


def _forgets(model: Any, users: list[int]) -> list[float]:
    """Seconds of forget_user for each of ``users``, each added back right after (untimed)."""
    seconds = []
    for user in users:
        history = model.history(user)
        seconds.append(timed(lambda u=user: model.forget_user(u))[0])
        model.add_user(user, history)
    return seconds


@njit(parallel=True, nogil=True, cache=True)
def _read_rows(core: np.ndarray, rows: np.ndarray) -> int:
    """The sum of rows ``rows`` of ``core``, each row's two halves read by two threads: the reading
    a forget with lists does (each item of the user's history needs its whole row of C)."""
    half = core.shape[1] // 2
    totals = np.zeros(2, dtype=np.int64)
    for w in prange(2):
        total = 0
        for r in rows:
            for c in range(w * half, core.shape[1] if w else half):
                total += core[r, c]
        totals[w] = total
    return totals.sum()


def dense_c(matrix: sp.csr_matrix) -> np.ndarray:
    """C = HᵀH of the users x items ``matrix`` as the dense store keeps it (uint16, items x items)."""
    items = matrix.shape[1]
    core = np.empty((items, items), dtype=np.uint16)
    by_item = matrix.T.tocsr()
    for start in range(0, items, 1024):  # a block of rows at a time: the whole product in float64 would be 0.76 GB
        core[start:start + 1024] = (by_item[start:start + 1024] @ matrix).toarray()
    return core


def _reads(matrix: sp.csr_matrix, users: np.ndarray, typical: list[int]) -> list[float]:
    """Seconds to read each of ``typical``'s item rows of C (:func:`dense_c`) with the caches
    flushed first (a 64 MB sweep)."""
    core = dense_c(matrix)
    flush = np.ones(8 << 20)
    rows_of = {int(u): matrix[int(np.searchsorted(users, u))].indices.astype(np.int64) for u in typical}
    _read_rows(core, rows_of[typical[0]])  # loaded from numba's cache before any timing
    seconds = []
    for user in typical:
        flush.sum()
        seconds.append(timed(lambda rows=rows_of[user]: _read_rows(core, rows))[0])
    return seconds


def _implicit(matrix: sp.csr_matrix, k: int) -> tuple[float, Any]:
    from implicit.nearest_neighbours import ItemItemRecommender

    model = ItemItemRecommender(K=k)
    return timed(lambda: model.fit(matrix, show_progress=False))[0], model


def _round(interactions: pd.DataFrame, matrix: sp.csr_matrix, users: np.ndarray, seed: int) -> dict[str, Any]:
    from ..engine.model import ItemCF

    typical, heavy = _users(interactions, seed)
    rng = np.random.default_rng(seed)
    asked = rng.choice(len(users), size=RECOMMEND_USERS, replace=False)
    figures: dict[str, Any] = {}
    for name, k in (("lists", K), ("every", None)):
        gc.collect()
        fit_s, model = timed(lambda k=k: ItemCF.fit(interactions, "jaccard", store="dense", neighbours=k))
        entry = {"fit_s": fit_s, "nbytes_mb": model.nbytes() / 1e6,
                 "forget_typical": percentiles(_forgets(model, typical)),
                 "forget_heavy": percentiles(_forgets(model, heavy))}
        spread = _spread_users(interactions)
        entry["by_length"] = [[model.history_length(u), t] for u, t in zip(spread, _forgets(model, spread))]
        if k is not None:
            entry["recommend"] = percentiles([timed(lambda u=int(users[a]): model.recommend(u, 10))[0] for a in asked])
            candidate = model.with_neighbours(k, "candidate")  # the same lists, each candidate scored from its own
            figures["candidate"] = {"recommend": percentiles(
                [timed(lambda u=int(users[a]): candidate.recommend(u, 10))[0] for a in asked])}
            del candidate
            entry["lists_mb"] = model.neighbour_state().nbytes() / 1e6
        figures[name] = entry
        del model
    for name, k in (("implicit_k", IMPLICIT_K), ("implicit_all", matrix.shape[1])):
        gc.collect()
        fit_s, model = _implicit(matrix, k)
        rows = [timed(lambda a=int(a): model.recommend(a, matrix[a], N=10))[0] for a in asked]
        figures[name] = {"fit_s": fit_s, "recommend": percentiles(rows),
                         "nbytes_mb": model.similarity.data.nbytes / 1e6 + model.similarity.indices.nbytes / 1e6}
        del model
    figures["read"] = {"rows_of_c": percentiles(_reads(matrix, users, typical))}
    cold = subprocess.run([sys.executable, "-c", _COLD, str(K)], capture_output=True, text=True, check=True)
    figures["lists"]["cold_fit_s"] = float(cold.stdout.strip().splitlines()[-1])
    return figures


def _identical(interactions: pd.DataFrame, seed: int = 11) -> dict[str, Any]:
    """``REQUESTS`` random adds and forgets on a K-list model, then its fingerprint against a fit's."""
    from ..engine.model import ItemCF

    model = ItemCF.fit(interactions, "jaccard", store="dense", neighbours=K)
    rng = np.random.default_rng(seed)
    items = np.unique(interactions["item"].to_numpy())
    started = time.perf_counter()
    for step in range(REQUESTS):
        users = model.users()
        if step % 2 and users:
            model.forget_user(int(rng.choice(users)))
        else:
            user = int(rng.integers(0, 800))  # MovieLens has users 1-610: some adds extend a user, some are new
            model.add_user(user, rng.choice(items, size=int(rng.integers(1, 60)), replace=False).tolist())
    seconds = time.perf_counter() - started
    same = model.fingerprint() == ItemCF.fit(model.interactions(), "jaccard", store="dense", neighbours=K).fingerprint()
    return {"requests": REQUESTS, "seconds": seconds, "identical": bool(same)}


def _spread(rounds: list[dict[str, Any]], path: tuple[str, ...]) -> dict[str, float]:
    """Median, smallest and largest over the rounds of the figure at ``path``."""
    values = []
    for figures in rounds:
        value: Any = figures
        for key in path:
            value = value[key]
        values.append(float(value))
    return {"median": float(np.median(values)), "min": float(min(values)), "max": float(max(values))}


def run(args: argparse.Namespace | None = None) -> dict[str, Any]:
    from ..data.datasets import load
    from ..engine.model import ItemCF

    quick = bool(getattr(args, "quick", False))
    interactions = load("movielens-small").interactions
    users = np.unique(interactions["user"].to_numpy())
    items = np.unique(interactions["item"].to_numpy())
    matrix = sp.csr_matrix(
        (np.ones(len(interactions), np.float64),  # implicit's item-kNN reads float64 values
         (np.searchsorted(users, interactions["user"]), np.searchsorted(items, interactions["item"]))),
        shape=(len(users), len(items)))
    # compiled kernels loaded (or, after a change to them, compiled) before any timing: the fit's and the dense
    # update's; a round once timed a 4.4 s "forget" that was the update kernel compiling
    warm = ItemCF.fit(interactions.head(500), store="dense", neighbours=K)
    for user in warm.users()[:2]:
        history = warm.history(user)
        warm.forget_user(user)
        warm.add_user(user, history)
    del warm
    figures: dict[str, Any] = {"when": when(), "machine": machine(), "load_before": load_average(), "k": K,
                               "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
                               "implicit_k": IMPLICIT_K, "rounds": ROUNDS if not quick else 1,
                               "median_k": float(np.median(interactions.groupby("user").size()))}
    reset_peak()
    rounds = [_round(interactions, matrix, users, seed) for seed in range(figures["rounds"])]
    figures["peak_mb"] = peak_mb()
    figures["identical"] = _identical(interactions if not quick else interactions.head(5000))
    figures["load_after"] = load_average()
    summary: dict[str, Any] = {}
    for model, fields in {
        "lists": ("fit_s", "cold_fit_s", "nbytes_mb", "lists_mb", "forget_typical", "forget_heavy", "recommend"),
        "every": ("fit_s", "nbytes_mb", "forget_typical", "forget_heavy"),
        "candidate": ("recommend",),
        "read": ("rows_of_c",),
        "implicit_k": ("fit_s", "nbytes_mb", "recommend"),
        "implicit_all": ("fit_s", "nbytes_mb", "recommend"),
    }.items():
        if model not in rounds[0]:  # runs from before candidate scoring was timed
            continue
        summary[model] = {}
        for field in fields:
            sample = rounds[0][model][field]
            if isinstance(sample, dict):
                summary[model][field] = {p: _spread(rounds, (model, field, p)) for p in ("p50_ms", "p95_ms", "p99_ms", "max_ms")}
            else:
                summary[model][field] = _spread(rounds, (model, field))
    for model in ("lists", "every"):
        pooled = [pair for figures_ in rounds for pair in figures_[model]["by_length"]]
        summary[model]["cost_fit"] = cost_fit([k for k, _ in pooled], [t for _, t in pooled])
    figures["summary"] = summary
    figures["rounds_raw"] = rounds
    lists, every, implicit_k = summary["lists"], summary["every"], summary["implicit_k"]
    forget_p50 = lists["forget_typical"]["p50_ms"]["median"]
    figures["targets"] = target_rows(TARGETS, {
        "recommend_p50_ms": lists["recommend"]["p50_ms"]["median"],
        "recommend_p95_ms": lists["recommend"]["p95_ms"]["median"],
        "recommend_vs_implicit": lists["recommend"]["p50_ms"]["median"] / implicit_k["recommend"]["p50_ms"]["median"],
        "forget_p50_ms": forget_p50,
        "forget_p99_ms": lists["forget_typical"]["p99_ms"]["median"],
        "forget_all_p50_ms": every["forget_typical"]["p50_ms"]["median"],
        "speedup": implicit_k["fit_s"]["median"] * 1e3 / forget_p50,
        "identical": float(figures["identical"]["identical"]),
    })
    return figures


def _parts_sentence(figures: dict[str, Any], summary: dict[str, Any], labels: dict[str, str]) -> str:
    """The fit's three parts at the median history length, and which is the largest, per model."""
    k = figures["median_k"]  # (run() records it; no older report is rendered again)
    names = {"a": "fixed", "b": "per-item", "c": "k²"}
    pieces = []
    for name in ("lists", "every"):
        fit = summary[name]["cost_fit"]
        parts = {"a": fit["a_us"], "b": fit["b_us"] * k, "c": fit["c_ns"] * k * k / 1e3}
        pieces.append(f"{labels[name]}: {parts['a']:.0f} + {parts['b']:.0f} + {parts['c']:.0f} µs, the "
                      f"{names[max(parts, key=parts.get)]} part the largest")
    negative = any(summary[name]["cost_fit"]["a_us"] < 0 for name in ("lists", "every"))
    return (f"At the median history length (k = {k:g}), a + b·k + c·k² is " + "; ".join(pieces) + ". The fixed part "
            "is, without lists, validation, planning and recording the change (Python and numpy calls); with lists, "
            "most of it is the list update's own: a pass over every item's K-th value (the whole catalog's lists, "
            "whatever the history) and waking the second thread. The per-item part is, with lists, a row of the "
            "catalog per item of the history, read from memory rather than cache, and without, the arrays of the plan "
            "and the change record, which grow with the history; the k² part, the co-occurrence counts of "
            "every pair of the history's items." + (" A negative a is the least-squares fit bending to the long histories, not a "
                                  "negative cost." if negative else ""))


def _read_sentence(figures: dict[str, Any]) -> str:
    """What reading the forgotten users' rows of C alone took in this run, beside the forget target."""
    read = figures["summary"].get("read")
    if read is None:  # runs from before the reading was timed
        return ""
    p50, target = read["rows_of_c"]["p50_ms"], TARGETS["forget_p50_ms"][2]
    side = "more" if p50["median"] > target else "less"
    return (f" Reading those rows alone (the typical users' items' rows of C, uint16 as the dense store keeps them, "
            f"the caches flushed first, two threads) took {_cell(p50)} ms p50 and "
            f"{_cell(read['rows_of_c']['p95_ms'])} ms p95 in this run: {side} than the {target:g} ms target for the "
            "whole forget, before a single similarity is computed.")


def _threads_sentence(figures: dict[str, Any]) -> str:
    """How the kernels' threads waited between parallel loops in this run (runs before 2026-12-07 07:27 did not say)."""
    policy = figures.get("omp_wait_policy")
    if policy is None:
        return ""
    if policy.upper() == "PASSIVE":
        how = "slept"
    elif policy == "unset":
        how = "waited as OpenMP's default has them (they spin a while)"
    else:
        how = f"waited with OMP_WAIT_POLICY={policy}"
    return (f" Between parallel loops the kernels' threads {how} in this run (OMP_WAIT_POLICY={policy}; `import "
            "amnesia` makes them sleep unless the environment says otherwise, and docs/design-notes.md says what "
            "spinning costs beside other work).")


def _cell(spread: dict[str, float], digits: str = ".3g") -> str:
    return f"{spread['median']:{digits}} ({spread['min']:{digits}}–{spread['max']:{digits}})"


def markdown(figures: dict[str, Any]) -> str:
    summary = figures["summary"]
    lists, every = summary["lists"], summary["every"]
    labels = {"lists": f"this engine, K = {figures['k']} lists", "every": "this engine, every neighbour",
              "implicit_k": f"implicit 0.7.3 ItemItemRecommender, K = {figures['implicit_k']}",
              "implicit_all": "implicit 0.7.3 ItemItemRecommender, every neighbour",
              "candidate": f"this engine, K = {figures['k']} lists, each candidate scored from its own list"}
    lines = [
        "## Neighbour lists beside implicit (`--part neighbours`)",
        "",
        measured(figures) + ". MovieLens latest-small, Jaccard, dense store. " + (
            f"Each figure is the median of {figures['rounds']} rounds (smallest–largest round in brackets)"
            if figures["rounds"] > 1 else "One round (a quick run: no spread)") + f"; forget percentiles are over {TYPICAL} typical "
        f"users (history length in the middle half) or the {HEAVY} heaviest, recommend over {RECOMMEND_USERS} users.",
        "",
        "| model | fit (warm) | forget p50 / p99, typical (ms) | forget p50 / max, heaviest (ms) | recommend p50 / p95 (ms) | own memory |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in ("lists", "every"):
        entry = summary[name]
        recommend = (f"{_cell(entry['recommend']['p50_ms'])} / {_cell(entry['recommend']['p95_ms'])}"
                     if "recommend" in entry else "see the engine part")
        lines.append(
            f"| {labels[name]} | {_cell(entry['fit_s'])} s | {_cell(entry['forget_typical']['p50_ms'])} / "
            f"{_cell(entry['forget_typical']['p99_ms'])} | {_cell(entry['forget_heavy']['p50_ms'])} / "
            f"{_cell(entry['forget_heavy']['max_ms'])} | {recommend} | {_cell(entry['nbytes_mb'])} MB |")
    if "candidate" in summary:
        entry = summary["candidate"]
        lines.append(f"| {labels['candidate']} | the same model | the same lists | the same lists | "
                     f"{_cell(entry['recommend']['p50_ms'])} / {_cell(entry['recommend']['p95_ms'])} | the same |")
    for name in ("implicit_k", "implicit_all"):
        entry = summary[name]
        lines.append(
            f"| {labels[name]} | {_cell(entry['fit_s'])} s | a refit: {_cell(entry['fit_s'])} s | a refit | "
            f"{_cell(entry['recommend']['p50_ms'])} / {_cell(entry['recommend']['p95_ms'])} | "
            f"{_cell(entry['nbytes_mb'])} MB |")
    identical = figures["identical"]
    lines += [
        "",
        f"The first fit in a fresh process (K = {figures['k']}, kernels from numba's cache) took "
        f"{_cell(lists['cold_fit_s'])} s against {_cell(lists['fit_s'])} s warm. The lists themselves take "
        f"{_cell(lists['lists_mb'])} MB of the model's {_cell(lists['nbytes_mb'])} MB. Process peak "
        f"{fmt(figures['peak_mb'])} MB. After {identical['requests']:,} random adds and forgets "
        f"({identical['seconds']:.1f} s) the lists {'equal' if identical['identical'] else 'DIFFER FROM'} a fresh "
        "fit's (fingerprint, lists included).",
        "",
        "Forget time against history length k, fitted as a + b·k + c·k² over "
        f"{SPREAD} users per round spread over every history length: "
        + "; ".join(f"{labels[name]}: a = {summary[name]['cost_fit']['a_us']:.0f} µs, b = {summary[name]['cost_fit']['b_us']:.2f} µs "
                    f"per item, c = {summary[name]['cost_fit']['c_ns']:.3f} ns per item pair" for name in ("lists", "every"))
        + " (each user's error relative to their time). " + _parts_sentence(figures, summary, labels),
        "",
        "Why forgetting with lists costs milliseconds, not microseconds: every similarity of a movie whose count "
        "moved changes (S_ab depends on n_a), so each of the forgotten user's movies needs its whole row of C "
        "for its new list (a pass over the catalog each), and every other movie's list must be checked against "
        "the new values of those movies (the same cells, read the other way: S is symmetric). That reading is "
        "the user's history length times the catalog, however it is coded. A forget only raises the other "
        "movies' similarities to the user's movies, so the pass compares each cell with the two bars it could "
        "pass (the other movie's K-th entry, and the K-th best new value of what the user's movie listed before) "
        "by a product, and computes the exact similarity only for the few cells that may pass; the lists it "
        "reaches are then raised in place." + _read_sentence(figures) + _threads_sentence(figures),
        "",
        *target_table(figures["targets"]),
    ]
    return "\n".join(lines) + "\n"
