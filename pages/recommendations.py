"""Recommendations: top-N for any user, and how forgetting one user changed other users' lists."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from amnesia import ItemCF
from amnesia.dashboard.workspace import Workspace

workspace: Workspace = st.session_state["workspace"]
catalog, model = workspace.catalog, workspace.model

st.title("Recommendations")
st.caption("Score of a movie j for a user = Σ over the movies i they watched of S_ij. Movies they watched are never recommended.")


def top_table(source: ItemCF, user: int, k: int = 10) -> pd.DataFrame:
    rows = [
        {
            "rank": rank,
            "movie": catalog.title(rec.item),
            "score": round(rec.score, 4),
            "because you watched": ", ".join(catalog.title(i) for i, _ in source.explain(user, rec.item)),
        }
        for rank, rec in enumerate(source.recommend(user, k), start=1)
    ]
    return pd.DataFrame(rows, columns=["rank", "movie", "score", "because you watched"])


def ranked(entries: list[tuple[int, float]], struck: set[int] = frozenset(), bold: set[int] = frozenset()) -> str:
    """A numbered Markdown list of (item, score); items that left the list struck, new ones bold."""
    lines = []
    for rank, (item, score) in enumerate(entries, start=1):
        title = catalog.title(item)
        title = f"~~{title}~~" if item in struck else f"**{title}**" if item in bold else title
        lines.append(f"{rank}. {title} · {score:.3f}")
    return "\n".join(lines) or "—"


users = workspace.user_choices()
user = st.selectbox("User", [u for u, _ in users], format_func=lambda u: f"{catalog.user_name(u)} ({len(model.history(u))} movies)")
if user is not None:
    st.write("Watched: " + ", ".join(catalog.title(i) for i in model.history(user)[:30]) + (" …" if len(model.history(user)) > 30 else ""))
    table = top_table(model, user)
    if table.empty:
        st.info("No recommendations: no other movie shares a viewer with this user's movies.")
    else:
        st.dataframe(table, hide_index=True, width="stretch")

st.subheader("The forget effect")
forgets = [entry for entry in workspace.log if entry.forgotten_user is not None]
if not forgets:
    st.info("Forget a user on the Forget page to see whose recommendations change.", icon=":material/ink_eraser:")
    st.stop()
entry = st.selectbox("Forgetting", forgets[::-1], format_func=lambda e: f"t = {e.time}: {e.action}")
before_model, after_model = workspace.model_at(entry.time - 1), workspace.model_at(entry.time)
forgotten_items = set(before_model.history(entry.forgotten_user))
others = [u for u in after_model.users()]
# the users most affected are those who share the most movies with the forgotten user
others.sort(key=lambda u: (-len(forgotten_items.intersection(after_model.history(u))), u))
changed = []
for other in others[:12]:
    before = [(r.item, round(r.score, 6)) for r in before_model.recommend(other, 5)]
    after = [(r.item, round(r.score, 6)) for r in after_model.recommend(other, 5)]
    if before != after:
        changed.append((other, before, after))
st.write(
    f"Of the {min(12, len(others))} users who share the most movies with the forgotten user, "
    f"**{len(changed)}** got a different top 5."
)
for other, before, after in changed[:6]:
    with st.container(border=True):
        st.markdown(f"**{catalog.user_name(other)}**")
        left, right = st.columns(2)
        after_items = {item for item, _ in after}
        before_items = {item for item, _ in before}
        left.caption("Before forgetting")
        left.markdown(ranked(before, struck=before_items - after_items))
        right.caption("After forgetting")
        right.markdown(ranked(after, bold=after_items - before_items))
