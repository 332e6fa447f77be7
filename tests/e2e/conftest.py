"""Real-browser fixtures: one `streamlit run` server on a free port, and Debian's Chromium.

Chromium cannot be downloaded here (``playwright install`` is blocked), so the tests drive
the system's /usr/bin/chromium through Playwright's ``executable_path``. Without it they
skip with the reason; ``.ci/run`` installs it so CI always runs them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from amnesia.dashboard.serve import CHROMIUM_FLAGS, chromium_path, streamlit_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="session")
def server():
    """Start the app once for all browser tests; wait until /_stcore/health answers ok."""
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "streamlit-server.log", "w") as log:
        try:
            with streamlit_server(log, timeout=60) as url:
                yield url
        except RuntimeError as error:
            pytest.fail(f"{error}; see {ARTIFACTS / 'streamlit-server.log'}")


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
