"""End-to-end: the dashboard in real Chromium, as a presenter (and a stranger) would use it.

Every page is opened through a context that blocks and records requests leaving the app's
origin (see conftest.guarded_context): a test fails if the page tries to fetch anything
else. Screenshots of every page go to artifacts/, timings from a click to the finished page
to artifacts/e2e-timings.json (reported, not asserted: a shared machine is noisy; the
benchmark, ``python -m amnesia bench --part app``, measures them properly).
"""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from tools.serve import FINISHED, streamlit_server
from ui_state import PAGES as REGISTRY

from .conftest import (
    ARTIFACTS, PAGES, add_user, choose_log, forget_user, goto, guarded_context, import_log, open_app, shoot_every_page,
    reset_changes, shot, sidebar_number, submit_and_time, type_titles, wait_for_run,
)

pytestmark = pytest.mark.e2e
TIMINGS: dict[str, float] = {}
VERIFY = "Verify: retrain from scratch and compare"
DEEP_LINKS = {("" if page.default else page.key): page.heading for page in REGISTRY}  # every page's own URL


def test_every_page_opens_by_its_url_on_a_fresh_server(browser):
    """A shared link is often the first request a server sees: each page's URL, before anyone has
    opened the app, shows the page with its sidebar, not a traceback."""
    with streamlit_server() as fresh:
        context = guarded_context(browser, fresh, viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        for path, heading in DEEP_LINKS.items():
            page.goto(f"{fresh}/{path}?data=toy")
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=120_000)
            wait_for_run(page)
            expect(page.locator("[data-testid=stException]")).to_have_count(0)
            assert sidebar_number(page, "Users") == "4", path
        blocked = list(context.blocked)
        context.close()
    assert blocked == []


def test_add_by_names_see_each_line_resolve_play_and_forget(page, server):
    open_app(page, server)
    assert sidebar_number(page, "Users") == "4" and sidebar_number(page, "Interactions") == "11"
    shot(page, "01-toy-start")
    type_titles(page, "Maya", "toy story\nthe matirx\ntitanic 2")
    expect(page.get_by_text("line 3: No movie matches 'titanic 2': no title with 'titanic' has the number 2. Did you mean")).to_be_visible()
    shot(page, "05-typo-suggestions")
    page.get_by_role("button", name="Titanic (1997)").click()  # a candidate replaces its line with its title and year
    wait_for_run(page)
    expect(page.get_by_role("textbox", name="…or type titles or ids, one per line")).to_have_value(
        "toy story\nthe matirx\nTitanic (1997)")
    assert sidebar_number(page, "Logical time") == "0"  # nothing was added
    type_titles(page, "Maya", "toy story\nthe matirx\nnemo")
    main = page.locator("[data-testid=stMain]")
    expect(main.get_by_text(re.compile(r"nemo → Finding Nemo \(2003\) · #4"))).to_be_visible()
    expect(main.get_by_text(re.compile(r"the matirx → The Matrix \(1999\) · #1"))).to_be_visible()
    assert sidebar_number(page, "Logical time") == "0"  # the preview sent nothing
    TIMINGS["toy: add user, click to finished page (s)"] = submit_and_time(page, "Add user", "Added Maya with", "Added Maya with")
    wait_for_run(page)
    expect(page.get_by_text(re.compile(r"Added Maya with 3 movies in \d+\.\d\d ms: Toy Story \(1995\), The Matrix \(1999\), Finding Nemo \(2003\)\."))).to_be_visible()
    assert sidebar_number(page, "Users") == "5" and sidebar_number(page, "Logical time") == "1"
    chart = page.locator("[data-testid=stPlotlyChart]").first
    assert "Maya" in chart.inner_text()
    play = chart.locator(".updatemenu-item-text").filter(has_text="▶ Play")
    expect(play).to_be_visible()
    heatmaps = "[data-testid=stPlotlyChart] .hm image"
    assert page.locator(heatmaps).count() == 3 + 2  # H, C, S and the two of "what changed"
    play.click()
    page.wait_for_timeout(1_700)  # a picture mid-animation (stage 1 or 2): time is what is shown, not a sync
    shot(page, "02-toy-added-mid-play")
    assert page.locator(heatmaps).count() == 5  # heatmaps survive the animation (redraw)
    page.wait_for_timeout(4_500)
    shot(page, "03-toy-added-after-play")
    TIMINGS["toy: forget user, click to finished page (s)"] = forget_user(page, "Maya (3 movies)", "Maya")
    expect(page.get_by_text(re.compile(r"Forgot Maya \(3 movies\) in \d+\.\d\d ms\."))).to_be_visible()
    assert sidebar_number(page, "Users") == "4" and sidebar_number(page, "Logical time") == "2"
    page.get_by_role("button", name=VERIFY).click()
    expect(page.get_by_text("identical")).to_be_visible(timeout=60_000)
    shot(page, "04-toy-forgot-verified")
    assert page.errors == []


@pytest.mark.parametrize(
    ("data", "width", "typed", "added"),
    [
        ("toy", 1024, "toy story\nnemo", "Added Ada with 2 movies"),
        ("movielens-small", 1400, "toy story\nheat (1995)", "Added Ada with 2 movies"),
    ],
)
def test_add_clicked_straight_after_typing(browser, server, data, width, typed, added):
    """What a new visitor does: type a name and titles, then click Add user at once (no Ctrl+Enter,
    no click elsewhere first). The box's own commit and the click used to race: the user was added
    but no message appeared and the sidebar and charts kept the old model."""
    context = guarded_context(browser, server, viewport={"width": width, "height": 1400})
    page = context.new_page()
    open_app(page, server, data)
    users = int(sidebar_number(page, "Users").replace(",", ""))
    page.get_by_role("tab", name=re.compile("Add a user")).click()
    page.get_by_role("textbox", name="Name").fill("Ada")
    page.get_by_role("textbox", name="…or type titles or ids, one per line").fill(typed)
    page.get_by_role("button", name="Add user", exact=True).click()  # straight away: the box still has focus
    page.wait_for_function(FINISHED, arg=[added, "Added Ada with"], polling=50, timeout=120_000)
    wait_for_run(page)
    expect(page.get_by_text(re.compile(re.escape(added) + r" in \d+\.\d\d ms"))).to_be_visible()
    assert int(sidebar_number(page, "Users").replace(",", "")) == users + 1
    assert sidebar_number(page, "Logical time") == "1"
    expect(page.get_by_role("textbox", name="Name")).to_have_value("")
    expect(page.get_by_text("The user's name is empty")).to_have_count(0)
    blocked = list(context.blocked)
    context.close()
    assert blocked == []


@pytest.mark.parametrize("data", ["toy", "movielens-small"])
def test_a_double_click_is_one_action_and_keeps_its_message(browser, server, data):
    """A double click on Apply request applied the example the first click had refilled the box with,
    and on MovieLens the first request's message was lost (its callback was stopped by the second
    click); a double click on Add user showed "The user's name is empty" under a user who was added."""
    context = guarded_context(browser, server, viewport={"width": 1400, "height": 1400})
    page = context.new_page()
    open_app(page, server, data)
    users = int(sidebar_number(page, "Users").replace(",", ""))
    page.get_by_role("tab", name=re.compile("Add a user")).click()
    page.get_by_role("textbox", name="Name").fill("Ada")
    page.get_by_role("textbox", name="…or type titles or ids, one per line").fill("toy story")
    page.get_by_role("button", name="Add user", exact=True).dblclick()
    wait_for_run(page)
    expect(page.get_by_text(re.compile(r"Added Ada with 1 movie in \d+\.\d\d ms"))).to_be_visible(timeout=60_000)
    expect(page.locator("[data-testid=stAlert]").filter(has_text="error")).to_have_count(0)
    assert int(sidebar_number(page, "Users").replace(",", "")) == users + 1 and sidebar_number(page, "Logical time") == "1"
    page.get_by_role("tab", name=re.compile("Raw request")).click()
    box = page.get_by_role("textbox", name="A change request in the original Amnesia format")
    shown = box.input_value()
    page.get_by_role("button", name="Apply request").dblclick()
    wait_for_run(page)
    # the example's user, by the name the charts use when the catalog has one
    whom = {"toy": r"Alice \(User 0\)", "movielens-small": r"User 1"}[data]
    expect(page.get_by_text(re.compile(rf"Removed 2 interactions of {whom} \(raw request\) in"))).to_be_visible(timeout=60_000)
    expect(page.locator("[data-testid=stAlert]").filter(has_text="error")).to_have_count(0)
    assert sidebar_number(page, "Logical time") == "2" and box.input_value() == shown  # once, and the box keeps it
    blocked = list(context.blocked)
    context.close()
    assert blocked == []


def test_user_text_is_shown_as_text_and_nothing_leaves_the_origin(page, server):
    """A name with Markdown and HTML used to make the page fetch a URL and render a link."""
    open_app(page, server)
    # within the 60-character name limit; the HTML first, where the chart's axis and title keep it (they cut
    # a long name to 22 characters)
    hostile = "<a href=//x.y>x</a> ![t](http://127.0.0.1:9/p) :red[y] $z$"
    add_user(page, hostile, "titanic")
    main = page.locator("[data-testid=stMain]")
    message = main.locator("[data-testid=stAlertContainer] [data-testid=stMarkdownContainer]").first.inner_text().replace("\u2060", "")
    assert message.startswith(f"Added {hostile} with 1 movie in")
    assert main.locator("img").count() == 0 and main.locator(".katex").count() == 0
    links = main.locator("[data-testid=stMarkdownContainer] a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert [href for href in links if not href.startswith("#")] == []  # headings' own anchors only
    assert main.locator("[data-testid=stPlotlyChart] a").count() == 0  # no link inside the chart
    assert "<a href=//x.y>x</a>" in main.locator("[data-testid=stPlotlyChart]").first.inner_text()
    for title in PAGES[1:]:
        goto(page, title)  # the guarded context fails the test if any page fetches from elsewhere


def test_two_visitors_do_not_see_each_other(browser, server):
    first_context = guarded_context(browser, server, viewport={"width": 1400, "height": 1400})
    second_context = guarded_context(browser, server, viewport={"width": 1400, "height": 1400})
    first, second = first_context.new_page(), second_context.new_page()
    open_app(first, server)
    add_user(first, "Secretagent", "toy story\ntitanic")
    assert sidebar_number(first, "Users") == "5"
    open_app(second, server)
    assert sidebar_number(second, "Users") == "4" and sidebar_number(second, "Logical time") == "0"
    assert "Secretagent" not in second.content()
    shot(second, "06-second-visitor-sees-nothing")
    assert first_context.blocked == [] and second_context.blocked == []
    first_context.close()
    second_context.close()


def test_change_log_export_import_and_reset(page, server, tmp_path):
    open_app(page, server)
    add_user(page, "Maya", "toy story\nthe matrix")
    goto(page, "Change log")
    expect(page.get_by_text(re.compile(r"\d+ of \d+ records\."))).to_be_visible()
    shot(page, "07-change-log")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the request log (JSON lines)").click()
    saved = tmp_path / "requests.jsonl"
    download.value.save_as(saved)
    assert saved.read_text() == '{"change": "Add", "interactions": [[4, 0], [4, 1]]}\n'
    reset_changes(page)
    expect(page.get_by_text("No changes yet.")).to_be_visible(timeout=30_000)
    assert sidebar_number(page, "Logical time") == "0"
    import_log(page, saved)
    expect(page.get_by_text("Imported 1 request: the model is at t = 1.")).to_be_visible(timeout=30_000)
    assert sidebar_number(page, "Users") == "5"
    # look at the starting data, then import again: the time shown is the latest, on the slider as in the chart
    # (the slider, only cleared, kept showing t = 0 above the chart of t = 1)
    page.keyboard.press("Shift")  # a visitor's key stops the page bringing the import's answer into view
    thumb = page.locator("[data-testid=stSliderThumbValue]").last
    thumb.scroll_into_view_if_needed()
    box = thumb.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] + 12)
    page.keyboard.press("ArrowLeft")
    wait_for_run(page)
    expect(page.get_by_text("t = 0: the starting data", exact=True)).to_be_visible()
    import_log(page, saved)  # the section had closed with the slider's run: opened again
    expect(page.get_by_text("Imported 1 request: the model is at t = 1.")).to_be_visible(timeout=30_000)
    expect(thumb).to_have_text("t = 1")
    expect(page.get_by_text("t = 1: Added 2 interactions of User 4 (imported request)", exact=True)).to_be_visible()
    # a file and pasted text at once (the section is still open with its result): the text had been ignored
    choose_log(page, saved)
    page.get_by_role("textbox", name="…or paste it").fill('{"change": "Remove", "users": [0]}')
    page.get_by_role("textbox", name="…or paste it").press("Control+Enter")
    wait_for_run(page)
    page.get_by_role("button", name="Import", exact=True).click()
    wait_for_run(page)
    expect(page.get_by_text("Both a file and pasted text are given: remove the file (its ✕) or clear the text, then "
                            "import again. Nothing was changed.")).to_be_visible(timeout=30_000)
    assert sidebar_number(page, "Users") == "5" and sidebar_number(page, "Logical time") == "1"


def test_imported_files_do_not_stay_in_the_servers_memory(page, server, tmp_path):
    """Streamlit keeps an upload until its ✕ is clicked or the session ends, and an import clears
    its uploader: each import of a 4.5 MB log left 4.8 MB behind (ten imports, 44 MB)."""
    lines = [json.dumps({"change": "Add", "interactions": [[4 + k, 0]]}) + " " * 90_000 for k in range(50)]
    saved = tmp_path / "padded.jsonl"
    saved.write_text("\n".join(lines) + "\n")
    open_app(page, server)
    goto(page, "Change log")
    readings = []
    for _ in range(7):
        import_log(page, saved)
        expect(page.get_by_text("Imported 50 requests: the model is at t = 50.")).to_be_visible(timeout=30_000)
        readings.append(server.memory_mb())
        page.keyboard.press("Shift")  # as a visitor's key would, stops the page bringing the answer into view
    # after the first (a log's first import builds what later ones reuse): 6 x 4.8 MB = 29 MB when kept
    assert readings[-1] - readings[0] <= 12, readings
    # the answer is in view at a laptop's height: into an empty log, the import grows the page above the section
    # (records, the past's chart) to 2,500 px, and the message had landed out of sight at its foot
    page.set_viewport_size({"width": 1280, "height": 720})
    reset_changes(page)
    expect(page.get_by_text("No changes yet.")).to_be_visible(timeout=30_000)
    import_log(page, saved)
    message = page.get_by_text("Imported 50 requests: the model is at t = 50.")
    page.wait_for_function("""() => { const m = [...document.querySelectorAll('[data-testid=stAlert]')]
        .find(e => e.innerText.includes('Imported 50 requests'));
        return m && m.getBoundingClientRect().top >= 56 && m.getBoundingClientRect().bottom <= window.innerHeight; }""",
                           timeout=10_000)
    assert 56 <= message.bounding_box()["y"] <= 720


def test_reset_shows_every_widget_at_its_default_and_keeps_it(page, server):
    """Reset cleared the pages' widget keys, but the browser kept showing (and with the next click sent
    back) what the widgets held: a typed name stayed in its box."""
    open_app(page, server)
    add_user(page, "Maya", "toy story")
    name = page.get_by_role("textbox", name="Name")
    name.fill("Zed")
    name.press("Tab")
    wait_for_run(page)
    reset_changes(page)
    assert sidebar_number(page, "Logical time") == "0"
    expect(name).to_have_value("")
    box = page.get_by_role("textbox", name="…or type titles or ids, one per line")
    box.fill("toy story")
    box.press("Control+Enter")  # another run: what the browser sends back is the default too
    wait_for_run(page)
    expect(page.get_by_text("Toy Story (1995)").first).to_be_visible()
    expect(name).to_have_value("")


def test_movielens_add_and_heavy_forget_every_page_shot(page, server):
    """Screenshots of every page after a MovieLens add and after forgetting the heaviest user."""
    open_app(page, server, "movielens-small")
    expect(page.get_by_text(re.compile("A focus window: the 20 most watched movies"))).to_be_visible(timeout=60_000)
    assert sidebar_number(page, "Users") == "610" and sidebar_number(page, "Interactions") == "100,836"
    type_titles(page, "Maya", "fellowship of the ring\nempire strikes back\nnemo\nthe two towers")
    for line in ("The Lord of the Rings: The Fellowship of the Ring (2001) · #4993", "Star Wars: Episode V - The Empire Strikes Back (1980) · #1196",
                 "Finding Nemo (2003) · #6377", "The Lord of the Rings: The Two Towers (2002) · #5952"):
        expect(page.locator("[data-testid=stMain]").get_by_text(line, exact=False)).to_be_visible()
    TIMINGS["movielens: add a user with 4 typed titles, click to finished page (s)"] = submit_and_time(
        page, "Add user", "Added Maya with 4 movies", "Added Maya with"
    )
    wait_for_run(page)
    shoot_every_page(page, "10-movielens-added")
    TIMINGS["movielens: forget the heaviest user (2,698 movies), click to finished page (s)"] = forget_user(page, "User 414 (", "User 414")
    assert sidebar_number(page, "Users") == "610" and sidebar_number(page, "Movies watched") == "9,596"
    caption = page.locator("[data-testid=stCaptionContainer]").filter(has_text="Shown:").first.inner_text()
    assert "of 9,596 movies and" in caption and "of 610 users" in caption  # the same numbers as the sidebar
    expect(page.get_by_text(re.compile(r"The largest similarity changes between movies at least 10 people watched before or after the change \(of [\d,]+ pairs of movies that changed\):"))).to_be_visible()
    shoot_every_page(page, "11-movielens-forgot-414")
    assert page.url.endswith("?data=movielens-small")
    assert page.errors == []


def test_picker_enter_adds_the_most_watched_title_that_contains_the_word(page, server):
    """Typing a word in the picker and pressing Enter picks one movie, the most watched title that
    contains the word: no "Select N matches" entry to add every match, no subsequence matches
    ("Shrek" matched "Honey, I Shrunk the Kids")."""
    open_app(page, server, "movielens-small")
    page.get_by_role("tab", name=re.compile("Add a user")).click()
    picker = page.locator("[data-testid=stMultiSelect]").filter(has_text="Movies they watched")
    box = picker.locator("input")
    box.click()
    box.fill("Shrek")
    offered = page.locator("[role=option]")
    expect(offered.first).to_have_text("Shrek (2001)")
    assert offered.all_inner_texts() == ["Shrek (2001)", "Shrek 2 (2004)"]  # the most watched first
    box.press("Enter")
    box.press("Escape")
    expect(picker.get_by_role("button", name=re.compile("^Remove "))).to_have_count(1)
    page.get_by_role("textbox", name="Name").fill("Sam")
    submit_and_time(page, "Add user", "Added Sam with 1 movie", "Added Sam with")
    expect(page.get_by_text(re.compile(r"Added Sam with 1 movie in .*: Shrek \(2001\)\.?"))).to_be_visible()
    assert page.errors == []


@pytest.mark.parametrize("data", ["toy", "movielens-small"])
def test_an_error_under_a_form_is_brought_into_view_at_a_projectors_size(browser, server, data):
    """At 1,280 x 720 Add's "Pick at least one movie…" began at the window's bottom edge, a red strip
    whose words were below it (a visitor's finding); it scrolls up just enough to show it whole."""
    context = guarded_context(browser, server, viewport={"width": 1280, "height": 720})
    page = context.new_page()
    open_app(page, server, data)
    name = page.get_by_role("textbox", name="Name")
    name.fill("Ana")
    name.press("Tab")
    wait_for_run(page)
    page.get_by_role("button", name="Add user", exact=True).click()
    error = page.locator("[data-testid=stAlert]").filter(has_text="Pick at least one movie that Ana watched")
    expect(error).to_be_in_viewport(ratio=1.0, timeout=10_000)
    expect(page.get_by_role("button", name="Add user", exact=True)).to_be_in_viewport()  # no further than needed
    context.close()


def test_candidate_buttons_show_whole_titles_at_a_laptops_width(browser, server):
    """The buttons under an ambiguous line name each movie in full at 1,366 px: in four columns they
    cut "The Lord of the Rings: The Fell…" and "Star Wars: Episode IV - A New …", the words that
    tell the candidates apart."""
    context = guarded_context(browser, server, viewport={"width": 1366, "height": 768})
    page = context.new_page()
    open_app(page, server, "movielens-small")
    type_titles(page, "Ann", "lord of the rings\nstar wars")
    titles = ["The Lord of the Rings: The Fellowship of the Ring (2001)", "The Lord of the Rings: The Two Towers (2002)",
              "Star Wars: Episode IV - A New Hope (1977)", "Star Wars: Episode VI - Return of the Jedi (1983)"]
    clipped = "b => [b, ...b.querySelectorAll('*')].filter(e => e.scrollWidth > e.clientWidth + 1).length"
    for title in titles:
        button = page.get_by_role("button", name=title, exact=True)
        expect(button).to_be_visible()
        assert button.inner_text().strip() == title
        assert button.evaluate(clipped) == 0, title  # no element of the button overflows (no ellipsis)
    # the text and the buttons agree: it had named 5 of the 10 with ids while 8 buttons stood below it
    expect(page.get_by_text(
        "line 2: 10 movies start with 'star wars'; the 8 best known are offered. Pick one, or type more of the title."
    )).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Star Wars"))).to_have_count(8)
    expect(page.get_by_text("(#260)")).to_have_count(0)
    assert list(context.blocked) == []
    context.close()


def teardown_module(module) -> None:
    if TIMINGS:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "e2e-timings.json").write_text(json.dumps(TIMINGS, indent=2))
        print("\n" + "\n".join(f"{key}: {value:.2f}" for key, value in TIMINGS.items()))


@pytest.mark.parametrize("size", [(1024, 768), (1920, 1080)], ids=["1024x768", "1920x1080"])
def test_movielens_charts_are_projector_ready(browser, server, size):
    """Tick labels of 12 px or more in a dark colour and a colour scale on every heatmap, on MovieLens
    after a forget, at a projector's sizes; a screenshot of each page at that size goes to artifacts/."""
    width, height = size
    context = guarded_context(browser, server, viewport={"width": width, "height": height})
    page = context.new_page()
    open_app(page, server, "movielens-small")
    forget_user(page, "User 86 (", "User 86")
    charts = page.locator("[data-testid=stPlotlyChart]")
    expect(charts).to_have_count(2)
    # the result and the charts' top row come into view by themselves: they began below the form, out of sight
    page.wait_for_function("""() => { const c = document.querySelector('[data-testid=stPlotlyChart]');
        return c && c.getBoundingClientRect().top < 0.6 * window.innerHeight; }""", timeout=10_000)
    message = page.get_by_text(re.compile(r"^Forgot User 86 \(")).bounding_box()
    assert 56 <= message["y"] and message["y"] + message["height"] <= height  # below the app's header bar
    # the five stages named on the slider, right of ❚❚ Pause: at 1,024 px "before" sat under it and "H", "C" were dropped
    chart = charts.first
    labels = chart.locator(".slider-label").evaluate_all("ns => ns.map(n => [n.textContent, n.getBoundingClientRect().left])")
    pause = chart.locator(".updatemenu-button").nth(1).bounding_box()
    assert [text for text, _ in labels] == ["before", "H", "n", "C", "S"]
    assert labels[0][1] >= pause["x"] + pause["width"]
    # Verify's label whole: beside the last change, in two-fifths of a 1,024 px column, it read "retrain from scratch an…"
    verify = page.get_by_role("button", name=VERIFY)
    assert verify.evaluate("b => [b, ...b.querySelectorAll('*')].filter(e => e.scrollWidth > e.clientWidth + 1).length") == 0
    for index, heatmaps in ((0, 3), (1, 2)):  # H, C, S; then ΔC, ΔS
        chart = charts.nth(index)
        chart.scroll_into_view_if_needed()
        expect(chart.locator(".colorbar")).to_have_count(heatmaps)
        styles = chart.locator(".xtick text, .ytick text").evaluate_all(
            "nodes => nodes.map(n => [parseFloat(getComputedStyle(n).fontSize), getComputedStyle(n).fill])")
        assert styles and min(size for size, _ in styles) >= 12
        assert {fill for _, fill in styles} == {"rgb(31, 31, 31)"}
    page.set_viewport_size({"width": width, "height": 4000})  # the main column scrolls inside: tall shows it whole
    for title in PAGES:
        goto(page, title)
        page.wait_for_function("document.fonts.status === 'loaded'")
        shot(page, f"projector-{width}x{height}-{title.lower().replace(' ', '-')}")
        if title == "About":  # every formula fits the column (at 1,024 px the similarity's scrolled sideways)
            wide = page.locator(".katex-display").evaluate_all(
                "nodes => nodes.filter(n => n.scrollWidth > n.clientWidth + 1).length")
            assert wide == 0
    blocked = list(context.blocked)
    context.close()
    assert blocked == []


def test_movielens_on_ease_forget_verify_and_recommend(browser, server):
    """A visitor picks EASE by its link, forgets a user, reads G and B with their scales, verifies,
    and opens Recommendations; nothing leaves the origin. Screenshots go to artifacts/."""
    context = guarded_context(browser, server, viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server}/?data=movielens-small&model=ease")
    expect(page.get_by_role("heading", name="Watch a recommender forget")).to_be_visible(timeout=120_000)
    wait_for_run(page)
    expect(page.get_by_text(re.compile(r"^EASE \(Steck, 2019\) keeps H"))).to_be_visible(timeout=60_000)
    TIMINGS["movielens on EASE: forget a typical user (User 86), click to finished page (s)"] = forget_user(page, "User 86 (", "User 86")
    charts = page.locator("[data-testid=stPlotlyChart]")
    expect(charts).to_have_count(2)
    expect(charts.first.get_by_text("B: weights (EASE, λ = 50)")).to_be_visible()
    for index, heatmaps in ((0, 3), (1, 2)):  # H, G, B; then ΔG, ΔB
        expect(charts.nth(index).locator(".colorbar")).to_have_count(heatmaps)
    # EASE scores movies 30 people watched: the 10-viewer tier narrows nothing, so the heading names no tier
    expect(page.get_by_text(re.compile(r"^The largest weight changes \(of [\d,]+ weights that changed\):$"))).to_be_visible()
    # after the sentence on pairs outside the charts, when there are such pairs
    expect(page.get_by_text(re.compile(r"This change moved [\d,]+ of the 777,042 weights of B"))).to_be_visible()
    shot(page, "20-movielens-ease-forgot-86")
    page.get_by_role("button", name=VERIFY).click()
    expect(page.get_by_text(re.compile(r"top-10 of 609 users: all equal"))).to_be_visible(timeout=120_000)
    assert "DIFFERENT" not in page.locator("[data-testid=stMain]").inner_text()
    goto(page, "Recommendations")
    expect(page.get_by_text(re.compile(r"^EASE, λ = 50: score of a movie j"))).to_be_visible()
    table = page.locator("[data-testid=stTable]")  # a static table: "because you watched" wraps, not cut
    expect(table.get_by_text("because you watched")).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(10)
    shot(page, "21-movielens-ease-recommendations")
    assert "model=ease" in page.url and errors == []
    blocked = list(context.blocked)
    context.close()
    assert blocked == []
