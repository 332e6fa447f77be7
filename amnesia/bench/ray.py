"""The sharded engine on a local Ray (``python -m amnesia bench --part ray``), beside the in-process
engine in the same run: fit, forget latency, forget throughput and memory, MovieLens-1M shape.

Needs Ray (``pip install -r requirements-scale.txt``). A local Ray is started once (its start is
reported, not counted in the fit); its shard hosts are started by the first fit (reported too).
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from typing import Any

import numpy as np

from .common import fmt, load_average, machine, measured, percentiles, resident_mb, target_rows, target_table, timed, when

FORGETS = 300
THROUGHPUT = 1_000
FIT_REPEATS = 3
SHARDS = (1, 2, 3)
PIPELINE = 16
TARGETS = {
    "forget_p50_w2_ms": ("forget p50, W = 2, local Ray, 1M shape", "<=", 3.0, "ms"),
    "throughput_pipelined_w2": ("pipelined forget throughput, W = 2 (16 in flight)", ">=", 500.0, "req/s"),
    "fit_ratio_w2": ("fit W = 2 / in-process fit, same run", "<=", 1.5, "×"),
    "memory_ratio_w2": ("state of all shards / in-process model", "<=", 1.3, "×"),
    "differences": ("fingerprint differences after every forget run", "<=", 0.0, ""),
}


def run(args: argparse.Namespace | None = None) -> dict[str, Any]:
    from ..data.synthetic import ML_1M, movielens_like
    from ..engine import ray_shards
    from ..engine.model import ItemCF

    quick = bool(getattr(args, "quick", False))
    forgets, throughput, repeats = (40, 100, 1) if quick else (FORGETS, THROUGHPUT, FIT_REPEATS)
    data = movielens_like(ML_1M, seed=1)
    figures: dict[str, Any] = {"when": when(), "machine": machine(), "load_before": load_average(), "pipeline": PIPELINE,
                               "interactions": len(data), "forgets": forgets, "throughput_requests": throughput}
    import ray

    started = time.perf_counter()
    ray_shards.connect(None)
    figures["ray_start_s"] = time.perf_counter() - started
    figures["hosts_start_s"] = timed(lambda: ItemCF.fit(data.head(1000), backend="ray", shards=max(SHARDS)))[0]

    local_fits = [timed(partial(ItemCF.fit, data))[0] for _ in range(repeats + 1)][1:]  # the first warms the kernels
    local = ItemCF.fit(data)
    figures["local"] = {"fit_s": float(np.median(local_fits)), "store_kind": local.store_kind, "state_mb": local.nbytes() / 1e6}
    rng = np.random.default_rng(7)
    users = [int(u) for u in rng.choice(local.users(), size=forgets + throughput, replace=False)]
    forget_users, stream_users = users[:forgets], users[forgets:]
    figures["local"]["forget"] = percentiles([timed(partial(local.forget_user, u))[0] for u in forget_users])
    figures["local"]["throughput"] = throughput / timed(lambda: [local.forget_user(u) for u in stream_users])[0]
    expected = local.fingerprint()

    figures["sharded"] = {}
    differences = 0
    for shards in SHARDS:
        fits = [timed(partial(ItemCF.fit, data, backend="ray", shards=shards))[0] for _ in range(repeats)]
        hosts = ray_shards.hosts(shards)
        pids = ray.get([host.call_pid.remote() for host in hosts])
        model = ItemCF.fit(data, backend="ray", shards=shards)
        model.forget_user(forget_users[0])  # the first change loads the update kernels in each host
        del model
        model = ItemCF.fit(data, backend="ray", shards=shards)
        resident = [resident_mb(pid) for pid in pids]
        entry = {
            "fit_s": float(np.median(fits)),
            "kinds": model.shard_kinds,
            "state_mb": model.nbytes() / 1e6,
            "host_rss_mb": [float(value) for value in resident],
            "forget": percentiles([timed(partial(model.forget_user, u))[0] for u in forget_users]),
        }
        entry["throughput"] = throughput / timed(lambda: [model.forget_user(u) for u in stream_users])[0]
        entry["fingerprint_s"], fingerprint = timed(model.fingerprint)
        entry["fingerprint_equal"] = fingerprint == expected
        differences += fingerprint != expected
        del model
        # the same forgets with PIPELINE changes in flight (each still waits for its user's row)
        model = ItemCF.fit(data, backend="ray", shards=shards, pipeline=PIPELINE)
        for user in forget_users:
            model.forget_user(user)
        entry["throughput_pipelined"] = throughput / timed(lambda: [model.forget_user(u) for u in stream_users])[0]
        pipelined = model.fingerprint()  # waits for the last changes
        entry["pipelined_fingerprint_equal"] = pipelined == expected
        differences += pipelined != expected
        figures["sharded"][str(shards)] = entry
        del model
    figures["local"]["fingerprint_s"] = timed(local.fingerprint)[0]
    figures["load_after"] = load_average()
    two = figures["sharded"]["2"]
    figures["targets"] = target_rows(TARGETS, {
        "forget_p50_w2_ms": two["forget"]["p50_ms"],
        "throughput_pipelined_w2": two["throughput_pipelined"],
        "fit_ratio_w2": two["fit_s"] / figures["local"]["fit_s"],
        "memory_ratio_w2": two["state_mb"] / figures["local"]["state_mb"],
        "differences": float(differences),
    })
    return figures


def markdown(figures: dict[str, Any]) -> str:
    local = figures["local"]
    lines = [
        "## Sharded on Ray (`--part ray`)",
        "",
        measured(figures) + f". Synthetic data of MovieLens-1M's published shape ({figures['interactions']:,} "
        f"interactions), in-process engine and Ray shards in the same run; a local Ray on this machine (started in "
        f"{figures['ray_start_s']:.1f} s; the shard hosts, one process each, in {figures['hosts_start_s']:.1f} s, "
        "neither counted below). Fits are medians of warm runs; forgets are "
        f"{figures['forgets']} random users on a fresh model; throughput forgets {figures['throughput_requests']:,} "
        f"more users one request after another, each confirmed by every shard before the next, then again on a model "
        f"that keeps up to {figures.get('pipeline', PIPELINE)} changes in flight (`pipeline=`; each forget still "
        "fetches its user's row from the shard that keeps it, behind the changes sent to that shard before).",
        "",
        "| engine | store | fit | forget p50 / p95 / max | throughput: confirmed / pipelined | state | hosts' resident memory | fingerprint |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
        f"| in-process | {local['store_kind']} | {local['fit_s']:.2f} s | {fmt(local['forget']['p50_ms'])} / "
        f"{fmt(local['forget']['p95_ms'])} / {fmt(local['forget']['max_ms'])} ms | {local['throughput']:,.0f} req/s / – | "
        f"{local['state_mb']:,.1f} MB | – | {local['fingerprint_s']:.2f} s |",
    ]
    for shards, entry in figures["sharded"].items():
        f = entry["forget"]
        lines.append(
            f"| Ray, W = {shards} | {'/'.join(entry['kinds'])} | {entry['fit_s']:.2f} s | {fmt(f['p50_ms'])} / "
            f"{fmt(f['p95_ms'])} / {fmt(f['max_ms'])} ms | {entry['throughput']:,.0f} / {entry['throughput_pipelined']:,.0f} req/s | "
            f"{entry['state_mb']:,.1f} MB | "
            f"{' + '.join(f'{value:,.0f}' for value in entry['host_rss_mb'])} MB | {entry['fingerprint_s']:.2f} s, "
            f"{'equal' if entry['fingerprint_equal'] and entry['pipelined_fingerprint_equal'] else '**differs**'} |"
        )
    lines += [
        "",
        "A forget on shards costs two round trips (its user's row from the shard that keeps it, then the change to every "
        "shard, concurrently; an empty call to two actors takes about 0.8 ms here) on top of the in-process work; the state column counts n and C as kept (each "
        "shard also keeps n and a row directory); the hosts' resident memory is each host process's whole "
        "footprint while the model is held (Python, numpy, Ray's worker and the compiled kernels included: the fixed "
        "cost of a process, beside the 16-32 MB of rows). With two cores, W = 3 shards share them with the driver. The fingerprint is computed by the "
        "shards on their own rows and equals the in-process model's after the same forgets.",
        "",
        *target_table(figures["targets"]),
    ]
    return "\n".join(lines) + "\n"
