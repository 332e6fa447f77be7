"""Amnesia dashboard (placeholder until the dashboard lands)."""

import streamlit as st

st.title("Amnesia: a recommender that can forget")
st.write("The dashboard is under construction; the engine lives in the `amnesia` package.")
