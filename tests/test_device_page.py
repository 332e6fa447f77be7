"""AppTest: the Private recommendations page renders its component with the right arguments.

The component itself runs in a browser (tests/e2e/test_private.py); here the server side is
checked: which version it announces, when it sends the model bytes, and what it says.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from amnesia.device import runtime

from amnesia.dashboard.workspace import DEFAULT_NEIGHBOURS, DEFAULT_SCORING
from amnesia.device.export import TOP_K, model_version

APP = Path(__file__).resolve().parent.parent / "app.py"
KEY = "private.device"


@pytest.fixture(autouse=True)
def runtime_present(monkeypatch):
    """These tests check what the server sends, which does not depend on the local runtime copy
    (AppTest runs no browser): count it as present, whether or not this machine fetched it."""
    monkeypatch.setattr(runtime, "local_runtime_ready", lambda folder=None: True)


def private_page(monkeypatch=None, source: str | None = None) -> AppTest:
    if monkeypatch is not None and source is not None:
        monkeypatch.setenv("AMNESIA_ORT_SOURCE", source)
    app = AppTest.from_file(str(APP), default_timeout=120).run()
    app.switch_page("app_pages/private.py").run()
    assert not app.exception
    return app


def workspace_of(app: AppTest):
    """The visitor's current workspace (what the sidebar picked)."""
    return app.session_state["app.workspaces"][app.session_state["app.current"]]


def component(app: AppTest) -> tuple[dict, dict[str, bytes]]:
    """The component's JSON arguments and its bytes arguments."""
    (element,) = app.get("component_instance")
    return json.loads(element.proto.json_args), {arg.key: arg.bytes for arg in element.proto.special_args}


def test_the_first_render_announces_the_version_without_bytes():
    app = private_page()
    args, blobs = component(app)
    workspace = workspace_of(app)
    assert workspace.model.neighbours == DEFAULT_NEIGHBOURS  # the page sends the model's own lists
    assert args["version"] == model_version(workspace.model.fingerprint(), "jaccard", DEFAULT_NEIGHBOURS, DEFAULT_SCORING)
    assert args["dataset"] == "toy" and args["time"] == 0 and args["key"] == KEY
    assert args["model"] is None and args["sidecar"] is None and blobs == {}
    assert args["runtime"]["version"] == "1.30.0" and set(args["runtime"]["files"]) == {
        "ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm"}
    assert app.title[0].value == "Private recommendations"
    text = app.expander[0].markdown[0].value
    assert f"version `{args['version']}`" in text and f"K = {DEFAULT_NEIGHBOURS}" in text
    # in view, not inside the closed expander: this page and the Recommendations page are one model
    assert any("equal the server's (the Recommendations page), bit for bit" in c.value for c in app.caption)


def test_bytes_follow_the_ready_signal_and_stop_once_the_device_holds_the_version():
    app = private_page()
    version = component(app)[0]["version"]
    app.session_state[KEY] = {"ready": None}
    app.run()
    args, blobs = component(app)
    assert set(blobs) == {"model", "sidecar"} and len(blobs["model"]) > 1000
    assert json.loads(blobs["sidecar"])["version"] == version
    app.session_state[KEY] = {"ready": version}
    app.run()
    args, blobs = component(app)
    assert blobs == {} and args["model"] is None and args["version"] == version


def test_after_a_forget_the_page_sends_the_new_version_with_the_reason():
    app = private_page()
    old = component(app)[0]["version"]
    workspace_of(app).forget_user(1)
    app.session_state[KEY] = {"ready": old}
    app.run()
    args, blobs = component(app)
    assert args["version"] != old and args["time"] == 1
    assert json.loads(blobs["sidecar"])["fingerprint"] == workspace_of(app).model.fingerprint()
    assert args["changes"][0].startswith("t = 1: Forgot Bob (2 movies).")


def test_a_bad_runtime_setting_is_reported_and_nothing_is_loaded(monkeypatch):
    app = private_page(monkeypatch, "unpkg")
    assert "AMNESIA_ORT_SOURCE must be one of auto, local, cdn; got 'unpkg'" in app.error[0].value
    assert not app.get("component_instance")


def test_the_cdn_source_is_announced_with_its_pinned_url(monkeypatch):
    args, _ = component(private_page(monkeypatch, "cdn"))
    assert args["runtime"]["source"] == "cdn"
    assert args["runtime"]["base"] == "https://cdn.jsdelivr.net/npm/onnxruntime-web@1.30.0/dist/"


def test_a_workspace_with_nothing_left_gets_an_explanation_not_a_traceback():
    app = private_page()
    workspace = workspace_of(app)
    for user in list(workspace.model.users()):
        workspace.forget_user(user)
    app.run()
    assert not app.exception and not app.get("component_instance")
    assert "nothing to export" in app.info[0].value and "Reset my changes" in app.info[0].value


def test_without_a_local_runtime_the_page_says_it_is_unavailable_and_loads_nothing(monkeypatch):
    """Offline first: no local copy and no AMNESIA_ORT_SOURCE means no component and no CDN, and a
    message that says what to do (the browser tests used to fetch the CDN on a fresh clone)."""
    monkeypatch.delenv("AMNESIA_ORT_SOURCE", raising=False)
    monkeypatch.setattr(runtime, "local_runtime_ready", lambda folder=None: False)
    app = private_page()
    assert not app.get("component_instance")
    (warning,) = app.warning
    assert warning.value.startswith("Private recommendations are unavailable on this server: it has no local copy")
    assert "python -m amnesia.device.runtime" in warning.value and "AMNESIA_ORT_SOURCE=cdn" in warning.value


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the component's JavaScript")
def test_the_change_summary_tells_a_reordering_from_new_scores():
    """After a new model the page compares the visitor's two top-10 lists: same movies in the same order
    with other scores must not read "did not change" above two lists whose numbers differ."""
    source = (APP.parent / "amnesia" / "device" / "component" / "private.js").read_text()
    start, end = source.index("const shownScore"), source.index("const listChange")
    functions = source[start:source.index("\n", source.index(";", end))]
    cases = """
const a = [{id: 1, score: 2.5}, {id: 2, score: 1.25}];
console.log(JSON.stringify([
  listChange(a, [{id: 1, score: 2.5}, {id: 2, score: 1.25001}]),
  listChange(a, [{id: 1, score: 2.6}, {id: 2, score: 1.25}]),
  listChange(a, [{id: 2, score: 2.5}, {id: 1, score: 1.25}]),
  listChange(a, [{id: 1, score: 2.5}]),
  listChange([], [], false),
  listChange([], [], true),
]));"""
    result = subprocess.run(["node", "-e", functions + cases], capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(result.stdout) == [
        "Your top 10 did not change.",  # equal as shown (four decimals, as on the Recommendations page)
        "Your top 10 kept its movies and their order; their scores changed:",
        "Your top 10 changed:",
        "Your top 10 changed:",
        # no picks, no list: "did not change" sat over two empty columns (a visitor's pass)
        "You have no picks yet, so there is no top 10 to compare: pick movies above to see yours.",
        # picks whose lists are empty (no movie shares a viewer with them): not "no picks" (a review)
        "Your picks had no recommendations before the change and have none after it.",
    ]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the component's JavaScript")
def test_a_short_list_says_why_against_the_top_10_promised():
    """On the toy world (5 movies) the page said "so the list is shorter than 5" under the top 10 it
    promises: the length of the model's output, not the list's. A short list now gives its reason, the
    model's or the catalog's, against 10."""
    source = (APP.parent / "amnesia" / "device" / "component" / "private.js").read_text()
    top = source[source.index("const TOP ="):source.index("\n", source.index("const TOP ="))]
    functions = source[source.index("function shortBecause"):source.index("function renderChange")]
    cases = """
const toy = {items: [0, 1, 2, 3, 4], neighbours: 50, scoring: "candidate"};
const all = {items: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], neighbours: null, scoring: "history"};
console.log(JSON.stringify([
  shortBecause(toy, 2, 3), shortBecause(toy, 1, 4), shortBecause(toy, 0, 5), shortBecause(toy, 1, 1),
  shortBecause(all, 0, 1), TOP,
]));"""
    result = subprocess.run(["node", "-e", top + "\n" + functions + cases], capture_output=True, text=True, timeout=30,
                            check=True)
    assert json.loads(result.stdout) == [
        "Only 2 movies in this model are not among your picks, so the list is shorter than 10.",
        "Only 1 movie in this model is not among your picks, so the list is shorter than 10.",
        "you have picked every movie in this model",  # after "No recommendations: "
        "Only 1 movie has one of your picks among its 50 most similar movies, so the list is shorter than 10; pick "
        "more movies for more.",
        "no other movies share a viewer with your picks. Pick more movies",
        TOP_K,
    ]
