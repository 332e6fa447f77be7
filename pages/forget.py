"""Forget: add users by movie names, forget users, send raw requests, and watch H, n, C, S change."""

from __future__ import annotations

import streamlit as st

from amnesia import AmnesiaError, TitleError
from amnesia.dashboard.figures import state_figure, update_figure
from amnesia.dashboard.views import window_csv
from amnesia.dashboard.workspace import Workspace

workspace: Workspace = st.session_state["workspace"]
catalog, model = workspace.catalog, workspace.model
dataset = st.session_state["dataset_name"]

st.title("Watch a recommender forget")
st.caption(
    "Item-based collaborative filtering keeps H (who watched what), n (how many watched each movie), "
    "C = HᵀH (how many watched both) and S (Jaccard similarity). Forgetting a user updates them in place, "
    "exactly as if the model had been retrained without that person."
)


def flash(kind: str, text: str) -> None:
    """A message shown once after the next rerun."""
    st.session_state["flash"] = (kind, text)


def replace_typed_line(query: str, item: int) -> None:
    """Candidate button: swap the mistyped line for the chosen movie's id."""
    lines = st.session_state.get("add_typed", "").splitlines()
    st.session_state["add_typed"] = "\n".join(f"#{item}" if line.strip() == query.strip() else line for line in lines)
    st.session_state.pop("title_problem", None)


# Actions run as form callbacks: before the script reruns, so the sidebar's stats are already fresh.
def on_add() -> None:
    state = st.session_state
    try:
        entry = workspace.add_user(state.get("add_name", ""), state.get("add_picked", []), state.get("add_typed", ""))
    except TitleError as error:
        state["title_problem"] = (error.query, str(error), error.candidates)
    except AmnesiaError as error:
        state["add_error"] = str(error)
    else:
        state.pop("title_problem", None)
        state["add_name"], state["add_typed"], state["add_picked"] = "", "", []
        flash("success", f"{entry.action} in {entry.changes.seconds * 1e3:.2f} ms.")


def on_forget() -> None:
    user = st.session_state.get("forget_choice")
    if user is None:
        st.session_state["forget_error"] = "Pick a user to forget first."
        return
    name = catalog.user_name(user)
    try:
        entry = workspace.forget_user(user)
    except AmnesiaError as error:
        st.session_state["forget_error"] = str(error)
    else:
        st.session_state["forget_choice"] = None
        flash("success", f"Forgot {name} in {entry.changes.seconds * 1e3:.2f} ms.")


def on_raw() -> None:
    try:
        entry = workspace.apply_json(st.session_state.get("raw_text", ""))
    except AmnesiaError as error:
        st.session_state["raw_error"] = f"{error} Nothing was changed."
    else:
        flash("success", f"{entry.action} in {entry.changes.seconds * 1e3:.2f} ms.")


def show_error(key: str) -> None:
    message = st.session_state.pop(key, None)
    if message:
        st.error(message, icon=":material/error:")


add_tab, forget_tab, raw_tab = st.tabs([":material/person_add: Add a user", ":material/ink_eraser: Forget a user", ":material/data_object: Raw request"])

with add_tab:
    with st.form("add_user"):
        st.text_input("Name", placeholder="Maya", key="add_name")
        st.multiselect(
            "Movies they watched",
            options=[movie.id for movie in catalog.movies()],
            format_func=catalog.title,
            placeholder="Search titles…",
            key="add_picked",
        )
        st.text_area(
            "…or type titles or ids, one per line",
            placeholder="The Matrix\nToy Story (1995)\n#858",
            key="add_typed",
            help="Typos are fine when one movie is clearly meant. Ids are written as #42 (a bare 42 also works).",
        )
        st.form_submit_button("Add user", type="primary", on_click=on_add)
    show_error("add_error")
    problem = st.session_state.get("title_problem")
    if problem:
        query, message, candidates = problem
        st.error(message + " Nothing was changed.", icon=":material/search:")
        if candidates:
            st.write("Did you mean:")
            columns = st.columns(min(len(candidates), 4))
            for position, (item, title) in enumerate(candidates[:8]):
                columns[position % len(columns)].button(
                    title, key=f"candidate-{item}", on_click=replace_typed_line, args=(query, item)
                )

with forget_tab:
    with st.form("forget_user"):
        st.selectbox(
            "User to forget",
            options=[user for user, _ in workspace.user_choices()],
            format_func=lambda user: f"{catalog.user_name(user)} ({len(model.history(user))} movies)",
            index=None,
            placeholder="Pick a user…",
            key="forget_choice",
        )
        st.form_submit_button("Forget this user", type="primary", on_click=on_forget)
    show_error("forget_error")

with raw_tab:
    with st.form("raw_request"):
        st.text_area(
            "A change request in the original Amnesia format",
            value='{"change": "Remove", "interactions": [[1, 1], [1, 2]]}',
            key="raw_text",
            height=100,
        )
        st.form_submit_button("Apply request", type="primary", on_click=on_raw)
    show_error("raw_error")

message = st.session_state.pop("flash", None)
if message:
    st.success(message[1], icon=":material/check_circle:")

log = workspace.log
left, right = st.columns([3, 2])
with left:
    if log:
        st.markdown(f"**Last change (t = {log[-1].time}):** {log[-1].changes.summary()}")
with right:
    if st.button("Verify: retrain from scratch and compare", help="The forgetting certificate"):
        with st.spinner("Retraining from scratch…"):
            result = workspace.verify()
        engine = f"{result.last_update_seconds * 1e3:.2f} ms" if result.last_update_seconds is not None else "no update yet"
        verdict = ":material/verified: identical" if result.match else ":material/dangerous: DIFFERENT"
        st.session_state["verification"] = (
            f"Incremental update: **{engine}** · retrain from scratch: **{result.retrain_seconds * 1e3:,.0f} ms** · "
            f"fingerprints {verdict}  \n`{result.fingerprint[:16]}…` vs `{result.retrained_fingerprint[:16]}…`",
            result.match,
        )
    verification = st.session_state.pop("verification", None)
    if verification:
        (st.success if verification[1] else st.error)(verification[0])

figures: dict = st.session_state.setdefault("figures", {})
# Figures are deterministic per logical time: keep the current one, because rebuilding costs
# time on MovieLens and a changed figure would restart its animation.
key = (dataset, workspace.model.time, log[-1].action if log else "start")
if key not in figures:
    figures.clear()
    if log:
        entry = log[-1]
        figures[key] = (update_figure(entry.before, entry.after, f"t = {entry.time}: {entry.action}"), entry.after)
    else:
        window = workspace.current_window()
        figures[key] = (state_figure(window, "The model now: add or forget a user to see it change"), window)
figure, window = figures[key]
if log:
    st.caption("Press ▶ Play to step through the update: before → H → n → C → S. Changed cells are outlined with their delta.")
st.plotly_chart(figure, key="matrices", config={"displaylogo": False})
st.caption(window.description)

dead = [label for label, count, item in zip(window.item_labels, window.counts, window.items) if count == 0]
if dead:
    st.info(
        f"{', '.join(dead)} {'has' if len(dead) == 1 else 'have'} no interactions left, so n = 0 and "
        f"{'its' if len(dead) == 1 else 'their'} similarity to every movie is 0 (never a division by zero).",
        icon=":material/info:",
    )

with st.expander("Download the full matrices"):
    st.download_button(
        "H: all interactions (CSV)",
        data=lambda: workspace.model.interactions().to_csv(index=False),
        file_name=f"{dataset}-interactions.csv",
        mime="text/csv",
        on_click="ignore",
    )
    st.download_button(
        "n: item counts (CSV)",
        data=lambda: workspace.model.interactions().groupby("item").size().rename("count").to_csv(),
        file_name=f"{dataset}-counts.csv",
        mime="text/csv",
        on_click="ignore",
    )
    st.download_button(
        "C and S of the window (CSV)",
        data=lambda: window_csv(window),
        file_name=f"{dataset}-window-c-s.csv",
        mime="text/csv",
        on_click="ignore",
    )
    st.caption(
        "C and S of a large catalog have millions of non-zero pairs (MovieLens: 13 million); the CLI streams them: "
        "`python -m amnesia stream --data movielens-small < /dev/null`."
    )
