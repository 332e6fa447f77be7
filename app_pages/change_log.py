"""Change log: the differential change stream, the model at any past time, export and import."""

from __future__ import annotations

import time

import streamlit as st

import ui_state
from amnesia import AmnesiaError
from amnesia.dashboard.figures import CHART_CONFIG, Prepared, state_spec
from amnesia.dashboard import views
from amnesia.dashboard.views import md
from amnesia.words import count as count_of, listing, size

PAGE = "change_log"
workspace = ui_state.workspace()
catalog = workspace.catalog
dataset = ui_state.dataset()
log = workspace.log


def key(name: str) -> str:
    return ui_state.key(PAGE, name)


@ui_state.action
def on_import() -> None:
    upload = ui_state.get(PAGE, "upload")
    text = ui_state.get(PAGE, "pasted", "") or ""
    if upload is not None and text.strip():  # one of the two had been imported in silence
        ui_state.set_error(PAGE, "import", "Both a file and pasted text are given: remove the file (its ✕) or clear the "
                                           "text, then import again. Nothing was changed.")
        return
    if upload is None and not text.strip():
        # a file over the server's upload limit is refused in the browser (its chip turns red) and never arrives:
        # it had been answered "The request log is empty: export one from the Change log page", the page it is on
        limit = st.get_option("server.maxUploadSize")
        ui_state.set_error(PAGE, "import", f"There is nothing to import: choose a request log file (at most {limit} MB; "
                                           f"a larger one is refused and marked in red) or paste the log, then "
                                           f"import. Nothing was changed.")
        return
    if upload is not None:
        try:
            text = upload.getvalue().decode("utf-8")
        except UnicodeDecodeError:
            ui_state.set_error(PAGE, "import", "The file is not UTF-8 text; export the request log again. Nothing was changed.")
            return
    try:
        count = workspace.import_log(text)
    except AmnesiaError as error:
        ui_state.set_error(PAGE, "import", str(error))
    else:  # after the change, only through the inbox (ui_state.action)
        ui_state.flash(PAGE, "success", f"Imported {count_of(count, 'request')}: the model is at t = {workspace.model.time}.")
        ui_state.release_upload(upload)  # read and imported: its uploader is cleared below and would keep it
        ui_state.clear_pages_later(changes_only=True)  # choices on these pages referred to the replaced changes
        # said, not only cleared: a cleared slider kept showing its old time above the latest time's chart
        ui_state.later(PAGE, "at", workspace.model.time)


def labelled(rows: list[tuple[int, str, int]]) -> dict[int, str]:
    """``Workspace.erasable``'s users, each as "Ana (forgotten at t = 2)": two "Ana"s told apart."""
    return {user: f"{name} (forgotten at t = {at})" for user, name, at in rows}


@ui_state.action
def on_erase() -> None:
    user, at = ui_state.get(PAGE, "erase_choice"), ui_state.get(PAGE, "at")
    name = labelled(workspace.erasable()).get(user, "the user")
    try:
        changed = workspace.erase_from_log(user)
    except AmnesiaError as error:
        ui_state.set_error(PAGE, "erase", str(error))
    else:  # after the change, only through the inbox (ui_state.action)
        ui_state.clear_pages_later(changes_only=True)  # choices on these pages may have pointed at their rows
        if at is not None:  # the same time, now without them (cleared, the slider showed it over the latest time's chart)
            ui_state.later(PAGE, "at", at)
        ui_state.note(PAGE, "erased", f"Erased {md(name)} from this log: {count_of(changed, 'change')} named them; those and "
                     "every change after their first were replayed without their rows, each at its time. The model is "
                     "the same as before: it had already forgotten them.")


def erase_section() -> None:
    """Forgotten users whose rows the log still holds, and a button that erases one from it: the model
    forgets at once, but a visitor who forgot Ana still found her movies at earlier times here."""
    rows, error, erased = workspace.erasable(), ui_state.take_error(PAGE, "erase"), ui_state.take(PAGE, "erased")
    choices = labelled(rows)
    if erased:
        st.success(erased, icon=":material/delete_forever:")  # Markdown, the name escaped
    if not choices:
        if error:
            st.error(md(error), icon=":material/error:")
        return
    one = len(choices) == 1
    with st.container(border=True):
        st.markdown(
            f"**Forgotten, but still in this log:** {md(listing(choices.values()))}. The model has no trace of them, "
            "yet this log of what you did still shows their rows at earlier times, in the records below and in the "
            f"export. Erasing{'' if one else ' one'} replays the log without their rows, as a service must also purge "
            "its logs and backups: each change keeps its time, without their part (a change that was only about them "
            "stays, emptied), and every later record is recomputed without them."
        )
        if ui_state.get(PAGE, "erase_choice") not in choices:
            ui_state.put(PAGE, "erase_choice", next(iter(choices)))
        if one:
            label = f"Erase {md(rows[0][1])} from this log"  # a label is Markdown: "**Bold**" was drawn bold
        else:
            st.selectbox("Forgotten user", list(choices), format_func=choices.get, key=key("erase_choice"))
            label = "Erase from this log"
        st.button(label, on_click=on_erase, key=key("erase"), icon=":material/delete_forever:")
        if error:
            st.error(md(error), icon=":material/error:")


def import_section() -> None:
    # open while it has something to say: after an import the section closed, hiding its result and the
    # error of the next try, so the click seemed to do nothing
    error, imported = ui_state.take_error(PAGE, "import"), ui_state.take_flash(PAGE)
    # and while a file is chosen or text pasted: choosing one reran the page, which closed the section over its button
    chosen = ui_state.get(PAGE, "upload") is not None or bool(str(ui_state.get(PAGE, "pasted", "") or "").strip())
    with st.expander("Import a request log (restores a session)", expanded=not log or bool(error or imported) or chosen):
        st.caption(
            "Reloading the page starts a new session and loses your changes; a request log you exported brings them "
            "back. Importing replaces your current changes. Names are not in the log: restored users are called by "
            "their ids (\"User 12\")."
        )
        st.file_uploader("Request log (JSON lines)", type=["jsonl", "json", "txt"], key=key("upload"))
        # the box refuses a paste over its limit whole and says nothing (it stays empty): say the limit first
        st.text_area(f"…or paste it (at most {workspace.limits.request_chars:,} characters)", key=key("pasted"), height=80,
                     max_chars=workspace.limits.request_chars,
                     help="A longer paste is refused whole (the box keeps what it had); choose the log's file above instead.")
        st.button("Import", on_click=on_import, key=key("import"))
        if error or imported:  # the section is at the page's foot: its answer had landed out of sight
            ui_state.scroll_to_here(time.monotonic_ns())
        if error:
            st.error(md(error), icon=":material/error:")
        if imported:
            st.success(imported[1], icon=":material/check_circle:")


st.title("Change log")
st.caption(
    "Every accepted change as differential records, the same format as `python -m amnesia stream` and the original "
    "Amnesia demo: `+1` with a new value, `-1` with the old one, nothing for unchanged entries. A forget's records "
    "name the forgotten user on purpose: they are the deletion itself, sent so that every copy downstream forgets "
    "the same rows. This log is your session's alone and goes with it."
)
if not log:
    st.info("No changes yet. Add or forget a user on the Forget page, then come back.", icon=":material/receipt_long:")
    import_section()
    ui_state.stop()

erase_section()

# ---------------------------------------------------------------------- the records
first, last = log[0].time, log[-1].time
with st.container(border=True):
    if not workspace.small:
        inside = "n, C and S" if "similarities_s" in workspace.stream_collections else "n and C"
        st.caption(f"For a large catalog the table shows every H record and the {inside} records within each change's focus window.")
    streamed = list(workspace.stream_collections)  # EASE's B is not a stream collection
    # a row of its own: in a third of the width at 1366 px the four names showed two and a half
    collections = st.multiselect("Collections", streamed, default=streamed, key=key("collections"))
    middle, right = st.columns([4, 1])
    times = middle.slider("Times", first, last, (first, last), key=key("times")) if last > first else (first, last)
    item_text = right.text_input("Item id", placeholder="any", key=key("item"), max_chars=workspace.limits.filter_chars)
    item, problem = views.item_filter(item_text)
    if problem:
        st.warning(md(problem))
    table, total = workspace.history.records_table(catalog, collections, times, item)
    # the short columns as narrow as their contents, so that the entry (who and which movie: the point of the
    # table) keeps the rest: at 1,024 px zoomed to 125 % it was cut at "× Titanic (1997) (#1…" (a presenter's pass)
    st.dataframe(table, hide_index=True, width="stretch", height=320, column_config=views.RECORD_COLUMNS)
    # a large catalog's table holds its focus windows' records: "3,546 of 3,546 records" above "the full change
    # stream would be … 24,621,910 records" read as a contradiction (a visitor's pass)
    st.caption(f"{len(table):,} of {total:,} records" + ("." if workspace.small else
                                                          " of the focus windows; the full stream's size is below."))

# ---------------------------------------------------------------------- the past
st.subheader("The model at any past time")
options = [workspace.history.start] + [entry.time for entry in log]
labels = {workspace.history.start: f"t = {workspace.history.start}: the starting data", **{e.time: e.label for e in log}}
# the slider's time is kept in the page's state (an import or an erase sets it; a default beside it made Streamlit
# warn), and another model's log may not have it: then the latest (Streamlit would fall back to t = 0)
if ui_state.get(PAGE, "at") not in options:
    ui_state.put(PAGE, "at", last)
at = st.select_slider("Logical time", options=options, format_func=lambda t: f"t = {t}", key=key("at"))
window, entry = workspace.history.window_at(at)
st.plotly_chart(Prepared(state_spec(window, labels[at], workspace.weights_label, entry.before if entry else None)),
                key=key("past"), config=CHART_CONFIG)
st.caption(md(workspace.window_caption(window, at)))
later = workspace.forgotten_later(window, at)
if later:
    st.info(md(later), icon=":material/history:")

# ---------------------------------------------------------------------- export and import
st.subheader("Export")
st.download_button(
    "Download the request log (JSON lines)",
    data=workspace.request_log(),
    file_name=f"amnesia-{dataset}-requests.jsonl",
    mime="application/x-ndjson",
    on_click="ignore",
    key=key("requests"),
)
st.caption(
    f"Small: one request per line; line t is the request applied at logical time t. Import it below to restore this "
    f"session, or replay it to regenerate every record: `{workspace.replay_command()}`."
)
estimate = workspace.export_estimate()
stream_size = f"{'about' if estimate.exact else 'at most'} {size(estimate.bytes)} ({estimate.records:,} records)"
if not estimate.allowed:
    # not a fault: the stream of a big model is the start's records too; the way round it is shown
    st.info(md(workspace.export_refusal(estimate, command=False)), icon=":material/info:")
    st.code(workspace.full_stream_command(), language="bash", wrap_lines=True)
elif ui_state.get(PAGE, "full_at") != workspace.version:  # prepared for this state (an import can reuse a time)
    st.button(f"Prepare the full change stream: {stream_size}", key=key("prepare"), on_click=ui_state.put,
              args=(PAGE, "full_at", workspace.version))
else:  # made now, for this time only; the bytes go to the browser and nothing keeps a way to rebuild them
    with st.spinner("Replaying your changes…"):
        data = b"".join(workspace.export_chunks())
    st.download_button(
        f"Download the full change stream ({size(len(data))})", data=data, file_name=f"amnesia-{dataset}-stream.jsonl",
        mime="application/x-ndjson", on_click="ignore", key=key("stream"),
    )
import_section()
# last: its empty box still takes a gap in the column, which at the end is out of sight
ui_state.chart_keys()  # the past model's chart keeps its tick labels apart, as the Forget page's do
