"""Real-browser fixtures: one `streamlit run` server on a free port, and Debian's Chromium.

Chromium cannot be downloaded here (``playwright install`` is blocked), so the tests drive
the system's /usr/bin/chromium through Playwright's ``executable_path``. Without it they
skip with the reason; ``.ci/run`` installs it so CI always runs them.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from amnesia.dashboard.views import short_name
from tools.serve import CHROMIUM_FLAGS, FINISHED, SETTLE_RESET, SETTLED, chromium_path, streamlit_server
from ui_state import PAGES as REGISTRY

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="session")
def server():
    """Start the app once for all browser tests; wait until /_stcore/health answers ok."""
    ARTIFACTS.mkdir(exist_ok=True)
    # one log per test worker (pytest-xdist runs this once in each): in one shared file, each truncated the other's
    path = ARTIFACTS / f"streamlit-server-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.log"
    with open(path, "w") as log:
        try:
            with streamlit_server(log, timeout=60) as url:
                yield url
        except RuntimeError as error:
            pytest.fail(f"{error}; see {path}")


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium found at /usr/bin/chromium (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def guarded_context(browser, server, **options):
    """A browser context that blocks every request leaving the app's origin and records it
    (``context.blocked``): the page must make no network calls of its own."""
    context = browser.new_context(**options)
    blocked: list[str] = []

    def route(route):
        url = route.request.url
        if url.startswith(str(server)) or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", route)
    context.blocked = blocked
    return context


@pytest.fixture
def page(browser, server):
    context = guarded_context(browser, server, viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    yield page
    blocked = list(context.blocked)
    context.close()
    assert blocked == [], f"the page tried to leave the app's origin: {blocked}"


# ---------------------------------------------------------------------- what a visitor does (shared by the browser tests)
# the pages a presenter clicks through here; the private page (tests/e2e/test_private.py) and the lab
# (tests/e2e/test_lab_page.py) have their own browser tests, with the runtime and a lab run they need
PAGES = tuple(page.title for page in REGISTRY if page.key not in ("private", "lab"))
HEADINGS = {page.title: page.heading for page in REGISTRY}


def wait_for_run(page: Page, timeout: float = 120_000) -> None:
    """Wait until Streamlit has finished running the script for the last interaction."""
    page.evaluate(SETTLE_RESET)
    page.wait_for_function(SETTLED, arg=250, polling=25, timeout=timeout)


def open_app(page: Page, url: str, data: str = "toy") -> None:
    page.goto(f"{url}/?data={data}")
    expect(page.get_by_role("heading", name="Watch a recommender forget")).to_be_visible(timeout=120_000)
    wait_for_run(page)
    expect(page.locator("[data-testid=stPlotlyChart]").first).to_be_visible(timeout=60_000)


def choose_log(page: Page, path) -> None:
    """Choose the request log at ``path`` in the Change log's Import section (opened if it is closed)."""
    if not page.get_by_role("button", name="Import", exact=True).is_visible():
        page.get_by_text("Import a request log (restores a session)").click()
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(path))
    wait_for_run(page)


def import_log(page: Page, path) -> None:
    """Choose the request log at ``path`` and click Import; returns once the page has run."""
    choose_log(page, path)
    page.get_by_role("button", name="Import", exact=True).click()
    wait_for_run(page)


def reset_changes(page: Page) -> None:
    """Open the sidebar's "Reset my changes" and confirm in it; returns once the page has run."""
    reset = page.get_by_test_id("stSidebar").get_by_test_id("stExpander").filter(has_text="Reset my changes")
    reset.get_by_text("Reset my changes").click()
    wait_for_run(page)
    reset.get_by_role("button").click()
    wait_for_run(page)


def sidebar_number(page: Page, label: str) -> str:
    row = page.locator("[data-testid=stSidebar] tr").filter(has=page.get_by_text(label, exact=True))
    return row.locator("td").last.inner_text()


def submit_and_time(page: Page, button: str, text: str, chart_title: str = "") -> float:
    """Click ``button``; seconds until the script is idle, ``text`` is shown and the chart is redrawn
    with ``chart_title`` (polled every 50 ms, so the figure is not inflated by back-off)."""
    started = time.perf_counter()
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_function(FINISHED, arg=[text, chart_title], polling=50, timeout=180_000)
    return time.perf_counter() - started


def type_titles(page: Page, name: str, typed: str) -> None:
    page.get_by_role("tab", name=re.compile("Add a user")).click()
    page.get_by_role("textbox", name="Name").fill(name)
    box = page.get_by_role("textbox", name="…or type titles or ids, one per line")
    box.fill(typed)
    box.press("Control+Enter")
    wait_for_run(page)


def add_user(page: Page, name: str, typed: str) -> float:
    """Fill the add form and submit; returns seconds from the click to the finished page."""
    type_titles(page, name, typed)
    # the chart's title cuts a long name as its axis does (LogEntry.chart_label); the message keeps it whole
    seconds = submit_and_time(page, "Add user", f"Added {name} with", f"Added {short_name(name)} with")
    wait_for_run(page)
    return seconds


def forget_user(page: Page, label: str, name: str) -> float:
    page.get_by_role("tab", name=re.compile("Forget a user")).click()
    combo = page.get_by_role("combobox", name="User to forget")
    combo.click()
    combo.fill(label)
    page.get_by_role("option", name=re.compile("^" + re.escape(label))).click(timeout=60_000)
    seconds = submit_and_time(page, "Forget this user", f"Forgot {name}", f"Forgot {short_name(name)}")
    wait_for_run(page)
    return seconds


def goto(page: Page, title: str) -> float:
    started = time.perf_counter()
    page.get_by_role("link", name=title, exact=True).click()
    heading = HEADINGS[title]
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=60_000)
    wait_for_run(page)
    return time.perf_counter() - started


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def shoot_every_page(page: Page, prefix: str) -> None:
    """A screenshot of each page (the main column scrolls inside the window: a tall window shows it whole)."""
    page.set_viewport_size({"width": 1400, "height": 4200})
    for title in PAGES:
        goto(page, title)
        page.wait_for_function("document.fonts.status === 'loaded'")  # icons and text drawn in their fonts
        shot(page, f"{prefix}-{title.lower().replace(' ', '-')}")
    goto(page, "Forget")
    page.set_viewport_size({"width": 1400, "height": 1600})
