"""Forget: add users by movie names, forget users, send raw requests, and see what changed."""

from __future__ import annotations

import time

import streamlit as st

import ui_state
from amnesia import AmnesiaError
from amnesia.dashboard import views
from amnesia.dashboard.effects import MIN_VIEWERS
from amnesia.dashboard.figures import CHART_CONFIG
from amnesia.dashboard.views import md
from amnesia.data.catalog import CANDIDATES
from amnesia.engine.ease import TOLERANCE
from amnesia.words import count

PAGE = "forget"
workspace = ui_state.workspace()
catalog = workspace.catalog


def key(name: str) -> str:
    return ui_state.key(PAGE, name)


st.title("Watch a recommender forget")
st.caption(workspace.introduction())


# ---------------------------------------------------------------------- actions (form callbacks)
# They run before the script, so the sidebar's numbers are already fresh when it renders.
def done(entry, more: str = "") -> None:
    milliseconds = f"{entry.change.seconds * 1e3:,.2f} ms"  # "2,923.88 ms": a heavy first forget
    if entry.noop:
        ui_state.flash(PAGE, "info", f"{entry.action}. The model's time still moved to t = {entry.time}.")
        return
    read = workspace.read_sentence(entry)
    ui_state.flash(PAGE, "success", f"{entry.action} in {milliseconds}{': ' + entry.detail if entry.detail else ''}."
                   + (f" {read}" if read else "") + more)


def _add_form_cleared() -> bool:
    return not (ui_state.get(PAGE, "add_name", "") or ui_state.get(PAGE, "add_picked", [])
                or str(ui_state.get(PAGE, "add_typed", "")).strip())


@ui_state.action(idle=_add_form_cleared)
def on_add() -> None:
    try:
        entry = workspace.add_user(
            ui_state.get(PAGE, "add_name", ""), ui_state.get(PAGE, "add_picked", []), ui_state.get(PAGE, "add_typed", "")
        )
    except AmnesiaError as error:
        ui_state.set_error(PAGE, "add", str(error))
    else:  # after the change, only through the inbox (ui_state.action)
        done(entry)
        for name, empty in (("add_name", ""), ("add_typed", ""), ("add_picked", [])):
            ui_state.later(PAGE, name, empty)


def use_candidate(number: int, item: int) -> None:
    """Candidate button: replace typed line ``number`` (1-based) with the chosen movie's title and
    year, or its id when that title names more than one movie."""
    lines = ui_state.get(PAGE, "add_typed", "").splitlines()
    if 0 < number <= len(lines):
        lines[number - 1] = workspace.catalog.typed_name(item)
        ui_state.put(PAGE, "add_typed", "\n".join(lines))


@ui_state.action(idle=lambda: ui_state.get(PAGE, "forget_choice") is None)
def on_forget() -> None:
    user = ui_state.get(PAGE, "forget_choice")
    if user is None:
        ui_state.set_error(PAGE, "forget", "Pick a user to forget first.")
        return
    try:
        entry = workspace.forget_user(user)
    except AmnesiaError as error:
        ui_state.set_error(PAGE, "forget", str(error))
    else:  # after the change, only through the inbox (ui_state.action)
        done(entry, log_hint(entry))
        ui_state.later(PAGE, "forget_choice", None)


def _raw_box_applied() -> bool:
    """The box holds the request its last Apply applied (the action leaves it there)."""
    applied = ui_state.get(PAGE, "raw_applied")
    return applied is not None and ui_state.get(PAGE, "raw_text") == applied


@ui_state.action(idle=_raw_box_applied)
def on_raw() -> None:
    text = ui_state.get(PAGE, "raw_text", "")
    try:
        entry = workspace.apply_json(text)
    except AmnesiaError as error:
        ui_state.set_error(PAGE, "raw", str(error))
    else:
        done(entry, log_hint(entry))
        # the box keeps the request just applied, so another click is a no-op (Add) or refused (Remove). It
        # used to offer the next example, a Remove of another two of User 1's movies: a visitor who clicked
        # Apply again after their own Add removed real interactions they never typed, two more each click
        ui_state.later(PAGE, "raw_example", None)
        # a click on the same request within ui_state.BURST_SECONDS of its result is a stray one: a second click
        # that came once the button was drawn again applied it a second time (an Add's no-op took a time step
        # and its "Nothing changed" replaced the message of the change that worked; a browser check)
        ui_state.later(PAGE, "raw_applied", text)


def log_hint(entry) -> str:
    """The model forgot; the visitor's own log still shows them at earlier times, which surprised a visitor."""
    if any(row[0] in entry.gone for row in workspace.erasable()):
        return " Your Change log still shows their rows at earlier times; erase them there."
    return ""


def run_verify(waiting) -> None:
    """Verify, queued behind other visitors' Verifies (one at a time per server): ``waiting``
    shows how many are ahead while this one waits."""
    try:
        result = workspace.verify(on_wait=lambda ahead: waiting.info(
            f"Waiting for the server: {ahead} other Verify {'is' if ahead == 1 else 'are'} running or queued "
            "ahead of yours (one at a time, to keep the server within its memory).", icon=":material/hourglass:"))
    except AmnesiaError as error:
        # shown once, and apart: a busy server's refusal is no result about this model, and must not replace one
        ui_state.put(PAGE, "verify_refused", f"Verify could not run: {md(error)}")
        return
    finally:
        waiting.empty()
    engine = f"{result.last_update_seconds * 1e3:,.2f} ms" if result.last_update_seconds is not None else "no update yet"
    certificate = result.certificate
    # EASE's P is floating point: equal to a new inverse within rounding, which "identical" beside a
    # difference of 4.6e-17 contradicted; its counts and top-10 lists are identical
    same = "identical" if certificate is None else "equal to a retrain"
    verdict = f":material/verified: {same}" if result.match else ":material/dangerous: DIFFERENT"
    if certificate is None:
        text = (f"Last incremental update: **{engine}** · retrain from scratch and fingerprint: **{result.retrain_seconds * 1e3:,.1f} ms** · "
                f"fingerprints {verdict}  \n`{result.fingerprint[:16]}…` vs `{result.retrained_fingerprint[:16]}…`")
    else:  # EASE: the exact counts by fingerprint, P against a new inverse, every top-10 against a retrain's
        same = "equal" if certificate.fingerprint_equal else "DIFFERENT"
        lists = "all equal" if certificate.top10_equal else "NOT all equal"
        text = (f"Last incremental update: **{engine}** · recompute P and retrain: **{result.retrain_seconds * 1e3:,.1f} ms** · "
                f"{verdict}  \nH, n, G fingerprints {same} (`{result.fingerprint[:16]}…`) · P vs a new inverse: largest "
                f"difference {certificate.max_abs_diff:.1e} ({certificate.max_rel_diff:.1e} of its largest entry; "
                + (f"rounding, within {TOLERANCE:.0e}) · " if certificate.max_rel_diff <= TOLERANCE
                   else f"MORE than the tolerance {TOLERANCE:.0e}) · ")
                + f"top-10 of {certificate.users_compared:,} users: {lists}")
    note = workspace.verify_note(result)
    ui_state.put(PAGE, "verification", (_verified_state(), text + (f"  \n{note}" if note else ""), result.match))


def _verified_state() -> tuple:
    """What a Verify's result is about: the model picked and its version. The result stays on the
    page until either changes (it vanished at the next click of any widget, while the presenter was
    still talking about it)."""
    return ui_state.get("app", "current"), workspace.version


def show_error(field: str, shown_above: str | None = None) -> None:
    """The error of the last click on ``field``'s button, once; not again when ``shown_above``
    (the typed-titles preview's own error) already says it: 500 pasted titles showed "…the limit is
    200" twice, over and under the button."""
    message = ui_state.take_error(PAGE, field)
    if message and message != shown_above:
        st.error(md(message), icon=":material/error:")
        ui_state.scroll_up_to_here(time.monotonic_ns())  # each error is taken once: a new token each time


# ---------------------------------------------------------------------- the three forms
def add_form() -> None:
    """Name, movies and typed titles; each typed line shows what it resolves to before sending.

    Not a fragment: a click on Add is one run of the whole page (the callback, then the message,
    sidebar and charts of the new model), also when it comes straight after typing (the box's
    commit and the click each ask for a run of the page, and the later one carries both). In a
    fragment the form needed two runs per add (the fragment's, then the page's it asked for), and
    with the button outside it the two raced and the page showed neither the message nor the new
    model."""
    # a bounded box refuses a longer paste whole and says nothing (it keeps what it had): each says its limit
    st.text_input("Name", placeholder="e.g. Maya", key=key("add_name"), max_chars=workspace.limits.name_chars,
                  help=f"At most {workspace.limits.name_chars} characters; a longer paste is refused whole (the box keeps what it had).")
    offered = workspace.picker_movies()
    st.multiselect(
        "Movies they watched",
        options=offered,
        format_func=catalog.title,
        placeholder="Search titles…" if len(offered) == len(catalog) else f"Search the {len(offered):,} most watched…",
        help=None if len(offered) == len(catalog) else f"The {len(offered):,} most watched of {len(catalog):,} movies; "
        "type any other title in the box below.",
        key=key("add_picked"),
        max_selections=workspace.limits.interactions,
        # a typed word matches titles that contain it, and Enter picks the most watched of them: the
        # defaults matched subsequences ("Shrek" found "Honey, I Shrunk the Kids") and put "Select 9
        # matches" first, so Enter added every match
        filter_mode="contains",
        select_all=False,
    )
    st.text_area(
        "…or type titles or ids, one per line",
        placeholder=workspace.example_titles(),
        key=key("add_typed"),
        height=130,
        max_chars=workspace.limits.typed_chars,
        help="A title, a subtitle (\"the two towers\"), a distinctive word (\"nemo\"), a title with its year, or an "
        "id as #42. Press Ctrl+Enter or click outside the box to see what each line resolves to. At most "
        f"{workspace.limits.typed_chars:,} characters; a longer paste is refused whole (the box keeps what it had).",
    )
    typed = ui_state.get(PAGE, "add_typed", "")
    preview_error = None
    if typed.strip():
        try:
            lines = workspace.preview_titles(typed)
        except AmnesiaError as error:
            preview_error = str(error)
            st.error(md(error), icon=":material/error:")
        else:
            for line in lines:
                if line.ok:
                    # a line typed as an id ("#260") already names it
                    number = "" if line.how == "id" else f" · #{line.item}"
                    st.markdown(
                        f":green[:material/check:] {md(line.text.strip())} → **{md(catalog.title(line.item))}**{number} "
                        f":gray[({line.how})]"
                    )
                else:
                    # with choices, the text leaves out the titles the buttons below show
                    problem = line.summary if line.candidates else line.problem
                    st.markdown(f":red[:material/close:] line {line.number}: {md(problem)}")
                    if line.candidates:
                        # two to a row, each the row's half and wrapping: in four columns "The Lord of the Rings:
                        # The Fell…" and "Star Wars: Episode IV - A New …" cut off the words that tell them apart
                        shown = line.candidates[:CANDIDATES]
                        titles = [title for _, title in shown]
                        for position, (item, title) in enumerate(shown):
                            # a row of columns per pair: in two columns for all, Tab went down the first
                            # column and then the second, not in the order they are read (a keyboard visitor)
                            if position % 2 == 0:
                                columns = st.columns(min(len(line.candidates), 2))
                            # films that share a title and year ("Emma (1996)" twice) are told apart by id
                            label = f"{title} · #{item}" if titles.count(title) > 1 else title
                            columns[position % 2].button(
                                md(label), key=key(f"candidate-{line.number}-{item}"), on_click=use_candidate,
                                args=(line.number, item), help=f"Put {catalog.typed_name(item)} in line {line.number}",
                                width="stretch", wrap=True,
                            )
    st.button("Add user", type="primary", on_click=on_add, key=key("add_submit"))
    show_error("add", shown_above=preview_error)


add_tab, forget_tab, raw_tab = st.tabs(
    [":material/person_add: Add a user", ":material/ink_eraser: Forget a user", ":material/data_object: Raw request"]
)
with add_tab:
    add_form()
with forget_tab:
    with st.form(key("forget_form")):
        choices = dict(workspace.user_choices())
        st.selectbox(
            "User to forget", options=list(choices), format_func=choices.get, index=None, placeholder="Pick a user…",
            key=key("forget_choice"),
        )
        st.form_submit_button("Forget this user", type="primary", on_click=on_forget)
    show_error("forget")
with raw_tab:
    # the box holds a request this model accepts until the visitor edits or applies it: once its user was
    # forgotten, an example kept from before was refused on the first click
    example = workspace.example_request()
    if ui_state.get(PAGE, "raw_text") in (None, ui_state.get(PAGE, "raw_example")):
        ui_state.put(PAGE, "raw_text", example)
    ui_state.put(PAGE, "raw_example", example)
    with st.form(key("raw_form")):
        st.text_area(
            "A change request in the original Amnesia format",
            key=key("raw_text"),
            height=100,
            max_chars=workspace.limits.request_chars,
            help=f"At most {workspace.limits.request_chars:,} characters; a longer paste is refused whole (the box keeps what it had). Split a "
            "big change into several requests, or import it as a request log on the Change log.",
        )
        st.form_submit_button("Apply request", type="primary", on_click=on_raw)
    show_error("raw")

message = ui_state.take_flash(PAGE)
if message:
    # our own constant script (no visitor text in it); a new value per change, so a second add scrolls too
    ui_state.scroll_to_here(workspace.version)
    (st.info if message[0] == "info" else st.success)(md(message[1]), icon=":material/check_circle:")

# ---------------------------------------------------------------------- the latest change and Verify
log = workspace.log


@st.fragment
def verify_panel() -> None:
    """The last change, the Verify button under it and its certificate below, each the page's width
    (in the button's column the certificate was squeezed to two-fifths of it, and beside the last
    change, at a 1,024 px window, the button's label to "Verify: retrain from scratch an…"). A
    fragment: Verify changes nothing, so its click reruns only this panel, and the browser does not
    receive and redraw the charts again."""
    if log:
        st.markdown(f"**Last change:** {md(log[-1].label)}")
    # no hover help: under a presenter's pointer, "The forgetting certificate" covered the result it had just given
    if st.button("Verify: retrain from scratch and compare"):
        with st.spinner("Retraining from scratch…"):
            run_verify(st.empty())
    verification = ui_state.get(PAGE, "verification")
    if verification and verification[0] == _verified_state():
        (st.success if verification[2] else st.error)(verification[1])
    refused = ui_state.pop(PAGE, "verify_refused")
    if refused:
        st.error(refused)


verify_panel()

# ---------------------------------------------------------------------- the focus window
max_items, min_viewers = views.DEFAULT_ITEMS, workspace.default_min_viewers
if not workspace.small:
    size_column, tier_column = st.columns(2)
    max_items = size_column.slider("Movies in the charts", 5, views.MAX_ITEMS, views.DEFAULT_ITEMS, step=5, key=key("max_items"))
    min_viewers = tier_column.selectbox(
        "Show movies watched by at least", MIN_VIEWERS, index=MIN_VIEWERS.index(workspace.default_min_viewers),
        format_func=lambda n: count(n, "person", "people"), key=key("min_viewers"),
    )

entry = log[-1] if log else None
charts = workspace.forget_figures(max_items, min_viewers)  # built once per state and window (Play keeps working)
figure, changed_figure, window = charts.state, charts.changed, charts.window

if entry is not None and not entry.noop:
    names = window.matrices
    st.caption(f"Press ▶ Play to step through the update: before → H → n → {names.pair} → {names.weight}. "
               "Changed cells are outlined in red, changed bars of n filled red" + (
                   "." if workspace.small else "; in a large chart where most cells changed, its subtitle counts them instead.")
               # a presenter's pass at 1,024 px: the four panels were ~110 px wide with the sidebar open, and
               # its « (top left, shown on hover) is easy to miss
               + " Hide the sidebar (« at its top) for larger charts.")
st.plotly_chart(figure, key=key("matrices"), config=CHART_CONFIG)
st.caption(md(workspace.window_caption(window)))

emptied = workspace.emptied_in_window(window)
if emptied:
    st.info(md(emptied), icon=":material/info:")

if changed_figure is not None:
    st.subheader("What changed")
    st.plotly_chart(changed_figure, key=key("changes"), config=CHART_CONFIG)
    pairs = workspace.largest_changes(entry, min_viewers)
    if pairs:
        # a tier at or below the model's own floor (EASE: the movies it scores) narrows nothing: no qualifier
        # the tier counts viewers before or after the change: after a forget, a movie of the list may show 9 of 10
        where = ("" if min_viewers <= workspace.weights_from
                 else f" between movies at least {min_viewers} people watched before or after the change")
        st.markdown(f"**The largest {workspace.weight_words} changes{where}** (of {workspace.changed_words(entry.effect.changed_s)} that changed):")
        st.markdown("\n".join(f"{rank}. {md(sentence)}" for rank, sentence in enumerate(workspace.pair_sentences(pairs), 1)))
        spread = " ".join(part for part in (workspace.outside_sentence(pairs, window), workspace.spread_sentence(entry)) if part)
        if spread:
            st.caption(md(spread))
    elif entry.effect is None and entry.kind == "import":
        st.caption("Imported requests are replayed without measuring every similarity; make a change to see the list.")
    elif entry.effect is None:
        st.caption("This change's effect on every similarity was not measured: reading the rows of C it touched would "
                   "take more work than one request may. The change itself is exact; Verify proves it.")
    emptied = workspace.emptied_sentence(entry, listed=bool(pairs))
    if emptied:
        st.caption(md(emptied))

# open once the files are prepared: the click that prepares them closed it, and the buttons sat out of sight
with st.expander("Download the full matrices", expanded=ui_state.get(PAGE, "downloads_at") == workspace.version):
    st.caption(
        "C and S of a large catalog have millions of non-zero pairs (MovieLens: 13 million); the command line streams "
        f"them: `{workspace.replay_command('/dev/null')}`."
    )
    if ui_state.get(PAGE, "downloads_at") != workspace.version:  # the state they were prepared for, not its time
        st.button("Prepare the files", on_click=ui_state.put, args=(PAGE, "downloads_at", workspace.version), key=key("prepare"))
    else:  # made now, for this time only: nothing is kept to build them later
        dataset = ui_state.dataset()
        st.download_button("H: all interactions (CSV)", workspace.interactions_csv(), f"{dataset}-interactions.csv", "text/csv", on_click="ignore")
        st.download_button("n: every movie's count, zeros included (CSV)", workspace.counts_csv(), f"{dataset}-counts.csv", "text/csv", on_click="ignore")
        pair, weight = window.matrices.pair, window.matrices.weight
        st.download_button(f"{pair} and {weight} of the window (CSV)", views.window_csv(window),
                           f"{dataset}-window-{pair.lower()}-{weight.lower()}.csv", "text/csv", on_click="ignore")

# last: its empty box still takes a gap in the column, which at the end is out of sight
ui_state.chart_keys()
