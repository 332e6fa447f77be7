"""Private recommendations: the model goes to the visitor's browser, the history never leaves it."""

from __future__ import annotations

import streamlit as st

import ui_state
from amnesia import AmnesiaError
from amnesia.dashboard.workspace import Workspace
from amnesia.device.delivery import NEIGHBOURS, DeviceChannel
from amnesia.device.export import DeviceModel, build_device_model
from amnesia.device.runtime import runtime_config
from amnesia.words import size
from device_component import private_device

PAGE = "private"
KEY = ui_state.key(PAGE, "device")  # the component's widget key: its value is the device's "ready" signal


@st.cache_resource(show_spinner=False, max_entries=4)
def shared_export(dataset: str, measure: str, model_k: int | None, scoring: str, neighbours: int | str,
                  _workspace: Workspace) -> DeviceModel:
    """The export of the untouched shared model of ``dataset`` under ``measure`` with ``model_k``
    lists read with ``scoring``, cut to ``neighbours``: no visitor data, so one for everyone who
    picked them. Keyed by everything it depends on (the workspace is the shared model of exactly these)."""
    base = _workspace.base
    return build_device_model(base, neighbours, _workspace.dataset.catalog, dataset=dataset, time=base.time)


workspace, dataset, measure, model_k = ui_state.workspace(), ui_state.dataset(), ui_state.measure(), ui_state.neighbours()
scoring = ui_state.scoring()
if ui_state.model_kind() == "ease":
    st.title("Private recommendations")
    st.info(
        "Private recommendations run item-CF in your browser: each movie's list of most similar movies, sent as ONNX. "
        "This page has no EASE model to send: its export is built for item-CF's lists, not for EASE's dense weights "
        "B. Pick Item-CF as the model in the sidebar, or here, to use it.", icon=":material/info:",
    )
    # the sidebar's Model sat below the fold of a 720 px projector (a presenter's pass)
    st.button("Use Item-CF", icon=":material/swap_horiz:", on_click=ui_state.pick_model, args=("item-cf",))
    ui_state.stop()
channels: dict[tuple, DeviceChannel] = ui_state.get(PAGE, "channels") or {}
ui_state.put(PAGE, "channels", channels)
# a model with lists sends its own lists (the page then ranks exactly as the server); one that keeps
# every neighbour is cut to NEIGHBOURS per movie, to keep the download small (DeviceChannel's default)
channel = channels.setdefault((dataset, measure, model_k, scoring), DeviceChannel())

st.title("Private recommendations")
st.caption(
    "Your picks stay in this browser. The server sends the model (the table of each movie's most similar "
    "movies, as ONNX); your browser scores your picks with ONNX Runtime Web and shows the top 10."
)

try:
    runtime = runtime_config()
except AmnesiaError as error:  # a bad AMNESIA_ORT_SOURCE: say so instead of loading anything
    st.error(f"{error} The page cannot load the browser runtime until this is fixed.", icon=":material/error:")
    ui_state.stop()
if runtime["source"] == "local" and not runtime["local_present"]:
    # offline first: without a local copy the page loads nothing from another host
    st.warning(
        f"Private recommendations are unavailable on this server: it has no local copy of the browser runtime "
        f"(ONNX Runtime Web {runtime['version']}), and it loads nothing from other hosts. Whoever runs the server can "
        f"fetch the copy once with `{runtime['fetch_command']}` (needs npm), or set `AMNESIA_ORT_SOURCE=cdn` to load "
        "the pinned copy from the public jsDelivr CDN. Every other page works without it.",
        icon=":material/cloud_off:",
    )
    ui_state.stop()

try:
    with st.spinner("Exporting the model of your workspace for your device…"):
        args = channel.render_args(
            workspace, dataset, ui_state.get(PAGE, "device"), runtime,
            lambda: shared_export(dataset, measure, model_k, scoring, channel.neighbours, workspace),
        )
except AmnesiaError as error:  # e.g. every user forgotten: no movie is left to recommend
    st.info(f"{error} (Reset my changes in the sidebar brings the starting data back.)", icon=":material/info:")
    ui_state.stop()
private_device(**args, key=KEY, default=None)

export = channel.current(workspace, dataset)
sidecar = export.sidecar
neighbours = "all" if sidecar["neighbours"] is None else sidecar["neighbours"]
# said where it is seen: whether this page and the Recommendations page are one model
st.caption(
    f"Your workspace's model keeps the same {model_k} neighbours per movie and reads them the same way, so for "
    "the same movies this page's top 10 and scores equal the server's (the Recommendations page), bit for bit."
    if model_k is not None else
    f"Your workspace's model adds up every neighbour while this page keeps {neighbours}, so the two top 10s can "
    f"differ; pick {NEIGHBOURS} most similar under Neighbours in the sidebar for the same lists on both."
)
with st.expander("How this works", icon=":material/lock:"):
    rule = ("score(b) = Σ over your movies a among b's own K neighbours of S_ab" if sidecar["scoring"] == "candidate"
            else "score(b) = Σ over your movies a of S_ab over a's K neighbours")
    st.markdown(
        f"""
- **The model** is your workspace's similarity table S, cut to each movie's **K = {neighbours}** most similar movies:
  version `{sidecar['version']}` (from fingerprint `{sidecar['fingerprint'][:12]}…`, logical time {workspace.model.time}),
  {len(sidecar['items']):,} movies, {size(len(export.onnx_bytes))} of ONNX, exported in {export.seconds:.2f} s.
- **Scoring** happens in your browser: {rule}; movies you picked are never recommended.
- **Your picks** (and their titles) are kept in this browser's localStorage and never sent: the page sends the server only a "ready"
  signal naming the model version it holds, so the server knows whether to send a model.
- **Forgetting reaches your device.** Forget a user on the *Forget* page and come back: the model's fingerprint
  changes, so your device gets the new version, and this page shows how your own top 10 changed and why.
- **The runtime** is ONNX Runtime Web {runtime['version']}, loaded from
  {'a local copy on this server' if runtime['source'] == 'local' else 'the public jsDelivr CDN'} and checked against
  pinned integrity hashes (set `AMNESIA_ORT_SOURCE=local|cdn|auto`; `{runtime['fetch_command']}` fetches the local copy).
"""
    )
