"""The app's pages and session state, owned in one place: PAGES, typed accessors, one Reset.

:data:`PAGES` is the one list of the dashboard's pages: ``app.py`` builds its navigation from
it, every page's session state lives under its key, Reset clears them all, and the tests (the
AppTest smoke test of every page, the browser's deep links) iterate it. A new page is one entry
here, its file in ``app_pages/``, its library function and their tests.

Every value a page keeps between runs lives under a key ``"<page>.<name>"`` (widget keys
too), made by :func:`key`. The visitor's workspaces (one per data set and model: kind, similarity
measure) live under ``"app.workspaces"``. :func:`reset` drops the current workspace's
changes and clears every page's keys, so no page keeps state that refers to a change that
no longer exists. Nothing else in the app touches ``st.session_state`` directly.
"""

from __future__ import annotations

import functools
import html
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import streamlit as st

from amnesia.dashboard.workspace import Workspace
from amnesia.words import count


@dataclass(frozen=True)
class Page:
    """One page of the dashboard.

    ``key``: its name in session-state keys and its URL path (``/change_log``); ``file``: the
    script in ``app_pages/``; ``title`` and ``icon``: its navigation entry; ``heading``: the
    title the page shows (what a deep link must open); ``follows_changes``: its state refers to
    the workspace's changes, so importing a request log clears it too (Reset clears every page)."""

    key: str
    file: str
    title: str
    icon: str
    heading: str
    default: bool = False
    follows_changes: bool = True


PAGES: tuple[Page, ...] = (
    Page("forget", "app_pages/forget.py", "Forget", ":material/ink_eraser:", "Watch a recommender forget", default=True),
    Page("change_log", "app_pages/change_log.py", "Change log", ":material/receipt_long:", "Change log"),
    Page("recommendations", "app_pages/recommendations.py", "Recommendations", ":material/movie:", "Recommendations"),
    Page("private", "app_pages/private.py", "Private recommendations", ":material/lock:", "Private recommendations"),
    Page("lab", "app_pages/lab.py", "Lab", ":material/science:", "Unlearning lab", follows_changes=False),
    Page("about", "app_pages/about.py", "About", ":material/info:", "About Amnesia"),
)
#: Prefixes of session-state keys: the app's own (sidebar, workspaces) and every page's.
SCOPES = ("app", *(page.key for page in PAGES))
T = TypeVar("T")


#: Where each page's generation is kept: how many times its keys were cleared (never cleared itself).
GENERATIONS = "app.generations"


def key(page: str, name: str) -> str:
    """The session-state key of ``name`` on ``page``: ``"forget.add_name"``, and once the page's
    keys were cleared ``"forget.add_name~1"`` and so on (see :func:`clear_pages`)."""
    if page not in SCOPES:
        raise ValueError(f"unknown page {page!r}; pages: {', '.join(SCOPES)}")
    generation = 0 if page == "app" else st.session_state.get(GENERATIONS, {}).get(page, 0)
    return f"{page}.{name}~{generation}" if generation else f"{page}.{name}"


def get(page: str, name: str, default: T = None) -> T:
    """The value kept for ``name`` on ``page``, or ``default``."""
    return st.session_state.get(key(page, name), default)


def put(page: str, name: str, value: Any) -> None:
    st.session_state[key(page, name)] = value


def pop(page: str, name: str, default: T = None) -> T:
    """Take the value (it is gone afterwards): for messages shown once."""
    return st.session_state.pop(key(page, name), default)


# ---------------------------------------------------------------------- workspaces
def workspace_for(dataset: str, measure: str, neighbours: int | None, create: Callable[[], Workspace],
                  kind: str = "item-cf", scoring: str = "history") -> Workspace:
    """This visitor's workspace for ``dataset`` and the model ``kind`` ("item-cf" with ``measure``,
    ``neighbours``, K or None, and ``scoring``; "ease"), made by ``create`` on first use, which
    becomes the current one for this run."""
    spaces: dict[tuple, Workspace] = st.session_state.setdefault(key("app", "workspaces"), {})
    chosen = (dataset, measure, neighbours, kind, scoring)
    if chosen not in spaces:
        spaces[chosen] = create()
    put("app", "current", chosen)
    return spaces[chosen]


def _dataset_workspaces() -> list[tuple[tuple, Workspace]]:
    """This visitor's workspaces of the picked data set, one per model choice, as (choice, workspace)
    in the order first used (a list: :func:`reset` reads them all before it resets any)."""
    spaces: dict[tuple, Workspace] = st.session_state.get(key("app", "workspaces"), {})
    dataset_name = get("app", "current")[0]
    return [(chosen, space) for chosen, space in spaces.items() if chosen[0] == dataset_name]


def forgot_elsewhere() -> bool:
    """Did a change in one of this visitor's other models of the picked data set leave a user without
    interactions (a forget, or a removal of all of a user's rows)? Then that user is back in this one."""
    chosen = get("app", "current")
    return any(entry.gone for other, space in _dataset_workspaces() if other != chosen for entry in space.log)


def other_changes() -> list[tuple[tuple, int]]:
    """This visitor's other models of the picked data set that hold changes, as (choice, logical
    time) in the order first used: each choice has a model of its own, so a user forgotten in one
    is still in another; the sidebar says so where the choice is made."""
    chosen = get("app", "current")
    return [(other, space.model.time) for other, space in _dataset_workspaces() if other != chosen and len(space.log)]


def changes_to_reset() -> int:
    """How many changes :func:`reset` would drop: this visitor's logged requests to the picked data
    set, in every model."""
    return sum(len(space.log) for _, space in _dataset_workspaces())


def pick_model(kind: str) -> None:
    """Choose the sidebar's Model (``kind``: "item-cf", "ease"); a callback, so before the sidebar is
    drawn."""
    st.session_state[key("app", "model")] = kind


def workspace() -> Workspace:
    """The workspace the sidebar picked for this run."""
    return st.session_state[key("app", "workspaces")][get("app", "current")]


def dataset() -> str:
    """The name of the data set picked for this run ("toy", "movielens-small")."""
    return get("app", "current")[0]


def measure() -> str:
    """The name of the similarity measure picked for this run ("jaccard", "cosine")."""
    return get("app", "current")[1]


def neighbours() -> int | None:
    """K, the neighbours each movie keeps in the model picked for this run (None: every neighbour)."""
    return get("app", "current")[2]


def model_kind() -> str:
    """The kind of model picked for this run ("item-cf", "ease")."""
    return get("app", "current")[3]


def scoring() -> str:
    """How the item-CF model picked for this run reads its lists ("history", "candidate")."""
    return get("app", "current")[4]


# ---------------------------------------------------------------------- an action's messages and later writes
# Streamlit checks for a newer click at every read or write of st.session_state, also inside a
# callback, and stops the callback there (RerunException). A callback whose change was made (the
# workspace is changed in place) but whose message, form clearing or page clearing came after that
# point lost them all to a click that arrived meanwhile: on MovieLens a double click on Apply lost
# the first request's message and applied a second. So an action's callback touches the session
# state only before its change, and everything after goes into the session's *inbox*, a dict held in
# the session state and changed in place (no check there): messages for the next run and writes the
# next run makes before it draws a widget (:func:`apply_later`).
INBOX = "app.inbox"
_HELD = threading.local()  # the inbox of the session whose action runs on this thread


def _new_inbox() -> dict[str, Any]:
    # "acting": held while an action's callback runs. A click that arrives meanwhile gets a run on a new
    # thread while the callback goes on on its own; that run waits for it (:func:`run_started`), or
    # it read the workspace half changed and drew the page before the callback's message was written.
    # "echo": the writes the last action queued (:func:`later`), queued again when its double click's second
    # half is ignored: that click carries the form's values from before the first one's result was drawn.
    return {"messages": {}, "taken": set(), "shown": {}, "later": [], "last": None, "callback_seconds": 0.0,
            "acting": threading.Lock(), "echo": []}


def _inbox() -> dict[str, Any]:
    """The session's inbox: the one :func:`action` holds while its callback runs, else read."""
    held = getattr(_HELD, "inbox", None)
    if held is not None:
        return held
    if INBOX not in st.session_state:
        st.session_state[INBOX] = _new_inbox()
    return st.session_state[INBOX]


def note(page: str, name: str, value: Any) -> None:
    """A one-time value ``name`` for the next run of ``page`` (read with :func:`take`)."""
    _inbox()["messages"][(page, name)] = value


def flash(page: str, kind: str, text: str) -> None:
    """A message (``kind``: success, info, warning, error) for the next run of ``page``."""
    note(page, "flash", (kind, text))


def take(page: str, name: str, default: T = None) -> T:
    """The one-time value ``name`` of ``page`` (a message for this run), deleted once a run has shown
    it in full (:func:`run_finished`). It had been popped as it was read: when a second click stopped
    that run before its end, the run that followed had nothing left to show, and a change that worked
    went without its message."""
    inbox = _inbox()
    if (page, name) in inbox["messages"]:
        inbox["taken"].add((page, name))
    return inbox["messages"].get((page, name), default)


def take_once(page: str, name: str, default: T = None) -> T:
    """The one-time value ``name`` of ``page``, gone as it is read: for what the browser gets at once and
    keeps up (a toast). Kept until a run has shown it, as :func:`take` keeps a message, a toast came back
    after a double click's ignored second half and popped up twice."""
    return _inbox()["messages"].pop((page, name), default)


def take_flash(page: str) -> tuple[str, str] | None:
    return take(page, "flash")


def set_error(page: str, field: str, text: str) -> None:
    """An error to show next to ``field`` on the next run of ``page``."""
    note(page, f"error.{field}", text)


def take_error(page: str, field: str) -> str | None:
    return take(page, f"error.{field}")


#: Seconds a run waits for an action still running on another thread before it goes on without it.
ACTION_WAIT_SECONDS = 60.0


def run_started() -> None:
    """At the start of a run (app.py): wait until no action's callback is running (see
    :func:`_new_inbox`), and forget what a stopped run had taken (its messages were not shown: a
    page this run does not draw must not see them deleted as shown)."""
    inbox = _inbox()
    if inbox["acting"].acquire(timeout=ACTION_WAIT_SECONDS):
        inbox["acting"].release()
    inbox["taken"].clear()


def later(page: str, name: str, value: Any) -> None:
    """Set ``name`` of ``page`` to ``value`` at the start of the next run, before its widgets are
    drawn: an action's write after its change (clearing its form)."""
    _inbox()["later"].append((page, name, value))


def clear_pages_later(changes_only: bool = False) -> None:
    """:func:`clear_pages` at the start of the next run (before the writes queued after this call)."""
    _inbox()["later"].append((None, "clear_pages", changes_only))


def apply_later() -> None:
    """At the start of a run (app.py), before any widget: the writes actions queued, in order. Each
    leaves the queue once made, so a run stopped on the way makes the rest at its next start."""
    queue = _inbox()["later"]
    while queue:
        page, name, value = queue[0]
        if page is None:
            clear_pages(changes_only=value)
        else:
            put(page, name, value)
        queue.pop(0)


# ---------------------------------------------------------------------- a click's result in view
#: Follows a mark placed in the page for a moment, scrolling as ``step`` says while the page settles, and stops at
#: once when the visitor scrolls, clicks or types. ``token`` tells this run's mark from older ones.
_FOLLOW = """<span class="amnesia-scroll" data-token="{token}"></span><script>(() => {{
  const mark = document.querySelector('.amnesia-scroll[data-token="{token}"]');
  const box = mark && (mark.closest("[data-testid=stElementContainer]") || mark);
  if (!box) return;
  let stop = false;
  for (const kind of ["wheel", "touchstart", "keydown", "mousedown"]) window.addEventListener(kind, () => {{ stop = true; }}, {{once: true, capture: true}});
  const until = Date.now() + {milliseconds};
  const keep = () => {{
    if (stop || !box.isConnected) return;
    {step}
    if (Date.now() < until) requestAnimationFrame(keep);
  }};
  keep();
}})();</script>"""

#: A click's result (and on the Forget page the charts under it) at the top, below the app's header bar (64 px): at a
#: projector's 1,280 x 720 they began under the form, out of sight, and a presenter scrolled after every click. It is
#: followed for 2.5 s: the form's preview lines above it go away after it first scrolled, which left the message under
#: the header.
_TO_RESULT = ('if (Math.abs(box.getBoundingClientRect().top - 64) > 2) { box.style.scrollMarginTop = "64px"; '
              'box.scrollIntoView({block: "start"}); }')
#: An error under a form, when it ends below the window: at 1,280 x 720 the Add form's "Pick at least one movie…"
#: showed as a red strip at the bottom edge, under the button clicked (a visitor's finding). The mark is placed after
#: the message, and the page scrolls only as far as the message's end, so the form stays in view above it.
_UP_TO_HERE = 'if (box.getBoundingClientRect().bottom > window.innerHeight) box.scrollIntoView({block: "end"});'


def _follow(token: object, step: str, milliseconds: int) -> None:
    """Our own constant script (:data:`_FOLLOW`): no visitor text goes into it."""
    script = _FOLLOW.format(token=html.escape(str(token)), step=step, milliseconds=milliseconds)
    st.html(script, unsafe_allow_javascript=True)


def scroll_up_to_here(token: object) -> None:
    """Scroll the page, if need be, until what came just before (an error under a form) is in view,
    no further. ``token``: a new value for every message."""
    _follow(token, _UP_TO_HERE, 1500)


def scroll_to_here(token: object) -> None:
    """Scroll the page so that what comes next (a click's result message) is in view. ``token``:
    a new value for every result (a change's version), so that a second result scrolls too."""
    _follow(token, _TO_RESULT, 2500)



# ---------------------------------------------------------------------- a chart a keyboard can play
#: Plotly draws an animation's ▶ Play, ❚❚ Pause and stage slider in SVG that takes no focus: a visitor
#: without a mouse could not play a change. Installed once per browser tab, this makes every chart's
#: Play and Pause buttons (Tab to one, then Enter or Space) and its stage slider a slider (← and →
#: step a stage, Home and End go to the first and the last), outlined in the theme's red when
#: focused by keyboard. A key does what a click does: it sends the click, or the press on the rail
#: under the stage's name, that Plotly listens for. Plotly redraws its controls and Streamlit its
#: charts, so they are marked again after every change to the page.
_CHART_KEYS = """<script>(() => {
  if (window.__amnesiaChartKeys) return;
  window.__amnesiaChartKeys = true;
  const style = document.createElement("style");
  style.textContent = `
    .js-plotly-plot .updatemenu-button:focus, .js-plotly-plot .slider-group:focus { outline: none; }
    .js-plotly-plot .updatemenu-button:focus-visible rect,
    .js-plotly-plot .slider-group:focus-visible .slider-rail-rect { stroke: #ff4b4b !important; stroke-width: 3px !important; }`;
  document.head.appendChild(style);
  const plot = (element) => element.closest(".js-plotly-plot");
  const stage = (group) => {
    const sliders = (plot(group)._fullLayout || {}).sliders || [];
    return sliders.length ? sliders[0].active : 0;
  };
  const mark = () => {
    for (const button of document.querySelectorAll(".js-plotly-plot .updatemenu-button:not([tabindex])")) {
      button.setAttribute("tabindex", "0");
      button.setAttribute("role", "button");
      button.setAttribute("aria-label", button.textContent.includes("Play") ? "Play the change stage by stage" : "Pause");
    }
    for (const chart of document.querySelectorAll(".js-plotly-plot")) {
      // the slider's step also changes without a redraw of the page (a key, or Play's frames)
      if (chart.__amnesiaKeys || typeof chart.on !== "function") continue;
      chart.__amnesiaKeys = true;
      for (const name of ["plotly_sliderchange", "plotly_animatingframe", "plotly_animated"]) chart.on(name, later);
    }
    for (const group of document.querySelectorAll(".js-plotly-plot .slider-group")) {
      const names = [...group.querySelectorAll(".slider-label")].map((label) => label.textContent);
      const now = stage(group);
      group.setAttribute("tabindex", "0");
      group.setAttribute("role", "slider");
      group.setAttribute("aria-label", "Stage of the change");
      group.setAttribute("aria-valuemin", "0");
      group.setAttribute("aria-valuemax", String(names.length - 1));
      group.setAttribute("aria-valuenow", String(now));
      group.setAttribute("aria-valuetext", names[now] || "");
    }
  };
  // Tick labels of a category x axis (a heatmap's movies) that would overlap are hidden: a figure names
  // every movie (figures._x_tick_text), which at a 1,024 px window (four panels of ~110 px) would put
  // rotated 12 px labels run together. The movies a change touched (bold) keep their names first, then
  // the others from the left; hover names every cell. An axis not
  // drawn (a hidden tab: every box is empty) is left as it is, and one whose labels and width are as
  // last thinned is not measured again (the page changes on every hover).
  const thin = () => {
    for (const layer of document.querySelectorAll(".js-plotly-plot .xaxislayer-above")) {
      const chart = plot(layer), name = (/subplot x(\\d*)y/.exec(layer.parentElement.getAttribute("class") || "") || [])[1];
      const axis = chart && chart._fullLayout && name !== undefined ? chart._fullLayout["xaxis" + name] : null;
      if (!axis || axis.type !== "category") continue;
      const texts = [...layer.querySelectorAll(":scope > g > text")];
      const width = layer.getBoundingClientRect().width;
      // what the labels' places depend on: the axis's width and range (a drag-zoom keeps some labels' nodes)
      const drawn = width + "|" + String(axis.range) + "|" + texts.length;
      if (!texts.length || !width || (layer.__amnesiaDrawn === drawn && texts.every((text) => text.__amnesiaThinned))) continue;
      layer.__amnesiaDrawn = drawn;
      // a changed movie's name is bold (Plotly draws it as a bold tspan): those are kept first, then the
      // others left to right, each only if it touches no name kept before it
      const bold = (text) => !!text.querySelector("tspan[style*='bold']");
      const labels = texts.map((text) => ({text, box: text.getBoundingClientRect(), first: bold(text)}))
        .sort((a, b) => (b.first - a.first) || (a.box.right - b.box.right));
      const kept = [];
      for (const label of labels) {
        const turn = /rotate\\((-?[\\d.]+)/.exec(label.text.getAttribute("transform") || "");
        const size = parseFloat(getComputedStyle(label.text).fontSize) || 12;
        const slant = turn ? Math.abs(Math.sin(parseFloat(turn[1]) * Math.PI / 180)) : 0;
        // rotated labels are parallel: apart by their spacing times the sine of the angle, they need a line's height
        const apart = (other) => slant > 0.2 ? Math.abs(label.box.right - other.box.right) * slant >= size * 1.15
                                            : label.box.left >= other.box.right + 4 || other.box.left >= label.box.right + 4;
        const clear = kept.every(apart);
        label.text.style.visibility = clear ? "" : "hidden";
        label.text.__amnesiaThinned = true;
        if (clear) kept.push(label);
      }
    }
  };
  let queued = false;
  const later = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; mark(); thin(); });
  };
  window.addEventListener("resize", later);
  new MutationObserver(later).observe(document.body, {childList: true, subtree: true});
  mark();
  thin();
  document.addEventListener("keydown", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const button = target && target.closest(".js-plotly-plot .updatemenu-button");
    if (button && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      button.dispatchEvent(new MouseEvent("click", {bubbles: true}));
      return;
    }
    const group = target && target.closest(".js-plotly-plot .slider-group");
    if (!group) return;
    const labels = [...group.querySelectorAll(".slider-label")];
    const now = stage(group);
    const to = {ArrowLeft: now - 1, ArrowDown: now - 1, ArrowRight: now + 1, ArrowUp: now + 1,
                Home: 0, End: labels.length - 1}[event.key];
    if (to === undefined) return;
    event.preventDefault();
    const label = labels[Math.max(0, Math.min(labels.length - 1, to))];
    const rail = group.querySelector(".slider-rail-touch-rect");
    if (!label || !rail) return;
    const name = label.getBoundingClientRect(), line = rail.getBoundingClientRect();
    const at = {bubbles: true, view: window, clientX: name.left + name.width / 2, clientY: line.top + line.height / 2};
    rail.dispatchEvent(new MouseEvent("mousedown", at));
    plot(group).dispatchEvent(new MouseEvent("mouseup", at));
  }, true);
})();</script>"""


#: Captions a projector can show: Streamlit draws them at opacity 0.6 over a grey of its own, about
#: 2.7 : 1 on white (a visitor measured #9B9CA2; a presenter's pass had found them faint). Here: the
#: text colour at 80 % and full opacity, about 6.6 : 1, still lighter than the text they explain.
_PAGE_STYLE = '<style>[data-testid="stCaptionContainer"] { color: rgba(49, 51, 63, 0.8); opacity: 1; }</style>'


def page_style() -> None:
    """The app's own style rules (:data:`_PAGE_STYLE`), for every page."""
    st.html(_PAGE_STYLE)


def chart_keys() -> None:
    """Let a keyboard play the page's animated charts, and keep their x tick labels apart
    (:data:`_CHART_KEYS`, our own constant script)."""
    st.html(_CHART_KEYS, unsafe_allow_javascript=True)

# ---------------------------------------------------------------------- reset
def clear_pages(changes_only: bool = False) -> None:
    """Clear every page's keys (values and widgets), keeping the workspaces; with
    ``changes_only``, only the pages whose state refers to the workspace's changes.

    A cleared page's keys get a new generation (:func:`key`), so its widgets are new ones that show
    their defaults: a widget whose key was only deleted kept showing its old value in the browser
    (Reset left the chart slider at 25 above charts of 20 movies) and sent it back with the next click."""
    keep = {key("app", "workspaces"), key("app", "current"), GENERATIONS, INBOX}
    pages = [page.key for page in PAGES if page.follows_changes or not changes_only]
    scopes = {"app", *pages}
    for name in [k for k in st.session_state if isinstance(k, str) and k not in keep
                 and k.removeprefix("FormSubmitter:").split(".", 1)[0] in scopes]:  # a form's button too
        del st.session_state[name]
    generations = st.session_state.setdefault(GENERATIONS, {})
    for page in pages:
        generations[page] = generations.get(page, 0) + 1


#: A page widget's key as Streamlit stores it in a widget id: ``forget.add_name~2``,
#: ``forget.candidate-3-42~2`` (names may hold "-"), or a form's button's
#: ``FormSubmitter:forget.add_form~2-Add user``; generation 0 has no ``~``.
_WIDGET_KEY = re.compile(r"(?:FormSubmitter:)?(?P<page>\w+)\.[^~]*?(?:~(?P<generation>\d+))?(?:-[^~]*)?")


def drop_retired_widgets() -> None:
    """Drop what Streamlit keeps of the widgets whose keys :func:`clear_pages` retired.

    Streamlit keeps every widget's metadata for the whole session, the labels of a select box's
    options included ("Ana (2 movies)"), and drops it only when the same widget is drawn again; a
    retired generation's widgets never are. So after an erase from the log, a Reset or an Import,
    the names of users who were gone stayed in the server's memory under them, ten entries more per
    Reset. Called at the start of every run (app.py), once the callbacks, which read that
    metadata, have run: a widget without metadata is stale, and its value goes at the run's end.

    Reads Streamlit's private session state; if a Streamlit release moves it this does nothing,
    and tests/test_app.py's privacy test fails."""
    from streamlit.runtime.state.common import is_element_id, user_key_from_element_id
    from streamlit.runtime.state.session_state_proxy import get_session_state

    safe = get_session_state()
    widgets = getattr(getattr(safe, "_state", None), "_new_widget_state", None)
    if widgets is None:
        return
    generations = st.session_state.get(GENERATIONS, {})
    for widget_id in [w for w in list(widgets.widget_metadata) if is_element_id(w)]:
        match = _WIDGET_KEY.fullmatch(user_key_from_element_id(widget_id) or "")
        if match and match["page"] in generations and int(match["generation"] or 0) != generations[match["page"]]:
            del widgets.widget_metadata[widget_id]


def release_upload(upload: Any) -> None:
    """Give back an uploaded file's bytes once they are read.

    Streamlit keeps a session's uploads until the visitor removes them with the file's ✕ or the
    session ends, and a cleared page's uploader (a new key generation) never removes its file: each
    import of a 4.5 MB log left 4.8 MB of server memory behind, ten imports 44 MB."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    if context is not None and upload is not None and context.uploaded_file_mgr is not None:
        context.uploaded_file_mgr.remove_file(context.session_id, upload.file_id)


# ---------------------------------------------------------------------- an action's callback
#: Seconds after a run showed an action's result in which a click on the same button is still the
#: second half of a double click (a system's double-click time is about 0.5 s; a meant second action
#: needs a new name, user or request first, which takes longer).
ECHO_SECONDS = 0.5
#: Seconds after a shown result in which a click on a button whose form is as the action left it
#: (``idle``: Add's and Forget's cleared, the raw request's box still holding what it applied) is
#: still the tail of a burst: a visitor who clicked Add five times in about a second saw "The user's
#: name is empty" replace "Added …". Only for such forms: a wider window for every button swallowed
#: a second import made within it (two browser tests caught it).
BURST_SECONDS = 2.0
#: Seconds after which an action whose result no run finished showing (a page that failed) no longer
#: holds back a click on it.
UNSHOWN_SECONDS = 10.0


def action(callback: Callable[[], None] | None = None, *, idle: Callable[[], bool] | None = None) -> Callable[..., Any]:
    """A state-changing button's callback (Add, Forget, Apply, Import, Erase, Reset): one click is one
    action, and its seconds count in the run's recorded server time (callbacks run before the script;
    see amnesia.dashboard.timing).

    A second click on the same button is ignored while the page has not finished showing the first
    one's result, and for :data:`ECHO_SECONDS` after that. It had been applied: with the raw request's
    box refilled by the first click, a double click applied a second request the visitor never saw; on
    Add and Forget the second click found the form cleared (or held the user just added), and its
    error ("The user's name is empty") replaced the success message of the change that worked.

    ``idle`` (``@action(idle=...)``) says whether the button's form is as the action left it after a
    change (cleared): such a click within :data:`BURST_SECONDS` of the shown result is an echo too.

    The callback reads the session state only before its change, and writes after it only through
    the inbox (:func:`note`, :func:`flash`, :func:`later`): see the inbox's comment above."""
    if callback is None:
        return functools.partial(action, idle=idle)
    name = callback.__name__

    @functools.wraps(callback)
    def run() -> None:
        inbox = _inbox()  # the last read of the session state that may stop this click: nothing is done yet
        if not inbox["acting"].acquire(timeout=ACTION_WAIT_SECONDS):  # the first click's callback, on its thread
            return
        try:
            last = inbox["last"]  # (name, shown, monotonic seconds)
            if last is not None and last[0] == name:
                window = ECHO_SECONDS if last[1] else UNSHOWN_SECONDS
                if last[1] and idle is not None and idle():  # the form the action cleared: a burst's tail
                    window = max(window, BURST_SECONDS)
                if time.monotonic() - last[2] < window:
                    # shown: the run after this one would show no message, so it shows the result's again; not
                    # shown: the stopped run's messages are still there (an older run's are not to come back)
                    for where, value in (inbox["shown"] if last[1] else {}).items():
                        inbox["messages"].setdefault(where, value)
                    # this click's form values (the name just added, the request just applied) were written over
                    # the cleared ones before any callback, so the first click's writes are made again if they were
                    # made already: once its result was shown, and also when its run had begun (it makes them
                    # first) before this click stopped it, which left the applied request in the box about 1 run
                    # in 12 of the double-click browser test. Those still queued are not queued twice (the pages
                    # were cleared twice)
                    pending = inbox["later"]
                    pending.extend(write for write in inbox["echo"] if not any(write is queued for queued in pending))
                    return
            inbox["last"] = (name, False, time.monotonic())
            _HELD.inbox = inbox
            started, queued = time.perf_counter(), len(inbox["later"])
            try:
                callback()
            finally:
                _HELD.inbox = None
                inbox["echo"] = inbox["later"][queued:]
                inbox["callback_seconds"] += time.perf_counter() - started
        finally:
            inbox["acting"].release()

    return run


def stop() -> NoReturn:
    """A page's early end, in place of ``st.stop()``: the run has shown what it had to show. Streamlit
    stops a run for a click with the same StopException, and after it every read of the session
    state raises it again, so app.py cannot finish such a run for the page (see :func:`run_finished`)."""
    run_finished()
    st.stop()
    raise AssertionError("st.stop() returned")  # it raises; for the type checker


def run_finished() -> None:
    """At the end of a run that went to its end (app.py) or to a page's :func:`stop`: the messages it
    took were shown, and so was the last action's result. The messages are kept until the next run ends,
    for a double click's ignored second half to show them again (its run would have shown none)."""
    inbox = _inbox()
    inbox["shown"] = {where: inbox["messages"].pop(where) for where in inbox["taken"] if where in inbox["messages"]}
    inbox["taken"].clear()
    last = inbox["last"]
    if last is not None and not last[1]:
        inbox["last"] = (last[0], True, time.monotonic())


@action
def reset() -> None:
    """Drop this visitor's changes to the picked data set, in every model they made them in, and
    every page's state (the sidebar's Reset, an :func:`action`). It reset only the model in view, while
    the sidebar went on to list the other models' changes under a button that promised to drop "your
    changes"."""
    chosen_now = get("app", "current")
    # all read before any is reset (see the inbox's comment)
    spaces, dropped = _dataset_workspaces(), changes_to_reset()
    for chosen, space in spaces:
        if space.log or chosen == chosen_now:
            space.reset()
    clear_pages_later()
    later("app", "reset_open", False)  # close the sidebar's box that asked (app.py)
    # said once it is done: the box closes, and a visitor could not tell a reset from a stray click
    note("app", "reset_done", f"Dropped {count(dropped, 'change')}: back to the starting data."
         if dropped else "Every page's choices are cleared.")


def take_callback_seconds() -> float:
    """Seconds the callbacks of this run took (0 when none ran); read once per run."""
    inbox = _inbox()
    seconds, inbox["callback_seconds"] = inbox["callback_seconds"], 0.0
    return seconds
