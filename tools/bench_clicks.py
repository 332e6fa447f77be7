"""Does every click work the first time, and does any page hang? ``python -m amnesia bench --part clicks``.

Two counts from real Chromium against ``streamlit run`` (issue #21):

- **Add clicked straight after typing**: a visitor types a name and titles and clicks *Add user* at
  once (no Ctrl+Enter, no click elsewhere first), ``count`` times on the toy world and on MovieLens.
  A click counts as working when, within 30 s, the page shows the "Added …" message, the first
  chart's title names the new user and the sidebar counts one more user.
- **Hangs**: ``runs`` consecutive single-visitor runs of the app benchmark's flow
  (:func:`tools.bench_app.waiting_times`); a run counts as hung when any step waits longer than
  its timeout. Each hang keeps a screenshot and what the page showed in ``artifacts/``.
- **Load runs that hang**: 5 runs of the app benchmark's load (:func:`tools.bench_app.load`, 10
  then 30 protocol visitors at once); a run counts as hung when any visitor's step failed or
  waited past its timeout.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from amnesia.bench.common import load_average, machine, when

from .serve import FINISHED, chromium_path, streamlit_server
from .bench_app import ARTIFACTS, Visitor, _visitor, _what_the_visitor_saw, chromium, load, waiting_times

TARGETS = {  # issue 21: (label, comparison, target, unit)
    "straight_toy": ("toy: Add clicked straight after typing works", ">=", 20, "of 20"),
    "straight_movielens": ("MovieLens: Add clicked straight after typing works", ">=", 20, "of 20"),
    "hangs": ("consecutive single-visitor runs that hung", "<=", 0, ""),
    "load_hangs": ("load runs (10, then 30 visitors) with a visitor that failed or hung", "<=", 0, ""),
}
#: what each data set's visitor types (two titles that resolve on that data set)
TYPED = {"toy": "toy story\nfinding nemo", "movielens-small": "toy story\nheat (1995)"}


async def _users(visitor: Visitor) -> int:
    row = visitor.page.locator("[data-testid=stSidebar] tr").filter(has=visitor.page.get_by_text("Users", exact=True))
    return int((await row.locator("td").last.inner_text()).replace(",", ""))


async def straight_adds(data: str, count: int) -> dict[str, Any]:
    """``count`` adds on ``data``, each typed and clicked at once; how many showed their message and new model."""
    worked, seconds, failures = 0, [], []
    with streamlit_server() as server:
        async with chromium() as browser:
            context, visitor = await _visitor(browser, server)
            await visitor.open(data)
            page = visitor.page
            for k in range(count):
                name = f"Quick{k}"
                before = await _users(visitor)
                await page.get_by_role("tab", name="Add a user").click()
                await page.get_by_role("textbox", name="Name").fill(name)
                await page.get_by_role("textbox", name="…or type titles or ids, one per line").fill(TYPED[data])
                started = time.perf_counter()
                await page.get_by_role("button", name="Add user", exact=True).click()  # the box still has focus
                try:
                    text = f"Added {name} with"
                    await page.wait_for_function(FINISHED, arg=[text, text], polling=50, timeout=30_000)
                    await visitor.idle()
                    seconds.append(time.perf_counter() - started)
                    if await _users(visitor) != before + 1:
                        raise AssertionError(f"the sidebar shows {await _users(visitor)} users, expected {before + 1}")
                    worked += 1
                except Exception as error:  # noqa: BLE001  (a failed click is the figure, not a crash)
                    failures.append(f"{name}: {type(error).__name__}: {str(error)[:100]}"
                                    f"{await _what_the_visitor_saw(visitor, 0, k)}")
                    await visitor.open(data)  # a fresh page for the next attempt
            await context.close()
    return {"count": count, "worked": worked, "seconds": seconds, "failures": failures}


async def hang_runs(runs: int, repeats: int) -> dict[str, Any]:
    """``runs`` consecutive single-visitor flows (each its own server); errors are kept, not raised."""
    outcomes = []
    for run in range(runs):
        started = time.perf_counter()
        try:
            figures = await waiting_times(repeats)
            outcomes.append({"run": run, "seconds": time.perf_counter() - started, "error": None,
                             "ml_add_p95": figures["ml_add"].get("p95")})
        except Exception as error:  # noqa: BLE001
            outcomes.append({"run": run, "seconds": time.perf_counter() - started,
                             "error": f"{type(error).__name__}: {str(error)[:700]}"})
    return {"runs": runs, "repeats": repeats, "outcomes": outcomes,
            "hangs": sum(outcome["error"] is not None for outcome in outcomes)}


async def load_runs(runs: int, levels: tuple[int, ...]) -> dict[str, Any]:
    """``runs`` runs of the load benchmark at ``levels`` (a fresh server per level); the failed visitors of each."""
    outcomes = []
    for run in range(runs):
        figures = await load(levels=levels, rounds=2)
        errors = [error for level in levels for error in figures[str(level)]["errors"]]
        outcomes.append({"run": run, "errors": errors,
                         "p95": {str(level): figures[str(level)].get("p95") for level in levels}})
    return {"runs": runs, "levels": list(levels), "outcomes": outcomes,
            "hangs": sum(bool(outcome["errors"]) for outcome in outcomes)}


def run(args: Any) -> dict[str, Any]:
    """Measure both counts; ``args.quick`` shrinks them (a smoke run)."""
    quick = bool(getattr(args, "quick", False))
    if chromium_path() is None:
        raise RuntimeError("the clicks benchmark needs Debian's Chromium (apt-get install chromium)")
    count, runs = (3, 1) if quick else (20, 20)
    figures: dict[str, Any] = {"machine": machine(), "when": when(), "quick": quick, "load_before": load_average()}
    figures["straight"] = {data: asyncio.run(straight_adds(data, count)) for data in TYPED}
    figures["hang"] = asyncio.run(hang_runs(runs, repeats=2))
    figures["load_runs"] = asyncio.run(load_runs(1 if quick else 5, (2,) if quick else (10, 30)))
    figures["load_after"] = load_average()
    values = {
        "straight_toy": figures["straight"]["toy"]["worked"],
        "straight_movielens": figures["straight"]["movielens-small"]["worked"],
        "hangs": figures["hang"]["hangs"],
        "load_hangs": figures["load_runs"]["hangs"],
    }
    out_of = {"straight_toy": count, "straight_movielens": count, "load_hangs": figures["load_runs"]["runs"]}
    figures["targets"] = []
    for key, value in values.items():
        label, comparison, target, unit = TARGETS[key]
        target = count if unit == "of 20" else target
        met = value >= target if comparison == ">=" else value <= target
        figures["targets"].append({"key": key, "label": label, "target": f"{comparison} {target:g}",
                                   "value": float(value), "unit": f"of {out_of[key]}" if key in out_of else "", "met": met})
    ARTIFACTS.mkdir(exist_ok=True)
    return figures


def markdown(figures: dict[str, Any]) -> str:
    """The clicks part's section of docs/benchmarks.md."""
    lines = [
        "## Clicks that work the first time, and no hangs",
        "",
        f"Measured {figures['when']} with `python -m amnesia bench --part clicks`{' --quick' if figures['quick'] else ''} "
        f"on {figures['machine']} (load average before {figures['load_before']}, after {figures['load_after']}): "
        "Debian's Chromium, headless, on the server's two cores.",
        "",
        "| target | goal | measured | |",
        "|:--|--:|--:|:--|",
    ]
    for row in figures["targets"]:
        lines.append(f"| {row['label']} | {row['target']} | {row['value']:.0f} {row['unit']} | "
                     f"{'met' if row['met'] else '**not met**'} |")
    for data, result in figures["straight"].items():
        seconds = sorted(result["seconds"])
        if seconds:
            lines += ["", f"{data}: click to finished page over the {len(seconds)} working adds: p50 "
                      f"{seconds[len(seconds) // 2]:.2f} s, max {seconds[-1]:.2f} s."]
        for failure in result["failures"]:
            lines.append(f"- {failure}")
    hang = figures["hang"]
    lines += ["", f"Single-visitor runs: {hang['runs']} in a row (each: toy add/forget ×{hang['repeats']}, MovieLens "
              f"add/forget ×{hang['repeats']}, User 414, 9 adds, Recommendations, Verify), {hang['hangs']} hung."]
    for outcome in hang["outcomes"]:
        if outcome["error"]:
            lines.append(f"- run {outcome['run']}: {outcome['error']}")
    runs = figures["load_runs"]
    p95s = "; ".join(" / ".join(f"{value:.2f}" for value in outcome["p95"].values()) for outcome in runs["outcomes"])
    lines += ["", f"Load runs: {runs['runs']} runs of {' then '.join(map(str, runs['levels']))} protocol visitors at once "
              f"(the app part's load: server on one core, clients on the other), {runs['hangs']} with a failed or hung "
              f"visitor. Click to finished run p95 per run (s, N = {' / '.join(map(str, runs['levels']))}): {p95s}."]
    for outcome in runs["outcomes"]:
        for error in outcome["errors"][:3]:
            lines.append(f"- run {outcome['run']}: {' '.join(error.split())[:200]}")
    return "\n".join(lines) + "\n"
