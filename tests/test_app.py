"""AppTest: every page and every flow of the dashboard, including bad input and isolation.

AppTest (Streamlit 1.67) drops the entry script's sidebar elements from its element tree on
reruns when the app uses st.navigation; a browser shows them on every run. So after the
first run these tests read the visitor's stats from the workspace the sidebar renders, and
the sidebar itself is checked on the first run here and in the browser tests (tests/e2e).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parent.parent / "app.py"
ADD = "FormSubmitter:add_user-Add user"
FORGET = "FormSubmitter:forget_user-Forget this user"
RAW = "FormSubmitter:raw_request-Apply request"


def start() -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not app.exception
    assert app.query_params["data"] == ["toy"] or app.query_params["data"] == "toy"
    return app


def add(app: AppTest, name: str, typed: str = "", picked=()) -> AppTest:
    app.text_input(key="add_name").input(name)
    app.text_area(key="add_typed").input(typed)
    if picked:
        app.multiselect(key="add_picked").set_value(list(picked))
    app.button(key=ADD).click().run()
    assert not app.exception
    return app


def forget(app: AppTest, user) -> AppTest:
    app.selectbox(key="forget_choice").set_value(user)
    app.button(key=FORGET).click().run()
    assert not app.exception
    return app


def metric(app: AppTest, label: str) -> str:
    """The sidebar figure ``label`` as the sidebar formats it, from this visitor's workspace."""
    stats = app.session_state["workspace"].stats()
    key = {"Users": "users", "Movies": "items", "Interactions": "interactions", "Logical time": "time"}[label]
    return str(stats[key]) if key == "time" else f"{stats[key]:,}"


def chart(app: AppTest) -> dict:
    return json.loads(app.get("plotly_chart")[0].proto.spec)


def test_home_shows_the_toy_world():
    app = start()
    shown = {m.label: m.value for m in app.sidebar.get("metric")}
    assert shown == {"Users": "4", "Movies": "5", "Interactions": "11", "Logical time": "0"}
    assert [b.label for b in app.sidebar.get("button")] == ["Reset my changes"]
    assert app.title[0].value == "Watch a recommender forget"
    assert (metric(app, "Users"), metric(app, "Movies"), metric(app, "Interactions"), metric(app, "Logical time")) == ("4", "5", "11", "0")
    figure = chart(app)
    assert figure["data"][0]["y"] == ["Alice", "Bob", "Carla", "Dev"]
    assert "frames" not in figure  # nothing changed yet: a still picture
    assert "The whole world: every user and every movie." in [c.value for c in app.caption]


def test_add_a_user_by_typing_names_then_forget_them():
    app = add(start(), "Maya", "toy story\nthe matirx", picked=[4])
    assert re.fullmatch(r"Added Maya with 3 movie\(s\) in \d+\.\d\d ms\.", app.success[0].value)
    assert (metric(app, "Users"), metric(app, "Interactions"), metric(app, "Logical time")) == ("5", "14", "1")
    figure = chart(app)
    assert [frame["name"] for frame in figure["frames"]] == ["before", "1 · H changes", "2 · n changes", "3 · C changes", "4 · S changes"]
    assert figure["data"][0]["y"][-1] == "Maya"
    forget(app, 4)
    assert re.fullmatch(r"Forgot Maya in \d+\.\d\d ms\.", app.success[0].value)
    assert metric(app, "Users") == "4" and metric(app, "Logical time") == "2"
    assert 4 not in app.selectbox(key="forget_choice").options


def test_typo_offers_candidates_and_changes_nothing():
    app = add(start(), "Tom", "toy story\nxyzzy")
    assert app.error[0].value.startswith("No movie matches 'xyzzy'. Did you mean Toy Story (1995) (#0)")
    assert app.error[0].value.endswith("Nothing was changed.")
    assert metric(app, "Users") == "4" and metric(app, "Logical time") == "0"
    app.button(key="candidate-2").click().run()  # "Titanic (1997)"
    assert app.text_area(key="add_typed").value == "toy story\n#2"
    app.button(key=ADD).click().run()
    assert app.success[0].value.startswith("Added Tom with 2 movie(s)")


@pytest.mark.parametrize(
    "name, typed, message",
    [
        ("Alice", "toy story", "There is already a user called 'Alice'; pick another name."),
        ("Tom", "", "Pick at least one movie that Tom watched; the selection is empty."),
        ("", "titanic", "The user's name is empty; type a name such as 'Maya'."),
    ],
)
def test_bad_additions_show_a_message(name, typed, message):
    app = add(start(), name, typed)
    assert [e.value for e in app.error] == [message]
    assert metric(app, "Logical time") == "0"


def test_forget_needs_a_choice_and_initial_users_can_be_forgotten():
    app = start()
    app.button(key=FORGET).click().run()
    assert app.error[0].value == "Pick a user to forget first."
    forget(app, 0)  # Alice, the only one left with Finding Nemo... and Bob after her
    forget(app, 1)
    assert metric(app, "Users") == "2"
    assert [i.value for i in app.info] == [
        "Titanic (1997), Finding Nemo (2003) have no interactions left, so n = 0 and their similarity to every "
        "movie is 0 (never a division by zero)."
    ]


def test_raw_request_box_validates_inline():
    app = start()
    app.text_area(key="raw_text").input('{"change": "Remove", "interactions": [[1, 1], [1, 2]]}')
    app.button(key=RAW).click().run()
    assert app.success[0].value.startswith("Removed 2 interaction(s) (raw request) in")
    app.text_area(key="raw_text").input('{"change": "Remove", "interactions": [[1, 1]]')
    app.button(key=RAW).click().run()
    assert app.error[0].value.startswith("The request is not valid JSON")
    app.text_area(key="raw_text").input('{"change": "Remove", "interactions": [[1, 1]]}')
    app.button(key=RAW).click().run()
    assert app.error[0].value == (
        "Cannot remove interaction(s) that do not exist: [1, 1]. Nothing was changed; remove only interactions "
        "the model has. Nothing was changed."
    ) or app.error[0].value.startswith("Cannot remove interaction(s) that do not exist: [1, 1].")
    assert metric(app, "Logical time") == "1"


def test_verify_shows_the_certificate():
    app = forget(start(), 2)
    app.button[[b.label for b in app.button].index("Verify: retrain from scratch and compare")].click().run()
    message = app.success[-1].value
    assert "Incremental update: **" in message and "fingerprints :material/verified: identical" in message


def test_two_visitors_do_not_see_each_other():
    first, second = start(), start()
    add(first, "Maya", "toy story")
    forget(first, 1)
    second.run()
    assert metric(second, "Users") == "4" and metric(second, "Logical time") == "0"
    assert "Maya" not in json.dumps(chart(second))
    assert [o for o in second.selectbox(key="forget_choice").options] == ["Alice (4 movies)", "Bob (2 movies)", "Carla (3 movies)", "Dev (2 movies)"]


def test_change_log_page():
    app = start()
    app.switch_page("pages/change_log.py").run()
    assert app.info[0].value.startswith("No changes yet.")
    app.switch_page("pages/forget.py").run()
    forget(app, 1)
    app.switch_page("pages/change_log.py").run()
    assert not app.exception
    table = app.dataframe[0].value
    assert set(table["collection"]) == {"interactions", "item_interactions_n", "cooccurrences_c", "similarities_s"}
    assert table[table["collection"] == "interactions"][["change", "user", "item"]].values.tolist() == [[-1, 1, 1], [-1, 1, 2]]
    assert "records." in app.caption[-1].value or any("records." in c.value for c in app.caption)


def test_recommendations_page_and_forget_effect():
    app = start()
    app.switch_page("pages/recommendations.py").run()
    assert not app.exception
    table = app.dataframe[0].value
    assert table["movie"].tolist() == ["The Godfather (1972)"]  # Alice (user 0) saw everything else
    assert app.info[-1].value.startswith("Forget a user on the Forget page")
    app.switch_page("pages/forget.py").run()
    forget(app, 3)
    app.switch_page("pages/recommendations.py").run()
    assert not app.exception
    assert any("got a different top 5" in m.value for m in app.markdown)


def test_about_page():
    app = start()
    app.switch_page("pages/about.py").run()
    assert not app.exception
    assert app.title[0].value == "About Amnesia"
    assert len(app.latex) == 4


@pytest.mark.slow
def test_movielens_world_uses_a_focus_window():
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.query_params["data"] = "movielens-small"
    app.run()
    assert not app.exception
    assert metric(app, "Users") == "610" and metric(app, "Movies") == "9,724"
    assert any(c.value.startswith("A focus window of 40 of 9,724 movies") for c in app.caption)
    add(app, "Maya", "the matrix\ngodfater\ntoy story")
    assert app.success[0].value.startswith("Added Maya with 3 movie(s)")
    assert len(app.get("plotly_chart")[0].proto.spec) <= 2_000_000
    forget(app, 414)
    assert app.success[0].value.startswith("Forgot User 414 in")
