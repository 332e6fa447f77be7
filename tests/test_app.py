"""AppTest: every page and every flow of the dashboard, including bad input and isolation.

AppTest (Streamlit 1.67) drops the entry script's sidebar elements from its element tree on
reruns when the app uses st.navigation; a browser shows them on every run. So after the
first run these tests read the visitor's numbers from the workspace the sidebar renders, and
the sidebar itself is checked on the first run here and in the browser tests (tests/e2e).

Messages render user text escaped (see ``views.md``); :func:`plain` undoes the escaping to
compare what a visitor reads.
"""

from __future__ import annotations

import json
import re

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import ui_state

from amnesia.dashboard.views import md
from amnesia.dashboard.workspace import DEFAULT_NEIGHBOURS, DEFAULT_SCORING
from amnesia.device import runtime
from amnesia.device.export import model_version
from amnesia.engine.similarity import MEASURES
from ui_state import PAGES

from .conftest import ADD, APP, FORGET, RAW, VERIFY, current, errors, plain, space, start


def add(app: AppTest, name: str, typed: str = "", picked=()) -> AppTest:
    app.text_input(key=current(app, "forget.add_name")).input(name)
    app.text_area(key=current(app, "forget.add_typed")).input(typed)
    if picked:
        app.multiselect(key=current(app, "forget.add_picked")).set_value(list(picked))
    app.button(key=current(app, ADD)).click().run()
    assert not app.exception
    return app


def forget(app: AppTest, user) -> AppTest:
    app.selectbox(key=current(app, "forget.forget_choice")).set_value(user)
    app.button(key=current(app, FORGET)).click().run()
    assert not app.exception
    return app


def raw(app: AppTest, text: str) -> AppTest:
    app.text_area(key=current(app, "forget.raw_text")).input(text)
    app.button(key=current(app, RAW)).click().run()
    assert not app.exception
    return app


def verify(app: AppTest) -> AppTest:
    app.button[[b.label for b in app.button].index(VERIFY)].click().run()
    assert not app.exception
    return app


def chart(app: AppTest, index: int = 0) -> dict:
    return json.loads(app.get("plotly_chart")[index].proto.spec)


def totals(app: AppTest) -> tuple[int, int, int, int]:
    stats = space(app).stats()
    return stats.users, stats.items, stats.interactions, stats.time


# ---------------------------------------------------------------------- the forget page
def test_home_shows_the_toy_world_with_full_numbers():
    app = start()
    sidebar = [m.value for m in app.sidebar.markdown]
    assert "| Your model | |\n|:--|--:|\n| Users | 4 |\n| Movies watched | 5 |\n| Interactions | 11 |\n| Logical time | 0 |" in "\n".join(sidebar)
    assert [b.label for b in app.sidebar.get("button")] == ["Reset"]  # inside the expander "Reset my changes"
    assert app.sidebar.markdown[-1].value == "You have made no changes to Toy world; this clears every page's choices."
    assert app.title[0].value == "Watch a recommender forget"
    figure = chart(app)
    assert figure["data"][0]["y"] == ["Alice", "Bob", "Carla", "Dev"]
    assert "frames" not in figure  # nothing changed yet: a still picture
    assert app.multiselect(key="forget.add_picked").options == [  # all five, by id
        "Toy Story (1995)", "The Matrix (1999)", "Titanic (1997)", "The Godfather (1972)", "Finding Nemo (2003)"]
    assert any(plain(c.value).startswith("The whole world: every user and every movie. Shown: 5 of 5 movies and 4 of 4 users") for c in app.caption)


def test_toy_placeholder_lines_are_toy_movies():
    app = start()
    placeholder = app.text_area(key="forget.add_typed").placeholder
    assert placeholder == "The Matrix\nToy Story\n#2"
    assert [line.ok for line in space(app).preview_titles(placeholder)] == [True, True, True]


def test_typed_titles_preview_before_sending_and_the_message_names_the_movies():
    app = start()
    app.text_input(key="forget.add_name").input("Maya")
    app.text_area(key="forget.add_typed").input("toy story\nthe matirx\nnemo").run()
    shown = [plain(m.value) for m in app.markdown if "→" in m.value]
    assert shown == [
        ":green[:material/check:] toy story → **Toy Story (1995)** · #0 :gray[(title)]",
        ":green[:material/check:] the matirx → **The Matrix (1999)** · #1 :gray[(typo)]",
        ":green[:material/check:] nemo → **Finding Nemo (2003)** · #4 :gray[(words)]",
    ]
    assert totals(app)[3] == 0  # a preview sends nothing
    app.button(key=ADD).click().run()
    assert re.fullmatch(
        r"Added Maya with 3 movies in \d+\.\d\d ms: Toy Story \(1995\), The Matrix \(1999\), Finding Nemo \(2003\)\."
        r" Finding what changed in its 3 rows of C and S, for the charts below, took another \d+\.\d ms\.",
        plain(app.success[0].value),
    )
    assert totals(app) == (5, 5, 14, 1)
    figure = chart(app)
    assert [frame["name"] for frame in figure["frames"]] == ["before", "1 · H changes", "2 · n changes", "3 · C changes", "4 · S changes"]
    assert figure["data"][0]["y"][-1] == "Maya"
    forget(app, 4)
    assert re.fullmatch(
        r"Forgot Maya \(3 movies\) in \d+\.\d\d ms\."
        r" Finding what changed in its 3 rows of C and S, for the charts below, took another \d+\.\d ms\."
        r" Your Change log still shows their rows at earlier times; erase them there\.",
        plain(app.success[0].value),
    )
    assert totals(app)[0] == 4 and totals(app)[3] == 2
    assert 4 not in app.selectbox(key="forget.forget_choice").options


def test_typo_offers_candidates_per_line_and_changes_nothing():
    app = start()
    app.text_input(key="forget.add_name").input("Tom")
    app.text_area(key="forget.add_typed").input("toy story\ntitanic 2").run()
    problems = [plain(m.value) for m in app.markdown if m.value.startswith(":red[")]
    assert problems == [
        ":red[:material/close:] line 2: No movie matches 'titanic 2': no title with 'titanic' has the number 2. "
        "Did you mean this one?"  # the button below names it
    ]
    assert [plain(b.label) for b in app.button if (b.key or "").startswith("forget.candidate-")] == ["Titanic (1997)"]
    app.button(key=ADD).click().run()
    assert errors(app)[0] == ("Line 2: No movie matches 'titanic 2': no title with 'titanic' has the number 2. Did you "
                              "mean Titanic (1997) (#2)? Nothing was added.") and totals(app)[3] == 0
    app.button(key="forget.candidate-2-2").click().run()  # "Titanic (1997)" for line 2
    # its title and year, which name it alone (the box had read "#2", which meant little to an audience)
    assert app.text_area(key="forget.add_typed").value == "toy story\nTitanic (1997)"
    assert [plain(m.value) for m in app.markdown if m.value.startswith(":green[")][1] == (
        ":green[:material/check:] Titanic (1997) → **Titanic (1997)** · #2 :gray[(title)]")
    app.text_area(key="forget.add_typed").input("toy story\n#2").run()
    assert [plain(m.value) for m in app.markdown if m.value.startswith(":green[")][1] == (
        ":green[:material/check:] #2 → **Titanic (1997)** :gray[(id)]")  # the id once: it read "#2 → … · #2 (id)"
    app.button(key=ADD).click().run()
    assert plain(app.success[0].value).startswith("Added Tom with 2 movies in")


@pytest.mark.parametrize(
    "name, typed, message",
    [
        ("Alice", "toy story", "There is already a user called 'Alice'; pick another name."),
        ("ＡＬＩＣＥ", "toy story", "There is already a user called 'Alice' ('ＡＬＩＣＥ' counts as the same name: case, "
         "width and Unicode form are ignored); pick another name."),  # full-width look-alike
        ("Tom", "", "Pick at least one movie that Tom watched; the selection is empty."),
        ("", "titanic", "The user's name is empty; type a name such as 'Maya', of at most 60 characters."),
        ("Tom", "9" * 5000, "A typed title line has 5,000 characters; the limit is 200. Type one title per line. Nothing was changed."),
        ("Tom", "#" + "9" * 4400, "A typed title line has 4,401 characters; the limit is 200. Type one title per line. Nothing was changed."),
        ("Tom", "#99999999999", "Line 1: No movie has an id with 11 digits; ids have at most 10. Nothing was added."),
        ("Tom", "#²", "Line 1: '#²' is not an id: write an id as # and the digits 0-9, e.g. #42. Nothing was added."),
    ],
)
def test_bad_additions_show_a_message_and_change_nothing(name, typed, message):
    app = start()
    before = space(app).model.fingerprint()
    add(app, name, typed)
    assert errors(app)[-1] == message
    assert totals(app)[3] == 0 and space(app).model.fingerprint() == before


def test_too_many_titles_are_refused_once_with_how_many_and_no_internal_name():
    """500 pasted titles showed "At least 201 title lines were typed; the limit is 200 (typed_lines)…"
    twice: over the button (the preview) and under it (the click), with the limit's code name."""
    app = start()
    add(app, "Tom", "toy story\n" * 500)
    assert errors(app) == ["500 title lines were typed; the limit is 200. Add the rest in another request. Nothing was "
                           "changed."]
    assert totals(app)[3] == 0


def test_forget_needs_a_choice_and_initial_users_can_be_forgotten():
    app = start()
    app.button(key=FORGET).click().run()
    assert errors(app) == ["Pick a user to forget first."]
    forget(app, 0)
    caption = next(plain(c.value) for c in app.caption if "Shown:" in plain(c.value))
    # Finding Nemo lost its only viewer: it stays in the picture but is not counted as a movie anyone watches
    assert caption.endswith(
        "Shown: 4 of 4 movies (plus Finding Nemo, which nobody watches now) and 3 of 3 users, plus Alice, now gone."
    )
    # pairs, beside a chart of S that counts cells: both halves, and Finding Nemo's diagonal (1 → 0)
    assert [m.value for m in app.markdown if "largest" in m.value] == [
        "**The largest similarity changes** (of 8 pairs of movies that changed):"]
    assert "17 of 25 cells changed" in json.dumps(chart(app, 0))
    forget(app, 1)
    assert totals(app)[0] == 2
    assert [plain(i.value) for i in app.info] == [
        "Titanic (1997), Finding Nemo (2003) have no interactions left, so n = 0 and their similarity to every "
        "movie is 0 (never a division by zero)."
    ]


@pytest.mark.parametrize(("data", "example"), [
    ("toy", '{"change": "Remove", "interactions": [[0, 0], [0, 1]]}'),
    ("movielens-small", '{"change": "Remove", "interactions": [[1, 1], [1, 3]]}'),  # MovieLens's user 1 has no movie 2
])
def test_the_raw_request_tabs_example_is_accepted_as_it_stands(data, example):
    app = start(data)
    assert app.text_area(key="forget.raw_text").value == example
    app.button(key=RAW).click().run()
    assert not app.exception and errors(app) == []
    user = json.loads(example)["interactions"][0][0]
    # a named user is called as the charts and the Forget list call them, with the id the request used
    whom = {"toy": "Alice (User 0)", "movielens-small": "User 1"}[data]
    assert plain(app.success[0].value).startswith(f"Removed 2 interactions of {whom} (raw request) in")
    # the box keeps what was applied: it offered the next example, and a visitor's further clicks removed two
    # more of the user's movies each, requests they never typed
    assert app.text_area(key="forget.raw_text").value == example
    interactions = totals(app)[2]
    app.button(key=RAW).click().run()
    assert errors(app)[0].startswith("Cannot remove 2 interactions that do not exist") and totals(app)[2] == interactions


def test_the_raw_request_example_follows_the_model_and_leaves_typed_text_alone():
    app = forget(start(), 0)  # Alice, the first user: an example from the starting data would be refused
    assert app.text_area(key="forget.raw_text").value == '{"change": "Remove", "interactions": [[1, 1], [1, 2]]}'
    raw(app, '{"change": "Remove", "interactions": [[2, 2]]}')  # typed by the visitor, and refused
    assert errors(app) and app.text_area(key="forget.raw_text").value == '{"change": "Remove", "interactions": [[2, 2]]}'
    forget(app, 1)
    assert app.text_area(key="forget.raw_text").value == '{"change": "Remove", "interactions": [[2, 2]]}'  # still theirs


def test_raw_requests_say_exactly_what_changed():
    app = raw(start(), '{"change": "Remove", "interactions": [[1, 1], [1, 2]]}')
    assert plain(app.success[0].value).startswith("Removed 2 interactions of Bob (User 1) (raw request) in")
    raw(app, '{"change": "Remove", "interactions": [[1, 1]]')
    assert errors(app)[0].startswith("The request is not valid JSON")
    raw(app, '{"change": "Remove", "interactions": [[1, 1]]}')
    assert errors(app) == [
        "Cannot remove an interaction that does not exist: [1, 1]. Nothing was changed; remove only interactions the model has."
    ]
    assert totals(app)[3] == 1
    # a known interaction: accepted, but nothing changed; the log says so
    raw(app, '{"change": "Add", "interactions": [[0, 0]]}')
    assert plain(app.info[0].value) == (
        "Nothing changed: the model already has that interaction: [0, 0] (raw request). The model's time still moved "
        "to t = 2."
    )
    raw(app, '{"change": "Add", "interactions": []}')
    assert plain(app.info[0].value).startswith("Nothing changed: the request lists no interactions (raw request).")
    assert [(e.kind, e.noop is not None) for e in space(app).log] == [("raw", False), ("raw", True), ("raw", True)]
    raw(app, '{"change": "Add", "interactions": [[0, 0], [0, 3]]}')
    assert plain(app.success[0].value).startswith("Added 1 interaction of Alice (User 0); 1 was there already (raw request)")


def test_hostile_raw_requests_are_refused_before_work():
    app = start()
    for text, message in [
        ("[" * 100_000, "The request is nested 100,000 levels deep; the limit is 4."),  # the box holds 100,000
        ("[" * 5_000, "The request is nested 5,000 levels deep; the limit is 4."),
        ('{"change": "Add", "interactions": [[1, ' + "9" * 5000 + "]]}", "The request has a number with 5000 digits"),
        ('{"change": "Add", "interactions": [[1, 1]], "x": 1}', "The request has an unknown field 'x'"),
    ]:
        raw(app, text)
        assert errors(app)[0].startswith(message.split(";")[0]), errors(app)
    assert totals(app)[3] == 0


def test_a_new_user_after_the_largest_id_stays_in_range_and_verify_works():
    """After a raw add of user 2147483647, Add user used to give 2147483648 and Verify raised."""
    app = raw(start(), '{"change": "Add", "interactions": [[2147483647, 0]]}')
    add(app, "Maya", "titanic")
    maya = space(app).catalog.find_user("Maya")
    assert maya is not None and 0 <= maya <= 2**31 - 1 and maya not in (0, 1, 2, 3, 2147483647)
    verify(app)
    assert "fingerprints :material/verified: identical" in app.success[-1].value


def test_verify_shows_the_certificate():
    app = verify(forget(start(), 2))
    message = app.success[-1].value
    assert "Last incremental update: **" in message and "fingerprints :material/verified: identical" in message


def test_the_users_a_visitor_added_come_first_in_user_to_forget():
    """A presenter who had just added Ms Teacher found her last, after 610 MovieLens users."""
    app = add(add(start(), "Maya", "titanic"), "Ms Teacher", "toy story")
    choice = app.selectbox(key=current(app, "forget.forget_choice"))
    maya = space(app).catalog.find_user("Maya")
    assert choice.options[:3] == ["Ms Teacher (1 movie)", "Maya (1 movie)", "Alice (4 movies)"]
    forget(app, maya)
    assert app.selectbox(key=current(app, "forget.forget_choice")).options[:2] == ["Ms Teacher (1 movie)", "Alice (4 movies)"]


def test_the_certificate_stays_until_the_model_changes():
    """It vanished at the next click of any widget (a presenter's pass: moving "Movies in the
    charts" or opening Reset took the proof away while it was being explained)."""
    app = verify(forget(start(), 2))
    certified = [m.value for m in app.success if "fingerprints" in m.value]
    assert len(certified) == 1
    app.run()  # what any other widget's click does: the script runs again
    assert [m.value for m in app.success if "fingerprints" in m.value] == certified
    forget(app, 1)  # a new model: the certificate was about the old one
    assert not [m.value for m in app.success if "fingerprints" in m.value]
    assert verify(app).success[-1].value != certified[0]


def test_names_are_shown_as_text_everywhere():
    app = start()
    hostile = "![t](http://127.0.0.1:9/p.png) <a href=x>y</a> :red[x] $x^2$"
    add(app, hostile, "titanic")
    assert plain(app.success[0].value).startswith(f"Added {hostile} with 1 movie in")
    source = app.success[0].value
    assert md(hostile) in source  # every punctuation mark escaped, links broken
    assert re.search(r"(?<!\\)[!\[\]<>$:]", md(hostile)) is None
    spec = json.dumps(chart(app), ensure_ascii=False)
    assert "<a href=x>" not in spec and "&lt;a href=x&gt;y&lt;/a&gt;" in spec


def test_two_visitors_do_not_see_each_other():
    first, second = start(), start()
    add(first, "Maya", "toy story")
    forget(first, 1)
    second.run()
    assert totals(second) == (4, 5, 11, 0)
    assert "Maya" not in json.dumps(chart(second))
    assert list(second.selectbox(key="forget.forget_choice").options) == [
        "Alice (4 movies)", "Bob (2 movies)", "Carla (3 movies)", "Dev (2 movies)"
    ]


def test_no_download_is_deferred(monkeypatch):
    """Deferred download callables kept ended sessions' workspaces alive: every download gets bytes or text."""
    import streamlit

    seen = []
    real = streamlit.download_button

    def spy(label, data, *args, **kwargs):
        seen.append((label, callable(data)))
        return real(label, data, *args, **kwargs)

    monkeypatch.setattr(streamlit, "download_button", spy)
    app = add(start(), "Maya", "toy story")
    assert [e.proto.expanded for e in app.expander if e.label == "Download the full matrices"] == [False]
    app.button(key="forget.prepare").click().run()
    # open with its buttons: the click that prepared them had closed it, so the buttons sat out of sight
    assert [e.proto.expanded for e in app.expander if e.label == "Download the full matrices"] == [True]
    app.switch_page("app_pages/change_log.py").run()
    # a toy session's kilobyte had read "about 0.0 MB"
    assert app.button(key="change_log.prepare").label == "Prepare the full change stream: about 1.2 kB (11 records)"
    app.button(key="change_log.prepare").click().run()
    assert not app.exception
    labels = {label for label, _ in seen}
    assert {"H: all interactions (CSV)", "n: every movie's count, zeros included (CSV)", "C and S of the window (CSV)",
            "Download the request log (JSON lines)"} <= labels
    assert "Download the full change stream (1.0 kB)" in labels
    assert not any(deferred for _, deferred in seen)


# ---------------------------------------------------------------------- change log
def test_change_log_shows_names_titles_and_no_none():
    app = start()
    app.switch_page("app_pages/change_log.py").run()
    assert app.info[0].value.startswith("No changes yet.")
    app.switch_page("app_pages/forget.py").run()
    forget(app, 1)
    app.switch_page("app_pages/change_log.py").run()
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table.columns) == ["time", "collection", "change", "value", "entry"]
    assert table[table["collection"] == "interactions"].values.tolist() == [
        [1, "interactions", "-1", "watched", "Bob (#1) × The Matrix (1999) (#1)"],  # the old value, retracted
        [1, "interactions", "-1", "watched", "Bob (#1) × Titanic (1997) (#2)"],
    ]
    assert not table.isna().any().any() and "None" not in table.to_string()
    assert [c.value for c in app.caption].count(f"{len(table)} of {len(table)} records.") == 1


def test_a_past_time_that_shows_a_forgotten_user_says_why_and_erasing_removes_them():
    """A visitor forgot Ana, moved the Change log to a time before, saw her movies and asked whether
    she was forgotten at all: the page answers where her row is shown, and its button erases her
    from the log too (the model had already forgotten her)."""
    app = add(start(), "Ana", "toy story\ntitanic")
    forget(app, 4)
    assert plain(app.success[0].value).endswith(
        "Your Change log still shows their rows at earlier times; erase them there.")
    app.switch_page("app_pages/change_log.py").run()
    assert [i.value for i in app.info] == []  # now (t = 2): she is gone from the chart
    assert [plain(m.value) for m in app.markdown if "still in this log" in m.value] == [
        "**Forgotten, but still in this log:** Ana (forgotten at t = 2). The model has no trace of them, yet this log of "
        "what you did still shows their rows at earlier times, in the records below and in the export. Erasing replays "
        "the log without their rows, as a service must also purge its logs and backups: each change keeps its time, "
        "without their part (a change that was only about them stays, emptied), and every later record is recomputed "
        "without them."]
    assert "Ana (#4)" in " ".join(app.dataframe[0].value["entry"])
    app.select_slider(key="change_log.at").set_value(1).run()
    assert not app.exception
    assert [plain(i.value) for i in app.info] == [
        "Ana was not forgotten yet at t = 1 (forgotten at t = 2). Past times are replayed from your session's own log of "
        "what you did, which keeps the rows of Ana until you erase them from it (above), reset your changes or close the "
        "session; nobody else sees it. The model itself has no trace of them: Verify on the Forget page compares it "
        "with a retrain."]
    app.select_slider(key="change_log.at").set_value(0).run()
    assert [i.value for i in app.info] == []  # before she was added: no row of hers
    # her row of zeros in the first change's window is no user yet (the caption read "5 of 4 users")
    assert [plain(c.value) for c in app.caption if "Shown" in c.value] == [
        "Before any change (the window of t = 1: Added Ana with 2 movies). The whole world: every user and every movie. "
        "Shown: 5 of 5 movies and 4 of 4 users, plus Ana, added at t = 1."]
    app.select_slider(key="change_log.at").set_value(1).run()
    before = space(app).model.fingerprint()
    app.button(key="change_log.erase").click().run()
    assert not app.exception
    assert [plain(s.value) for s in app.success] == [
        "Erased Ana (forgotten at t = 2) from this log: 2 changes named them; those and every change after their first "
        "were replayed without their rows, each at its time. The model is the same as before: it had already forgotten "
        "them."]
    assert space(app).model.fingerprint() == before
    # the time shown stays the one the visitor was looking at, now without her (cleared, the slider kept
    # showing t = 1 above the latest time's chart)
    assert app.select_slider(key=current(app, "change_log.at")).value == 1
    assert "t = 1: Added a user, since erased from this log" in json.dumps(app.get("plotly_chart")[0].proto.spec)
    assert not [m for m in app.markdown if "still in this log" in m.value]
    assert "Ana" not in app.dataframe[0].value.to_string() and "#4)" not in app.dataframe[0].value.to_string()
    assert [e.label for e in space(app).log] == ["t = 1: Added a user, since erased from this log",
                                                 "t = 2: Forgot a user, since erased from this log"]
    assert [i.value for i in app.info] == [] and not app.exception
    app.switch_page("app_pages/recommendations.py").run()
    assert app.info[-1].value == ("Forget a user on the Forget page to see whose recommendations change. A forget erased "
                                  "from the change log is gone from here too: the rewritten log never had its user.")


def test_erasing_names_users_as_text_and_tells_two_of_one_name_apart():
    app = add(start(), "**Bo** $x$", "toy story")
    forget(app, 4)
    app = add(app, "Ana", "titanic")
    forget(app, 5)
    app.switch_page("app_pages/change_log.py").run()
    box = app.selectbox(key="change_log.erase_choice")
    assert list(box.options) == ["**Bo** $x$ (forgotten at t = 2)", "Ana (forgotten at t = 4)"]
    app.button(key="change_log.erase").click().run()
    assert not app.exception
    # Markdown, the name escaped: it had been drawn bold and as a formula
    assert app.success[0].value.startswith("Erased \\*\\*Bo\\*\\* \\$x\\$ \\(forgotten at t \\= 2\\) from this log:")
    assert plain(app.success[0].value).startswith("Erased **Bo** $x$ (forgotten at t = 2) from this log:")
    assert app.button(key=current(app, "change_log.erase")).label == "Erase Ana from this log"


def test_a_forgotten_user_of_the_starting_data_is_explained_not_offered_for_erasing():
    app = forget(start(), 1)
    assert "Change log" not in app.success[0].value  # the starting data is every visitor's: nothing of theirs to erase
    app.switch_page("app_pages/change_log.py").run()
    assert not [m for m in app.markdown if "still in this log" in m.value]
    app.select_slider(key="change_log.at").set_value(0).run()
    assert [plain(i.value) for i in app.info] == [
        "Bob was not forgotten yet at t = 0 (forgotten at t = 1). Bob is in the starting data every visitor begins with, "
        "which past times are replayed from. The model itself has no trace of them: Verify on the Forget page compares "
        "it with a retrain."]


def test_the_change_log_slider_opens_on_the_latest_time_of_another_models_log():
    """At t = 3 in item-CF's log, a switch to EASE (whose log ends at t = 1) showed t = 0: the
    page's kept time was not in the new log, and Streamlit fell back to the first."""
    app = start()
    app.selectbox(key="app.model").set_value("ease").run()
    add(app, "Xe", "toy story")
    app.selectbox(key="app.model").set_value("item-cf").run()
    for user in (1, 2, 3):
        forget(app, user)
    app.switch_page("app_pages/change_log.py").run()
    app.select_slider(key=current(app, "change_log.at")).set_value(3).run()
    app.selectbox(key="app.model").set_value("ease").run()
    assert not app.exception and app.select_slider(key=current(app, "change_log.at")).value == 1
    assert json.loads(app.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"].startswith("t = 1: Added Xe")


def test_change_log_item_filter_takes_ascii_digits_only():
    app = forget(start(), 1)
    app.switch_page("app_pages/change_log.py").run()
    for text in ("²", "٣", "1e3", "x" * 50):
        app.text_input(key="change_log.item").input(text).run()
        assert not app.exception
        assert plain(app.warning[0].value) == (f"{text[:40]!r} is not an item id: type digits 0-9 such as 2571 or #2571, at most "
                                               "2,147,483,647 (titles can be looked up on the Forget page). "
                                               "Meanwhile every item's records are shown.")
        assert len(app.dataframe[0].value) == 20  # all of them, as it says (a visitor read them as filtered)
    app.text_input(key="change_log.item").input("2").run()
    assert set(app.dataframe[0].value["entry"].str.contains("Titanic")) == {True}
    shown = app.dataframe[0].value
    app.text_input(key="change_log.item").input("#2").run()  # as the records write it: "Titanic (1997) (#2)"
    assert not app.warning and app.dataframe[0].value.equals(shown)


def test_request_log_export_and_import_restore_a_session():
    app = add(start(), "Maya", "toy story\ntitanic")
    forget(app, 1)
    app.switch_page("app_pages/change_log.py").run()
    exported = space(app).request_log()
    fingerprint = space(app).model.fingerprint()
    assert exported.splitlines() == [
        '{"change": "Add", "interactions": [[4, 0], [4, 2]]}',
        '{"change": "Remove", "interactions": [[1, 1], [1, 2]]}',
    ]
    fresh = start()
    fresh.switch_page("app_pages/change_log.py").run()
    fresh.text_area(key="change_log.pasted").input(exported)
    fresh.button(key="change_log.import").click().run()
    assert not fresh.exception
    assert plain(fresh.success[0].value) == "Imported 2 requests: the model is at t = 2."
    # the section stays open to show its result and the next try's error (it closed once the log had changes)
    assert [e.proto.expanded for e in fresh.expander if e.label.startswith("Import")] == [True]
    assert space(fresh).model.fingerprint() == fingerprint
    fresh.text_area(key=current(fresh, "change_log.pasted")).input('{"change": "Add", "interactions": [[9, 0]]}\n{"oops"')
    fresh.button(key=current(fresh, "change_log.import")).click().run()
    assert errors(fresh)[0].startswith("Line 2 of the request log: The request is not valid JSON")
    assert [e.proto.expanded for e in fresh.expander if e.label.startswith("Import")] == [True]
    fresh.run()  # the pasted text is still there to fix: open (a chosen file closed it over its own button)
    assert [e.proto.expanded for e in fresh.expander if e.label.startswith("Import")] == [True]
    fresh.text_area(key=current(fresh, "change_log.pasted")).input("").run()
    # nothing more to say: closed again, below a log with changes
    assert [e.proto.expanded for e in fresh.expander if e.label.startswith("Import")] == [False]
    assert space(fresh).model.fingerprint() == fingerprint  # all or nothing
    # nothing chosen, as after a file over the upload limit (the browser refuses it and sends nothing): not "empty"
    fresh.button(key=current(fresh, "change_log.import")).click().run()
    assert errors(fresh) == ["There is nothing to import: choose a request log file (at most 5 MB; a larger one is "
                             "refused and marked in red) or paste the log, then import. Nothing was changed."]
    assert space(fresh).model.fingerprint() == fingerprint


def test_full_export_of_a_heavy_forget_is_refused_with_a_pointer_to_the_cli():
    app = start("movielens-small")
    assert "| Interactions | 100,836 |" in "\n".join(m.value for m in app.sidebar.markdown)  # whole, not "100,…"
    forget(app, 414)
    app.switch_page("app_pages/change_log.py").run()
    assert not app.exception
    assert not app.warning
    notice = plain(app.info[0].value)
    assert notice.startswith("The full change stream would be about 2.8 GB (24,553,442 records); the app exports at most 20 MB.")
    assert [c.value for c in app.code] == [
        "python -m amnesia stream --data movielens-small --changes-only < amnesia-movielens-small-requests.jsonl > stream.jsonl"]
    assert [b.label for b in app.get("download_button")] == ["Download the request log (JSON lines)"]


# ---------------------------------------------------------------------- recommendations, about, reset
def recommended(app: AppTest) -> list[str]:
    """The Recommendations page's movies, as a visitor reads them (its table's cells are Markdown)."""
    return [plain(title) for title in app.table[0].value["movie"]]


def test_a_short_list_of_recommendations_says_why_in_the_models_terms():
    """One movie watched gave one recommendation under a heading of ten: with lists read candidate-wise,
    a movie scores only when one of the user's movies is among its own K most similar."""
    app = add(start("movielens-small"), "Tom", "toy story")
    app.switch_page("app_pages/recommendations.py").run()
    # the page opens on the user just added (a presenter who had added Ana found User 1 there)
    assert app.selectbox(key="recommendations.user_widget").value == 611
    assert not app.exception and recommended(app) == ["Toy Story 2 (1999)"]
    assert (f"Only 1 movie has one of this user's movies among its {DEFAULT_NEIGHBOURS} most similar movies, so the list "
            "is shorter than 10.") in [c.value for c in app.caption]


def test_the_recommendations_page_says_when_its_user_was_forgotten():
    app = start()
    app.switch_page("app_pages/recommendations.py").run()
    app.selectbox(key="recommendations.user_widget").set_value(1).run()
    app.switch_page("app_pages/forget.py").run()
    forget(app, 1)
    app.switch_page("app_pages/recommendations.py").run()
    assert not app.exception and app.selectbox(key="recommendations.user_widget").value == 0
    assert "Bob, shown here before, was forgotten at t = 1: now showing Alice (4 movies)." in [
        plain(c.value) for c in app.caption]


def test_the_recommendations_page_says_when_the_user_it_opened_on_was_forgotten():
    """Not picked, only opened on (the user added last): forgetting them had switched users silently."""
    app = add(start(), "Maya", "toy story")
    app.switch_page("app_pages/recommendations.py").run()
    assert app.selectbox(key="recommendations.user_widget").value == 4
    app.switch_page("app_pages/forget.py").run()
    forget(app, 4)
    app.switch_page("app_pages/recommendations.py").run()
    assert not app.exception and app.selectbox(key="recommendations.user_widget").value == 0
    note = "Maya, shown here before, was forgotten at t = 2: now showing Alice (4 movies)."
    assert note in [plain(c.value) for c in app.caption]
    app.selectbox(key="recommendations.forget_widget").set_value(2).run()  # another widget: the note stays
    assert note in [plain(c.value) for c in app.caption]
    app.selectbox(key="recommendations.user_widget").set_value(3).run()  # a pick ends it
    assert note not in [plain(c.value) for c in app.caption]


def test_the_recommendations_note_gives_the_latest_forget_of_a_user_forgotten_twice():
    """Raw requests removed Bob, added him back and removed him again: the note named t = 1."""
    app = start()
    app.switch_page("app_pages/recommendations.py").run()
    app.selectbox(key="recommendations.user_widget").set_value(1).run()
    app.switch_page("app_pages/forget.py").run()
    for change in ("Remove", "Add", "Remove"):
        raw(app, f'{{"change": "{change}", "interactions": [[1, 1], [1, 2]]}}')
    app.switch_page("app_pages/recommendations.py").run()
    assert not app.exception
    assert [plain(c.value) for c in app.caption if "shown here before" in c.value] == [
        "User 1, shown here before, was forgotten at t = 3: now showing Alice (4 movies)."]


def test_recommendations_page_remembers_its_user_and_shows_the_forget_effect():
    app = start()
    app.switch_page("app_pages/recommendations.py").run()
    assert not app.exception
    assert recommended(app) == ["The Godfather (1972)"]  # Alice saw everything else
    assert "Only 1 movie in the model is not among this user's, so the list is shorter than 10." in [c.value for c in app.caption]
    assert app.info[-1].value.startswith("Forget a user on the Forget page")
    app.selectbox(key="recommendations.user_widget").set_value(3).run()
    app.switch_page("app_pages/forget.py").run()
    forget(app, 1)
    app.switch_page("app_pages/recommendations.py").run()
    assert not app.exception
    assert app.selectbox(key="recommendations.user_widget").value == 3  # Dev, remembered
    effect = space(app).forget_effect(space(app).log[-1])
    assert any(
        m.value == f"Of the 3 users with the largest share of their movies that Bob also watched, **{len(effect.reordered)}** "
        f"got other movies or another order in their top 5, and **{len(effect.changed) - len(effect.reordered)}** only other scores."
        for m in app.markdown
    )
    # the toy world's lists after forgetting Bob keep their movies: no marks, so no legend
    assert not any(change.left or change.entered for change in effect.changed)
    captions = [c.value for c in app.caption if c.value.startswith(("Before forgetting", "After forgetting"))]
    assert captions == ["Before forgetting", "After forgetting"] * min(6, len(effect.changed)) and captions


def test_the_forget_effects_counts_add_up_to_the_users_compared():
    """"Of the 12 users …, 0 got other movies … and 11 only other scores" left one user unexplained (a presenter's
    pass): a user whose list stayed the same is counted too."""
    app = start()
    forget(app, 3)  # Dev
    app.switch_page("app_pages/recommendations.py").run()
    effect = space(app).forget_effect(space(app).log[-1])
    assert (effect.examined, len(effect.changed), len(effect.reordered)) == (3, 2, 0)
    assert ("Of the 3 users with the largest share of their movies that Dev also watched, **0** got other movies or "
            "another order in their top 5, **2** only other scores, and **1** the same list, scores and all.") in [
        m.value for m in app.markdown]


def test_the_charts_tell_a_presenter_how_to_make_them_larger():
    """At 1,024 px with the sidebar open the four panels were ~110 px wide, and its « is shown on hover only."""
    app = forget(start(), 1)
    play = [c.value for c in app.caption if c.value.startswith("Press ▶ Play")]
    assert len(play) == 1 and play[0].endswith(" Hide the sidebar (« at its top) for larger charts.")


def test_the_forget_effect_says_which_lists_it_shows_when_more_changed():
    """The sentence counted 9 changed lists (a presenter's forget) and six cards followed with no word on which."""
    app = forget(start("movielens-small"), 414)
    app.switch_page("app_pages/recommendations.py").run()
    assert not app.exception
    effect = space(app).forget_effect(space(app).log[-1])
    assert len(effect.changed) > 6
    assert (f"The first 6 of these {len(effect.changed)} changed lists: those with other movies or another order first; "
            "within each, the most exposed user first.") in [c.value for c in app.caption]
    assert sum(c.value.startswith("Before forgetting") for c in app.caption) == 6


def test_every_forget_effect_card_shows_what_changed_in_it():
    """EASE's scores often move by less than 0.0005: a card listed as changed read the same on both sides at 3
    decimals (User 340 after forgetting User 414, a visitor's pass). Each card shows the decimals that tell its
    lists apart."""
    app = AppTest.from_file(str(APP), default_timeout=180)
    app.query_params.update(data="movielens-small", model="ease")
    app.run()
    add(app, "Maya", "Toy Story (1995)\nThe Matrix (1999)\nFight Club (1999)\nAmelie (2001)")
    forget(app, 414)
    app.switch_page("app_pages/recommendations.py").run()
    assert not app.exception
    effect = space(app).forget_effect(space(app).log[-1])
    assert len(effect.changed) == 12 and not effect.reordered  # every list kept its movies and order
    assert [change.user for change in effect.changed[:6]] == [399, 133, 498, 196, 77, 340]
    cards = [m.value for m in app.markdown if m.value.startswith("1. ")]
    pairs = dict(zip([399, 133, 498, 196, 77, 340], zip(cards[::2], cards[1::2])))
    assert len(cards) == 12 and all(before != after for before, after in pairs.values()), pairs
    # User 340's scores moved in the fourth decimal: 0.734 on both sides at three
    decimals = {len(line.rsplit(" · ", 1)[1].split(".")[1]) for card in pairs[340] for line in card.splitlines()}
    assert decimals == {4}, pairs[340]
    assert {len(line.rsplit(" · ", 1)[1].split(".")[1]) for card in pairs[399] for line in card.splitlines()} == {3}


def test_the_forget_effect_never_shows_the_lists_of_users_forgotten_since():
    """Forget Alice, then Bob, Carla and Dev: t = 1's effect showed "User 1", "User 2" and "User 3"
    with full before/after lists while the sidebar said 0 users (a visitor's finding): the
    recommendations of people who asked to be forgotten, kept on screen under bare ids."""
    app = start()
    for user in (0, 1, 2, 3):
        forget(app, user)
    app.switch_page("app_pages/recommendations.py").run()
    app.selectbox(key="recommendations.forget_widget").set_value(1).run()
    assert not app.exception
    first = space(app).log[0]
    effect = space(app).forget_effect(first)
    assert {change.user for change in effect.changed} == {1, 2, 3}  # all three were exposed to Alice's forget
    assert space(app).forgotten_since(first) == {1, 2, 3}
    assert app.info[0].value == "No users are left in this model: add one on the Forget page to see their recommendations."
    boxes = [m.value for m in app.markdown if re.fullmatch(r"\*\*.+\*\*", m.value)]
    assert boxes == [] and not [c for c in app.caption if c.value.startswith(("Before forgetting", "After forgetting"))]
    assert "3 of these users have been forgotten since; their lists are not shown." in [c.value for c in app.caption]
    app.selectbox(key="recommendations.forget_widget").set_value(3).run()  # Carla's: Dev is gone since, no one else left
    assert "1 of these users has been forgotten since; that list is not shown." in [c.value for c in app.caption]


def _reset_script():
    import streamlit as st

    import ui_state
    from amnesia.dashboard.workspace import Workspace, shared_base

    ui_state.apply_later()  # as app.py does first: Reset's clearing is queued for the run after its click
    workspace = ui_state.workspace_for("toy", "jaccard", None, lambda: Workspace(*shared_base("toy")))
    if not st.session_state.get("done"):
        workspace.add_user("Maya", typed="toy story")
        for page in ui_state.PAGES:
            ui_state.put(page.key, "something", 1)
        st.session_state["done"] = True
    st.button("Reset", on_click=ui_state.reset, key="app.reset")
    st.write(f"time {workspace.model.time}")


def test_reset_clears_every_pages_state_and_the_changes():
    app = AppTest.from_function(_reset_script, default_timeout=60).run()
    assert app.markdown[0].value == "time 1"
    assert all(f"{page.key}.something" in app.session_state for page in PAGES)
    app.button(key="app.reset").click().run()
    assert not app.exception
    assert app.markdown[0].value == "time 0"
    for page in PAGES:
        assert f"{page.key}.something" not in app.session_state
    assert app.session_state["done"] is True  # keys outside the pages are not the pages' to clear


def test_resets_give_widgets_new_keys_and_leave_none_of_the_old_behind():
    """A cleared page's widgets get keys of a new generation, so the browser shows their defaults
    (with only deleted keys it kept a typed name and sent it back); the old keys, a form's button's
    included, go, so twenty Resets leave what one does."""
    app = start()
    for page in ("app_pages/change_log.py", "app_pages/recommendations.py", "app_pages/forget.py"):
        app.switch_page(page).run()
    app.text_input(key="forget.add_name").input("Zed").run()
    reset = lambda: app.button(key="app.reset").click().run()
    reset()
    assert app.text_input(key="forget.add_name~1").value == "" and "forget.add_name" not in app.session_state
    state = app.session_state._state  # Streamlit's own session state, behind AppTest's view of it
    mapped = getattr(state, "_state", state)._key_id_mapper._key_id_mapping  # its key -> widget map
    once = len(mapped)
    for _ in range(19):
        reset()
    assert not app.exception and len(mapped) == once  # it grew by 2 per Reset: a form's button's key stayed
    assert current(app, "forget.add_name") == "forget.add_name~20"


def _widget_records(app) -> dict:
    """Streamlit's own record of every widget of the session (labels of select-box options included)."""
    state = app.session_state._state
    return getattr(state, "_state", state)._new_widget_state.widget_metadata


def _labels_naming(app, name: str) -> list[str]:
    return [str(option) for record in _widget_records(app).values()
            for option in (getattr(record, "formatted_options", None) or []) if name in str(option)]


def test_an_erased_user_leaves_no_label_in_the_servers_widget_records():
    """Streamlit keeps a widget's option labels until that widget is drawn again; the widgets an
    erase retired never are, so "Zelphinaqq (2 movies)" stayed in the session after her erase."""
    app = add(start(), "Zelphinaqq", "toy story\ntitanic")
    app.switch_page("app_pages/recommendations.py").run()  # opens on her, the user added last
    app.switch_page("app_pages/forget.py").run()
    forget(app, 4)
    app.switch_page("app_pages/recommendations.py").run()
    app.selectbox(key="recommendations.forget_widget").set_value(2).run()
    app.switch_page("app_pages/change_log.py").run()
    assert _labels_naming(app, "Zelphinaqq")  # the test can see them: in the boxes of three pages
    app.button(key=current(app, "change_log.erase")).click().run()
    for page in ("forget", "recommendations", "private", "change_log"):
        app.switch_page(f"app_pages/{page}.py").run()
    assert not app.exception and space(app).erasable() == []
    assert _labels_naming(app, "Zelphinaqq") == []


def test_resets_leave_as_many_widget_records_as_one_reset():
    """And Reset: each left ten more records behind, the typed users' names in their labels."""
    app = start()
    reset = lambda: app.button(key="app.reset").click().run()
    counts = []
    for round_ in range(6):
        add(app, f"Visitor{round_}", "toy story")
        for page in ("app_pages/recommendations.py", "app_pages/change_log.py", "app_pages/forget.py"):
            app.switch_page(page).run()
        reset()
        counts.append(len(_widget_records(app)))
        assert not app.exception and _labels_naming(app, "Visitor") == []
    assert len(set(counts)) == 1, counts


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.key)
def test_every_page_opens_from_the_navigation(page):
    """The smoke test over the registry: every page renders its heading and no traceback."""
    app = start()
    app.switch_page(page.file).run()
    assert not app.exception
    assert app.title[0].value == page.heading


def test_reset_in_the_sidebar_clears_the_lab_and_the_private_page(monkeypatch):
    """Reset left "Your quick run (toy, N = 3)" on the Lab page: every page's state goes."""
    monkeypatch.setattr(runtime, "local_runtime_ready", lambda folder=None: True)  # AppTest loads no runtime
    app = start()
    app.switch_page("app_pages/lab.py").run()
    lab_result = json.loads((APP.parent / "docs" / "lab.json").read_text(encoding="utf-8"))
    lab_result["config"]["quick"] = True
    app.session_state["lab.run"] = lab_result  # what a finished quick run leaves in the session
    app.run()
    assert app.radio(key="lab.source").value == "yours"
    label = f"Your quick run (movielens-small, N = {lab_result['config']['seeds']}, {lab_result['generated'][:10]})"
    assert app.radio(key="lab.source").options[0] == label
    app.switch_page("app_pages/private.py").run()
    assert "private.channels" in app.session_state
    app.switch_page("app_pages/about.py").run()  # a page that keeps nothing: what is left after Reset is seen
    app.sidebar.button[0].click().run()
    assert not app.exception
    assert not [key for key in app.session_state if key.split(".")[0] in ("lab", "private", "forget")]
    app.switch_page("app_pages/lab.py").run()
    assert not app.radio  # only the committed results are left


def test_two_sessions_with_different_measures_each_see_their_own_model_on_the_private_page(monkeypatch):
    """shared_export was cached by data set only: a Jaccard visitor got the cosine model."""
    monkeypatch.setattr(runtime, "local_runtime_ready", lambda folder=None: True)  # AppTest loads no runtime
    sessions = {}
    for measure in ("cosine", "jaccard"):  # cosine first: it used to fill the cache for both
        app = AppTest.from_file(str(APP), default_timeout=180)
        app.query_params["data"] = "toy"
        app.query_params["similarity"] = measure
        app.run()
        app.switch_page("app_pages/private.py").run()
        assert not app.exception
        sessions[measure] = app
    for measure, app in sessions.items():
        app.run()
        (element,) = app.get("component_instance")
        version = json.loads(element.proto.json_args)["version"]
        assert space(app).model.measure.name == measure
        assert space(app).model.neighbours == DEFAULT_NEIGHBOURS  # the page sends the model's own lists
        assert version == model_version(space(app).model.fingerprint(), measure, DEFAULT_NEIGHBOURS, DEFAULT_SCORING)
        assert f"version `{version}`" in app.expander[0].markdown[0].value
    versions = {json.loads(app.get("component_instance")[0].proto.json_args)["version"] for app in sessions.values()}
    assert len(versions) == 2


def test_about_page():
    app = start()
    app.switch_page("app_pages/about.py").run()
    assert not app.exception
    assert app.title[0].value == "About Amnesia"
    assert len(app.latex) == 4
    text = " ".join(m.value for m in app.markdown)
    assert f"a list of its **{DEFAULT_NEIGHBOURS} most similar** movies" in text and "of the neighbour lists when there are any" in text
    app.selectbox(key="app.scoring").set_value("history").run()
    assert f"list of the **{DEFAULT_NEIGHBOURS} most similar** (item-kNN" in " ".join(m.value for m in app.markdown)
    app.selectbox(key="app.neighbours").set_value("all").run()
    assert "**Every neighbour.** Recommendations add up" in " ".join(m.value for m in app.markdown)
    # under EASE the page names B, not the similarity or lists, which it has none of to pick
    app.selectbox(key="app.model").set_value("ease").run()
    text = " ".join(m.value for m in app.markdown)
    assert not app.exception and "EASE** (Harald Steck" in text and "the model in use, learns" in text
    assert "are item-CF's: pick Item-CF under Model" in text and "**Every neighbour.**" not in text
    assert "similarity" not in app.latex[3].value and "EASE, the model in use: see below." in [c.value for c in app.caption]
    assert r"G = H^\top H" in app.latex[3].value  # G is defined where it is first used
    assert "for item-based collaborative filtering and for EASE, both built on these counts:" in text
    # its own sentences: "works C out … reports both times: the update of P" mixed the two models, and "identical"
    # sat beside a Verify that reports P within rounding (a presenter's pass)
    assert ("the *Forget* page reports the update of the counts and of P and, apart, the comparison of every weight of "
            "B before and after it.") in text
    assert "P **equals** a new inverse of G + λI to rounding" in text
    assert "works C out" not in text and "The result is **identical**" not in text


# ---------------------------------------------------------------------- MovieLens
@pytest.mark.slow
def test_movielens_flow_numbers_agree():
    app = start("movielens-small")
    assert any(plain(c.value).startswith("A focus window: the 20 most watched movies") for c in app.caption)
    picker = app.multiselect(key="forget.add_picked")  # its options travel on every run: the 1,000 most watched
    assert len(picker.options) == 1000 and picker.options[:2] == ["Forrest Gump (1994)", "The Shawshank Redemption (1994)"]
    assert picker.placeholder == "Search the 1,000 most watched…"
    add(app, "Maya", "fellowship of the ring\nempire strikes back\nnemo\nthe two towers")
    assert re.fullmatch(
        r"Added Maya with 4 movies in \d+\.\d\d ms: The Lord of the Rings: The Fellowship of the Ring \(2001\), "
        r"Star Wars: Episode V - The Empire Strikes Back \(1980\), Finding Nemo \(2003\), The Lord of the Rings: The Two "
        r"Towers \(2002\)\. Finding what changed in its 4 rows of C and S, for the charts below, took another \d+\.\d ms\.",
        plain(app.success[0].value))
    assert len(app.get("plotly_chart")[0].proto.spec) <= 1_000_000
    forget(app, 414)
    users, items, _, _ = totals(app)
    caption = next(plain(c.value) for c in app.caption if "Shown:" in plain(c.value))
    assert f"of {items:,} movies and" in caption and f"of {users:,} users, plus User 414, now gone." in caption
    assert (users, items) == (610, 9_596)  # 610 base + Maya - User 414; 128 movies only User 414 watched
    ranked = next(plain(m.value) for m in app.markdown if m.value.startswith("1. "))
    assert re.match(r"1\. .+ ↔ .+: 0\.\d\d → 0\.\d\d \(−0\.\d\d\) \(C \d+ → \d+\)", ranked)
    app.switch_page("app_pages/change_log.py").run()
    # the table holds the focus windows' records, which a visitor read against the full stream's count below it
    table = app.dataframe[0].value
    assert f"{len(table):,} of {len(table):,} records of the focus windows; the full stream's size is below." in [
        c.value for c in app.caption]
    assert any("The full change stream would be" in plain(m.value) for m in [*app.markdown, *app.caption, *app.info])


def test_the_similarity_measure_is_a_choice_with_its_own_workspace():
    app = AppTest.from_file(str(APP), default_timeout=180)
    app.query_params["data"] = "toy"
    app.query_params["similarity"] = "cosine"
    app.run()
    assert not app.exception
    assert space(app).model.measure.name == "cosine"
    forget(app, 1)
    assert space(app).model.similarity(0, 1) == pytest.approx(2 / 6**0.5)  # Toy Story, The Matrix: C = 2, n = 2 and 3 after Bob left
    app.switch_page("app_pages/about.py").run()
    assert app.latex[3].value.startswith("$$\n" + MEASURES["cosine"].formula + r" \quad \text{(Cosine similarity")
    jaccard = start()  # another session on Jaccard: untouched
    assert space(jaccard).model.measure.name == "jaccard" and totals(jaccard)[3] == 0
    assert [key for key in app.session_state["app.workspaces"]] == [("toy", "cosine", DEFAULT_NEIGHBOURS, "item-cf", DEFAULT_SCORING)]


def test_neighbours_are_a_choice_with_their_own_workspace_and_lists():
    """The sidebar's Neighbours: the default keeps DEFAULT_NEIGHBOURS lists, "all" sums every
    neighbour, a linked K opens with it; each choice has its own changes, and an unknown value in
    the link falls back to the default."""
    app = start()
    assert space(app).model.neighbours == DEFAULT_NEIGHBOURS
    assert app.selectbox(key="app.neighbours").value == str(DEFAULT_NEIGHBOURS)
    forget(app, 1)
    app.selectbox(key="app.neighbours").set_value("all").run()
    assert not app.exception and space(app).model.neighbours is None and totals(app)[3] == 0  # its own, untouched
    assert app.query_params["neighbours"] == "all"
    app.switch_page("app_pages/recommendations.py").run()
    assert app.caption[0].value.startswith("Score of a movie j for a user = Σ over the movies i they watched of S_ij. Movies")
    app.selectbox(key="app.neighbours").set_value("10").run()
    app.switch_page("app_pages/recommendations.py").run()
    assert space(app).model.neighbours == 10 and "only when i is among the 10 movies most similar to j" in app.caption[0].value
    linked = AppTest.from_file(str(APP), default_timeout=180)
    linked.query_params["data"] = "toy"
    linked.query_params["neighbours"] = "7"  # not a choice: the default
    linked.run()
    assert not linked.exception and space(linked).model.neighbours == DEFAULT_NEIGHBOURS
    keys = list(app.session_state["app.workspaces"])
    assert keys == [("toy", "jaccard", k, "item-cf", DEFAULT_SCORING) for k in (DEFAULT_NEIGHBOURS, None, 10)]


def test_scoring_is_a_choice_with_its_own_workspace_that_recommends_from_each_movies_own_list():
    """With lists, the sidebar's Scoring reads them one way or the other (by default each movie's
    own list): its own workspace (its own changes), the caption, the table and the About page
    follow it, a link carries it, and with every neighbour there is no such choice (one model)."""
    app = start()
    assert app.selectbox(key="app.scoring").value == DEFAULT_SCORING == "candidate"
    assert space(app).model.scoring == "candidate"
    forget(app, 1)
    app.selectbox(key="app.scoring").set_value("history").run()
    model = space(app).model
    assert not app.exception and (model.scoring, model.neighbours) == ("history", DEFAULT_NEIGHBOURS)
    assert totals(app)[3] == 0 and app.query_params["scoring"] == "history"  # its own workspace, untouched
    app.switch_page("app_pages/recommendations.py").run()
    assert not app.exception and f"only when j is among the {DEFAULT_NEIGHBOURS} movies most similar to i" in app.caption[0].value
    shown = recommended(app)
    user = app.selectbox(key="recommendations.user_widget").value
    assert shown == [space(app).catalog.title(r.item) for r in model.recommend(user, 10)]
    app.selectbox(key="app.scoring").set_value("candidate").run()
    assert totals(app)[3] == 1  # back to the default's workspace and its forget
    app.switch_page("app_pages/about.py").run()
    assert "in its own list (the item-based model of Sarwar et al." in " ".join(m.value for m in app.markdown)
    app.selectbox(key="app.neighbours").set_value("all").run()
    assert not app.exception and not [b for b in app.selectbox if b.key == "app.scoring"]
    assert "scoring" not in app.query_params and space(app).model.neighbours is None
    linked = AppTest.from_file(str(APP), default_timeout=180)
    linked.query_params["data"] = "toy"
    linked.query_params["scoring"] = "history"
    linked.run()
    assert not linked.exception and space(linked).model.scoring == "history"
    assert list(app.session_state["app.workspaces"]) == [
        ("toy", "jaccard", DEFAULT_NEIGHBOURS, "item-cf", "candidate"), ("toy", "jaccard", DEFAULT_NEIGHBOURS, "item-cf", "history"),
        ("toy", "jaccard", None, "item-cf", "candidate")]


def test_each_run_records_its_server_time_with_the_action_when_asked(monkeypatch, tmp_path):
    """AMNESIA_SCRIPT_TIMES (the app benchmark's): one line per run; a forget's line includes the
    callback that forgot (callbacks run before the script)."""
    from amnesia.dashboard.timing import SCRIPT_TIMES_ENV, read_script_times

    path = tmp_path / "times.jsonl"
    monkeypatch.setenv(SCRIPT_TIMES_ENV, str(path))
    app = start()
    (opened,) = read_script_times(path)
    assert opened["page"] == "forget" and opened["callback_seconds"] == 0.0 and opened["seconds"] > 0
    app.selectbox(key="forget.forget_choice").set_value(1)
    app.button(key=FORGET).click().run()
    assert "Forgot Bob" in app.success[0].value
    forgot = read_script_times(path)[-1]
    assert 0 < forgot["callback_seconds"] < forgot["seconds"]
    app.run()  # a run with no action: no callback time carried over
    assert read_script_times(path)[-1]["callback_seconds"] == 0.0
    monkeypatch.delenv(SCRIPT_TIMES_ENV)
    app.run()
    assert len(read_script_times(path)) == 3  # opened, forgot, reran; recording is off without the variable


def test_ease_is_a_model_choice_whose_pages_show_g_b_and_its_certificate():
    """The sidebar's Model: EASE has its own workspace; the Forget page animates H, n, G, B and says
    why every weight moved; Recommendations rank by B; Verify shows EASE's certificate; the Private
    page says it has no EASE model; item-CF's workspace stays untouched."""
    app = start()
    app.selectbox(key="app.model").set_value("ease").run()
    assert not app.exception and app.query_params["model"] == "ease"
    assert app.caption[0].value.startswith("EASE (Steck, 2019) keeps H (who watched what), n and C = HᵀH, so its Gram matrix G = HᵀH is C")
    forget(app, 0)
    ease = space(app).ease
    assert ease.history(0) == [] and totals(app)[3] == 1
    figure = chart(app)
    assert [frame["name"] for frame in figure["frames"]] == ["before", "1 · H changes", "2 · n changes", "3 · G changes",
                                                             "4 · B changes"]
    assert figure["data"][3]["z"][1][2] == pytest.approx(ease.weights([1, 2])[0, 1], abs=0.0)  # B: The Matrix -> Titanic
    texts = [plain(m.value) for m in app.markdown]
    assert "**The largest weight changes** (of 19 weights that changed):" in texts
    assert any(plain(c.value).startswith("This change moved 19 of the 20 weights of B.") for c in app.caption)
    assert "before → H → n → G → B" in " ".join(c.value for c in app.caption)
    verify(app)
    message = app.success[-1].value
    assert ":material/verified: equal to a retrain" in message and "top-10 of 3 users: all equal" in message
    assert re.search(r"P vs a new inverse: largest difference \S+ \(\S+ of its largest entry; rounding, within 1e-09\)", message)
    app.switch_page("app_pages/recommendations.py").run()
    assert not app.exception and app.caption[0].value.startswith("EASE, λ = 1: score of a movie j for a user = Σ over")
    assert recommended(app) == [space(app).catalog.title(r.item) for r in ease.recommend(1, 10)]
    app.switch_page("app_pages/change_log.py").run()
    assert not app.exception and app.multiselect(key="change_log.collections").value == [
        "interactions", "item_interactions_n", "cooccurrences_c"]  # B is not a stream collection
    app.switch_page("app_pages/private.py").run()
    assert not app.exception and app.info[0].value.startswith("Private recommendations run item-CF in your browser")
    assert "This page has no EASE model to send" in app.info[0].value
    app.button[[b.label for b in app.button].index("Use Item-CF")].click().run()  # the sidebar's Model, from here
    assert not app.exception and app.selectbox(key="app.model").value == "item-cf" and app.query_params["model"] == "item-cf"
    assert totals(app)[3] == 0 and not hasattr(space(app), "ease")
    # the sidebar says where the other model's changes are: a visitor found a user forgotten in one model in the other
    assert [w.value for w in app.sidebar.warning] == [
        "None of your changes are in this model. Users you forgot there are back in this one. Each model has its own "
        "changes: this one is at t = 0; your other model keeps its: EASE at t = 1. Pick that model again to see them."]
    app.switch_page("app_pages/forget.py").run()
    forget(app, 2)
    app.selectbox(key="app.model").set_value("ease").run()
    assert ("Each model has its own changes: this one is at t = 1; your other model keeps its: "
            f"Item-CF (Jaccard, {DEFAULT_NEIGHBOURS} most similar) at t = 1.") in [c.value for c in app.sidebar.caption]
    assert not app.sidebar.warning  # this model has a change of its own: a caption is enough
    assert app.button(key="app.reset").label == "Drop 2 changes"  # one in each model
    app.button(key="app.reset").click().run()  # every model's changes to this data set (it reset the one in view)
    assert not app.exception and totals(app)[3] == 0 and not any("Each model has" in c.value for c in app.sidebar.caption)
    assert [t.value for t in app.toast] == ["Dropped 2 changes: back to the starting data."]  # said once done
    app.run()
    assert not app.toast  # once
    app.button(key="app.reset").click().run()
    assert [t.value for t in app.toast] == ["Every page's choices are cleared."]
    app.switch_page("app_pages/forget.py").run()
    forget(app, 0)
    app.selectbox(key="app.model").set_value("item-cf").run()
    # back on item-CF with its default lists (the choices EASE did not show are not lost)
    assert list(app.session_state["app.workspaces"]) == [("toy", "jaccard", DEFAULT_NEIGHBOURS, "item-cf", DEFAULT_SCORING),
                                                          ("toy", "jaccard", None, "ease", "history")]


def test_every_bounded_box_says_its_limit():
    """A box with ``max_chars`` takes nothing from a longer paste and says nothing: a visitor who pasted
    a 70-character name, or an exported log over 100,000 characters, saw the box stay empty. Each says
    its limit, and what to do instead, before the paste."""
    app = start()
    limits = space(app).limits
    name = app.text_input(key=current(app, "forget.add_name"))
    assert name.max_chars == limits.name_chars == 60
    assert name.help == "At most 60 characters; a longer paste is refused whole (the box keeps what it had)."
    typed = app.text_area(key=current(app, "forget.add_typed"))
    assert typed.max_chars == limits.typed_chars and typed.help.endswith(
        f"At most {limits.typed_chars:,} characters; a longer paste is refused whole (the box keeps what it had).")
    raw = app.text_area(key=current(app, "forget.raw_text"))
    assert raw.max_chars == limits.request_chars and raw.help.startswith(
        "At most 100,000 characters; a longer paste is refused whole (the box keeps what it had).")
    app.switch_page("app_pages/change_log.py").run()
    pasted = app.text_area(key=current(app, "change_log.pasted"))
    assert pasted.label == "…or paste it (at most 100,000 characters)" and pasted.max_chars == limits.request_chars
    assert pasted.help == "A longer paste is refused whole (the box keeps what it had); choose the log's file above instead."


def test_reset_asks_first_and_says_what_it_drops():
    """One click on "Reset my changes" dropped every change of the session: it now opens a box
    that counts the changes it would drop, in every model, and a second click drops them and closes it."""
    app = start()
    add(app, "Zed", "toy story")
    forget(app, 1)
    assert app.sidebar.markdown[-1].value == (
        "Back to the starting data: this drops your 2 changes to Toy world, in every model, and every page's "
        "choices. To keep them, export your request log on the Change log first.")
    assert app.button(key="app.reset").label == "Drop 2 changes" and totals(app)[3] == 2
    app.button(key="app.reset").click().run()
    assert not app.exception and totals(app)[3] == 0 and app.session_state["app.reset_open"] is False  # closed
    assert app.button(key="app.reset").label == "Reset"


def test_a_double_click_is_one_action_and_keeps_its_message(monkeypatch):
    """The second click of a double click reached the server as a click of its own: on Add it found
    the form cleared and its error ("The user's name is empty") replaced the success message of the
    add that worked; on Forget it read "Pick a user to forget first"; on Apply it applied the example
    the first click had refilled the box with, a request the visitor never saw. A click on the same
    button within a double-click time of the shown result is now ignored and the result stays."""
    monkeypatch.setattr(ui_state, "ECHO_SECONDS", 0.5)  # the app's own windows (tests close them: conftest)
    monkeypatch.setattr(ui_state, "BURST_SECONDS", 2.0)
    clock = [1000.0]
    monkeypatch.setattr(ui_state.time, "monotonic", lambda: clock[0])
    app = add(start(), "Zed", "toy story")
    added = [plain(s.value) for s in app.success]
    assert added[0].startswith("Added Zed with 1 movie in ") and totals(app)[0] == 5
    clock[0] += 0.3
    app.button(key=current(app, ADD)).click().run()  # the second half: the form is empty now
    assert not app.exception and errors(app) == [] and [plain(s.value) for s in app.success] == added
    assert totals(app)[0] == 5 and len(space(app).log) == 1
    clock[0] += 1.0  # a burst's tail on the form the add cleared: an echo too (it said "The user's name is empty")
    app.button(key=current(app, ADD)).click().run()
    assert errors(app) == [] and [plain(s.value) for s in app.success] == added and totals(app)[0] == 5
    clock[0] += 2.1  # a click after the window is a click: an empty form is refused, as before
    app.button(key=current(app, ADD)).click().run()
    assert errors(app) == ["The user's name is empty; type a name such as 'Maya', of at most 60 characters."]
    assert app.success == []

    forget(app, 1)
    forgot = [plain(s.value) for s in app.success]
    assert forgot[0].startswith("Forgot Bob (") and totals(app)[0] == 4
    clock[0] += 0.2
    app.button(key=current(app, FORGET)).click().run()
    assert errors(app) == [] and [plain(s.value) for s in app.success] == forgot and len(space(app).log) == 2

    clock[0] += 5
    example = app.text_area(key=current(app, "forget.raw_text")).value
    app.button(key=current(app, RAW)).click().run()  # the example as it stands
    assert app.text_area(key=current(app, "forget.raw_text")).value == example and len(space(app).log) == 3  # kept
    clock[0] += 0.3
    app.button(key=current(app, RAW)).click().run()
    assert errors(app) == [] and len(space(app).log) == 3 and space(app).model.time == 3  # not applied
    assert app.text_area(key=current(app, "forget.raw_text")).value == example

    # a request of one's own, clicked again once the button is drawn again (a browser check: the second click
    # came ~0.7 s after the first's result, past the double-click window, and applied the Add a second time)
    clock[0] += 5
    raw(app, '{"change": "Add", "interactions": [[9, 0], [9, 1]]}')
    applied = [plain(s.value) for s in app.success]
    assert applied[0].startswith("Added 2 interactions of User 9 (raw request)") and space(app).model.time == 4
    clock[0] += 1.0  # the same request in the box, within the burst window: a stray click
    app.button(key=current(app, RAW)).click().run()
    assert [plain(s.value) for s in app.success] == applied and space(app).model.time == 4 and app.info == []
    clock[0] += 2.1  # later, it is a click: the model has them already, and it says so
    app.button(key=current(app, RAW)).click().run()
    assert plain(app.info[0].value).startswith("Nothing changed: the model already has them all") and space(app).model.time == 5


class _StoppingState(dict):
    """A session state that, once ``armed``, stops at every read or write as Streamlit does when a
    newer click has arrived (it raises RerunException there, also inside a callback)."""

    armed = False

    def _check(self) -> None:
        if self.armed:
            raise RuntimeError("stopped: a newer click arrived")

    def __getitem__(self, name):
        self._check()
        return super().__getitem__(name)

    def __setitem__(self, name, value):
        self._check()
        super().__setitem__(name, value)

    def __delitem__(self, name):
        self._check()
        super().__delitem__(name)

    def __contains__(self, name):
        self._check()
        return super().__contains__(name)

    def get(self, name, default=None):
        self._check()
        return super().get(name, default)


@pytest.fixture
def bare_session(monkeypatch):
    """ui_state outside a run, as the app calls it: a fresh :class:`_StoppingState` for the session
    state, a clock the test moves by hand (a list: ``clock[0]`` seconds) and a 0.5 s
    double-click window (tests close it: conftest)."""
    state, clock = _StoppingState(), [50.0]
    monkeypatch.setattr(st, "session_state", state)
    monkeypatch.setattr(ui_state.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(ui_state, "ECHO_SECONDS", 0.5)
    return state, clock


def test_an_action_keeps_its_message_when_a_second_click_stops_it(bare_session):
    """On MovieLens a double click's second half arrived while the first callback ran: Streamlit
    stopped the callback at its next read or write of the session state, after the workspace had
    changed, and its message, form clearing and action record were lost (the second click then ran
    as a new action). After its change an action touches only the inbox, which such a stop cannot
    interrupt; the second click is ignored, and the next run shows the first one's message."""
    state, clock = bare_session
    changes = []

    @ui_state.action
    def on_apply() -> None:
        changes.append(clock[0])  # the change, made in place (a workspace)
        state.armed = True  # the second click arrives
        ui_state.flash("forget", "success", f"applied at {clock[0]}")
        ui_state.clear_pages_later(changes_only=True)  # as an import does
        ui_state.later("change_log", "at", 3)

    state["forget.add_name"], state["change_log.at"] = "Zed", 7
    on_apply()
    state.armed = False
    on_apply()  # the second click: the first one's result was not shown yet
    assert changes == [50.0]
    ui_state.apply_later()  # the next run's start: the pages are cleared, then the slider is set
    assert "forget.add_name" not in state and "change_log.at" not in state and state["change_log.at~1"] == 3
    assert state["app.generations"]["change_log"] == 1
    assert ui_state.take_flash("forget") == ("success", "applied at 50.0")
    ui_state.run_finished()
    assert ui_state.take_flash("forget") is None


def test_an_action_whose_result_was_not_shown_holds_back_its_second_click(bare_session):
    """A second click that stops the first one's run (Streamlit starts the run again with it) comes
    before any result was shown: it is ignored, and the messages the stopped run had read are shown
    by the next. Here in bare mode: the callbacks and the end-of-run hook called as the app calls them."""
    _, clock = bare_session
    clicks = []

    @ui_state.action
    def on_apply() -> None:
        clicks.append(clock[0])
        ui_state.flash("forget", "success", f"applied at {clock[0]}")

    on_apply()
    assert ui_state.take_flash("forget") == ("success", "applied at 50.0")  # the run reads it, then is stopped
    clock[0] += 3.0  # a slow run (MovieLens): still not shown
    on_apply()
    assert clicks == [50.0]
    assert ui_state.take_flash("forget") == ("success", "applied at 50.0")  # the next run shows it again
    ui_state.run_finished()
    assert ui_state.take_flash("forget") is None and clicks == [50.0]
    clock[0] += 0.6
    on_apply()  # after the window: a new action
    assert clicks == [50.0, 53.6]
    clock[0] += ui_state.UNSHOWN_SECONDS  # a run that never finished (a page failed) holds back for so long only
    on_apply()
    assert clicks == [50.0, 53.6, 63.6]


def test_a_world_without_users_says_nothing_about_what_it_does_not_show():
    """Every user of the toy world forgotten: the Forget page said the emptied movies "are left out of
    the list above" under no list, and Recommendations read "Of the 0 users … 0 got other movies"."""
    app = start()
    for user in range(4):
        forget(app, user)
    captions = [plain(c.value) for c in app.caption if "last viewer" in c.value]
    assert len(captions) == 1 and "list above" not in captions[0], captions
    assert not any("The largest" in m.value for m in app.markdown)  # the list it had referred to
    app.switch_page("app_pages/recommendations.py").run()
    assert not app.exception
    assert "No other user is left in the model, so no one else's recommendations could change." in [
        plain(m.value) for m in app.markdown]
    assert not any(m.value.startswith("Of the 0 users") for m in app.markdown)


def test_a_page_that_ends_early_has_shown_its_messages(monkeypatch):
    """A page's early end (the empty Change log stops after its Import section) did not count as
    shown: Streamlit raises st.stop()'s StopException again at every later read of the session state,
    so the app could not finish the run. The import's error stayed on through later runs, and the
    next Import within 10 s was dropped as a double click."""
    monkeypatch.setattr(ui_state, "ECHO_SECONDS", 0.5)
    clock = [100.0]
    monkeypatch.setattr(ui_state.time, "monotonic", lambda: clock[0])
    app = start()
    app.switch_page("app_pages/change_log.py").run()
    app.text_area(key=current(app, "change_log.pasted")).input("not json")
    app.button(key=current(app, "change_log.import")).click().run()
    assert errors(app)[0].startswith("Line 1 of the request log: The request is not valid JSON")
    clock[0] += 1
    app.text_area(key=current(app, "change_log.pasted")).input('{"change": "Remove", "interactions": [[0, 0]]}').run()
    assert errors(app) == []  # shown once: a later run does not show it again
    app.button(key=current(app, "change_log.import")).click().run()  # 1 s later: a new click, not a double one
    assert errors(app) == [] and [plain(s.value) for s in app.success] == ["Imported 1 request: the model is at t = 1."]


def test_a_forget_effect_cut_short_before_anyone_says_so(monkeypatch):
    """No user compared because the first one's lists would cost more reading than a page may: it read
    "No other user watched any of Bob's movies", which was not true."""
    from amnesia.dashboard.effects import ForgetEffect
    from amnesia.dashboard.workspace import Workspace

    monkeypatch.setattr(Workspace, "forget_effect", lambda self, entry, **_: ForgetEffect(1, 5, 0, (), True))
    app = forget(start(), 1)
    app.switch_page("app_pages/recommendations.py").run()
    assert not app.exception
    assert ("Comparing even the user most exposed to Bob's forget would take more reading than one page may, "
            "so no one's lists were compared.") in [plain(m.value) for m in app.markdown]


def test_the_sidebar_warns_of_forgotten_users_only_when_another_model_forgot_one():
    """An add elsewhere was announced as "users you forgot are back", and with two other models the
    warning still said "Pick that model again"."""
    app = start()
    add(app, "Maya", typed="titanic")
    app.selectbox(key="app.similarity").set_value("cosine").run()
    assert not app.exception and [w.value for w in app.sidebar.warning] == [
        "None of your changes are in this model. Each model has its own changes: this one is at t = 0; your other "
        f"model keeps its: Item-CF (Jaccard, {DEFAULT_NEIGHBOURS} most similar) at t = 1. Pick that model again to see them."]
    forget(app, 0)
    app.selectbox(key="app.model").set_value("ease").run()
    assert [w.value for w in app.sidebar.warning] == [
        "None of your changes are in this model. Users you forgot there are back in this one. Each model has its own "
        f"changes: this one is at t = 0; your other models keep theirs: Item-CF (Jaccard, {DEFAULT_NEIGHBOURS} most "
        f"similar) at t = 1 and Item-CF (Cosine, {DEFAULT_NEIGHBOURS} most similar) at t = 1. Pick one of those models "
        "again to see them."]


def test_a_double_clicked_reset_says_it_is_done_once(monkeypatch):
    """The toast came back with the ignored second click (messages are kept for it) and popped up twice."""
    monkeypatch.setattr(ui_state, "ECHO_SECONDS", 60)
    app = start()
    forget(app, 0)
    app.button(key="app.reset").click().run()
    assert [t.value for t in app.toast] == ["Dropped 1 change: back to the starting data."]
    app.button(key="app.reset").click().run()  # within the double-click window: ignored
    assert not app.exception and not app.toast


def test_an_echo_that_stops_the_first_clicks_run_makes_its_writes_again_once(monkeypatch):
    """The second half of a double click can arrive after the first click's run has made its writes
    (it makes them first) and before that run ends: its form values then stood over the cleared box,
    and the applied request stayed in it (1 run in 12 of the browser's double-click test). Writes
    still queued are not queued twice."""
    inbox = ui_state._new_inbox()
    monkeypatch.setattr(ui_state, "_inbox", lambda: inbox)
    monkeypatch.setattr(ui_state, "ECHO_SECONDS", 60)
    monkeypatch.setattr(ui_state, "UNSHOWN_SECONDS", 60)
    calls = []

    @ui_state.action
    def apply_it() -> None:
        calls.append(1)
        ui_state.later("forget", "raw_text", None)

    apply_it()
    queued = list(inbox["later"])
    apply_it()  # an echo while the write is still queued: nothing queued twice
    assert calls == [1] and inbox["later"] == queued
    inbox["later"].clear()  # the first click's run began: it made the write, then the echo stopped it
    apply_it()
    assert calls == [1] and inbox["later"] == queued


def test_a_double_clicks_second_half_does_not_bring_back_the_forms_old_values(monkeypatch):
    """The second click of a double click carries the form as the browser still showed it: the request
    just applied, the name just added. Ignored as a click, its values were still written over the
    cleared ones, so the box offered the applied request again (a browser test caught it)."""
    monkeypatch.setattr(ui_state, "ECHO_SECONDS", 60)
    app = start()
    example = app.text_area(key=current(app, "forget.raw_text")).value
    app.button(key=current(app, RAW)).click().run()
    assert app.text_area(key=current(app, "forget.raw_text")).value == example and len(space(app).log) == 1
    raw(app, example)  # the echo, with the box as the browser sent it: ignored, and the box keeps the request
    assert len(space(app).log) == 1 and app.text_area(key=current(app, "forget.raw_text")).value == example
    app.text_input(key=current(app, "forget.add_name")).input("Zed")
    app.text_area(key=current(app, "forget.add_typed")).input("toy story")
    app.button(key=current(app, ADD)).click().run()
    assert totals(app)[0] == 5 and app.text_input(key=current(app, "forget.add_name")).value == ""
    add(app, "Zed", "toy story")  # the echo of Add, with the name and titles it was sent with
    assert totals(app)[0] == 5 and errors(app) == []
    assert app.text_input(key=current(app, "forget.add_name")).value == ""
    assert app.text_area(key=current(app, "forget.add_typed")).value == ""


def test_the_pages_own_scripts_hold_no_markup():
    """A comment in the tick-thinning script that mentioned Plotly's bold tag stopped the whole script:
    the page's HTML box does not run a script with markup in it, and every label showed, run together
    (a browser test caught it). Comparisons (a < b) are fine; a tag is not."""
    for script in (ui_state._CHART_KEYS, ui_state._FOLLOW):
        body = script[script.index("<script>") + len("<script>") : script.rindex("</script>")]
        assert not re.search(r"<[A-Za-z/!]", body), re.search(r"<[A-Za-z/!].{0,20}", body).group(0)
