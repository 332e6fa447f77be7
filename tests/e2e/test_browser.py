"""End-to-end: the dashboard in real Chromium, as a presenter would use it.

Timings from a form submit to the finished page are measured and written to
artifacts/e2e-timings.json (reported, not asserted: a shared machine is noisy).
"""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import Page, expect

from .conftest import ARTIFACTS

pytestmark = pytest.mark.e2e
TIMINGS: dict[str, float] = {}


def wait_for_run(page: Page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished running the script for the last interaction."""
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout)
    page.wait_for_timeout(150)  # let the last deltas paint
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout)


def open_app(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name="Watch a recommender forget")).to_be_visible(timeout=60_000)
    wait_for_run(page)
    expect(page.locator("[data-testid=stPlotlyChart]")).to_be_visible(timeout=30_000)


def sidebar_metric(page: Page, label: str) -> str:
    metric = page.locator("[data-testid=stSidebar] [data-testid=stMetric]").filter(has_text=label)
    return metric.locator("[data-testid=stMetricValue]").inner_text()


FINISHED = """([text, title]) => {
    const app = document.querySelector('[data-testid=stApp]');
    const chart = document.querySelector('[data-testid=stPlotlyChart] .gtitle');
    return app && app.getAttribute('data-test-script-state') === 'notRunning'
        && document.querySelector('[data-testid=stMain]').innerText.includes(text)
        && (!title || (chart && chart.textContent.includes(title)));
}"""


def submit_and_time(page: Page, button: str, text: str, chart_title: str = "") -> float:
    """Click ``button``; seconds until the script is idle, ``text`` is shown and the chart is redrawn
    with ``chart_title`` (polled every 50 ms, so the figure is not inflated by back-off)."""
    started = time.perf_counter()
    page.get_by_role("button", name=button).click()
    page.wait_for_function(FINISHED, arg=[text, chart_title], polling=50, timeout=120_000)
    return time.perf_counter() - started


def add_user(page: Page, name: str, typed: str) -> float:
    """Fill the add form and submit; returns seconds from the click to the finished page."""
    page.get_by_role("textbox", name="Name").fill(name)
    page.get_by_role("textbox", name="…or type titles or ids, one per line").fill(typed)
    if "xyzzy" not in typed:
        seconds = submit_and_time(page, "Add user", f"Added {name} with", f"Added {name} with")
        wait_for_run(page)
        return seconds
    started = time.perf_counter()
    page.get_by_role("button", name="Add user").click()
    outcome = re.compile(rf"Added {name} with .* ms\.|No movie matches|matches \d+ movies|is close to")
    expect(page.locator("[data-testid=stMain] [data-testid=stMarkdownContainer]").get_by_text(outcome).first).to_be_visible(timeout=60_000)
    wait_for_run(page)
    return time.perf_counter() - started


def chart_labels(page: Page) -> str:
    return page.locator("[data-testid=stPlotlyChart]").first.inner_text()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_add_user_by_names_see_charts_change_play_and_forget(page, server):
    open_app(page, server)
    assert sidebar_metric(page, "Users") == "4"
    shot(page, "01-toy-start")
    TIMINGS["toy: add user, submit to finished page (s)"] = add_user(page, "Maya", "toy story\nthe matirx\nfinding nemo")
    expect(page.get_by_text(re.compile(r"Added Maya with 3 movie\(s\) in \d+\.\d\d ms\."))).to_be_visible()
    assert sidebar_metric(page, "Users") == "5" and sidebar_metric(page, "Logical time") == "1"
    assert "Maya" in chart_labels(page)
    play = page.locator("[data-testid=stPlotlyChart] .updatemenu-item-text").filter(has_text="▶ Play")
    expect(play).to_be_visible()
    heatmaps = "[data-testid=stPlotlyChart] .hm image"
    assert page.locator(heatmaps).count() == 3
    play.click()
    page.wait_for_timeout(1_700)  # mid-animation: stage 1 or 2
    shot(page, "02-toy-added-mid-play")
    assert page.locator(heatmaps).count() == 3  # heatmaps survive the animation (redraw)
    page.wait_for_timeout(4_500)
    shot(page, "03-toy-added-after-play")

    page.get_by_role("tab", name=re.compile("Forget a user")).click()
    page.get_by_role("combobox", name="User to forget").click()
    page.get_by_role("option", name="Maya (3 movies)").click()
    TIMINGS["toy: forget user, submit to finished page (s)"] = submit_and_time(page, "Forget this user", "Forgot Maya in", "Forgot Maya")
    expect(page.get_by_text(re.compile(r"Forgot Maya in \d+\.\d\d ms\."))).to_be_visible()
    wait_for_run(page)
    assert sidebar_metric(page, "Users") == "4" and sidebar_metric(page, "Logical time") == "2"
    page.get_by_role("button", name="Verify: retrain from scratch and compare").click()
    expect(page.get_by_text("identical")).to_be_visible(timeout=60_000)
    shot(page, "04-toy-forgot-verified")
    assert page.errors == []


def test_typo_offers_the_closest_titles(page, server):
    open_app(page, server)
    add_user(page, "Tom", "xyzzy")
    expect(page.get_by_text("No movie matches 'xyzzy'. Did you mean")).to_be_visible()
    expect(page.get_by_text("Did you mean:")).to_be_visible()
    shot(page, "05-typo-suggestions")
    page.get_by_role("button", name="Titanic (1997)").click()
    wait_for_run(page)
    expect(page.get_by_role("textbox", name="…or type titles or ids, one per line")).to_have_value("#2")
    assert sidebar_metric(page, "Users") == "4"  # nothing was added


def test_two_visitors_do_not_see_each_other(browser, server):
    first = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
    second = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
    open_app(first, server)
    add_user(first, "Secretagent", "toy story\ntitanic")
    assert sidebar_metric(first, "Users") == "5"
    open_app(second, server)
    assert sidebar_metric(second, "Users") == "4" and sidebar_metric(second, "Logical time") == "0"
    assert "Secretagent" not in second.content()
    shot(second, "06-second-visitor-sees-nothing")
    first.reload()  # a new session for the same browser context starts clean too
    expect(first.get_by_role("heading", name="Watch a recommender forget")).to_be_visible(timeout=60_000)
    wait_for_run(first)
    first.context.close()
    second.context.close()


def test_change_log_and_reset(page, server):
    open_app(page, server)
    add_user(page, "Maya", "toy story\nthe matrix")
    page.get_by_role("link", name="Change log").click()
    expect(page.get_by_role("heading", name="Change log")).to_be_visible(timeout=30_000)
    wait_for_run(page)
    expect(page.get_by_text(re.compile(r"\d+ of \d+ records\."))).to_be_visible()
    shot(page, "07-change-log")
    page.get_by_role("button", name="Reset my changes").click()
    wait_for_run(page)
    expect(page.get_by_text("No changes yet.")).to_be_visible(timeout=30_000)
    assert sidebar_metric(page, "Logical time") == "0"


@pytest.mark.slow
def test_movielens_forget_then_add_timing(page, server):
    page.goto(f"{server}/?data=movielens-small")
    expect(page.get_by_role("heading", name="Watch a recommender forget")).to_be_visible(timeout=60_000)
    wait_for_run(page, timeout=120_000)
    expect(page.get_by_text(re.compile("A focus window of 40 of 9,724 movies"))).to_be_visible(timeout=60_000)
    assert sidebar_metric(page, "Users") == "610"
    # forgetting first: a form submit used to drop the data set picked through the URL
    page.get_by_role("tab", name=re.compile("Forget a user")).click()
    combo = page.get_by_role("combobox", name="User to forget")
    combo.click()
    combo.fill("User 414 (")
    page.get_by_role("option", name=re.compile(r"^User 414 \(")).click(timeout=60_000)
    TIMINGS["movielens: forget the heaviest user (2,698 movies), submit to finished page (s)"] = submit_and_time(
        page, "Forget this user", "Forgot User 414 in", "Forgot User 414"
    )
    expect(page.get_by_text(re.compile(r"Forgot User 414 in \d+\.\d\d ms\."))).to_be_visible()
    wait_for_run(page)
    assert sidebar_metric(page, "Users") == "609" and sidebar_metric(page, "Logical time") == "1"
    assert page.url.endswith("?data=movielens-small")
    shot(page, "08-movielens-forgot-heaviest")
    page.get_by_role("tab", name=re.compile("Add a user")).click()
    TIMINGS["movielens: add user, submit to finished page (s)"] = add_user(page, "Maya", "the matrix\ngodfater\ntoy story")
    expect(page.get_by_text(re.compile(r"Added Maya with 3 movie\(s\) in \d+\.\d\d ms\."))).to_be_visible()
    assert sidebar_metric(page, "Users") == "610" and sidebar_metric(page, "Logical time") == "2"
    shot(page, "09-movielens-added")
    assert page.errors == []


def resident_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.slow
def test_ten_movielens_visitors_memory(browser, server):
    """Ten visitors each make a change on MovieLens; the server's memory is reported."""
    contexts = []
    try:
        for visitor in range(10):
            context = browser.new_context(viewport={"width": 1200, "height": 1000})
            page = context.new_page()
            page.goto(f"{server}/?data=movielens-small")
            expect(page.get_by_text(re.compile("A focus window of 40"))).to_be_visible(timeout=120_000)
            wait_for_run(page)
            add_user(page, f"Visitor{visitor}", "toy story\nthe matrix\npulp fiction")
            expect(page.get_by_text(re.compile(rf"Added Visitor{visitor} with 3 movie\(s\) in"))).to_be_visible()
            contexts.append(context)
        TIMINGS["server RSS with 10 MovieLens visitors, toy loaded too (MB)"] = resident_mb(server.pid)
    finally:
        for context in contexts:
            context.close()


def teardown_module(module) -> None:
    if TIMINGS:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "e2e-timings.json").write_text(json.dumps(TIMINGS, indent=2))
        print("\n" + "\n".join(f"{key}: {value:.2f}" for key, value in TIMINGS.items()))
