"""Change log: the differential change stream, the model at any past time, and export."""

from __future__ import annotations

import streamlit as st

from amnesia.dashboard.figures import state_figure
from amnesia.dashboard.views import choose_window, snapshot
from amnesia.dashboard.workspace import Workspace

workspace: Workspace = st.session_state["workspace"]
dataset = st.session_state["dataset_name"]
log = workspace.log

st.title("Change log")
st.caption(
    "Every accepted change as differential records, the same format as `python -m amnesia stream` and the original "
    "Amnesia demo: `+1` with a new value, `-1` with the old one, nothing for unchanged entries."
)
if not log:
    st.info("No changes yet. Add or forget a user on the Forget page, then come back.", icon=":material/receipt_long:")
    st.stop()

large = len(workspace.model.items()) > 40
if large:
    st.caption("For a large catalog the table shows every H record and the n, C and S records within each change's focus window.")
records = workspace.records_frame(window_only=large)

with st.container(border=True):
    left, middle, right = st.columns([2, 2, 1])
    collections = left.multiselect(
        "Collections", sorted(records["collection"].unique()), default=sorted(records["collection"].unique())
    )
    first, last = log[0].time, log[-1].time
    times = middle.slider("Times", first, last, (first, last)) if last > first else (first, last)
    item_text = right.text_input("Item id", placeholder="any")
    shown = records[records["collection"].isin(collections) & records["time"].between(*times)]
    if item_text.strip():
        if item_text.strip().isdigit():
            item = int(item_text)
            shown = shown[(shown["item"] == item) | (shown["item_b"] == item)]
        else:
            st.warning("Type an item id such as 2571 (titles can be looked up on the Forget page).")
    st.dataframe(shown, hide_index=True, width="stretch", height=320)
    st.caption(f"{len(shown):,} of {len(records):,} records.")

st.download_button(
    "Export the full change stream (JSON lines)",
    data=workspace.stream_jsonl,
    file_name=f"amnesia-{dataset}-stream.jsonl",
    mime="application/x-ndjson",
    on_click="ignore",
    help="Replays your changes on the shared base model and writes every record, similarities included.",
)

st.subheader("The model at any past time")
at = st.select_slider("Logical time", options=[first - 1] + [entry.time for entry in log], value=last)
past = workspace.model_at(at)
entry = next((e for e in log if e.time == at), log[0])
users, items, description = choose_window(past, workspace.catalog, entry.before.users, entry.before.items)
if not large:
    users, items = list(entry.before.users), list(entry.before.items)
window = snapshot(past, workspace.catalog, users, items, description)
actions = {e.time: e.action for e in log}
label = actions.get(at, "the starting data")
st.plotly_chart(state_figure(window, f"t = {at}: after {label}"), key="past", config={"displaylogo": False})
