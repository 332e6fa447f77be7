"""Amnesia dashboard: routing and the sidebar only.

One base model per data set is trained once and shared by every visitor
(``st.cache_resource``); each visitor works on their own ``Workspace`` (a fork of the base
model and catalog) kept by ``ui_state``, so no visitor ever sees another's changes.
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

import ui_state
from amnesia import ItemCF
from amnesia.data.datasets import Dataset
from amnesia.dashboard.gates import COLLECTOR
from amnesia.dashboard.timing import record_script_time
from amnesia.dashboard.workspace import (
    DEFAULT_NEIGHBOURS, DEFAULT_SCORING, MODEL_KINDS, NEIGHBOUR_CHOICES, SCORING_LABELS, EaseWorkspace, Workspace,
    ease_settings, shared_base, shared_ease, warm_up,
)
from amnesia.engine.ease import EASE
from amnesia.engine.similarity import DEFAULT, MEASURES
from amnesia.words import count, listing

DATASETS = {  # short: the sidebar is narrow; no counts, which the table above gives as they change
    "toy": "Toy world",  # (it read "MovieLens (610 users)" under a table saying 609 after a forget)
    "movielens-small": "MovieLens latest-small",
}
ICON = Path(__file__).resolve().parent / "assets" / "amnesia-icon.png"  # shipped with the app: no font host

started = time.perf_counter()  # the run's server-side time, recorded when AMNESIA_SCRIPT_TIMES is set
st.set_page_config(page_title="Amnesia: a recommender that forgets", page_icon=str(ICON), layout="wide")
ui_state.run_started()  # waits for a click's callback still running on another thread: its result first
ui_state.apply_later()  # before any widget: the form clearing and page clearing an action queued
ui_state.drop_retired_widgets()  # before any widget: the names their labels held go with a Reset or an erase


@st.cache_resource(show_spinner="Loading the data and training the shared model (once for all visitors)…")
def base(name: str, measure: str) -> tuple[Dataset, ItemCF]:
    """The data set and its model under ``measure``, shared read-only by every visitor's fork."""
    built = shared_base(name, measure)
    # every workspace (item-CF or EASE) starts from one of these: at the first, no visitor's data exists yet
    COLLECTOR.freeze_once()
    return built


# On an install that skipped `python -m amnesia warm`, warm_up below compiles the engine's kernels first
# (35-55 s for MovieLens on the development machine, 2026-12-06): the spinner says so, or a host reads
# the wait as a hang
@st.cache_resource(show_spinner="Building each movie's most similar movies, once for all visitors (a new install "
                   "that skipped `python -m amnesia warm` also compiles the engine now: up to a minute)…")
def base_with_lists(name: str, measure: str, neighbours: int | None, scoring: str = DEFAULT_SCORING) -> tuple[Dataset, ItemCF]:
    """The shared model with each movie's ``neighbours`` most similar movies, read with ``scoring``
    (a fork of :func:`base` over the same counts: a choice of K costs only its lists)."""
    data, model = base(name, measure)
    model = model if neighbours is None else model.with_neighbours(neighbours, scoring)
    warm_up(data, model)  # a visitor's first click then finds its kernels loaded
    return data, model


@st.cache_resource(show_spinner="Inverting G + λI for EASE (once for all visitors)…")
def base_ease(name: str) -> tuple[Dataset, EASE]:
    """The data set's EASE over the shared item-CF model's counts (only P is new memory)."""
    data, model = base(name, DEFAULT.name)
    return data, shared_ease(data, model)


def _neighbours_label(k: int | None) -> str:
    label = "Every neighbour" if k is None else f"{k} most similar"
    return label + (" (default)" if k == DEFAULT_NEIGHBOURS else "")


def _model_label(choice: tuple) -> str:
    """A workspace's model in words: "EASE", "Item-CF (Jaccard, 5 most similar)"."""
    _, measure, neighbours, kind, scoring = choice
    if kind == "ease":
        return "EASE"
    reading = f", {SCORING_LABELS[scoring].lower()}" if neighbours is not None and scoring != DEFAULT_SCORING else ""
    k = "every neighbour" if neighbours is None else f"{neighbours} most similar"
    return f"Item-CF ({MEASURES[measure].label}, {k}{reading})"


def _item_cf_choices(current: tuple) -> tuple[str, int | None, str]:
    """The sidebar's similarity, neighbour-list and scoring choices (item-CF only). Back from EASE,
    whose run showed none, they are the item-CF choices made last (not EASE's placeholders)."""
    if current[3] != "item-cf":
        measure, neighbours, scoring = ui_state.get("app", "item_cf") or (DEFAULT.name, DEFAULT_NEIGHBOURS, DEFAULT_SCORING)
        current = (current[0], measure, neighbours, "item-cf", scoring)
    measures = list(MEASURES)
    linked = st.query_params.get("similarity", current[1])
    measure = st.selectbox(
        "Similarity", measures, index=measures.index(linked) if linked in MEASURES else 0,
        format_func=lambda m: MEASURES[m].label, key=ui_state.key("app", "similarity"),
        help=" · ".join(f"{m.label}: {m.text}" for m in MEASURES.values())
        + ". Each choice has its own model and its own changes; the About page shows the formula.",
    )
    if measure != measures[0] or "similarity" in st.query_params:
        st.query_params["similarity"] = measure
    choices = [str(k) if k else "all" for k in NEIGHBOUR_CHOICES]
    linked = st.query_params.get("neighbours", "all" if current[2] is None else str(current[2]))
    chosen = st.selectbox(
        "Neighbours", choices, index=choices.index(linked) if linked in choices else NEIGHBOUR_CHOICES.index(DEFAULT_NEIGHBOURS),
        format_func=lambda text: _neighbours_label(None if text == "all" else int(text)), key=ui_state.key("app", "neighbours"),
        help="How many most similar movies each movie keeps. A recommendation adds up similarities found in those "
        "lists (Scoring, below, says which); the lists stay exact after every add and forget. "
        f"The default, {DEFAULT_NEIGHBOURS}, ranked held-out ratings best on a validation split; every K from 2 to 50 "
        "beat every neighbour, within the noise of each other (docs/benchmarks.md). Each choice has its own changes.",
    )
    neighbours = None if chosen == "all" else int(chosen)
    if neighbours != DEFAULT_NEIGHBOURS or "neighbours" in st.query_params:
        st.query_params["neighbours"] = chosen
    scoring = DEFAULT_SCORING
    if neighbours is not None:  # with every neighbour both readings are one model
        readings = list(SCORING_LABELS)
        linked = st.query_params.get("scoring", current[4])
        scoring = st.selectbox(
            "Scoring", readings, index=readings.index(linked) if linked in SCORING_LABELS else readings.index(DEFAULT_SCORING),
            format_func=lambda s: SCORING_LABELS[s] + (" (default)" if s == DEFAULT_SCORING else ""),
            key=ui_state.key("app", "scoring"),
            help="How a recommendation reads the lists. Lists of your movies: each movie you watched adds its "
            f"{neighbours} most similar movies (item-kNN as implicit computes it). Each movie's own list: a movie is "
            f"scored by the movies you watched among its own {neighbours} most similar (Sarwar et al.'s item-based "
            "model; the default: it ranked held-out ratings better on a validation split, and in the lab and the "
            "accuracy benchmark, docs/benchmarks.md). The same exact lists; each choice has its own changes.",
        )
        if scoring != DEFAULT_SCORING or "scoring" in st.query_params:
            st.query_params["scoring"] = scoring
    elif "scoring" in st.query_params:
        del st.query_params["scoring"]
    ui_state.put("app", "item_cf", (measure, neighbours, scoring))
    return measure, neighbours, scoring


with st.sidebar:
    st.markdown("### Amnesia")
    # the counts that confirm each add and forget come first, filled in once the choices below pick the
    # workspace: below them they sat under the fold of a 1366 x 768 projector
    model_panel = st.container()
    # The URL carries the data set (?data=movielens-small): a presenter can share a link to it, and
    # the picker's default comes from it, so a rerun that drops the widget's state still shows it.
    names = list(DATASETS)
    current = ui_state.get("app", "current") or (names[0], DEFAULT.name, DEFAULT_NEIGHBOURS, "item-cf", DEFAULT_SCORING)
    linked = st.query_params.get("data", current[0])  # navigation links drop ?data=
    name = st.selectbox(
        "Data set", names, index=names.index(linked) if linked in DATASETS else 0, format_func=DATASETS.get,
        key=ui_state.key("app", "dataset"), help="The toy world: 4 users, 5 movies. MovieLens latest-small: 610 users, "
        "9,724 movies, 100,836 ratings (GroupLens).",
    )
    st.query_params["data"] = name
    kinds = list(MODEL_KINDS)
    linked = st.query_params.get("model", current[3])
    # once "Use Item-CF" (ui_state.pick_model) has set the choice in the session state, a default as well drew
    # Streamlit's warning that the widget had both, in the server's log (a browser check)
    picked = ui_state.key("app", "model") in st.session_state
    kind = st.selectbox(
        "Model", kinds, index=0 if picked or linked not in MODEL_KINDS else kinds.index(linked), format_func=MODEL_KINDS.get,
        key=ui_state.key("app", "model"), help="Item-CF scores with a similarity of co-occurrence counts (S); EASE "
        "(Steck, 2019) with ridge-regression weights B learned from the same counts. Both forget exactly. Each choice "
        "has its own model and its own changes.",
    )
    if kind != kinds[0] or "model" in st.query_params:
        st.query_params["model"] = kind
    if kind == "ease":
        settings = ease_settings(name)
        st.caption(f"λ = {settings.l2:g}; scores the movies at least "
                   f"{count(settings.min_viewers, 'person', 'people')} watched.")
        workspace = ui_state.workspace_for(name, DEFAULT.name, None, lambda: EaseWorkspace(*base_ease(name)), kind)
    else:
        measure, neighbours, scoring = _item_cf_choices(current)
        workspace = ui_state.workspace_for(
            name, measure, neighbours, lambda: Workspace(*base_with_lists(name, measure, neighbours, scoring)),
            scoring=scoring)
    stats = workspace.stats()
    with model_panel:
        # a table, not st.metric: metrics in half a sidebar cut "100,836" to "100,…". "Movies watched": the
        # model's items are those someone has (n > 0), so the count falls when a forget takes a movie's last
        # viewer, which "Movies" left a teacher to explain (the catalog keeps all 9,742)
        st.markdown(
            "| Your model | |\n|:--|--:|\n"
            f"| Users | {stats.users:,} |\n| Movies watched | {stats.items:,} |\n"
            f"| Interactions | {stats.interactions:,} |\n| Logical time | {stats.time:,} |"
        )
        others = ui_state.other_changes()
        if others:  # a visitor forgot User 414 in item-CF, picked EASE and found them there again
            kept = listing(f"{_model_label(choice)} at t = {at}" for choice, at in others)
            said = (f"Each model has its own changes: this one is at t = {stats.time}; your "
                    f"{'other model keeps its' if len(others) == 1 else 'other models keep theirs'}: {kept}.")
            if stats.time == 0:  # a user forgotten elsewhere is back here: say so where it is seen
                back = " Users you forgot there are back in this one." if ui_state.forgot_elsewhere() else ""
                which = "that model" if len(others) == 1 else "one of those models"
                st.warning(f"None of your changes are in this model.{back} {said} Pick {which} again to see them.",
                           icon=":material/call_split:")
            else:
                st.caption(said)
        # a box that asks first: one stray click dropped every change of the session, with no way back.
        # Tracked (a rerun on open and close) so that the reset can close it: left open, it went on asking
        # about changes that were gone. An expander, not a popover: a popover's body is drawn at the page's
        # end, so its button came 33 presses of Tab after it opened, behind the settings it covered (a
        # keyboard visitor's pass); an expander's comes next
        with st.expander("Reset my changes", key=ui_state.key("app", "reset_open"), on_change=ui_state.note,
                         args=("app", "reset_toggled", time.monotonic_ns()), icon=":material/restart_alt:"):
            changes = ui_state.changes_to_reset()
            if changes:
                st.markdown(f"Back to the starting data: this drops your {count(changes, 'change')} to "
                            f"{DATASETS[name]}, in every model, and every page's choices. To keep them, export your "
                            "request log on the Change log first.")
            else:
                st.markdown(f"You have made no changes to {DATASETS[name]}; this clears every page's choices.")
            st.button("Reset" if not changes else f"Drop {count(changes, 'change')}", type="primary",
                      width="stretch", on_click=ui_state.reset, key=ui_state.key("app", "reset"))
            # just opened: its button in view (at 1,024 x 768 it opened below the sidebar's fold, unseen)
            toggled = ui_state.take_once("app", "reset_toggled")
            if toggled and ui_state.get("app", "reset_open"):
                ui_state.scroll_up_to_here(toggled)
        if done := ui_state.take_once("app", "reset_done"):
            st.toast(done, icon=":material/restart_alt:")
    st.caption(
        "Your changes are private to this browser session. Reloading the page starts a new session and loses "
        "them: export your request log on the Change log page to keep them, and import it there to restore."
    )
    ui_state.page_style()  # last: its empty box still takes a gap, here out of sight

navigation = st.navigation(
    [st.Page(page.file, title=page.title, icon=page.icon, default=page.default) for page in ui_state.PAGES]
)
callback_seconds = ui_state.take_callback_seconds()
COLLECTOR.run_started()
try:
    navigation.run()
    # not when the run was stopped: by a click (Streamlit stops the run for it with the StopException of
    # st.stop(), and the next run shows its messages again) or by a page's ui_state.stop(), which has done this
    ui_state.run_finished()
finally:  # also when the page stops or reruns (Streamlit's control flow is exceptions)
    record_script_time(navigation.url_path or "forget", callback_seconds + time.perf_counter() - started, callback_seconds)
    COLLECTOR.after_run()  # instead of Streamlit's collection after every run (.streamlit/config.toml)
