"""The app's benchmark part: ``python -m amnesia bench --part app``.

Everything a visitor waits for is measured in Debian's Chromium (Playwright, a dev
dependency imported lazily) against ``streamlit run app.py`` on 127.0.0.1, from the click to
the finished page (the script idle, the expected message shown, the chart redrawn):

- waiting times: toy add/forget; MovieLens add/forget of typical users and of the heaviest
  (User 414, 2,698 movies); the Recommendations page after 10 changes; Verify;
- title resolution in process, for typed lines up to the app's ``title_chars`` limit;
- memory: 3 waves of 10 MovieLens visitors (each sends one 3,000-movie request and forgets
  one user, then leaves), the server's RSS after each wave and its peak; 10 visitors at once;
- load: N = 1, 5, 10, 30 concurrent visitors adding and forgetting, as protocol clients (no
  browser: tools/protocol_client.py) on one core and the server on the other: click to the run's
  last message, the server's own time per action, errors and the server's memory.

Bounded: a fixed number of visitors and actions, a time limit on every wait, one server at a
time (a fresh one per section), localhost only. The machine the figures come from is noted in
the report; single runs, so expect ±20 % between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import statistics
import string
import tempfile
import time
from pathlib import Path
from typing import Any

from amnesia.dashboard.timing import SCRIPT_TIMES_ENV, read_script_times
from amnesia.dashboard.views import short_name
from amnesia.bench.common import load_average, machine, when

from .serve import CHROMIUM_FLAGS, FINISHED, ROOT, SETTLE_RESET, SETTLED, Server, chromium_path, streamlit_server

ARTIFACTS = ROOT / "artifacts"  # git-ignored: evidence of failed visitors

#: Seconds a disconnected session is kept for a reconnect (.streamlit/config.toml): the memory
#: waves wait this long before they read the server's memory.
SESSION_TTL = 30

TARGETS = {  # issue 21: (label, comparison, target, unit)
    "toy_add_p95_s": ("toy: add a user, click to finished page (p95)", "<=", 0.4, "s"),
    "toy_forget_p95_s": ("toy: forget a user (p95)", "<=", 0.4, "s"),
    "ml_add_p95_s": ("MovieLens: add a user with 3 typed titles (p95)", "<=", 0.8, "s"),
    "ml_forget_typical_p95_s": ("MovieLens: forget a typical user (p95)", "<=", 0.8, "s"),
    "ml_forget_heaviest_s": ("MovieLens: forget User 414, 2,698 movies (median of 3 tries)", "<=", 1.2, "s"),
    "ml_recommendations_s": ("MovieLens: Recommendations page after 10 changes", "<=", 0.8, "s"),
    "ml_verify_s": ("MovieLens: Verify (retrain and compare; median of 3 tries)", "<=", 1.0, "s"),
    "server_ml_forget_p50_s": ("MovieLens forget: server-side time (p50)", "<=", 0.15, "s"),
    "resolve_max_ms": ("title resolution, lines up to the limit (max)", "<=", 5.0, "ms"),
    "waves_growth_mb": ("server RSS after wave 3 minus after wave 1", "<=", 60.0, "MB"),
    "waves_peak_mb": ("server peak RSS during the waves", "<=", 1000.0, "MB"),
    "ten_visitors_mb": ("server RSS with 10 MovieLens visitors", "<=", 690.0, "MB"),
    "load_10_server_p95_s": ("load, N = 10: server-side time per action (p95)", "<=", 1.0, "s"),
    "load_10_p95_s": ("load, N = 10: click to the run's last message (p95), clients off the server's core", "<=", 2.0, "s"),
    "load_10_errors": ("load, N = 10: errors", "<=", 0, ""),
    "load_30_errors": ("load, N = 30: errors", "<=", 0, ""),
    "load_30_peak_mb": ("load, N = 30: server peak RSS", "<=", 1024.0, "MB"),
}

#: Toy adds and forgets per run: they are cheap, and with 20 the p95 is a percentile, not the slowest of 8.
TOY_REPEATS = 20

#: Tries of each heavy single click (User 414's forget, Verify): the targets take their median.
HEAVY_REPEATS = 3

# ---------------------------------------------------------------------- one visitor
class Visitor:
    """One browser tab on the app (async Playwright), with timed actions."""

    def __init__(self, page, server: Server):
        self.page, self.server = page, server
        self.step = "opened"  # the action under way: named when a wait times out

    async def idle(self, timeout: float = 180_000) -> None:
        """Until the script has stayed idle for 250 ms (a state wait, see serve.SETTLED)."""
        await self.page.evaluate(SETTLE_RESET)
        await self.page.wait_for_function(SETTLED, arg=250, polling=25, timeout=timeout)

    async def open(self, data: str, model: str = "item-cf") -> float:
        self.step = f"open {data}"
        started = time.perf_counter()
        link = f"{self.server}/?data={data}" + ("" if model == "item-cf" else f"&model={model}")
        # ten tabs loading at once on two cores take longer than Playwright's default 30 s
        await self.page.goto(link, wait_until="commit", timeout=180_000)
        await self.page.get_by_role("heading", name="Watch a recommender forget").wait_for(timeout=180_000)
        await self.idle()
        await self.page.locator("[data-testid=stPlotlyChart]").first.wait_for(timeout=180_000)
        return time.perf_counter() - started

    async def _submit(self, button: str, text: str, title: str = "") -> float:
        started = time.perf_counter()
        await self.page.get_by_role("button", name=button, exact=True).click()
        await self.page.wait_for_function(FINISHED, arg=[text, title], polling=50, timeout=180_000)
        seconds = time.perf_counter() - started
        await self.idle()
        return seconds

    async def add(self, name: str, typed: str) -> float:
        self.step = f"add {name}"
        await self.page.get_by_role("tab", name="Add a user").click()
        await self.page.get_by_role("textbox", name="Name").fill(name)
        box = self.page.get_by_role("textbox", name="…or type titles or ids, one per line")
        await box.fill(typed)
        await box.press("Control+Enter")
        await self.idle()
        # the chart's title cuts a long name as its axis does (LogEntry.chart_label)
        return await self._submit("Add user", f"Added {name} with", f"Added {short_name(name)} with")

    async def forget(self, label: str, name: str) -> float:
        self.step = f"forget {name}"
        await self.page.get_by_role("tab", name="Forget a user").click()
        combo = self.page.get_by_role("combobox", name="User to forget")
        await combo.click()
        await combo.fill(label)
        await self.page.get_by_role("option", name=label, exact=False).first.click(timeout=60_000)
        return await self._submit("Forget this user", f"Forgot {name}", f"Forgot {short_name(name)}")

    async def raw(self, request: str, expect: str) -> float:
        await self.page.get_by_role("tab", name="Raw request").click()
        await self.page.get_by_role("textbox", name="A change request in the original Amnesia format").fill(request)
        return await self._submit("Apply request", expect)

    async def goto(self, title: str, heading: str) -> float:
        self.step = f"go to {title}"
        started = time.perf_counter()
        await self.page.get_by_role("link", name=title, exact=True).click()
        await self.page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=180_000)
        await self.idle()
        return time.perf_counter() - started

    async def verify(self) -> float:
        self.step = "verify"
        started = time.perf_counter()
        await self.page.get_by_role("button", name="Verify: retrain from scratch and compare").click()
        await self.page.get_by_text("identical").wait_for(timeout=180_000)
        return time.perf_counter() - started


@contextlib.asynccontextmanager
async def chromium():
    from playwright.async_api import async_playwright  # a dev dependency: only the benchmark needs it

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


async def _visitor(browser, server: Server) -> tuple[Any, Visitor]:
    context = await browser.new_context(viewport={"width": 1400, "height": 1600})
    # localhost only: anything else the page asks for is refused (and would be a bug)
    await context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server) else route.abort())
    return context, Visitor(await context.new_page(), server)


def _summary(seconds: list[float]) -> dict[str, float]:
    values = sorted(seconds)
    if not values:
        return {"n": 0}
    rank = lambda q: values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]  # noqa: E731
    return {"n": len(values), "p50": statistics.median(values), "p95": rank(0.95), "max": values[-1]}


# ---------------------------------------------------------------------- sections
def typical_users(count: int) -> list[tuple[int, int]]:
    """MovieLens users with a median-sized history (and their sizes): "typical" visitors' targets."""
    from amnesia.data.datasets import load

    sizes = load("movielens-small").interactions.groupby("user").size()
    median = sizes.median()
    closest = (sizes - median).abs().sort_values(kind="stable").index[:count]
    return [(int(user), int(sizes[user])) for user in closest]


async def waiting_times(repeats: int, toy_repeats: int | None = None) -> dict[str, Any]:
    """Click-to-finished-page times of the issue's targets, one visitor at a time: ``repeats`` of each
    MovieLens action, ``toy_repeats`` (default: as many) toy adds and forgets."""
    figures: dict[str, list[float]] = {key: [] for key in ("toy_add", "toy_forget", "ml_add", "ml_forget_typical",
                                                           "server_ml_add", "server_ml_forget")}
    typical = typical_users(repeats)
    scratch = tempfile.TemporaryDirectory()
    times_path = Path(scratch.name) / "script-times.jsonl"

    def server_seconds() -> float:
        """The server-side time of the latest action (its callback and the run after it)."""
        return [run for run in read_script_times(times_path) if run["callback_seconds"] > 0][-1]["seconds"]

    log_path = Path(scratch.name) / "server.log"
    current: list[Visitor] = []

    async def evidence(error: Exception) -> RuntimeError:
        """What the page and the server showed when a step timed out: kept in artifacts/, named in the error."""
        ARTIFACTS.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        seen = await _what_the_visitor_saw(current[-1], 0, 0) if current else ""
        if current:
            try:
                await current[-1].page.screenshot(path=str(ARTIFACTS / f"hang-{stamp}.png"), full_page=True)
            except Exception:  # noqa: BLE001  (the page may be gone)
                pass
        server_log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
        (ARTIFACTS / f"hang-{stamp}-server.log").write_text(server_log, encoding="utf-8")
        step = current[-1].step if current else "start"
        return RuntimeError(f"{type(error).__name__} at step '{step}'{seen} | server log: artifacts/hang-{stamp}-server.log")

    with scratch, open(log_path, "w") as log, streamlit_server(log, env={SCRIPT_TIMES_ENV: str(times_path)}) as server:
        async with chromium() as browser:
            try:
                context, visitor = await _visitor(browser, server)
                current.append(visitor)
                await visitor.open("toy")
                for k in range(repeats if toy_repeats is None else toy_repeats):
                    figures["toy_add"].append(await visitor.add(f"Maya{k}", "toy story\nthe matrix\nfinding nemo"))
                    figures["toy_forget"].append(await visitor.forget(f"Maya{k} (", f"Maya{k}"))
                await context.close()
                context, visitor = await _visitor(browser, server)
                current.append(visitor)
                await visitor.open("movielens-small")
                for k, (user, size) in enumerate(typical):
                    figures["ml_add"].append(await visitor.add(f"Tom{k}", "the matrix\ngodfater\ntoy story"))
                    figures["server_ml_add"].append(server_seconds())
                    figures["ml_forget_typical"].append(await visitor.forget(f"User {user} (", f"User {user}"))
                    figures["server_ml_forget"].append(server_seconds())
                await context.close()
                heaviest, heaviest_server, verify = [], [], []
                for k in range(HEAVY_REPEATS):  # single heavy clicks vary by a third between tries: a few of each
                    if k:
                        await context.close()
                    context, visitor = await _visitor(browser, server)
                    current.append(visitor)
                    await visitor.open("movielens-small")
                    heaviest.append(await visitor.forget("User 414 (", "User 414"))
                    heaviest_server.append(server_seconds())
                for k in range(9):  # 10 changes in all, then the page that compares top lists
                    await visitor.add(f"V{k}", "toy story\nthe matrix")
                recommendations = await visitor.goto("Recommendations", "Recommendations")
                for k in range(HEAVY_REPEATS):  # away and back between tries: each Verify's message is a new one
                    if k:
                        await visitor.goto("Recommendations", "Recommendations")
                    await visitor.goto("Forget", "Watch a recommender forget")
                    verify.append(await visitor.verify())
                await context.close()
            except Exception as error:  # noqa: BLE001  (a hang's evidence, then the error)
                raise await evidence(error) from error
    result: dict[str, Any] = {key: _summary(values) for key, values in figures.items()}
    result.update(
        ml_forget_heaviest=_summary(heaviest), server_ml_forget_heaviest=_summary(heaviest_server),
        ml_verify=_summary(verify), ml_recommendations_s=recommendations,
        # the targets' figures: the median try
        ml_forget_heaviest_s=statistics.median(heaviest), server_ml_forget_heaviest_s=statistics.median(heaviest_server),
        ml_verify_s=statistics.median(verify),
        typical_users=[{"user": user, "movies": size} for user, size in typical],
    )
    return result


def resolution(repeats: int = 200, seed: int = 3) -> dict[str, Any]:
    """In-process title resolution (ms) for typed lines people write and random lines up to the limit."""
    from amnesia.dashboard.workspace import shared_base
    from amnesia.errors import AmnesiaError
    from amnesia.limits import APP_LIMITS

    catalog = shared_base("movielens-small")[0].catalog
    rng = random.Random(seed)
    typed = ["fellowship of the ring", "empire strikes back", "nemo", "the two towers", "the matrix", "godfater",
             "forest gump", "Toy Story (1995)", "#2571", "xyzzy qwerty", "star wars", "harry poter"]
    letters = string.ascii_lowercase + "      éü'-:"
    lines = typed + ["".join(rng.choice(letters) for _ in range(rng.randint(1, APP_LIMITS.title_chars))) for _ in range(repeats)]
    times = []
    for line in lines:
        started = time.perf_counter()
        with contextlib.suppress(AmnesiaError):
            catalog.resolve(line, APP_LIMITS)
        times.append((time.perf_counter() - started) * 1e3)
    return {"lines": len(lines), "longest": max(map(len, lines)), **_summary(times)}


async def _wave(browser, server: Server, visitors: int, wave: int, movies: list[int]) -> dict[str, Any]:
    async def one(k: int) -> tuple[float, float] | str:
        context, visitor = await _visitor(browser, server)
        try:
            await visitor.open("movielens-small")
            user = 900_000 + 100 * wave + k
            request = json.dumps({"change": "Add", "interactions": [[user, item] for item in movies]})
            add = await visitor.raw(request, "Added 3,000 interactions of 1 user")
            forget = await visitor.forget(f"User {k + 1} (", f"User {k + 1}")
            return add, forget
        except Exception as error:  # noqa: BLE001 - a visitor's failure is a figure, not a crash
            return f"{type(error).__name__}: {str(error)[:120]}"
        finally:
            await context.close()

    outcomes = await asyncio.gather(*(one(k) for k in range(visitors)))
    done = [o for o in outcomes if isinstance(o, tuple)]
    return {
        "add_3000_s": _summary([a for a, _ in done]),
        "forget_s": _summary([f for _, f in done]),
        "errors": [o for o in outcomes if isinstance(o, str)],
    }


async def _settle(browser, server: Server) -> float:
    """Wait until ended sessions are released, then read the server's memory (MB).

    Streamlit keeps a closed tab's session for ``SESSION_TTL`` seconds and drops expired ones
    when the next session ends: wait, open and close one idle visitor, wait again."""
    await asyncio.sleep(SESSION_TTL + 5)
    context, visitor = await _visitor(browser, server)
    await visitor.open("toy")
    await context.close()
    await asyncio.sleep(5)
    return server.memory_mb()


async def memory(visitors: int = 10, waves: int = 3) -> dict[str, Any]:
    """The memory waves and 10 visitors at once, each on a fresh server."""
    from amnesia.dashboard.workspace import shared_base

    movies = shared_base("movielens-small")[1].items()[:3000]
    result: dict[str, Any] = {"waves": []}
    with streamlit_server() as server:
        async with chromium() as browser:
            context, visitor = await _visitor(browser, server)
            await visitor.open("movielens-small")  # the shared model is trained once, before the waves
            await context.close()
            result["start_mb"] = await _settle(browser, server)
            for wave in range(waves):
                figures = await _wave(browser, server, visitors, wave, movies)
                figures["during_mb"] = server.memory_mb()
                figures["after_mb"] = await _settle(browser, server)
                result["waves"].append(figures)
            result["peak_mb"] = server.memory_mb("VmHWM")
    with streamlit_server() as server:
        async with chromium() as browser:
            pages = []
            for k in range(visitors):
                context, visitor = await _visitor(browser, server)
                await visitor.open("movielens-small")
                await visitor.add(f"Visitor{k}", "toy story\nthe matrix\npulp fiction")
                pages.append(context)
            result["ten_visitors_mb"] = server.memory_mb()
            result["ten_visitors_peak_mb"] = server.memory_mb("VmHWM")
            for context in pages:
                await context.close()
    return result


async def _what_the_visitor_saw(visitor: Visitor, level: int, k: int) -> str:
    """Evidence for a failed visitor: a screenshot in artifacts/ and the page's status, errors and
    last message, so a timeout says whether the page was still running, showed an error or lost
    its connection."""
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        await visitor.page.screenshot(path=str(ARTIFACTS / f"load-{level}-visitor-{k}.png"), full_page=True)
        seen = await visitor.page.evaluate(
            """() => [...document.querySelectorAll('[data-testid=stStatusWidget], [data-testid=stAlert], '
                   + '[data-testid=stException], [data-testid=stConnectionStatus]')]
                   .map(e => e.innerText.replace(/\\s+/g, ' ').slice(0, 160))"""
        )
        return f" | the page showed: {' / '.join(seen) or 'no status, alert or error'}"
    except Exception as error:  # noqa: BLE001  (the page may be gone)
        return f" | no evidence: {type(error).__name__}"


def _cpus() -> tuple[set[int], set[int]] | None:
    """(server's CPUs, clients' CPUs): one core each when the machine has two or more, else None."""
    available = sorted(os.sched_getaffinity(0))
    return ({available[0]}, set(available[1:])) if len(available) >= 2 else None


async def load(levels: tuple[int, ...] = (1, 5, 10, 30), rounds: int = 2) -> dict[str, Any]:
    """N concurrent visitors, each adding a user and forgetting a typical one ``rounds`` times.

    The visitors are protocol clients (tools/protocol_client.py: Streamlit's WebSocket messages, no
    drawing) on one core and the server on the other, so the figures are what the server can
    serve: each action's time from the click to its run's last message, and the server's own
    time per action (AMNESIA_SCRIPT_TIMES: callback and script run), beside each other.
    """
    from .protocol_client import ProtocolVisitor

    typical = [user for user, _ in typical_users(max(levels) * rounds)]
    split = _cpus()
    own = os.sched_getaffinity(0)
    result: dict[str, Any] = {"pinned": bool(split), "clients": "protocol"}
    try:
        if split:
            os.sched_setaffinity(0, split[1])
        for level in levels:
            with tempfile.TemporaryDirectory() as scratch:
                times_path = Path(scratch) / "script-times.jsonl"
                env = {SCRIPT_TIMES_ENV: str(times_path)}
                with streamlit_server(env=env, cpus=split[0] if split else None) as server:
                    async with ProtocolVisitor(server, {"data": "movielens-small"}) as first:
                        await first.open()  # the shared model is trained once, before the visitors come

                    async def one(k: int) -> tuple[list[float], float] | str:
                        step = "open"
                        try:
                            async with ProtocolVisitor(server, {"data": "movielens-small"}) as visitor:
                                opened = (await visitor.open()).seconds
                                times = []
                                for r in range(rounds):
                                    step = f"add L{k}x{r}"
                                    run = await visitor.add(f"L{k}x{r}", "the matrix\ngodfater\ntoy story", f"Added L{k}x{r} with")
                                    times.append(run.seconds)
                                    user = typical[k * rounds + r]
                                    step = f"forget User {user}"
                                    run = await visitor.forget(visitor.option("User to forget", f"User {user} ("), f"Forgot User {user}")
                                    times.append(run.seconds)
                                return times, opened
                        except Exception as error:  # noqa: BLE001 - a visitor's failure is a figure, not a crash
                            return f"{type(error).__name__} at step '{step}': {str(error)[:160]}"

                    outcomes = await asyncio.gather(*(one(k) for k in range(level)))
                    runs = read_script_times(times_path)
                    done = [o for o in outcomes if not isinstance(o, str)]
                    result[str(level)] = {
                        **_summary([t for times, _ in done for t in times]),
                        "open": _summary([opened for _, opened in done]),
                        "server": _summary([run["seconds"] for run in runs if run["callback_seconds"] > 0]),
                        "errors": [o for o in outcomes if isinstance(o, str)],
                        "server_mb": server.memory_mb(),
                        "server_peak_mb": server.memory_mb("VmHWM"),
                    }
    finally:
        os.sched_setaffinity(0, own)
    return result


# ---------------------------------------------------------------------- the part's interface
def run(args: Any) -> dict[str, Any]:
    """Measure everything above; ``args.quick`` shrinks repetitions (a smoke run)."""
    quick = bool(getattr(args, "quick", False))
    if chromium_path() is None:
        raise RuntimeError("the app benchmark needs Debian's Chromium (apt-get install chromium)")
    figures: dict[str, Any] = {"machine": machine(), "when": when(), "quick": quick}
    figures["resolution"] = resolution(repeats=50 if quick else 300)
    figures["waiting"] = asyncio.run(waiting_times(repeats=2 if quick else 8, toy_repeats=2 if quick else TOY_REPEATS))
    figures["memory"] = asyncio.run(memory(visitors=3 if quick else 10, waves=3))
    figures["load"] = asyncio.run(load(levels=(1, 2) if quick else (1, 5, 10, 30), rounds=1 if quick else 2))
    figures["load_average"] = load_average()
    figures["targets"] = check_targets(figures)
    return figures


def _values(figures: dict[str, Any]) -> dict[str, float | None]:
    waiting, memory_, load_ = figures["waiting"], figures["memory"], figures["load"]
    waves = memory_["waves"]
    ten, thirty = load_.get("10", {}), load_.get("30", {})
    return {
        "toy_add_p95_s": waiting["toy_add"].get("p95"),
        "toy_forget_p95_s": waiting["toy_forget"].get("p95"),
        "ml_add_p95_s": waiting["ml_add"].get("p95"),
        "ml_forget_typical_p95_s": waiting["ml_forget_typical"].get("p95"),
        "ml_forget_heaviest_s": waiting["ml_forget_heaviest_s"],
        "ml_recommendations_s": waiting["ml_recommendations_s"],
        "ml_verify_s": waiting["ml_verify_s"],
        "resolve_max_ms": figures["resolution"]["max"],
        "waves_growth_mb": waves[-1]["after_mb"] - waves[0]["after_mb"] if len(waves) >= 2 else None,
        "waves_peak_mb": memory_["peak_mb"],
        "ten_visitors_mb": memory_.get("ten_visitors_mb"),
        "server_ml_forget_p50_s": waiting.get("server_ml_forget", {}).get("p50"),
        "load_10_server_p95_s": ten.get("server", {}).get("p95"),
        "load_10_p95_s": ten.get("p95"),
        "load_10_errors": len(ten["errors"]) if ten else None,
        "load_30_errors": len(thirty["errors"]) if thirty else None,
        "load_30_peak_mb": thirty.get("server_peak_mb"),
    }


def check_targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured value and whether it was met (None: not measured in this run)."""
    rows = []
    for key, value in _values(figures).items():
        label, comparison, target, unit = TARGETS[key]
        measured = value is not None
        met = (value <= target if comparison == "<=" else value >= target) if measured else None
        rows.append({"key": key, "label": label, "target": f"{comparison} {target:g} {unit}".strip(),
                     "value": float(value) if measured else float("nan"), "unit": unit, "met": met})
    return rows


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None or value != value:  # None or NaN
        return "not measured"
    return f"{value:,.0f} {unit}".strip() if unit == "MB" else f"{value:,.2f} {unit}".strip()


def _measured(row: dict[str, Any]) -> str:
    """A target row's figure, with the digits that show a miss: Verify's 1.0002 s against "<= 1 s"
    read "1.00 s **not met**" at two decimals."""
    shown = _fmt(row["value"], row["unit"])
    if row["met"] is False and row["unit"] == "s" and round(row["value"], 2) == TARGETS[row["key"]][2]:
        shown = f"{row['value']:.4f} s"
    return shown


def markdown(figures: dict[str, Any]) -> str:
    """The app's fragment of docs/benchmarks.md."""
    lines = [
        "## The app (Chromium against `streamlit run`)",
        "",
        f"Measured {figures.get('when', '')} with `python -m amnesia bench --part app`"
        f"{' --quick' if figures.get('quick') else ''} on {figures['machine']}: Debian's Chromium, headless, driven by "
        "Playwright, on the same two cores as the server; times from the click to the finished page (script idle, "
        "message shown, chart redrawn). The single visitor and the memory waves share the server's two cores with "
        "their browser; the load test's visitors are protocol clients (Streamlit's WebSocket messages, no drawing) on one "
        "core and the server on the other, so its times are what the server can serve. "
        f"Load average at the end: {figures.get('load_average', 'not recorded')}. "
        "Single runs: expect ±20 % between runs (the memory waves more: RSS includes memory the allocator keeps).",
        "",
        "| target | goal | measured | |",
        "|:--|--:|--:|:--|",
    ]
    for row in figures["targets"]:
        verdict = "not measured" if row["met"] is None else "met" if row["met"] else "**not met**"
        lines.append(f"| {row['label']} | {row['target']} | {_measured(row)} | {verdict} |")
    waiting = figures["waiting"]
    heaviest_server = waiting.get("server_ml_forget_heaviest_s")
    lines += ["", "What the heaviest clicks' time holds (profiled 2026-12-04 on this machine): forgetting User 414 took "
              + (f"{heaviest_server:.2f} s on the server (median of the tries) in this run" if heaviest_server is not None else "about 0.45-0.55 s on the server")
              + " of its " + f"{waiting['ml_forget_heaviest_s']:.2f} s. In-process it takes 0.31-0.38 s: the neighbour lists "
              "of the 2,698 movies whose counts moved (~0.15 s: their rows of C read a slab at a time into one reused "
              "buffer, the other rows settled and theirs merged on both cores) and the page's scan of every similarity "
              "those rows changed (26 million entries, ~0.17-0.2 s: read from the model before the change, the change "
              "redone on the copy); the rest of the page's run adds ~0.1 s. The browser then takes ~0.5-0.6 s to receive "
              "and draw the page, as for any forget: sampling the processes' CPU every 50 ms shows the two in turn, "
              "the renderer idle while the server works and the server idle while the renderer (1.4 cores) draws. "
              "Verify hashes a retrain counted from the remaining interactions a block of rows at a time (0.32 s alone, "
              "~0.45 s while the visitor's own fingerprint is hashed beside it), then ~0.4 s of messages and drawing; "
              "it reruns only its own panel. The first click on a fresh server no longer loads compiled kernels: the "
              "app warms each shared model when it builds it."]
    lines += ["", "Waiting times (s): p50 / p95 / max over the repetitions.", "", "| action | n | p50 | p95 | max |", "|:--|--:|--:|--:|--:|"]
    for key, label in (("toy_add", "toy: add"), ("toy_forget", "toy: forget"), ("ml_add", "MovieLens: add (3 typed titles)"),
                       ("ml_forget_typical", "MovieLens: forget a typical user"),
                       ("server_ml_add", "MovieLens: add, server-side time"),
                       ("server_ml_forget", "MovieLens: forget a typical user, server-side time"),
                       ("ml_forget_heaviest", "MovieLens: forget User 414 (a fresh visitor each try)"),
                       ("server_ml_forget_heaviest", "MovieLens: forget User 414, server-side time"),
                       ("ml_verify", "MovieLens: Verify after 10 changes")):
        s = waiting.get(key)
        if s is None:  # a run from before this row was measured
            continue
        lines.append(f"| {label} | {s['n']} | {s['p50']:.2f} | {s['p95']:.2f} | {s['max']:.2f} |")
    users = ", ".join(f"User {u['user']} ({u['movies']})" for u in waiting["typical_users"])
    lines += ["", f"Typical users forgotten (median history): {users}."]
    resolution_ = figures["resolution"]
    lines += ["", f"Title resolution: {resolution_['lines']} lines up to {resolution_['longest']} characters: "
              f"p50 {resolution_['p50']:.2f} ms, p95 {resolution_['p95']:.2f} ms, max {resolution_['max']:.2f} ms."]
    memory_ = figures["memory"]
    lines += ["", "Memory waves: each visitor sends one 3,000-movie request and forgets one user, then leaves; the "
              f"server's RSS is read {SESSION_TTL + 10} s after a wave (closed sessions are kept {SESSION_TTL} s for a reconnect).",
              "", "| | RSS (MB) | 3,000-movie request p95 (s) | forget p95 (s) | errors |", "|:--|--:|--:|--:|--:|",
              f"| before the waves | {memory_['start_mb']:,.0f} | | | |"]
    for k, wave in enumerate(memory_["waves"], start=1):
        lines.append(f"| after wave {k} | {wave['after_mb']:,.0f} | {wave['add_3000_s'].get('p95', float('nan')):.2f} | "
                     f"{wave['forget_s'].get('p95', float('nan')):.2f} | {len(wave['errors'])} |")
    lines += ["", f"Peak RSS during the waves: {memory_['peak_mb']:,.0f} MB. A fresh server with 10 MovieLens visitors "
              f"connected at once, each after one add: {_fmt(memory_.get('ten_visitors_mb'), 'MB')}."]
    load_ = figures["load"]
    where = ("the server on one core and the clients on the other" if load_.get("pinned")
             else "clients and server on the same cores")
    lines += ["", "Load: N visitors at once, each opening the MovieLens page, then adding a user (3 typed titles) and "
              f"forgetting a typical user twice. The visitors are protocol clients (Streamlit's WebSocket messages, the "
              f"widget values a click sends; no browser, no drawing), {where}. Click to finished run: from sending the "
              "click to receiving the run's last message. Server-side: each action's callback and script run, recorded "
              "by the server. The single-visitor table above says what a browser's drawing adds.", "",
              "| N | actions | page open p50 / p95 (s) | click to finished run p50 / p95 / max (s) | server-side p50 / p95 / max (s) "
              "| errors | server RSS / peak (MB) |",
              "|--:|--:|--:|--:|--:|--:|--:|"]
    nan = float("nan")
    for level, s in load_.items():
        if not isinstance(s, dict):
            continue
        server, opened = s.get("server", {}), s.get("open", {})
        lines.append(f"| {level} | {s.get('n', 0)} | {opened.get('p50', nan):.2f} / {opened.get('p95', nan):.2f} | "
                     f"{s.get('p50', nan):.2f} / {s.get('p95', nan):.2f} / {s.get('max', nan):.2f} | "
                     f"{server.get('p50', nan):.2f} / {server.get('p95', nan):.2f} / {server.get('max', nan):.2f} | "
                     f"{len(s['errors'])} | {s['server_mb']:,.0f} / {s['server_peak_mb']:,.0f} |")
        for error in s["errors"][:3]:  # one table row each: no line breaks or cell bars from the error text
            text = " ".join(error.split()).replace("|", "/")[:160]
            lines.append(f"|  | error: {text} | | | | | |")
    return "\n".join(lines) + "\n"
