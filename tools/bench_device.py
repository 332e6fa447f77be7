"""The device benchmark part (``python -m amnesia bench --part device``): ONNX export and in-browser scoring.

Measured on MovieLens latest-small:

- export: fingerprint time, building the K-neighbour table and the graph, file and sidecar
  size, and the peak memory of an export, for K = 20, 50, 100; the same for a visitor's fork
  that forgot a user (what the page exports after a forget);
- agreement: for every user, the overlap of the ONNX top 10 (full history, K neighbours) with
  the exact ``recommend`` top 10;
- in the browser (headless Chromium, the real page through ``streamlit run``): inference time
  of ONNX Runtime Web for 5-movie picks and for whole user histories, and the time from a
  version change to the new model in use, after a forget (the page is reopened) and after a
  reset (the page stays open).

Browser parts import Playwright lazily (a dev dependency) and need Chromium and the local
runtime copy; without them they are reported as not measured, with the reason.
"""

from __future__ import annotations

import math
import re
import time
import tracemalloc
from typing import Any

import numpy as np

from amnesia.data.datasets import load
from amnesia.device.delivery import NEIGHBOURS
from amnesia.device.export import build_device_model
from amnesia.device.runtime import FETCH_COMMAND, local_runtime_ready
from amnesia.engine.model import ItemCF
from amnesia.bench.common import fmt, machine, when

from .serve import CHROMIUM_FLAGS, ROOT, chromium_path, streamlit_server

KS = (20, 50, 100)
TARGETS = {
    "size_k50_mb": ("ONNX model, K = 50", "<=", 5.0, "MB"),
    "browser_p50_ms": ("in-browser inference p50 (5 picks, headless Chromium)", "<=", 50.0, "ms"),
    "switch_p50_s": ("version change → new model in use (p50, device)", "<=", 2.0, "s"),
}


def _stats(values: list[float]) -> dict[str, float]:
    data = np.asarray(values, dtype=float)
    return {
        "p50": float(np.percentile(data, 50)),
        "p95": float(np.percentile(data, 95)),
        "max": float(data.max()),
        "n": int(len(data)),
    }


def measure_export(model: ItemCF, catalog: Any, repeats: int) -> dict[str, Any]:
    """Export figures per K on ``model``; timings are medians of ``repeats`` runs, memory a separate run."""
    started = time.perf_counter()
    fingerprint = model.fingerprint()
    result: dict[str, Any] = {"fingerprint_s": time.perf_counter() - started, "k": {}}
    for k in KS:
        seconds = []
        for _ in range(repeats):
            exported = build_device_model(model, k, catalog, fingerprint=fingerprint)
            seconds.append(exported.seconds)
        tracemalloc.start()
        build_device_model(model, k, catalog, fingerprint=fingerprint)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        result["k"][str(k)] = {
            "export_s": _stats(seconds),
            "onnx_mb": len(exported.onnx_bytes) / 1e6,
            "sidecar_mb": len(exported.sidecar_bytes()) / 1e6,
            "width": exported.sidecar["width"],
            "peak_mb": peak / 1e6,
        }
    return result


def exact_top(model: ItemCF, history: list[int], k: int = 10) -> list[int]:
    """The exact top ``k`` for any history, as ``recommend`` defines it for a user: Σ of full S rows,
    seen items and zero scores left out, ties to the smaller id."""
    ids, rows = model.similarity_rows(history)
    scores = rows.sum(axis=0)
    scores[np.isin(ids, history)] = 0.0
    positive = np.flatnonzero(scores > 0)
    return ids[positive[np.lexsort((ids[positive], -scores[positive]))[:k]]].tolist()


def measure_agreement(model: ItemCF, catalog: Any, seed: int = 8) -> dict[str, Any]:
    """Overlap of the ONNX top 10 with the exact top 10 (``recommend``), per K, over every user:
    for the user's whole history, and for 5 movies drawn from it (what a visitor picks on the page)."""
    import onnxruntime as ort

    rng = np.random.default_rng(seed)
    items = np.asarray(model.items())
    users = model.users()
    whole = {user: model.history(user) for user in users}
    five = {user: sorted(rng.choice(whole[user], min(5, len(whole[user])), replace=False).tolist()) for user in users}
    exact = {
        "whole": {user: [rec.item for rec in model.recommend(user, 10)] for user in users},
        "five": {user: exact_top(model, five[user]) for user in users},
    }
    histories = {"whole": whole, "five": five}
    result: dict[str, Any] = {"users": len(users)}
    fingerprint = model.fingerprint()
    for k in KS:
        session = ort.InferenceSession(build_device_model(model, k, catalog, fingerprint=fingerprint).onnx_bytes,
                                       providers=["CPUExecutionProvider"])
        result[str(k)] = {}
        for kind in ("whole", "five"):
            overlaps, same, seconds = [], 0, []
            for user in users:
                positions = np.searchsorted(items, histories[kind][user]).astype(np.int64)
                started = time.perf_counter()
                _, top_items, top_scores = session.run(None, {"history": positions})
                seconds.append((time.perf_counter() - started) * 1e3)
                device = [int(items[p]) for p, s in zip(top_items, top_scores) if s > 0]
                wanted = exact[kind][user]
                overlaps.append(len(set(device) & set(wanted)) / max(len(wanted), 1))
                same += device == wanted
            result[str(k)][kind] = {
                "overlap_mean": float(np.mean(overlaps)),
                "overlap_p10": float(np.percentile(overlaps, 10)),
                "overlap_min": float(np.min(overlaps)),
                "identical_share": same / len(users),
                "python_onnxruntime_ms": _stats(seconds),
            }
    return result


def measure_fork_export(model: ItemCF, catalog: Any, user: int) -> dict[str, float]:
    """What the page pays after a forget: fingerprint and K = 50 export of a fork that forgot ``user``."""
    fork = model.fork()
    fork.forget_user(user)
    exported = build_device_model(fork, NEIGHBOURS, catalog)
    return {"user": user, "history": len(model.history(user)), "fingerprint_s": exported.fingerprint_seconds,
            "export_s": exported.seconds, "total_s": exported.fingerprint_seconds + exported.seconds}


# ---------------------------------------------------------------------------------------- browser
def measure_browser(model: ItemCF, catalog: Any, forgets: int, seed: int = 5) -> dict[str, Any]:
    """Inference and version-switch times of the real page in headless Chromium."""
    chromium = chromium_path()
    if chromium is None:
        return {"skipped": "no Chromium at /usr/bin/chromium (apt-get install chromium)"}
    if not local_runtime_ready():
        return {"skipped": f"no local onnxruntime-web copy (run {FETCH_COMMAND})"}
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        return {"skipped": "playwright is not installed (pip install -r requirements-dev.txt)"}

    rng = np.random.default_rng(seed)
    items = np.asarray(model.items())
    counts = model.counts(items.tolist())
    popular = np.argsort(-counts, kind="stable")[:500]
    picks = [sorted(rng.choice(popular, 5, replace=False).tolist()) for _ in range(200)]
    whole = [np.searchsorted(items, model.history(user)).tolist() for user in model.users()]
    to_forget = rng.choice([u for u in model.users() if 20 <= len(model.history(u)) <= 400], forgets, replace=False)

    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    result: dict[str, Any] = {}
    with open(artifacts / "bench-device-server.log", "w") as log, streamlit_server(log, env={"AMNESIA_ORT_SOURCE": "local"}) as url:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            frame = page.frame_locator("iframe[title$=private_recommendations]")
            device = frame.locator("body")
            started = time.perf_counter()
            page.goto(f"{url}/private?data=movielens-small")
            expect(frame.locator("#model-status")).to_contain_text("Model version", timeout=300_000)
            result["first_visit_s"] = time.perf_counter() - started  # server: load, fit, export; browser: runtime, model
            for typed, title in (("matrix", "The Matrix (1999)"), ("toy story", "Toy Story (1995)"), ("fargo", "Fargo (1996)")):
                frame.get_by_role("searchbox", name="Search movies").fill(typed)
                frame.get_by_role("option", name=title, exact=True).click()
            expect(frame.locator("#top li")).to_have_count(10)

            bench = "(_, histories) => window.amnesiaDevice.benchmark(histories)"
            device.evaluate(bench, picks[:5])  # warm-up
            result["inference_picks_ms"] = _stats(device.evaluate(bench, picks))
            result["inference_whole_history_ms"] = _stats(device.evaluate(bench, whole))
            result["whole_history_sizes"] = _stats([len(h) for h in whole])

            after_forget, after_reset, forget_wall = [], [], []
            for user in to_forget.tolist():
                page.get_by_role("link", name="Forget").click()
                page.get_by_role("tab", name=re.compile("Forget a user")).click()
                combo = page.get_by_role("combobox", name="User to forget")
                combo.click()
                combo.fill(f"User {user} (")
                page.get_by_role("option", name=re.compile(rf"^User {user} \(")).click(timeout=60_000)
                page.get_by_role("button", name="Forget this user").click()
                expect(page.get_by_text(re.compile(rf"Forgot User {user} \(\d[\d,]* movies?\) in"))).to_be_visible(timeout=60_000)
                started = time.perf_counter()
                page.get_by_role("link", name="Private recommendations").click()
                expect(frame.locator("#change")).to_be_visible(timeout=120_000)
                forget_wall.append(time.perf_counter() - started)
                after_forget.append(device.evaluate("() => window.amnesiaDevice.switches.at(-1)"))
                switches = device.evaluate("() => window.amnesiaDevice.switches.length")
                reset = page.get_by_test_id("stSidebar").get_by_test_id("stExpander").filter(has_text="Reset my changes")
                reset.get_by_text("Reset my changes").click()  # the page stays open
                reset.get_by_role("button").click()  # it asks first
                device.evaluate(
                    "(_, n) => new Promise(r => { const t = setInterval(() => { if (window.amnesiaDevice.switches.length > n) { clearInterval(t); r(); } }, 20); })",
                    switches,
                )
                after_reset.append(device.evaluate("() => window.amnesiaDevice.switches.at(-1)"))
            result["switch_after_forget_s"] = _stats(after_forget)
            result["switch_after_reset_s"] = _stats(after_reset)
            result["forget_to_new_model_wall_s"] = _stats(forget_wall)
            page.screenshot(path=str(artifacts / "bench-device.png"), full_page=True)
            browser.close()
    return result


# ---------------------------------------------------------------------------------------- report
def run(args: Any = None) -> dict[str, Any]:
    """All device figures as a JSON-ready dict (``args.quick``: fewer repeats and forgets)."""
    quick = bool(getattr(args, "quick", False))
    data = load("movielens-small")
    model = ItemCF.fit(data.interactions, similarity=getattr(args, "similarity", "jaccard"))
    rng = np.random.default_rng(3)
    typical = int(rng.choice([u for u in model.users() if 50 <= len(model.history(u)) <= 200]))
    figures: dict[str, Any] = {
        "when": when(),
        "machine": machine(),
        "measure": model.measure.name,
        "quick": quick,
        "export": measure_export(model, data.catalog, repeats=1 if quick else 3),
        "fork_export": measure_fork_export(model, data.catalog, typical),
        "agreement": measure_agreement(model, data.catalog),
    }
    try:
        figures["browser"] = measure_browser(model, data.catalog, forgets=2 if quick else 5)
    except Exception as error:  # a browser failure must not lose the other figures
        figures["browser"] = {"skipped": f"failed: {type(error).__name__}: {error}"}
    figures["targets"] = check_targets(figures)
    return figures


def check_targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured value (NaN when the browser part could not run) and whether it was met."""
    browser = figures.get("browser", {})
    measured = {
        "size_k50_mb": figures["export"]["k"]["50"]["onnx_mb"],
        "browser_p50_ms": browser.get("inference_picks_ms", {}).get("p50", math.nan),
        "switch_p50_s": browser.get("switch_after_forget_s", {}).get("p50", math.nan),
    }
    rows = []
    for key, (label, relation, target, unit) in TARGETS.items():
        value = measured[key]
        met = bool(value <= target if relation == "<=" else value >= target)  # False for NaN
        rows.append({"key": key, "label": label, "target": f"{relation} {target:g} {unit}", "value": value, "unit": unit, "met": met})
    return rows


def markdown(figures: dict[str, Any]) -> str:
    """The device section of docs/benchmarks.md."""
    export, agreement, browser = figures["export"], figures["agreement"], figures.get("browser", {})
    lines = [
        "## Private recommendations on the device (ONNX)",
        "",
        f"`python -m amnesia bench --part device`{' --quick' if figures['quick'] else ''} on {figures['when']} "
        f"({figures['machine']}): MovieLens latest-small (9,724 movies), {figures['measure']} similarity. The export "
        "measured keeps K = 50 neighbours per movie: what the page sends when the visitor's model keeps every "
        "neighbour (a model with lists is sent with its own K, 5 by default, so the device scores as the server does).",
        "",
        "| what | target | measured | met |",
        "|---|---|---|---|",
    ]
    for row in figures["targets"]:
        if math.isnan(row["value"]):
            lines.append(f"| {row['label']} | {row['target']} | not measured (see below) | **no** |")
        else:
            lines.append(f"| {row['label']} | {row['target']} | {fmt(row['value'])} {row['unit']} | {'met' if row['met'] else '**not met**'} |")
    lines += [
        "",
        f"Export (fingerprint {export['fingerprint_s']:.2f} s, computed once per model state and shared by all K):",
        "",
        "| K | export p50 / max | ONNX file | sidecar (titles, years, ids) | peak memory |",
        "|---|---|---|---|---|",
    ]
    for k in KS:
        e = export["k"][str(k)]
        lines.append(
            f"| {k} | {e['export_s']['p50']:.2f} / {e['export_s']['max']:.2f} s | {e['onnx_mb']:.2f} MB | "
            f"{e['sidecar_mb']:.2f} MB | {e['peak_mb']:.0f} MB |"
        )
    lines += [
        "",
        f"Agreement of the device's top 10 with the exact top 10 (`recommend`, every neighbour), over all "
        f"{agreement['users']} users: overlap = shared movies / 10.",
        "",
        "| K | 5 movies from the user's history: overlap mean / p10 / min, identical lists | whole history: overlap mean / p10 / min, identical lists |",
        "|---|---|---|",
    ]
    for k in KS:
        a = agreement[str(k)]
        cells = [
            f"{a[kind]['overlap_mean']:.3f} / {a[kind]['overlap_p10']:.2f} / {a[kind]['overlap_min']:.2f}, {a[kind]['identical_share']:.1%}"
            for kind in ("five", "whole")
        ]
        lines.append(f"| {k} | {cells[0]} | {cells[1]} |")
    fork = figures["fork_export"]
    python_ms = agreement["50"]["whole"]["python_onnxruntime_ms"]
    lines += [
        "",
        "Keeping only each movie's K nearest neighbours drops the many small similarities that a long history adds up, "
        "so agreement falls as histories grow; K trades file size for agreement. "
        f"onnxruntime in Python, K = 50, whole histories: p50 {python_ms['p50']:.2f} ms, max {python_ms['max']:.2f} ms.",
        "",
        f"After a forget the server builds the visitor's new model: fingerprint {fork['fingerprint_s']:.2f} s + export "
        f"{fork['export_s']:.2f} s = {fork['total_s']:.2f} s (a fork that forgot a user with {fork['history']} movies).",
        "",
    ]
    if "skipped" in browser:
        lines += [f"In the browser: not measured ({browser['skipped']}).", ""]
        return "\n".join(lines)
    picks, whole = browser["inference_picks_ms"], browser["inference_whole_history_ms"]
    lines += [
        "In headless Chromium (ONNX Runtime Web, WebAssembly, one thread, the real page):",
        "",
        "| what | p50 | p95 | max | n |",
        "|---|---|---|---|---|",
        f"| inference, 5 picked movies | {picks['p50']:.2f} ms | {picks['p95']:.2f} ms | {picks['max']:.2f} ms | {picks['n']} |",
        f"| inference, a user's whole history (p50 {browser['whole_history_sizes']['p50']:.0f}, max "
        f"{browser['whole_history_sizes']['max']:.0f} movies) | {whole['p50']:.2f} ms | {whole['p95']:.2f} ms | {whole['max']:.2f} ms | {whole['n']} |",
    ]
    for key, label in (
        ("switch_after_forget_s", "version change → new model in use, after a forget (page reopened: runtime reloads)"),
        ("switch_after_reset_s", "version change → new model in use, after a reset (page stays open)"),
        ("forget_to_new_model_wall_s", "end to end: open the page after a forget → new model in use (server export included)"),
    ):
        s = browser[key]
        lines.append(f"| {label} | {s['p50']:.2f} s | {s['p95']:.2f} s | {s['max']:.2f} s | {s['n']} |")
    lines += [
        "",
        f"First visit of the page on MovieLens (server loads, fits and exports; browser loads the runtime and the model): "
        f"{browser['first_visit_s']:.1f} s.",
        "",
        "The device figure counts from the render that names the new version to the new top 10 on screen: the ready "
        "signal, the model bytes over the WebSocket, creating the ONNX Runtime session and scoring. The end-to-end "
        "figure adds the server's fingerprint and export of the visitor's changed model.",
        "",
    ]
    return "\n".join(lines)
