"""Recommendations: top-N for any user, and how forgetting one user changed other users' lists."""

from __future__ import annotations

import streamlit as st

import ui_state
from amnesia import AmnesiaError
from amnesia.dashboard import views
from amnesia.dashboard.views import md
from amnesia.dashboard.workspace import FORGET_EFFECT_K
from amnesia.words import count

PAGE = "recommendations"
workspace = ui_state.workspace()
catalog = workspace.catalog


def key(name: str) -> str:
    return ui_state.key(PAGE, name)


def remember(name: str) -> None:
    """Keep a widget's choice beyond this page: Streamlit drops a widget's state when its page is left."""
    ui_state.put(PAGE, name, ui_state.get(PAGE, f"{name}_widget"))
    if name == "user":
        ui_state.put(PAGE, "shown", ui_state.get(PAGE, "user"))


st.title("Recommendations")
st.caption(workspace.scoring_sentence())

choices = dict(workspace.user_choices())
options = list(choices)
remembered = ui_state.get(PAGE, "user")
# the user picked here before; else whom the visitor added last (a presenter who had just added Ana found User 1)
opening = remembered if remembered in choices else workspace.latest_added()
user = st.selectbox(
    "User", options, index=options.index(opening) if opening in choices else 0, format_func=choices.get,
    key=key("user_widget"), on_change=remember, args=("user",),
)
# whom this page showed last, picked or opened on: either one, forgotten since, switched users without a word
# (kept, with its note, until the visitor picks someone)
before = ui_state.get(PAGE, "shown")
gone = next((e for e in workspace.forgets() if e.forgotten_user == before), None) if before not in choices else None  # newest first
if gone is None:
    ui_state.put(PAGE, "shown", user)
elif user is not None:
    st.caption(md(f"{gone.names.get(before, f'User {before}')}, shown here before, was forgotten at t = {gone.time}: "
                  f"now showing {choices[user]}."))
if not choices:  # the selectbox alone read "No options to select" (a visitor who had forgotten everyone)
    st.info("No users are left in this model: add one on the Forget page to see their recommendations.",
            icon=":material/person_off:")
if user is not None:
    history = workspace.model.history(user)
    shown = ", ".join(catalog.title(item) for item in history[:30])
    st.markdown("**Watched:** " + md(shown) + (f" … and {len(history) - 30:,} more" if len(history) > 30 else ""))
    waiting = st.empty()
    try:
        table = workspace.recommendation_table(user, on_wait=lambda ahead: waiting.info(
            f"Waiting for the server: {ahead} large read(s) ahead of yours.", icon=":material/hourglass:"))
    except AmnesiaError as error:  # over the read budget, or the server stayed busy
        table = None
        st.warning(md(error), icon=":material/block:")
    waiting.empty()
    if table is None:
        pass
    elif table.empty:
        st.info(workspace.short_list_sentence(user, 0))
    else:
        # a static table wraps "because you watched" (three titles), which a grid cut at 1400 px; its
        # cells are Markdown, so titles are escaped; one width of scores: 2.3360, not 2.336
        shown = table.assign(**{column: table[column].map(md) for column in ("movie", "because you watched")})
        st.table(shown.style.format({"score": "{:.4f}"}), hide_index=True)
        short = workspace.short_list_sentence(user, len(table))
        if short:
            st.caption(short)

st.subheader("The forget effect")
forgets = workspace.forgets()
if not forgets:
    erased = any(entry.kind == "erased" and entry.request.change == "Remove" for entry in workspace.log)
    # a presenter who had forgotten Ana and then erased her from the log read this as "you forgot no one"
    st.info("Forget a user on the Forget page to see whose recommendations change." + (
        " A forget erased from the change log is gone from here too: the rewritten log never had its user."
        if erased else ""), icon=":material/ink_eraser:")
    ui_state.stop()
# the page's list above has 10: say why these have 5 (a presenter read "top 10", then "top 5")
st.caption(f"Whose recommendations a forget changed: for the users closest to the forgotten one, the head of their "
           f"list, their top {FORGET_EFFECT_K}, before and after, short enough to read side by side.")
times = [entry.time for entry in forgets]
remembered = ui_state.get(PAGE, "forget")
labels = {entry.time: entry.label for entry in forgets}
at = st.selectbox(
    "Forgetting", times, index=times.index(remembered) if remembered in times else 0, format_func=labels.get,
    key=key("forget_widget"), on_change=remember, args=("forget",),
)
entry = forgets[times.index(at)]
waiting = st.empty()
try:
    with st.spinner("Comparing top-5 lists before and after…"):
        effect = workspace.forget_effect(entry, on_wait=lambda ahead: waiting.info(
            f"Waiting for the server: {ahead} large read(s) ahead of yours.", icon=":material/hourglass:"))
except AmnesiaError as error:
    st.warning(md(error), icon=":material/block:")
    ui_state.stop()
finally:
    waiting.empty()
name = entry.names.get(entry.forgotten_user, f"User {entry.forgotten_user}")
if effect.examined == 0 and effect.limited:  # "Of the 0 users … 0 got other movies"
    st.markdown(f"Comparing even the user most exposed to {md(name)}'s forget would take more reading than one page "
                "may, so no one's lists were compared.")
elif effect.examined == 0:  # every candidate is compared unless the reading runs out: no one else is left
    st.markdown("No other user is left in the model, so no one else's recommendations could change.")
else:
    same = effect.examined - len(effect.changed)
    # the three parts add up to the users examined: "0 … and 11 only other scores" of 12 left one unexplained
    st.markdown(
        f"Of the {effect.examined} users with the largest share of their movies that {md(name)} also watched, "
        f"**{len(effect.reordered)}** got other movies or another order in their top {effect.k}, "
        + ("and " if not same else "")
        + f"**{len(effect.changed) - len(effect.reordered)}** only other scores"
        + (f", and **{same}** the same list, scores and all." if same else ".")
        + (" More users were exposed; comparing them would take more reading than one page may."
           if effect.limited else "")
    )
# the lists of users forgotten since are the recommendations of people who asked to be forgotten: counted
# above (they were exposed then), never shown
hidden = workspace.forgotten_since(entry)
shown = [change for change in effect.changed if change.user not in hidden]
if len(shown) < len(effect.changed):
    gone = len(effect.changed) - len(shown)
    st.caption(f"{count(gone, 'of these users has', 'of these users have')} been forgotten since; "
               f"{'their lists are' if gone > 1 else 'that list is'} not shown.")
CARDS = 6  # a page of lists side by side; the sentence above counts them all
if len(shown) > CARDS:  # the sentence counted 9 and six cards followed, with no word on which
    st.caption(f"The first {CARDS} of these {len(shown)} changed lists: those with other movies or another order "
               "first; within each, the most exposed user first.")
for change in shown[:CARDS]:
    with st.container(border=True):
        st.markdown(f"**{md(catalog.user_name(change.user))}**")
        left, right = st.columns(2)
        digits = views.ranked_list_digits(change.before, change.after)  # enough to see what changed
        left.caption(views.ranked_list_caption(False, bool(change.left), effect.k))
        left.markdown(views.ranked_list(catalog, change.before, struck=change.left, digits=digits))
        moves = views.rank_moves(change.before, change.after)
        right.caption(views.ranked_list_caption(True, bool(change.entered), effect.k, bool(moves)))
        right.markdown(views.ranked_list(catalog, change.after, bold=change.entered, digits=digits, moves=moves))
