"""Lab: exact forgetting beside approximate unlearning of a matrix-factorisation recommender.

Shows the committed full run (docs/lab.json); a visitor may start one quick run at a time per
server (in a child process, behind ``LAB_GATE``); their result stays in their own session.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

import ui_state
from amnesia.dashboard.workspace import ease_settings
from amnesia.errors import AmnesiaError
from amnesia.limits import LAB_PAGE_MAX_SEEDS
from amnesia.lab import figures
from amnesia.lab.data import FORGET_SET_TEXT, FORGET_SETS
from amnesia.lab.registry import ALS_WAYS, EXACT_MODELS
from amnesia.lab.report import agreement_section, headline, reading, summary, table_blocks, table_frame
from amnesia.lab.result import LabResult, read_result, run_label
from amnesia.lab.jobs import LAB_GATE, run_in_subprocess
from amnesia.lab.run import ALPHA, PAGE_SEEDS
from amnesia.lab.verdict import p_value, undecided
from amnesia.words import count, listing

PAGE = "lab"
COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "lab.json"
DATA_CHOICES = {"movielens-small": "MovieLens latest-small (610 users)", "toy": "Toy world (4 users)"}
_ROW_PX = 35  # a row of Streamlit's data grid (and its header), in px


#: the table's columns in view first at 1,366 px (the rest scroll into view): does it forget, with
#: the ε and p the reading below quotes (they sat past the edge, the header cut at "ε [95"), then what it costs
_LEADING = ["method", "forgets?", "ε [95 % CI]", "p", "F", "NDCG@10", "NDCG@10 − retrained ALS [95 % CI]"]


@st.cache_data(show_spinner=False)
def committed_results(path: str, modified: float) -> LabResult | None:
    """The committed lab.json (shared by everyone; re-read when the file changes); None when there
    is none or it cannot be read (the page then offers a quick run)."""
    try:
        return read_result(path)
    except AmnesiaError:
        return None


def keep_a_forget_set(first: str) -> None:
    """A click on the selected forget set unselects it: keep the set shown selected instead (all three
    buttons looked unselected while the page quietly showed the first set)."""
    if ui_state.get(PAGE, "kind") is None:
        ui_state.put(PAGE, "kind", ui_state.get(PAGE, "shown_kind") or first)


st.title("Unlearning lab")
st.markdown(
    "The other pages forget exactly with item-based CF or EASE. Most recommenders in production are *model-based* "
    "(matrix factorisation, neural networks): their parameters blend everyone's data, so forgetting one person "
    "usually means retraining, or an *approximate* shortcut. Here a matrix-factorisation model (weighted ALS) "
    f"forgets a group of users in {len(ALS_WAYS)} ways, beside this project's models that forget exactly, "
    f"{listing(EXACT_MODELS)} (full runs), and an attacker "
    "who holds the model's item factors tries to tell each result from a model retrained without those users. The yardstick is the **null control**: how different two "
    "retrains with different random seeds already are. A method *forgets* only if the attacker does no better "
    "against it than against a retrain. The lab's EASE scores every movie of its data; the Forget page's scores "
    f"only the movies at least {ease_settings('movielens-small').min_viewers} people watched, so the lab's EASE "
    "forgets and retrains more slowly."
)

own = ui_state.get(PAGE, "run")
committed = committed_results(str(COMMITTED), COMMITTED.stat().st_mtime if COMMITTED.exists() else 0.0)
sources = {}
if own is not None:
    sources["yours"] = run_label(own, "Your")
if committed is not None:  # labelled by what it is: a quick run committed by mistake says so
    sources["committed"] = run_label(committed)

if not sources:
    st.info("No lab results yet: run `python -m amnesia lab` to create docs/lab.json, or start a quick run below.")
    result = None
else:
    if len(sources) == 1:
        source = next(iter(sources))
    else:
        if ui_state.pop(PAGE, "show_own", False):
            ui_state.put(PAGE, "source", "yours")  # set before the widget exists in this run
        source = st.radio("Results", list(sources), format_func=sources.get, horizontal=True, key=ui_state.key(PAGE, "source"))
    result = own if source == "yours" else committed

if result is not None:
    cfg, machine = result["config"], result["machine"]
    # a toy run forgets 1 of 4 users: "5 % of users forgotten" beside "1 user forgotten" needs its floor said
    floor = round(cfg["share"] * result["data"]["users"]) < 1  # the run forgets at least one user a set
    st.caption(
        f"{sources[source]}: {result['data']['users']:,} users, {result['data']['items']:,} items; "
        f"{cfg['share']:.0%} of users{' (at least 1)' if floor else ''} forgotten per set; N = {cfg['seeds']} models per side; "
        f"run took {result['seconds_total']:.0f} s on {machine['cpus']} cores ({result.get('generated', 'date unknown')})."
        + (
            " Utility measured on a sample of the retained users."
            if any(
                s["evaluated_users"] < s["training_users"] - s["forget_users"] for s in result["forget_sets"].values()
            )
            else ""
        )
    )
    if result["data"]["name"] == "toy":
        st.warning(
            "The toy world has 4 users: one is forgotten, one is the never-seen user, two stay. Its numbers show the "
            "mechanics, not evidence.",
            icon=":material/info:",
        )
    kinds = [k for k in FORGET_SETS if k in result["null_control"]]
    kind = (
        st.segmented_control(
            "Forget set", kinds, default=kinds[0], key=ui_state.key(PAGE, "kind"), format_func=lambda k: f"{k}: {FORGET_SET_TEXT[k]}",
            on_change=keep_a_forget_set, args=(kinds[0],),
        )
        or kinds[0]
    )
    ui_state.put(PAGE, "shown_kind", kind)
    null = result["null_control"][kind]
    info = result["forget_sets"][kind]
    st.markdown(
        f"**{count(info['forget_users'], 'user')} forgotten** ({info['mean_history_forgotten']} training interactions each on "
        f"average), compared with {count(info['outsiders'], 'user')} no model ever saw. **Null control** (retrain vs retrain): "
        f"ε = {null['epsilon']:.2f} (95 % CI {null['epsilon_ci'][0]:.2f}–{null['epsilon_ci'][1]:.2f}), "
        f"forgetting quality F = {null['forgetting_quality']:.3f}. A method *does not forget* when a permutation test "
        f"tells its models from retrained ones (p ≤ {ALPHA}); on retrain-vs-retrain splits that test said so "
        f"{count(null['verdict_false_positives']['rejected'], 'time')} in {null['verdict_false_positives']['splits']}."
    )
    floors = {r["epsilon_p_floor"] for r in result["rows"] if r["forget_set"] == kind and undecided(r)}
    if floors:  # a quick run's 3 + 3 models: "forgets: yes" beside ε = 1 had been read as a finding
        st.caption(f"With N = {cfg['seeds']} models a side the test cannot reject even for models told apart completely "
                   f"(their p is {p_value(min(floors))}, above {ALPHA}), so measured rows read *can't tell*, whatever their "
                   "own p: a lower one is an ε that ranked first of the few relabellings by chance.")
    table = table_frame(result, kind)
    # the grid's scroll bar shows only under a pointer over it: at 1,366 px eight columns sat out of sight,
    # the time the text below cites among them, with nothing saying so (a visitor's pass)
    right = [name for name in table.columns if name not in _LEADING]
    st.caption(f"{len(table.columns)} columns: {', '.join(right)} are to the right of NDCG; scroll a table "
               "sideways (Shift + mouse wheel, or the arrow keys in it) to see them.")
    columns = {
        # not pinned: Streamlit draws a pinned column's text pale grey, and the methods read as disabled (a reviewer)
        "method": st.column_config.TextColumn(width="medium"),
        "forgets?": st.column_config.TextColumn(
            width="medium",  # "told apart (exact by construction)" whole
            help=f"yes: the permutation test cannot tell its models from retrained ones (p > {ALPHA}); no: it can; "
            "told apart (exact by construction): it can, although the method should equal a retrain in distribution: "
            "a false alarm (1 in 20 at this level) or a flaw, which one run cannot tell apart; can't tell: too few models "
            "for the test to reject at all; by construction: identical to a retrain, nothing to test; reference: never "
            "asked to forget"
        ),
        "ε [95 % CI]": st.column_config.TextColumn(
            help="how well the best threshold attack tells these models from retrained ones (a cross-fitted variant "
            "of the NeurIPS 2023 challenge's estimator, capped at 3); compare with the null control above, not 0"
        ),
        "p": st.column_config.TextColumn(
            help=f"permutation test: can the attack tell these models from retrained ones? p ≤ {ALPHA}: yes "
            "(does not forget). –: one deterministic model a side, identical to its retrain or not"
        ),
        "F": st.column_config.NumberColumn(
            help="forgetting quality: 1 = an attacker cannot tell it from a retrain", format="%.3f"
        ),
        "time": st.column_config.TextColumn(help="what forgetting the whole forget set took (mean over the models)"),
        # a researcher read the ratios as against the ALS retrain, whose NDCG the table's difference column uses
        "speedup": st.column_config.TextColumn(
            help="the same model's retrain without the forgotten users (its reference), divided by this method's time"
        ),
        "final score": st.column_config.NumberColumn(
            help="F × NDCG@10 ratios (retained and test data), each against the same model retrained without the "
            "forgotten users (its reference), not against ALS", format="%.3f"
        ),
        "MIA AUC": st.column_config.NumberColumn(
            help="forgotten vs never-seen users; 0.5 = indistinguishable", format="%.2f"
        ),
        "NDCG@10": st.column_config.NumberColumn(format="%.3f"),
        "Recall@10": st.column_config.NumberColumn(format="%.3f"),
        "fairness gap": st.column_config.NumberColumn(
            help="NDCG@10 of the 5 % most active users minus the rest", format="%.3f"
        ),
        "top-10 overlap": st.column_config.NumberColumn(
            help="share of a user's top 10 also in the same model's retrain without the forgotten users", format="%.2f"
        ),
        "why": st.column_config.TextColumn(width="large", help="why this row equals a retrain without any measurement"),
    }
    # one table per block: a reviewer found the rows equal to a retrain by construction (Retrain, the certified
    # exact models) alternating with the measured ones and the "nothing forgotten" originals in one grid
    for title, purpose, part in table_blocks(result, kind):
        st.markdown(f"**{title}.** {purpose}")
        st.dataframe(
            part,
            hide_index=True,
            width="stretch",
            height=_ROW_PX * (len(part) + 1) + 3,  # every row in view
            # the page's two questions first, in view at 1,366 px: does it forget (forgets?, F) and what does
            # it cost in accuracy (NDCG@10 and its paired difference); the attack's and the cost's details after
            column_order=[_LEADING[0], *(["why"] if "why" in part.columns else []), *_LEADING[1:], *right],
            column_config=columns,
        )
    st.subheader("What this shows")
    st.markdown("\n".join(f"- {line}" for line in reading(result, kind)))
    with st.expander("Across all forget sets"):
        st.markdown("\n".join([*(f"- {line}" for line in summary(result)), "", *headline(result)]))
    if result.get("agreement"):
        with st.expander("Do the verdicts hold on other splits and draws?"):
            st.markdown("\n".join(agreement_section(result)[2:]))  # the expander's title stands for the heading

    time_tab, utility_tab, attack_tab = st.tabs(
        ["Forgetting vs time", "Utility vs forgetting", "What the attacker sees"]
    )
    with time_tab:
        st.plotly_chart(figures.quality_vs_time(result, kind), width="stretch", key=ui_state.key(PAGE, "time"))
        st.caption(
            "The blue band is the null control's interval. Up is better (harder to tell from a retrain), left is faster."
        )
    with utility_tab:
        st.plotly_chart(figures.utility_vs_quality(result, kind), width="stretch", key=ui_state.key(PAGE, "utility"))
        st.caption(
            "Top right is best: forgets like a retrain and recommends as well as one (utility is the difference from the "
            "retrained factorisation on the same users). The blue box is the null control. Open green markers are equal "
            "to a retrain by construction, so their F = 1 is not a measurement; grey ones forgot nothing."
        )
    with attack_tab:
        st.plotly_chart(figures.attack_distributions(result, kind), width="stretch", key=ui_state.key(PAGE, "attack"))
        st.caption(
            "For each forgotten user, how well the model still explains their history, in units of the spread between "
            "retrained models. A method that forgets looks like the retrained side; one that remembers sits left of it "
            "(it still fits the forgotten users). One that sits right of it fits them worse than a retrain would: it "
            "over-forgets, which the attack sees as well, so a *does not forget* can also mean that."
        )

    with st.expander("How it is measured"):
        st.markdown(
            f"- **ε** (NeurIPS 2023 unlearning challenge): for each forgotten user, the attacker picks the threshold or "
            f"interval rule that best separates unlearned from retrained models on half of them; its false-positive and "
            f"false-negative rates on the other half give ε = max(log((1 − δ − FPR)/FNR), log((1 − δ − FNR)/FPR)), "
            f"δ = 10⁻⁵, capped at {result['rows'][0]['epsilon_max']:.0f} (the most the challenge's estimator resolves with N = {cfg['seeds']} models a side: a convention here).\n"
            "- **F**: each user scores 1 for ε < 0.5, ½ below 1, ¼ below 1.5, …; F is the mean. "
            "**Final score** = F × utility ratios against the same model retrained without the forgotten users (each "
            "method's reference).\n"
            "- **Forget sets** (CURE4Rec): random users, the most active (core), the least active (edge).\n"
            "- **Utility**: NDCG@10 and Recall@10 on held-out items; **fairness gap**: most active 5 % minus the rest.\n"
            f"- **Verdict**: a permutation test relabels whole models (unlearned vs retrained); p ≤ {ALPHA} means the "
            "attack tells them apart. Its false-positive rate is measured on retrain-vs-retrain splits.\n"
            "- Intervals: 95 % bootstrap over models, then users. Full definitions, hyper-parameters and caveats: "
            "`docs/lab.md`."
        )

st.subheader("Run a quick lab")
st.caption(
    f"One forget set, a few seeds, every method but EASE (full runs only), in a separate process. MovieLens with {PAGE_SEEDS} seeds takes "
    "half a minute to a minute, depending on how busy the server is; the toy world a few seconds. One run at a time "
    "per server. With so few seeds the results are a demonstration: read them against their own null control."
)
with st.form(ui_state.key(PAGE, "form")):
    left, middle, right = st.columns(3)
    data = left.selectbox("Data set", list(DATA_CHOICES), format_func=DATA_CHOICES.get, key=ui_state.key(PAGE, "data"))
    forget_set = middle.selectbox("Forget set", list(FORGET_SETS), key=ui_state.key(PAGE, "forget_set"))
    seeds = right.slider("Seeds (models per side)", PAGE_SEEDS, LAB_PAGE_MAX_SEEDS, PAGE_SEEDS, key=ui_state.key(PAGE, "seeds"),
                         help=f"From {PAGE_SEEDS}: with 3 a side the test could not reject even for models told apart completely.")
    start = st.form_submit_button("Run the quick lab", type="primary")
finished = ui_state.pop(PAGE, "finished")
if finished:  # the page keeps its scroll at this form, far below the results the run added
    st.success(finished, icon=":material/check_circle:")

if start:
    if data not in DATA_CHOICES or forget_set not in FORGET_SETS or not PAGE_SEEDS <= int(seeds) <= LAB_PAGE_MAX_SEEDS:
        st.error(f"Pick a data set, a forget set and {PAGE_SEEDS} to {LAB_PAGE_MAX_SEEDS} seeds.")  # the widgets only offer these; checked anyway
        ui_state.stop()
    with LAB_GATE.try_run() as mine:
        if not mine:
            st.warning(
                "Another visitor is running a lab on this server right now. To keep the demo responsive only one runs at "
                "a time: try again in a minute. Meanwhile the committed results are above.",
                icon=":material/hourglass:",
            )
        else:
            bar = st.progress(0.0, text="Starting…")
            try:
                outcome = run_in_subprocess(data, forget_set, int(seeds), progress=lambda f, m: bar.progress(f, text=m))
            except AmnesiaError as error:
                bar.empty()
                st.error(str(error))
            except Exception as error:  # noqa: BLE001 - a visitor never sees a traceback
                bar.empty()
                print(f"lab page: quick run failed: {error!r}", file=sys.stderr)
                st.error("The quick lab failed unexpectedly; the committed results are still shown above.")
            else:
                ui_state.put(PAGE, "run", outcome)
                ui_state.put(PAGE, "show_own", True)
                ui_state.put(PAGE, "finished", f"Your quick run finished in {outcome['seconds_total']:.0f} s: its results "
                             "are at the top of the page, under Results (Your quick run).")
                st.rerun()
