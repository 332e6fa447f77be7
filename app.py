"""Amnesia dashboard: routing and per-visitor state only.

One base model per data set is trained once and shared by every visitor
(``st.cache_resource``); each visitor works on their own ``Workspace`` (a fork of the base
model and catalog) in ``st.session_state``, so no visitor ever sees another's changes.
"""

from __future__ import annotations

import streamlit as st

from amnesia import ItemCF
from amnesia.data.datasets import Dataset, load
from amnesia.dashboard.workspace import Workspace

DATASETS = {
    "toy": "Toy world: 4 users, 5 movies",
    "movielens-small": "MovieLens latest-small: 610 users, 9,724 movies",
}

st.set_page_config(page_title="Amnesia: a recommender that forgets", page_icon=":material/psychology:", layout="wide")


@st.cache_resource(show_spinner="Loading the data and training the shared model (once for all visitors)…")
def shared_base(name: str) -> tuple[Dataset, ItemCF]:
    """The data set and its model, shared read-only by every visitor's fork."""
    data = load(name)
    return data, ItemCF.fit(data.interactions)


def visitor_workspace(name: str) -> Workspace:
    """This visitor's workspace for data set ``name`` (created on first use, kept per session)."""
    spaces: dict[str, Workspace] = st.session_state.setdefault("workspaces", {})
    if name not in spaces:
        spaces[name] = Workspace(*shared_base(name))
    return spaces[name]


def reset_workspace(workspace: Workspace) -> None:
    """Drop this visitor's changes, names and cached figures (runs before the rerun)."""
    workspace.reset()
    for key in ("flash", "figures", "title_problem", "verification"):
        st.session_state.pop(key, None)


with st.sidebar:
    st.markdown("### :material/psychology: Amnesia")
    # The URL carries the data set (?data=movielens-small): a presenter can share a link to it, and
    # the picker's default comes from it, so a rerun that drops the widget's state (a form submit
    # did, when the state had been seeded through session_state) still shows the same data set.
    names = list(DATASETS)
    linked = st.query_params.get("data", st.session_state.get("dataset_name", names[0]))  # nav links drop ?data=
    name = st.selectbox(
        "Data set", names, index=names.index(linked) if linked in DATASETS else 0, format_func=DATASETS.get, key="dataset"
    )
    st.query_params["data"] = name
    workspace = visitor_workspace(name)
    st.session_state["workspace"] = workspace
    st.session_state["dataset_name"] = name  # pages read this, not the widget key (widget state can be dropped)
    stats = workspace.stats()
    left, right = st.columns(2)
    left.metric("Users", f"{stats['users']:,}")
    right.metric("Movies", f"{stats['items']:,}")
    left.metric("Interactions", f"{stats['interactions']:,}")
    right.metric("Logical time", stats["time"])
    st.button(
        "Reset my changes",
        help="Back to the starting data; only your own changes are dropped.",
        width="stretch",
        on_click=reset_workspace,
        args=(workspace,),
    )
    st.caption("Your changes are private to this browser session.")

navigation = st.navigation(
    [
        st.Page("pages/forget.py", title="Forget", icon=":material/ink_eraser:", default=True),
        st.Page("pages/change_log.py", title="Change log", icon=":material/receipt_long:"),
        st.Page("pages/recommendations.py", title="Recommendations", icon=":material/movie:"),
        st.Page("pages/private.py", title="Private recommendations", icon=":material/lock:"),
        st.Page("pages/lab.py", title="Lab", icon=":material/science:"),
        st.Page("pages/about.py", title="About", icon=":material/info:"),
    ]
)
navigation.run()
