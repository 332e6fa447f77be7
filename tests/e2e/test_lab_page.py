"""End-to-end: the Lab page in real Chromium (committed results, charts, a visitor's quick run)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tools.serve import SETTLE_RESET, SETTLED

from .conftest import ARTIFACTS

pytestmark = pytest.mark.e2e


def wait_for_run(page: Page, timeout: float = 90_000) -> None:
    """Until the script has stayed idle for 250 ms (a state wait: see serve.SETTLED)."""
    page.evaluate(SETTLE_RESET)
    page.wait_for_function(SETTLED, arg=250, polling=25, timeout=timeout)


def open_lab(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name="Watch a recommender forget")).to_be_visible(timeout=60_000)
    wait_for_run(page)
    page.get_by_role("link", name="Lab").click()
    expect(page.get_by_role("heading", name="Unlearning lab")).to_be_visible(timeout=60_000)
    wait_for_run(page)


def test_lab_page_shows_results_and_charts(page: Page, server):
    open_lab(page, server)
    main = page.locator("[data-testid=stMain]")
    expect(main.get_by_text("Null control", exact=False).first).to_be_visible()
    expect(main.locator("[data-testid=stDataFrame]")).to_have_count(3)  # measured, nothing forgotten, by construction
    expect(main.get_by_text("What this shows")).to_be_visible()
    chart = main.locator("[data-testid=stPlotlyChart]").first
    expect(chart).to_be_visible(timeout=30_000)
    expect(chart.locator(".gtitle")).to_have_text("Forgetting quality against time")
    page.get_by_role("tab", name="Utility vs forgetting").click()
    utility = main.locator("[data-testid=stPlotlyChart]").nth(1)
    expect(utility.locator(".gtitle")).to_have_text("Utility against forgetting quality", timeout=30_000)
    # the legend sits below the x axis's tick labels and title, covering neither (it once did, in this tab)
    legend, labels = utility.locator(".legend").bounding_box(), utility.locator(".g-xtitle").bounding_box()
    ticks = utility.locator(".xtick text").evaluate_all("nodes => nodes.map(n => n.getBoundingClientRect().bottom)")
    assert ticks and max(ticks) <= labels["y"] and labels["y"] + labels["height"] <= legend["y"]
    page.get_by_role("tab", name="What the attacker sees").click()
    attack = main.locator("[data-testid=stPlotlyChart]").nth(2)
    expect(attack.locator(".gtitle")).to_contain_text("What the attacker sees", timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lab-page.png"), full_page=True)
    assert page.errors == []


def test_a_visitor_runs_a_quick_lab_on_the_toy_world(page: Page, server):
    open_lab(page, server)
    form = page.locator("[data-testid=stForm]")
    combo = form.get_by_role("combobox", name="Data set")
    combo.scroll_into_view_if_needed()
    combo.click()
    page.keyboard.type("Toy")  # the select is searchable; typing also opens it if the click only focused it
    page.get_by_role("option", name="Toy world (4 users)").click()
    form.get_by_role("button", name="Run the quick lab").click()
    # the radio option that selects the run (its caption repeats the words: a text locator was ambiguous)
    expect(page.get_by_role("radio", name=re.compile(r"^Your quick run \(toy, N = 4, \d{4}-\d{2}-\d{2}\)$"))).to_be_checked(timeout=90_000)
    wait_for_run(page)
    expect(page.get_by_text("The toy world has 4 users", exact=False)).to_be_visible()
    expect(page.locator("[data-testid=stDataFrame]")).to_have_count(3)
    page.screenshot(path=str(ARTIFACTS / "lab-page-quick-run.png"), full_page=True)
    assert page.errors == []
