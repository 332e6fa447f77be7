"""End-to-end: private recommendations scored in Chromium with ONNX Runtime Web.

Proves in a real browser that (1) the page's top 10 equals onnxruntime's top 10 in Python for
the same history, (2) nothing the page sends (HTTP requests, WebSocket frames) carries the
picked movies, and (3) a forget on the server reaches the device as a new model version.
"""

from __future__ import annotations

import json
import re
import struct
import time

import numpy as np
import onnxruntime as ort
import pytest
from playwright.sync_api import Page, expect
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from amnesia import ItemCF
from tools.serve import streamlit_server
from amnesia.dashboard.workspace import DEFAULT_NEIGHBOURS, DEFAULT_SCORING
from amnesia.data.datasets import load
from amnesia.device.export import build_device_model
from amnesia.device.runtime import CDN_BASE, FETCH_COMMAND, LOCAL_DIR, RUNTIME_FILES, local_runtime_ready

from .conftest import ARTIFACTS

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not local_runtime_ready(), reason=f"no local onnxruntime-web copy: run {FETCH_COMMAND} (.ci/run does)"),
]
COMPONENT = "iframe[title$=private_recommendations]"
TIMINGS: dict[str, float] = {}


def component(page: Page):
    return page.frame_locator(COMPONENT)


def open_private(page: Page, server: str, data: str) -> None:
    """Open the private page on data set ``data`` (the deep link keeps ``?data=``, which the
    navigation links do not carry)."""
    page.goto(f"{server}/private?data={data}")
    expect(page.get_by_role("heading", name="Private recommendations")).to_be_visible(timeout=180_000)


def wait_for_model(page: Page, timeout: float = 120_000) -> str:
    """Wait until the device runs a model; returns its version."""
    status = component(page).locator("#model-status")
    expect(status).to_contain_text("Model version", timeout=timeout)
    return re.search(r"Model version (\w+)", status.inner_text()).group(1)


def pick(page: Page, typed: str, title: str) -> None:
    frame = component(page)
    frame.get_by_role("searchbox", name="Search movies").fill(typed)
    frame.get_by_role("option", name=title, exact=True).click()
    expect(frame.get_by_role("button", name=f"Remove {title}")).to_be_visible()


def forget_alice(page: Page) -> None:
    """On the toy world's Forget page (from the private page), forget Alice: the only viewer of Finding Nemo."""
    page.get_by_role("link", name="Forget").click()
    expect(page.get_by_role("heading", name="Watch a recommender forget")).to_be_visible(timeout=30_000)
    page.get_by_role("tab", name=re.compile("Forget a user")).click()
    page.get_by_role("combobox", name="User to forget").click()
    page.get_by_role("option", name="Alice (4 movies)").click()
    page.get_by_role("button", name="Forget this user").click()
    expect(page.get_by_text(re.compile(r"Forgot Alice \(4 movies\) in \d+\.\d\d ms\."))).to_be_visible(timeout=30_000)


def rendered_top(page: Page) -> list[int]:
    return [int(item) for item in component(page).locator("#top li").evaluate_all("els => els.map(e => e.dataset.item)")]


class Recorder:
    """Everything the page sends: HTTP requests (URL, headers, body) and WebSocket frames."""

    def __init__(self, page: Page):
        self.requests: list[tuple[str, str, bytes]] = []
        self.frames: list[bytes] = []
        self.received: list[bytes] = []
        page.on("request", self._request)
        page.on("websocket", self._websocket)

    def _request(self, request) -> None:
        headers = json.dumps(request.headers)
        self.requests.append((request.method, request.url + "\n" + headers, request.post_data_buffer or b""))

    def _websocket(self, ws) -> None:
        ws.on("framesent", lambda payload: self.frames.append(payload if isinstance(payload, bytes) else payload.encode()))
        ws.on("framereceived", lambda payload: self.received.append(payload if isinstance(payload, bytes) else payload.encode()))

    def sent_bytes(self) -> list[bytes]:
        return [url.encode() for _, url, _ in self.requests] + [body for _, _, body in self.requests] + self.frames


def encodings(numbers: list[int]) -> list[bytes]:
    """Byte patterns a list of ids or positions could travel as: each number as int32/int64 (little-
    and big-endian); the whole list as int64/int32/uint16 arrays (what ONNX Runtime gets), as packed
    protobuf varints and as JSON. (A lone varint is one or two bytes, which occur in any frame by
    chance, e.g. as a length prefix: protobuf fields are checked decoded instead, see below.)"""

    def varint(value: int) -> bytes:
        out = bytearray()
        while True:
            byte, value = value & 0x7F, value >> 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                return bytes(out)

    patterns = []
    for value in numbers:
        patterns += [struct.pack("<i", value), struct.pack("<q", value), struct.pack(">i", value)]
    for fmt in ("<{}q", "<{}i", "<{}H"):
        patterns.append(struct.pack(fmt.format(len(numbers)), *numbers))
    patterns.append(b"".join(varint(value) for value in numbers))
    patterns.append(json.dumps(numbers).encode())
    patterns.append(json.dumps(numbers, separators=(",", ":")).encode())
    return patterns


def assert_nothing_leaks(recorder: Recorder, texts: list[str], numbers: list[int]) -> None:
    """No recorded request or frame holds ``texts`` (any case, UTF-8 or UTF-16) or ``numbers`` (as
    text, as binary integers or arrays, or as any integer field of the Streamlit messages)."""
    sent = recorder.sent_bytes()
    assert sent, "nothing was recorded: the recorder is broken"
    # every WebSocket frame is a Streamlit BackMsg: decoded, its integer fields read as decimal text
    decoded = [str(BackMsg.FromString(frame)).encode() for frame in recorder.frames]
    for blob in sent + decoded:
        as_text = blob.decode("latin-1").lower()
        for text in texts:
            assert text.lower() not in as_text, f"{text!r} left the browser"
            assert text.encode("utf-16-le") not in blob, f"{text!r} (UTF-16) left the browser"
        for value in numbers:
            assert not re.search(rf"(?<![0-9a-z]){value}(?![0-9a-z])", as_text), f"{value} (as text) left the browser"
        for pattern in encodings(numbers):
            assert pattern not in blob, f"{numbers} (as bytes {pattern!r}) left the browser"


def component_messages(recorder: Recorder) -> list[str]:
    """The component's values in every BackMsg the page sent (the frames are Streamlit protobufs)."""
    values = []
    for frame in recorder.frames:
        message = BackMsg.FromString(frame)
        for widget in message.rerun_script.widget_states.widgets:
            if widget.id.endswith("-private.device"):
                values.append(widget.json_value)
    return values


def delivered(recorder: Recorder, version: str) -> tuple[bytes, dict]:
    """The model and sidecar of ``version`` as the page received them over the WebSocket."""
    for frame in recorder.received:
        message = ForwardMsg.FromString(frame)
        if message.WhichOneof("type") != "delta" or not message.delta.HasField("new_element"):
            continue
        special = {arg.key: arg.bytes for arg in message.delta.new_element.component_instance.special_args}
        if "model" in special and json.loads(special["sidecar"])["version"] == version:
            return special["model"], json.loads(special["sidecar"])
    raise AssertionError(f"model version {version} never arrived over the WebSocket")


def test_picks_are_scored_in_the_browser_like_onnxruntime_and_never_leave_it(browser, server):
    catalog = load("movielens-small").catalog
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    recorder = Recorder(page)
    open_private(page, server, "movielens-small")
    version = wait_for_model(page, timeout=180_000)
    expect(component(page).locator("#runtime-status")).to_have_text("ONNX Runtime Web 1.30.0 from the local copy: ready.")
    expect(component(page).locator("#model-status")).to_contain_text(
        f"K = {DEFAULT_NEIGHBOURS} neighbours, each movie scored from its own list")  # the default reading
    # one pick: only the movies with it among their own K most similar score, and the page says why the list is short
    pick(page, "toy story", catalog.title(1))
    expect(component(page).locator("#top li")).to_have_count(1)
    assert rendered_top(page) == [3114]  # Toy Story 2
    expect(component(page).locator("#timing")).to_contain_text(
        f"Only 1 movie has one of your picks among its {DEFAULT_NEIGHBOURS} most similar movies, so the list is shorter "
        "than 10; pick more movies for more.")
    component(page).get_by_role("button", name=f"Remove {catalog.title(1)}").click()
    expect(component(page).locator("#top li")).to_have_count(0)
    picks = {"matrix": 2571, "pulp fic": 296, "godfather part ii": 1221, "shawshank": 318, "fight club": 2959}
    started = time.perf_counter()
    for typed, item in picks.items():
        pick(page, typed, catalog.title(item))
    expect(component(page).locator("#top li")).to_have_count(10)
    TIMINGS["movielens: pick 5 movies and see the top 10 (s)"] = time.perf_counter() - started
    # a query that finds nothing says why, instead of an empty box
    search, hint = component(page).get_by_role("searchbox", name="Search movies"), component(page).locator("#search-hint")
    search.fill("qzxv")
    expect(hint).to_have_text("No movie in the model matches “qzxv”: each word you type must start a word of the title. "
                              "Try fewer letters.")
    expect(component(page).get_by_role("option")).to_have_count(0)
    search.press("Escape")  # clears the box and its hint, though nothing matched
    expect(search).to_have_value("")
    expect(hint).to_be_hidden()
    search.fill("!!!")  # no word at all: nothing to say
    expect(hint).to_be_hidden()
    search.fill("titanik")  # one letter off: offered as a close spelling, as the Forget page finds it
    expect(hint).to_have_text("No title has “titanik” as typed; these are spelled one letter differently.")
    expect(component(page).get_by_role("option", name=catalog.title(1721), exact=True)).to_be_visible()
    search.fill("qzxvqzxv titanik")  # a close spelling only where every word is close to one of the title's
    expect(component(page).get_by_role("option")).to_have_count(0)
    search.fill("shawshank")  # its one match is picked already
    expect(hint).to_have_text("Every movie that matches “shawshank” is already among your movies.")
    shawshank = catalog.title(picks["shawshank"])
    component(page).get_by_role("button", name=f"Remove {shawshank}").click()  # unpicked: offered again
    expect(hint).to_be_hidden()
    expect(component(page).get_by_role("option", name=shawshank, exact=True)).to_be_visible()
    component(page).get_by_role("option", name=shawshank, exact=True).click()  # and picked again
    expect(component(page).get_by_role("button", name=f"Remove {shawshank}")).to_be_visible()
    expect(component(page).locator("#top li")).to_have_count(10)
    timing = component(page).locator("#timing").inner_text()
    assert re.fullmatch(rf"Scored on this device in \d+\.\d ms with model version {version}\.", timing)
    top = rendered_top(page)

    # the same model in onnxruntime (Python), on the bytes the browser received
    model_bytes, sidecar = delivered(recorder, version)
    # the workspace's model keeps DEFAULT_NEIGHBOURS lists, and the page gets those lists
    assert sidecar["measure"] == "jaccard" and sidecar["neighbours"] == DEFAULT_NEIGHBOURS and len(sidecar["items"]) == 9724
    assert sidecar["scoring"] == DEFAULT_SCORING  # read as the workspace reads them
    assert len(model_bytes) <= 5_000_000
    items = sidecar["items"]
    history = np.array([items.index(item) for item in picks.values()], dtype=np.int64)
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    _, top_items, top_scores = session.run(None, {"history": history})
    expected = [items[p] for p, s in zip(top_items.tolist(), top_scores.tolist()) if s > 0]
    assert top == expected and len(top) == 10
    titles = component(page).locator("#top li .title").all_inner_texts()
    assert titles == [catalog.title(item) for item in expected]
    scores = [float(text) for text in component(page).locator("#top li .score").all_inner_texts()]
    np.testing.assert_allclose(scores, [round(float(s), 4) for s in top_scores], atol=1e-9)  # as Recommendations shows
    page.screenshot(path=str(ARTIFACTS / "10-private-movielens.png"), full_page=True)
    # the box is set in the app's own font (its font file, from this server), not a fallback
    search = component(page).get_by_role("searchbox", name="Search movies")
    assert search.evaluate("e => getComputedStyle(e).fontFamily").startswith('"Source Sans"')
    page_font = page.get_by_role("heading", name="Private recommendations").evaluate("e => getComputedStyle(e).fontFamily")
    assert page_font.startswith('"Source Sans"')
    loaded = "e => [...document.fonts].some(f => f.family.replaceAll('\"', '') === 'Source Sans' && f.status === 'loaded')"
    assert search.evaluate(loaded)

    # the picks survive a reload (localStorage) and are scored again, still without leaving
    page.reload()
    wait_for_model(page, timeout=60_000)
    expect(component(page).locator("#top li")).to_have_count(10)
    assert rendered_top(page) == expected

    picked = list(picks.values())
    secret_titles = [catalog.title(i) for i in picked] + [catalog.movie(i).title for i in picked] + list(picks)
    secret_titles += [catalog.title(i) for i in expected] + [catalog.title(1), catalog.title(3114)]
    assert_nothing_leaks(recorder, secret_titles, picked + history.tolist() + [3114])  # (id 1 is in every request)
    assert_nothing_leaks(recorder, [], expected)  # the recommendations would reveal the picks too
    messages = component_messages(recorder)
    assert messages and set(messages) <= {'{"ready":null}', json.dumps({"ready": version}, separators=(",", ":"))}
    assert errors == []
    context.close()


def test_a_forget_on_the_server_reaches_the_device(page, server):
    data = load("toy")
    recorder = Recorder(page)
    open_private(page, server, "toy")
    old_version = wait_for_model(page)
    pick(page, "matrix", "The Matrix (1999)")
    pick(page, "tita", "Titanic (1997)")
    expect(component(page).locator("#top li")).to_have_count(3)
    before = rendered_top(page)
    assert before == [0, 4, 3]  # Toy Story, Finding Nemo, The Godfather

    forget_alice(page)
    received_before = len(recorder.received)

    page.get_by_role("link", name="Private recommendations").click()
    frame = component(page)
    expect(frame.locator("#change")).to_be_visible(timeout=60_000)
    new_version = wait_for_model(page)
    assert new_version != old_version

    # the device now runs exactly the model of the visitor's workspace after the forget
    remaining = data.interactions[data.interactions.user != 0]
    retrained = ItemCF.fit(remaining, neighbours=DEFAULT_NEIGHBOURS, scoring=DEFAULT_SCORING)
    expected = build_device_model(retrained, DEFAULT_NEIGHBOURS, data.catalog, dataset="toy", time=1)
    assert expected.version == new_version
    assert any(expected.onnx_bytes in frame_bytes for frame_bytes in recorder.received[received_before:]), (
        "the new model's bytes did not arrive over the WebSocket"
    )
    stored = frame.locator("body").evaluate(
        """async () => { const db = await new Promise(r => { const q = indexedDB.open('amnesia-device', 1); q.onsuccess = () => r(q.result); });
           return await new Promise(r => { const q = db.transaction('models').objectStore('models').get('toy'); q.onsuccess = () => r(q.result.version); }); }"""
    )
    assert stored == new_version  # the old version was replaced on the device

    summary = frame.locator("#change-summary").inner_text()
    match = re.fullmatch(
        rf"Version {old_version} → {new_version}: the new model was in use (\d+\.\d\d) s after the server announced it\. "
        r"Your top 10 changed:",
        summary,
    )
    assert match, summary
    TIMINGS["toy: version change to new model in use, after a page switch (s)"] = float(match.group(1))
    assert "t = 1: Forgot Alice (4 movies)" in frame.locator("#change-notes").inner_text()
    assert "co-occurrences are gone from the table" in frame.locator("#change-notes").inner_text()
    assert frame.locator("#before li .title").all_inner_texts() == ["Toy Story (1995)", "Finding Nemo (2003)", "The Godfather (1972)"]
    assert frame.locator("#after li .title").all_inner_texts() == ["The Godfather (1972)", "Toy Story (1995)"]
    expect(frame.locator("#before li .left")).to_have_text(["Finding Nemo (2003)"])  # only Alice had watched it
    assert rendered_top(page) == [3, 0]
    page.screenshot(path=str(ARTIFACTS / "11-private-after-forget.png"), full_page=True)
    assert page.errors == []


def test_a_new_model_without_picks_says_there_is_no_list(page, server):
    """A visitor who opened the page, picked nothing and made a change read "Your top 10 did not change."
    over two empty Before / After columns (a visitor's pass)."""
    open_private(page, server, "toy")
    old_version = wait_for_model(page)
    forget_alice(page)
    page.get_by_role("link", name="Private recommendations").click()
    frame = component(page)
    expect(frame.locator("#change")).to_be_visible(timeout=60_000)
    assert wait_for_model(page) != old_version
    expect(frame.locator("#change-summary")).to_contain_text(
        "announced it. You have no picks yet, so there is no top 10 to compare: pick movies above to see yours.")
    expect(frame.locator("#change-lists")).to_be_hidden()
    assert "t = 1: Forgot Alice (4 movies)" in frame.locator("#change-notes").inner_text()
    assert page.errors == []


def test_a_pick_whose_movie_left_the_model_keeps_its_title(page, server):
    """Finding Nemo's only viewer is forgotten: its pick read "#4" where the page had shown its title
    (a visitor's finding on MovieLens: "#386" for S.F.W.); it keeps the title, struck through."""
    open_private(page, server, "toy")
    wait_for_model(page)
    pick(page, "nemo", "Finding Nemo (2003)")
    pick(page, "matrix", "The Matrix (1999)")
    forget_alice(page)
    page.get_by_role("link", name="Private recommendations").click()
    frame = component(page)
    expect(frame.locator("#change")).to_be_visible(timeout=60_000)
    expect(frame.locator("#picks li.missing")).to_have_text("Finding Nemo (2003)×")
    expect(frame.get_by_role("button", name="Remove Finding Nemo (2003)")).to_be_visible()
    expect(frame.locator("#picks-hint")).to_have_text(
        "1 of your picks is not in this model (no one watches it any more); it is ignored.")
    # kept in this browser with the picks, for a page loaded later with a model that lacks the movie
    titles = "() => JSON.parse(localStorage.getItem('amnesia.private.titles.toy'))"
    assert frame.locator("body").evaluate(titles) == {"4": "Finding Nemo (2003)", "1": "The Matrix (1999)"}
    frame.get_by_role("button", name="Remove Finding Nemo (2003)").click()  # its title goes with it
    expect(frame.locator("#picks li")).to_have_count(1)
    assert frame.locator("body").evaluate(titles) == {"1": "The Matrix (1999)"}
    assert page.errors == []


@pytest.mark.parametrize("failure", ["offline", "tampered"])
def test_the_page_says_when_the_runtime_cannot_be_loaded(page, server, failure):
    def breaks(route):
        if failure == "offline":
            route.abort("internetdisconnected")
        else:
            response = route.fetch()
            route.fulfill(response=response, body=response.body()[:-1] + b" ")

    page.route(re.compile(r".*/runtime/onnxruntime-web-[\d.]+/ort\.wasm\.bundle\.min\.mjs$"), breaks)
    open_private(page, server, "toy")
    status = component(page).locator("#runtime-status")
    expect(status).to_contain_text("Cannot load ONNX Runtime Web 1.30.0 from the local copy", timeout=60_000)
    expect(status).to_contain_text(f"Run {FETCH_COMMAND} on the server, then reload this page.")
    expect(status).to_have_class(re.compile("error"))
    expect(component(page).locator("#model-status")).to_have_text(
        "Without the runtime this page cannot score anything; your picks stay saved in this browser."
    )
    expect(component(page).get_by_role("searchbox", name="Search movies")).to_be_disabled()
    if failure == "tampered":
        page.screenshot(path=str(ARTIFACTS / "12-private-runtime-refused.png"), full_page=True)


@pytest.fixture(scope="module")
def cdn_server():
    """A second app server configured for the public CDN (AMNESIA_ORT_SOURCE=cdn)."""
    with open(ARTIFACTS / "streamlit-server-cdn.log", "w") as log, streamlit_server(log, env={"AMNESIA_ORT_SOURCE": "cdn"}) as url:
        yield url


@pytest.mark.slow  # a second server (about 20 s on a busy machine); AppTest checks the announced URL by default
@pytest.mark.parametrize("copy", ["pinned", "altered"])
def test_the_cdn_copy_is_used_only_with_its_pinned_hashes(browser, cdn_server, copy):
    """No network in tests: the browser's requests to jsDelivr are answered with the npm files."""
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    page = context.new_page()
    asked: list[str] = []

    def jsdelivr(route):
        name = route.request.url.rsplit("/", 1)[-1]
        asked.append(route.request.url)
        body = (LOCAL_DIR / name).read_bytes()
        if copy == "altered" and name.endswith(".wasm"):
            body = body[:-1] + bytes([body[-1] ^ 1])
        route.fulfill(status=200, body=body, headers={"Access-Control-Allow-Origin": "*"})

    page.route(f"{CDN_BASE}*", jsdelivr)
    open_private(page, cdn_server, "toy")
    status = component(page).locator("#runtime-status")
    if copy == "pinned":
        expect(status).to_have_text("ONNX Runtime Web 1.30.0 from the public CDN (jsDelivr): ready.", timeout=60_000)
        pick(page, "godfather", "The Godfather (1972)")
        expect(component(page).locator("#top li .title")).to_have_text(["The Matrix (1999)", "Toy Story (1995)"])
    else:
        expect(status).to_contain_text("Cannot load ONNX Runtime Web 1.30.0 from the public CDN (jsDelivr)", timeout=60_000)
        expect(status).to_contain_text("did not match its pinned hash")
        expect(status).to_contain_text(f"run {FETCH_COMMAND} there and reload")
    assert sorted(asked) == sorted(CDN_BASE + name for name in RUNTIME_FILES)
    context.close()


def teardown_module(module) -> None:
    if TIMINGS:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / "e2e-private-timings.json"
        path.write_text(json.dumps(TIMINGS, indent=2))
        print("\n" + "\n".join(f"{key}: {value:.2f}" for key, value in TIMINGS.items()))

