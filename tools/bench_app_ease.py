"""The dashboard on EASE: ``python -m amnesia bench --part app-ease`` (issue #18's dashboard targets).

Measured like the app part (Debian's Chromium through Playwright against ``streamlit run
app.py``, from the click to the finished page), with the sidebar's model set to EASE by its
link (``?data=movielens-small&model=ease``):

- one visitor forgets typical MovieLens users (median history) one after another: click to
  finished page, and the server-side time of each action (callback and script run);
- the same visitor forgets the heaviest user (User 414, 2,698 movies), opens Recommendations,
  and runs Verify (P recomputed, a retrain, every user's top-10 compared);
- ten visitors on EASE at once, each after one add, on a fresh server: its RSS and peak RSS (each
  visitor holds a copy of P: 6.2 MB at the dashboard's min_viewers = 30).

Single runs on a shared two-core machine; the report names the load average.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from amnesia.bench.common import load_average, machine, when
from amnesia.dashboard.timing import SCRIPT_TIMES_ENV, read_script_times
from amnesia.dashboard.workspace import EASE_SETTINGS, shared_base, shared_ease

from .bench_app import _summary, _visitor, chromium, typical_users
from .serve import chromium_path, streamlit_server

TARGETS = {  # issue 18: (label, target, unit)
    "forget_p95_s": ("EASE, MovieLens: forget a typical user, click to finished page (p95)", 1.0, "s"),
    "ten_visitors_mb": ("EASE: server RSS with 10 MovieLens visitors", 690.0, "MB"),
}


async def one_visitor(repeats: int) -> dict[str, Any]:
    """A visitor on EASE forgets ``repeats`` typical users, then User 414; Recommendations; Verify."""
    figures: dict[str, list[float]] = {"forget": [], "server_forget": []}
    with tempfile.TemporaryDirectory() as scratch:
        times = Path(scratch) / "script-times.jsonl"
        with streamlit_server(env={SCRIPT_TIMES_ENV: str(times)}) as server:
            async with chromium() as browser:
                context, visitor = await _visitor(browser, server)
                opened = await visitor.open("movielens-small", model="ease")
                for user, _ in typical_users(repeats):
                    figures["forget"].append(await visitor.forget(f"User {user} (", f"User {user}"))
                    figures["server_forget"].append(
                        [run for run in read_script_times(times) if run["callback_seconds"] > 0][-1]["seconds"])
                heaviest = await visitor.forget("User 414 (", "User 414")
                recommendations = await visitor.goto("Recommendations", "Recommendations")
                await visitor.goto("Forget", "Watch a recommender forget")
                verify = await visitor.verify()
                await context.close()
    return {"open_s": opened, "forget_s": _summary(figures["forget"]), "server_forget_s": _summary(figures["server_forget"]),
            "forget_heaviest_s": heaviest, "recommendations_s": recommendations, "verify_s": verify}


async def ten_visitors(visitors: int) -> dict[str, Any]:
    """``visitors`` EASE visitors connected at once, each after one add: the server's RSS."""
    with streamlit_server() as server:
        async with chromium() as browser:
            contexts = []
            for k in range(visitors):
                context, visitor = await _visitor(browser, server)
                await visitor.open("movielens-small", model="ease")
                await visitor.add(f"Visitor{k}", "toy story\nthe matrix\npulp fiction")
                contexts.append(context)
            result = {"visitors": visitors, "rss_mb": server.memory_mb(), "peak_mb": server.memory_mb("VmHWM")}
            for context in contexts:
                await context.close()
    return result


def run(args: Any) -> dict[str, Any]:
    """Measure the sections above; ``args.quick`` shrinks them (a smoke run)."""
    if chromium_path() is None:
        raise RuntimeError("the app-ease benchmark needs Debian's Chromium (apt-get install chromium)")
    quick = bool(getattr(args, "quick", False))
    figures: dict[str, Any] = {"machine": machine(), "when": when(), "quick": quick,
                               "settings": {name: vars(s) for name, s in EASE_SETTINGS.items()},
                               "scored": len(shared_ease(*shared_base("movielens-small")).items_scored)}
    figures["one_visitor"] = asyncio.run(one_visitor(2 if quick else 10))
    figures["ten_visitors"] = asyncio.run(ten_visitors(3 if quick else 10))
    figures["load_average"] = load_average()
    values = {"forget_p95_s": figures["one_visitor"]["forget_s"].get("p95"), "ten_visitors_mb": figures["ten_visitors"]["rss_mb"]}
    figures["targets"] = [
        {"key": key, "label": label, "target": f"<= {target:g} {unit}", "value": float(values[key]), "unit": unit,
         "met": values[key] <= target}
        for key, (label, target, unit) in TARGETS.items()
    ]
    return figures


def markdown(figures: dict[str, Any]) -> str:
    """This part's section of docs/benchmarks.md."""
    one, ten = figures["one_visitor"], figures["ten_visitors"]
    settings = figures["settings"]["movielens-small"]
    lines = [
        "## The dashboard on EASE",
        "",
        f"Measured {figures['when']} with `python -m amnesia bench --part app-ease` on {figures['machine']}: Debian's Chromium "
        "(Playwright) and `streamlit run app.py` on the same two cores, the model chosen by the link "
        f"`?data=movielens-small&model=ease` (λ = {settings['l2']:g}, the movies at least {settings['min_viewers']} people "
        f"watched: P is {figures['scored']:,}² float64, {figures['scored'] ** 2 * 8 / 1e6:.1f} MB, one copy per visitor). "
        f"Load average at the end: {figures['load_average']}."
        + (" A quick (smoke) run." if figures["quick"] else ""),
        "",
        "| target | goal | measured | |",
        "|:--|--:|--:|:--|",
    ]
    for row in figures["targets"]:
        value = f"{row['value']:,.0f} MB" if row["unit"] == "MB" else f"{row['value']:.2f} s"
        lines.append(f"| {row['label']} | {row['target']} | {value} | {'met' if row['met'] else '**not met**'} |")
    forget, server = one["forget_s"], one["server_forget_s"]
    lines += [
        "",
        "| action (one visitor) | n | p50 | p95 | max |",
        "|:--|--:|--:|--:|--:|",
        f"| forget a typical user, click to finished page (s) | {forget['n']} | {forget['p50']:.2f} | {forget['p95']:.2f} | {forget['max']:.2f} |",
        f"| the same, server-side time (s) | {server['n']} | {server['p50']:.2f} | {server['p95']:.2f} | {server['max']:.2f} |",
        "",
        f"Single actions: forget User 414 (2,698 movies) {one['forget_heaviest_s']:.2f} s; Recommendations page "
        f"{one['recommendations_s']:.2f} s; Verify (P recomputed from G, a retrain, every user's top-10 compared) "
        f"{one['verify_s']:.2f} s. Ten visitors on EASE at once, each after one add: server RSS {ten['rss_mb']:,.0f} MB, "
        f"peak {ten['peak_mb']:,.0f} MB.",
        "",
        "What a forget's server time holds: the rank-one update of the visitor's P (about 1 ms), a scan of every weight "
        f"of B before and after ({figures['scored']:,}² entries, for the ranked list and the count of moved weights), the two windows, "
        "and the figures.",
    ]
    return "\n".join(lines) + "\n"
