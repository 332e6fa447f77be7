"""AppTest: the Lab page shows the committed results and runs one quick lab at a time."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from amnesia.lab.registry import METHODS
from amnesia.lab.report import block_of
from amnesia.lab.result import read_result
from amnesia.lab.jobs import LAB_GATE

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "app_pages" / "lab.py"
APP = ROOT / "app.py"
COMMITTED = read_result(ROOT / "docs" / "lab.json")
RUN = "FormSubmitter:lab.form-Run the quick lab"


def open_page() -> AppTest:
    app = AppTest.from_file(str(PAGE), default_timeout=120).run()
    assert not app.exception
    return app


def test_the_committed_results_are_shown_with_their_null_control():
    app = open_page()
    assert app.title[0].value == "Unlearning lab"
    first = next(k for k in ("random", "core", "edge") if k in COMMITTED["null_control"])
    # three tables: measured rows, the originals (nothing forgotten), rows equal to a retrain by construction
    rows = [r for r in COMMITTED["rows"] if r["forget_set"] == first]
    assert [d.value["method"].tolist() for d in app.dataframe] == [
        [METHODS[r["method"]].label for r in rows if block_of(r) == block] for block in ("measured", "reference", "construction")]
    assert [m.value for m in app.markdown if m.value.startswith("**")][-3:] == [
        "**Asked to forget, measured against retrains.** Each method's models against models retrained without the "
        "forgotten users: the verdict is evidence.",
        "**Nothing forgotten: what the attack sees in a model that remembers.** The original models, before any "
        "forgetting: their ε shows the attack could have found something.",
        "**Equal to a retrain by construction.** Their verdict is no evidence either way; the Retrain row is the null "
        "control every row is read against."]
    assert list(app.dataframe[2].proto.column_order)[:2] == ["method", "why"]
    table = app.dataframe[0].value
    # in view at 1,366 px: whether it forgets with the ε and p the reading quotes, then accuracy (the rest scroll)
    assert list(app.dataframe[0].proto.column_order)[:7] == [
        "method", "forgets?", "ε [95 % CI]", "p", "F", "NDCG@10", "NDCG@10 − retrained ALS [95 % CI]"]
    # the columns out of view are named: the grid's scroll bar shows only under a pointer
    assert ("15 columns: kind, time, speedup, final score, MIA AUC, Recall@10, fairness gap, top-10 overlap are to the "
            "right of NDCG; scroll a table sideways (Shift + mouse wheel, or the arrow keys in it) to see them."
            ) in [c.value for c in app.caption]
    assert len(table.columns) == 15
    null = COMMITTED["null_control"][first]
    text = " ".join(m.value for m in app.markdown)
    assert f"ε = {null['epsilon']:.2f}" in text and "**Null control**" in text
    rejected, splits = null["verdict_false_positives"]["rejected"], null["verdict_false_positives"]["splits"]
    assert f"that test said so {rejected} time{'' if rejected == 1 else 's'} in {splits}." in text  # not "1 times"
    assert "The per-user attack" in text  # the plain-language reading
    assert len(app.get("plotly_chart")) == 3
    assert not app.radio  # only the committed results exist: nothing to choose
    assert (f"Committed full run ({COMMITTED['data']['name']}, N = {COMMITTED['config']['seeds']}, "
            f"{COMMITTED['generated'][:10]})") in app.caption[0].value


def test_switching_the_forget_set_changes_the_table():
    app = open_page()
    kinds = [k for k in ("random", "core", "edge") if k in COMMITTED["null_control"]]
    assert len(kinds) == 3  # the committed run is the full one: every forget set
    before = app.dataframe[0].value["ε [95 % CI]"].tolist()
    app.get("button_group")[0].set_value(kinds[1]).run()
    assert not app.exception
    after = app.dataframe[0].value["ε [95 % CI]"].tolist()
    expected = [r["epsilon"] for r in COMMITTED["rows"] if r["forget_set"] == kinds[1] and block_of(r) == "measured"]
    assert after != before and [float(v.split()[0]) for v in after] == pytest.approx(
        [round(e, 2) for e in expected], abs=0.006
    )
    # clicking the selected set again unselected it while the page showed the first set: it stays selected
    app.get("button_group")[0].set_value(None).run()
    assert not app.exception and app.get("button_group")[0].value == kinds[1]
    assert app.dataframe[0].value["ε [95 % CI]"].tolist() == after


def test_a_visitor_runs_a_quick_toy_lab():
    app = open_page()
    app.selectbox(key="lab.data").set_value("toy")
    app.button(key=RUN).click().run()
    assert not app.exception
    assert app.radio(key="lab.source").value == "yours"
    assert app.session_state["lab.run"]["data"]["name"] == "toy"
    seconds = app.session_state["lab.run"]["seconds_total"]
    assert [s.value for s in app.success] == [  # said by the form, where the page stays scrolled
        f"Your quick run finished in {seconds:.0f} s: its results are at the top of the page, under Results (Your quick run)."]
    assert any("The toy world has 4 users" in w.value for w in app.warning)
    # 5 % of 4 users rounds to none: the run forgets one, and the caption says so (it read "5 % ... 1 users")
    assert "5% of users (at least 1) forgotten per set" in app.caption[0].value
    assert any("compared with 1 user no model ever saw" in m.value for m in app.markdown)
    assert app.session_state["lab.run"]["config"]["seeds"] == 4  # 3 a side could never reject
    assert app.dataframe[2].value["method"].tolist() == ["Retrain", "Item-CF forget (Amnesia)", "Item-kNN forget (exact lists)"]
    # 4 + 4 models: the test can reject (its smallest p is 1/35), and on the toy world it does for the methods that
    # leave the forgotten user's items in the factors
    verdicts = dict(zip(app.dataframe[0].value["method"], zip(app.dataframe[0].value["forgets?"], app.dataframe[0].value["p"])))
    assert verdicts == {"SISA": ("yes", "1.000"), "Fine-tune": ("no", "0.029"), "Unlearn-ALS": ("yes", "1.000"),
                        "NegGrad": ("no", "0.029"), "Fisher forgetting": ("no", "0.029"), "Drop the vectors": ("no", "0.029")}
    assert not [c.value for c in app.caption if c.value.startswith("With N =")]
    # the committed results stay one click away
    app.radio(key="lab.source").set_value("committed").run()
    assert app.dataframe[1].value["method"].tolist()[0] == "No unlearning (original)"
    assert "5% of users forgotten per set" in app.caption[0].value  # 30 of MovieLens's 610: no floor to say
    assert not app.warning


def test_a_run_with_three_models_a_side_says_its_test_cannot_reject():
    """3 + 3 models (the CLI allows them): the test cannot reject, and the page says so rather than "forgets: yes"
    beside ε = 1."""
    from amnesia.lab.run import LabConfig, run_lab

    app = open_page()
    app.session_state["lab.run"] = run_lab(LabConfig(data="toy", forget_sets=("random",), seeds=3, resamples=100,
                                                     agreement_splits=0))
    app.run()
    assert not app.exception
    verdicts = dict(zip(app.dataframe[0].value["method"], app.dataframe[0].value["forgets?"]))
    assert verdicts["Fine-tune"] == verdicts["NegGrad"] == "can't tell (N = 3)"
    assert ("With N = 3 models a side the test cannot reject even for models told apart completely (their p is 0.100, "
            "above 0.05), so measured rows read *can't tell*, whatever their own p: a lower one is an ε that ranked "
            "first of the few relabellings by chance.") in [c.value for c in app.caption]


def test_only_one_lab_runs_at_a_time():
    app = open_page()
    with LAB_GATE.try_run() as mine:
        assert mine  # this test holds the server's slot, as another visitor's run would
        app.button(key=RUN).click().run()
    assert not app.exception
    assert any("Another visitor is running a lab" in w.value for w in app.warning)
    assert "lab.run" not in app.session_state
    assert len(app.dataframe) == 3  # the committed results are still shown


def test_the_lab_is_in_the_apps_navigation():
    app = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not app.exception
    app.switch_page("app_pages/lab.py").run()
    assert not app.exception
    assert app.title[0].value == "Unlearning lab"
