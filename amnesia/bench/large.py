"""Large benchmark (``python -m amnesia bench --large``): a MovieLens-25M-shaped set, both stores.

The set is :func:`amnesia.data.synthetic.movielens_like` with the published shape of
MovieLens-25M (162,541 users, 59,047 movies, 25,000,095 ratings). On it: fit time and peak
memory, resident model size, forget_user latency over random users and for the heaviest
user, recommend latency, stream throughput, a retrain from scratch in the same run, and
exactness (the fingerprint after forgetting equals the retrain's). Then the same essentials
on the other store, and a scaling curve from 1M to 25M interactions for both stores.

Memory: the dense model is ~7 GB and the sparse one ~10 GB; they are built one at a time,
so the process peaks near the larger one (the issue's budget is 16 GB).
"""

from __future__ import annotations

import argparse
import gc
from functools import partial
import io
from typing import Any

import numpy as np
import pandas as pd

from ..data.synthetic import ML_25M, Shape, movielens_like
from ..engine.model import ItemCF
from ..records import COLLECTIONS, change_records, record_line
from ..words import size
from .common import machine, peak_mb, percentiles, reset_peak, resident_mb, target_rows, target_table, timed, when

QUICK_SHAPE = Shape(users=6_500, items=12_000, interactions=1_000_000, median_user=70, max_user=2_000, max_item=3_300)
TARGETS = {
    "fit_s": ("fit", "<=", 180.0, "s"),
    "fit_peak_gb": ("peak memory while fitting", "<=", 16.0, "GB"),
    "model_gb": ("model resident", "<=", 8.0, "GB"),
    "forget_p50_ms": ("forget_user p50", "<=", 5.0, "ms"),
    "forget_p99_ms": ("forget_user p99", "<=", 200.0, "ms"),
    "recommend_p50_ms": ("recommend p50", "<=", 100.0, "ms"),
}


def _fit(data: pd.DataFrame, similarity: str, store: str) -> tuple[ItemCF, dict[str, Any]]:
    gc.collect()
    before = resident_mb()
    reset_peak()
    seconds, model = timed(lambda: ItemCF.fit(data, similarity, store=store))
    return model, {
        "store": model.store_kind,
        # stored sparse entries: both halves of C's non-zero pairs (the density of C, for the sparse store)
        "sparse_entries": model.stored_entries() if model.store_kind == "sparse" else None,
        "fit_s": seconds,
        "fit_peak_gb": peak_mb() / 1024,
        "model_gb": model.nbytes() / 1e9,
        "resident_growth_gb": (resident_mb() - before) / 1024,
    }


def _latencies(model: ItemCF, users: list[int], recommend_n: int) -> dict[str, Any]:
    """recommend over the first ``recommend_n`` users (before any forget), then forget them all."""
    sizes = [len(model.history(user)) for user in users]
    recommend = percentiles([timed(lambda u=u: model.recommend(u, 10))[0] for u in users[:recommend_n]])
    forget = percentiles([timed(lambda u=user: model.forget_user(u))[0] for user in users])  # wall time
    return {"recommend": recommend, "forget": forget,
            "history_sizes": {"p50": float(np.median(sizes)), "p99": float(np.percentile(sizes, 99)), "max": int(max(sizes))}}


def _stream_throughput(model: ItemCF, user: int) -> dict[str, Any]:
    """Forget ``user`` and write its change records as JSON lines (to memory), per collection set."""
    changes = model.forget_user(user)
    result: dict[str, Any] = {"user": user, "items": len(changes.items)}
    for name, collections in (("H, n, C", COLLECTIONS[:3]), ("H, n, C, S", COLLECTIONS)):
        sink = io.StringIO()
        seconds, count = timed(lambda c=collections: sum(1 for _ in (sink.write(record_line(r)) for r in change_records(model, changes, c))))
        result[name] = {"records": count, "seconds": seconds, "records_per_s": count / seconds, "mb": sink.tell() / 1e6}
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The large benchmark; returns JSON-ready figures."""
    similarity, quick = args.similarity, args.quick
    # --quick: a set of the same kind, 25 times smaller, to check the harness in a minute
    shape = QUICK_SHAPE if quick else ML_25M
    rng = np.random.default_rng(11)
    seconds, data = timed(lambda: movielens_like(shape, seed=0))
    figures: dict[str, Any] = {"when": when(), "machine": machine(), "quick": quick, "similarity": similarity,
                               "generate_s": seconds, "users": int(data["user"].nunique()),
                               "items": int(data["item"].nunique()), "interactions": len(data)}
    per_user = data.groupby("user").size()
    figures["shape"] = {"median_user": float(per_user.median()), "max_user": int(per_user.max()),
                        "max_item": int(data.groupby("item").size().max())}

    # 1. the store auto picks, measured in full
    model, fit = _fit(data, similarity, "auto")
    figures["auto"] = fit
    heaviest = int(per_user.idxmax())
    users = [u for u in rng.choice(per_user.index.to_numpy(), size=301 if not quick else 51, replace=False).tolist() if u != heaviest]
    stream_user = sorted(users, key=lambda u: (per_user[u], u))[len(users) // 2]  # a typical user
    users = [u for u in users if u != stream_user][:300 if not quick else 50]
    figures["auto"] |= _latencies(model, users, recommend_n=200 if not quick else 30)
    figures["stream"] = _stream_throughput(model, stream_user)
    figures["auto"]["heaviest_forget_s"], changes = timed(partial(model.forget_user, heaviest))
    figures["auto"]["heaviest_items"] = len(changes.items)
    figures["auto"]["forgotten_users"] = len(users) + 2
    seconds, mine = timed(model.fingerprint)
    figures["fingerprint_s"] = seconds
    remaining = model.interactions()
    del model, changes
    gc.collect()
    retrained, retrain = _fit(remaining, similarity, figures["auto"]["store"])
    figures["retrain"] = retrain
    figures["exact"] = retrained.fingerprint() == mine
    figures["speedup"] = retrain["fit_s"] / (figures["auto"]["forget"]["p50_ms"] / 1e3)
    del retrained, remaining
    gc.collect()

    # 2. the other store: the essentials
    other = "sparse" if figures["auto"]["store"] == "dense" else "dense"
    model, fit = _fit(data, similarity, other)
    figures["other"] = fit | _latencies(model, users[:100], recommend_n=100)
    del model
    gc.collect()

    # 3. scaling: the first users of the set, 1M to 25M interactions, both stores
    curve = []
    cumulative = per_user.sort_index().cumsum()
    for target in ([1_000_000, 2_500_000, 5_000_000, 10_000_000] if not quick else [200_000, 500_000]):
        last_user = int(cumulative.index[np.searchsorted(cumulative.to_numpy(), target)])
        part = data[data["user"] <= last_user]
        sample = rng.choice(part["user"].unique(), size=100, replace=False).tolist()
        for store in ("dense", "sparse"):
            model, fit = _fit(part, similarity, store)
            row = {"interactions": len(part), "users": int(part["user"].nunique()), "items": int(part["item"].nunique())}
            row |= fit | {"forget": percentiles([model.forget_user(u).seconds for u in sample])}
            row["auto_choice"] = _auto_choice(part) if store == "dense" else curve[-1]["auto_choice"]
            curve.append(row)
            del model
            gc.collect()
    for store, key in ((figures["auto"]["store"], "auto"), (other, "other")):
        curve.append({"interactions": len(data), "users": figures["users"], "items": figures["items"],
                      "store": store, "fit_s": figures[key]["fit_s"], "fit_peak_gb": figures[key]["fit_peak_gb"],
                      "model_gb": figures[key]["model_gb"], "forget": figures[key]["forget"],
                      "auto_choice": figures["auto"]["store"]})
    figures["curve"] = curve
    figures["targets"] = target_rows(TARGETS, {
        "fit_s": figures["auto"]["fit_s"], "fit_peak_gb": figures["auto"]["fit_peak_gb"],
        "model_gb": figures["auto"]["model_gb"], "forget_p50_ms": figures["auto"]["forget"]["p50_ms"],
        "forget_p99_ms": figures["auto"]["forget"]["p99_ms"], "recommend_p50_ms": figures["auto"]["recommend"]["p50_ms"],
    })
    return figures


def _auto_choice(data: pd.DataFrame) -> str:
    """Which store ``ItemCF.fit(..., store="auto")`` picks for ``data`` (without building it)."""
    return ItemCF.layout_for(data, "auto")


def markdown(figures: dict[str, Any]) -> str:
    """The large section of docs/benchmarks.md."""
    auto, other, stream = figures["auto"], figures["other"], figures["stream"]
    lines = [
        "## Large: a MovieLens-25M-shaped set",
        "",
        f"`python -m amnesia bench --large{' --quick' if figures['quick'] else ''}` on {figures['when']} "
        f"({figures['machine']}), similarity {figures['similarity']}. Data: "
        f"{figures['users']:,} users × {figures['items']:,} movies, {figures['interactions']:,} interactions "
        f"(median user {figures['shape']['median_user']:.0f}, heaviest {figures['shape']['max_user']:,}, most popular "
        f"movie {figures['shape']['max_item']:,}), generated in {figures['generate_s']:.0f} s.",
        "",
        f"### Targets (the store `auto` picks: {auto['store']})",
        "",
        *target_table(figures["targets"]),
        "",
        "| | " + auto["store"] + " (auto) | " + other["store"] + " |",
        "|---|---|---|",
        f"| fit | {auto['fit_s']:.0f} s | {other['fit_s']:.0f} s |",
        f"| peak memory while fitting | {auto['fit_peak_gb']:.1f} GB | {other['fit_peak_gb']:.1f} GB |",
        f"| model (store + H) / resident growth | {auto['model_gb']:.2f} / {auto['resident_growth_gb']:.2f} GB | "
        f"{other['model_gb']:.2f} / {other['resident_growth_gb']:.2f} GB |",
        f"| forget_user p50 / p95 / p99 / max | {_lat(auto['forget'])} | {_lat(other['forget'])} |",
        f"| forgotten users' history p50 / p99 / max | {_sizes(auto)} | {_sizes(other)} |",
        f"| recommend p50 / p95 / max | {_rec(auto['recommend'])} | {_rec(other['recommend'])} |",
        f"| forget the heaviest user ({auto['heaviest_items']:,} items) | {auto['heaviest_forget_s']:.1f} s | |",
        "",
        *_density(figures),
        f"Exactness: after forgetting {auto['forgotten_users']} users (the heaviest among them), the fingerprint "
        f"{'**equals**' if figures['exact'] else '**differs from**'} that of a retrain from scratch on the remaining "
        f"interactions (retrain {figures['retrain']['fit_s']:.0f} s in the same run; speedup retrain ÷ forget p50 = "
        f"{figures['speedup']:,.0f}×; one fingerprint takes {figures['fingerprint_s']:.0f} s).",
        "",
        f"Stream: forgetting user {stream['user']} ({stream['items']} items) writes "
        + "; ".join(f"{name}: {v['records']:,} records ({size(v['mb'] * 1e6)}) at {v['records_per_s']:,.0f} records/s"
                    for name, v in stream.items() if isinstance(v, dict))
        + ". A forget changes n for each of the user's items, and so S in those items' whole rows: choose the "
        "collections with `--emit`.",
        "",
        "### Scaling: the first users of the set, both stores",
        "",
        "| interactions | users | items | store | fit | peak | model | forget p50 | forget p99 | auto picks |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in figures["curve"]:
        lines.append(
            f"| {row['interactions']:,} | {row['users']:,} | {row['items']:,} | {row['store']} | {row['fit_s']:.1f} s | "
            f"{row['fit_peak_gb']:.1f} GB | {row['model_gb']:.2f} GB | {row['forget']['p50_ms']:.3f} ms | "
            f"{row['forget']['p99_ms']:.1f} ms | {row['auto_choice']} |"
        )
    lines.append("")
    return "\n".join(lines)


def _density(figures: dict[str, Any]) -> list[str]:
    """A sentence on how full C is, from the sparse store's entry count."""
    entries = next((figures[k]["sparse_entries"] for k in ("auto", "other") if figures[k]["sparse_entries"]), None)
    if entries is None:
        return []
    items = figures["items"]
    return [f"C has {entries // 2:,} non-zero pairs: {entries / (items * (items - 1)):.0%} of all pairs, which is why "
            "the dense layout (2 bytes a cell) is smaller than sparse rows (6 bytes an entry, both halves) here.", ""]


def _lat(f: dict[str, Any]) -> str:
    return f"{f['p50_ms']:.2f} / {f['p95_ms']:.1f} / {f['p99_ms']:.1f} / {f['max_ms']:,.1f} ms (n={f['n']})"


def _rec(f: dict[str, Any]) -> str:
    return f"{f['p50_ms']:.0f} / {f['p95_ms']:.0f} / {f['max_ms']:,.0f} ms (n={f['n']})"


def _sizes(f: dict[str, Any]) -> str:
    s = f["history_sizes"]
    return f"{s['p50']:.0f} / {s['p99']:.0f} / {s['max']:,}"

