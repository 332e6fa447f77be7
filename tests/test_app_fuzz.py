"""Fuzz every form of the app: whatever is typed, a message, not an exception, and the model
changes only when the app says it did.

Each property drives one AppTest session (AppTest runs cost ~0.3 s, so example counts are
small and explicit). For every input the app must finish the run without an exception and
show a message; if it shows an error, the fingerprint and the log are as they were; if it
reports a change, the log grew by exactly one entry.
"""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import ADD, RAW, current, errors, space, start

FUZZ = settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))

# text people type, and text meant to hurt: brackets, digits, markup, controls, look-alikes
alphabet = st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from(list("[]{}\",:#0123456789²٣\n\t\u200b\u0430<>$*_`\\"))
hostile = st.one_of(
    st.text(alphabet, max_size=300),
    st.builds(lambda n: "[" * n, st.integers(1, 120_000)),
    st.builds(lambda n: "#" + "9" * n, st.integers(1, 6000)),
    st.builds(lambda n, c: c * n, st.integers(150, 5000), st.sampled_from(["9", "a", "²", " ", "\n"])),
    st.sampled_from(["toy story", "the matirx", "#2", "nemo", "", "   ", "psycho", "![t](http://127.0.0.1:9/p.png)"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
requests = st.one_of(
    hostile,
    json_values.map(json.dumps),
    st.builds(
        lambda change, pairs: json.dumps({"change": change, "interactions": pairs}),
        st.sampled_from(["Add", "Remove", "add", 1, None]),
        st.lists(st.lists(st.integers(-3, 2**32), min_size=0, max_size=3), max_size=6),
    ),
)


def _outcome(app, before_fingerprint: str, before_log: int) -> None:
    assert not app.exception, app.exception
    workspace = space(app)
    shown_errors = errors(app)
    changed = [m.value for m in (*app.success, *app.info) if re.match(r"(Added|Forgot|Removed|Nothing changed)", m.value)]
    assert shown_errors or changed, "neither a message nor a change"
    if shown_errors:
        assert workspace.model.fingerprint() == before_fingerprint and len(workspace.log) == before_log
    else:
        assert len(workspace.log) == before_log + 1


def test_add_form_fuzz():
    app = start()

    @FUZZ
    @given(name=hostile, typed=hostile)
    def run(name, typed):
        workspace = space(app)
        before, count = workspace.model.fingerprint(), len(workspace.log)
        app.text_input(key=current(app, "forget.add_name")).input(name[:60])  # the box holds at most 60 characters
        app.text_area(key=current(app, "forget.add_typed")).input(typed)
        app.button(key=current(app, ADD)).click().run()
        _outcome(app, before, count)

    run()


def test_raw_box_fuzz():
    app = start()

    @FUZZ
    @given(text=requests)
    def run(text):
        workspace = space(app)
        before, count = workspace.model.fingerprint(), len(workspace.log)
        app.text_area(key=current(app, "forget.raw_text")).input(text[:100_000])  # the box holds the request limit
        app.button(key=current(app, RAW)).click().run()
        _outcome(app, before, count)

    run()


def test_change_log_filter_and_import_fuzz():
    app = start()
    space(app).forget_user(1)
    app.switch_page("app_pages/change_log.py").run()

    # an import that works clears the page: its keys are of a new generation after it (ui_state.key)
    @FUZZ
    @given(item=hostile, pasted=st.one_of(requests, st.lists(requests, max_size=4).map("\n".join)))
    def run(item, pasted):
        workspace = space(app)
        before, count = workspace.model.fingerprint(), len(workspace.log)
        app.text_input(key=current(app, "change_log.item")).input(item[:100]).run()
        assert not app.exception, app.exception
        app.text_area(key=current(app, "change_log.pasted")).input(pasted[:100_000])
        app.button(key=current(app, "change_log.import")).click().run()
        assert not app.exception, app.exception
        workspace = space(app)
        if errors(app):
            assert workspace.model.fingerprint() == before and len(workspace.log) == count
        else:  # an import that worked replaced the changes with the log's requests
            assert any(s.value.startswith("Imported") for s in app.success)

    run()
