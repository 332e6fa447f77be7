"""About: what Amnesia is and why forgetting matters."""

import streamlit as st

import ui_state
from amnesia.dashboard.workspace import EaseWorkspace

workspace = ui_state.workspace()
ease = isinstance(workspace, EaseWorkspace)  # the same counts; B in place of S, and no similarity or lists to pick
model = workspace.model
measure = model.measure

st.title("About Amnesia")
shown = ("item-based collaborative filtering and for EASE, both built on these counts" if ease
         else "item-based collaborative filtering with four quantities")
st.markdown(
    f"""
**The right to be forgotten.** Under the GDPR (Article 17) a person can ask a company to erase their data.
Deleting their rows from a database is easy; the machine-learning models trained on that data still *remember*
them. Retraining from scratch forgets reliably, but it is slow and costly, so in practice it happens rarely.

**Amnesia** (Sebastian Schelter, *"Amnesia" – Machine Learning Models That Can Forget User Data Very Fast*,
CIDR 2020) showed that some models can be updated *decrementally*: forgetting a user is exact and takes
microseconds to milliseconds. This app shows it for {shown}:
"""
)
st.latex(r"H \in \{0,1\}^{|U| \times |I|} \quad \text{who interacted with what}")
st.latex(r"n_a = \sum_u H_{ua} \quad \text{how many users interacted with item } a")
st.latex(r"C = H^\top H, \quad C_{ab} = \text{how many users interacted with both } a \text{ and } b")
# Each formula keeps a short name; what is in use is said under it: at a 1,024 px window the similarity's line,
# with "the one in use: pick another in the sidebar" inside it, was wider than the page and scrolled sideways
if ease:
    st.latex(r"B = I - P\,\mathrm{diag}(1/\mathrm{diag}\,P), \quad P = (G + \lambda I)^{-1}, \quad G = H^\top H")
    st.caption("EASE, the model in use: see below.")
else:
    st.latex(measure.formula + rf" \quad \text{{({measure.label} similarity)}}")
    st.caption("The similarity in use: pick another in the sidebar.")
# EASE's own sentences: under EASE, "works C out … so the Forget page reports both times: the update of P, and
# apart the comparison …" mixed the two models, and "identical" beside a Verify that reports P within rounding
if ease:
    copy = ("it records the changed users' rows, and the *Forget* page reports the update of the counts and of P "
            "and, apart, the comparison of every weight of B before and after it")
    result = ("The counts are **identical** to a retrain's and P **equals** a new inverse of G + λI to rounding: the "
              "*Verify* button recomputes it and retrains, and compares fingerprints of H, n and G, P's largest "
              "difference, and every user's top 10")
else:
    copy = ("it records the changed users' rows and works C out from the shared model and those rows when read, so the "
            "*Forget* page reports both times: the write, and the first read of the changed rows")
    result = ("The result is **identical** to a model retrained without that user: the *Verify* button retrains from "
              "scratch and compares fingerprints (a SHA-256 of H, n and C, and of the neighbour lists when there are any)")
st.markdown(
    f"""
Forgetting a user who interacted with *k* items subtracts 1 from *k* counts and from the *k(k−1)* co-occurrences
between those items (C is symmetric: *k(k−1)/2* pairs of movies, each in two cells; with the *k* counts on C's
diagonal, the charts count *k²* changed cells of C); the similarities are then computed from C and n for exactly
the entries someone looks at. That is what the library does in place. Here, each visitor works on a private copy
of the shared model: {copy}.
{result}.
"""
)
st.markdown(
    "**Similarity and neighbour lists** are item-CF's: pick Item-CF under Model in the sidebar to choose them. "
    "EASE scores with its weights B instead."
    if ease else
    (
        (
            "**Neighbour lists.** Recommendations add up, for each of your movies, the similarities of the movies in its "
            f"list of the **{model.neighbours} most similar** (item-kNN, as recommender libraries do; pick another K, or "
            "every neighbour, in the sidebar). "
            if model.scoring == "history" else
            "**Neighbour lists.** Each movie keeps a list of its "
            f"**{model.neighbours} most similar** movies, and a movie's score adds up the similarities of the movies of "
            "yours in its own list (the item-based model of Sarwar et al.; pick the other scoring, another K, or every "
            "neighbour, in the sidebar). "
        )
        + "Forgetting changes the counts of the forgotten user's movies, so every "
        "similarity in their rows changes: their lists are rebuilt from C, and any other list that held one of them, "
        "or could now take one in, is brought up to date. The lists stay exactly those of a retrained model."
    )
    if model.neighbours is not None
    else (
        "**Every neighbour.** Recommendations add up the similarities of every movie that shares a viewer with yours. "
        "Pick K in the sidebar to keep only each movie's K most similar (item-kNN, as recommender libraries do)."
    )
)
role = "the model in use" if ease else "the other model in the sidebar"
st.markdown(
    f"""
**EASE** (Harald Steck, *Embarrassingly Shallow Autoencoders for Sparse Data*, WWW 2019), {role}, learns
item-to-item weights B by ridge regression from the same counts: with G = HᵀH (C with n on its
diagonal) and P = (G + λI)⁻¹, B = I − P·diag(1/diag P), and a movie's score is the sum of B over your movies.
Forgetting a user subtracts their row's outer product from G, a rank-one change, so P follows exactly by the
Sherman–Morrison formula in items² steps instead of a new inverse in items³. Verify recomputes P from G, retrains
on the remaining data, and compares the fingerprints of H, n and C and every user's top 10.
"""
)
st.markdown(
    """

Data: MovieLens latest-small by GroupLens Research (F. M. Harper and J. A. Konstan, 2015), used under its
license: research use, no endorsement implied. Code and benchmarks: see the project's README.
"""
)
