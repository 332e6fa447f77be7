"""The benchmark harness computes real figures (small sizes here; timings are not asserted)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from amnesia import ItemCF
from amnesia.bench import PARTS, assemble
from amnesia.bench.common import percentiles
from amnesia.bench.engine import check_targets, markdown, measure
from amnesia.data.synthetic import Shape, movielens_like

TINY = Shape(users=200, items=300, interactions=8_000, median_user=30, max_user=120, max_item=150)


def test_measure_reports_exact_forgetting_and_consistent_figures():
    figures = measure(movielens_like(TINY, seed=5), users_to_forget=20, fit_repeats=1)
    assert figures["exact"] is True and figures["store"] == "dense"
    assert figures["users"] == 200 and figures["forget"]["n"] == 20 and figures["add_user"]["n"] == 20
    assert figures["forget"]["p50_ms"] <= figures["forget"]["p95_ms"] <= figures["forget"]["p99_ms"] <= figures["forget"]["max_ms"]
    assert figures["speedup"] == figures["retrain_s"] / (figures["forget"]["p50_ms"] / 1e3)
    sparse = measure(movielens_like(TINY, seed=5), users_to_forget=5, fit_repeats=1, similarity="cosine", store="sparse")
    assert sparse["store"] == "sparse" and sparse["similarity"] == "cosine" and sparse["exact"] is True


def test_percentiles_are_in_milliseconds():
    figures = percentiles([0.001, 0.002, 0.003, 0.004])
    assert figures == pytest.approx({"p50_ms": 2.5, "p95_ms": 3.85, "p99_ms": 3.97, "max_ms": 4.0, "n": 4})


def test_report_marks_missed_targets():
    ml = measure(movielens_like(TINY, seed=2), users_to_forget=10, fit_repeats=1)
    figures = {
        "when": "now", "machine": "test", "quick": True, "similarity": "jaccard", "movielens_small": ml,
        "movielens_small_sparse": ml, "synthetic_ml1m": ml, "sweep": [],
        "resolve": {"all": {"p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 2.0, "max_ms": 9.0, "n": 3}},
    }
    figures["targets"] = check_targets(figures)
    resolve_max = next(row for row in figures["targets"] if row["key"] == "resolve_max_ms")
    assert resolve_max["met"] is False and resolve_max["value"] == 9.0
    report = markdown(figures)
    assert "| resolve a title (max) | <= 5 ms | 9 ms | **no** |" in report
    assert "| speedup (retrain ÷ forget p50; against the first fit) |" in report
    assert "Fit and retrain: one run each." in report  # no spread to read from a single fit


def test_the_retrain_is_a_median_of_later_fits_and_the_first_fit_is_reported_apart():
    """The fit row was the median of three fits, the first among them: 0.48 s beside a 0.15 s retrain of
    the same data in the same run, with nothing saying why (a first fit lands on memory the process never
    had)."""
    ml = measure(movielens_like(TINY, seed=2), users_to_forget=10, fit_repeats=3)
    single = measure(movielens_like(TINY, seed=2), users_to_forget=10, fit_repeats=1)
    assert ml["fit_warm_s"] > 0 and ml["retrain_spread"]["runs"] == 3
    assert single["fit_warm_s"] is None and single["retrain_spread"]["runs"] == 1
    figures = {
        "when": "now", "machine": "test", "quick": False, "similarity": "jaccard", "movielens_small": ml,
        "movielens_small_sparse": single, "synthetic_ml1m": ml, "sweep": [],
        "resolve": {"all": {"p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 2.0, "max_ms": 2.0, "n": 3}},
    }
    figures["targets"] = check_targets(figures)
    report = markdown(figures)
    fit_row = next(line for line in report.splitlines() if line.startswith("| fit: the first of its runs"))
    cells = [cell.strip() for cell in fit_row.split("|")[2:-1]]
    assert cells[0].startswith(f"{ml['fit_s']:.2f} / {ml['fit_warm_s']:.2f} s") and cells[1].startswith(f"{single['fit_s']:.2f} s / –")
    retrain_row = next(line for line in report.splitlines() if line.startswith("| retrain from scratch"))
    assert "3 runs)" in retrain_row.split("|")[2] and "(" not in retrain_row.split("|")[3]  # one run: no range
    assert f"the same retrain ranged from {ml['retrain_spread']['min']:.3f} to {ml['retrain_spread']['max']:.3f} s over 3 runs" in report
    fastest = ml["retrain_spread"]["min"] / (ml["forget"]["p50_ms"] / 1e3)
    assert f"against the fastest retrain it is {fastest:,.0f}×" in report


def test_the_report_is_the_parts_in_order(tmp_path: Path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "large.md").write_text("## Large\nfigures\n")
    (tmp_path / "bench" / "engine.md").write_text("## Engine\nfigures\n")
    report = assemble(tmp_path)
    assert report.startswith("# Benchmarks\n") and report.index("## Engine") < report.index("## Large")


def test_a_quick_run_never_writes_over_the_committed_report(tmp_path: Path, monkeypatch):
    """A researcher's smoke test (--quick) had rewritten docs/benchmarks.md and docs/bench/harden.* with its
    smaller figures; like the lab's quick run, it now writes to a git-ignored folder unless told where."""
    import argparse
    import types

    import amnesia.bench as bench

    part = types.SimpleNamespace(run=lambda args: {"targets": []}, markdown=lambda figures: "## Harden\n\nquick figures")
    monkeypatch.setattr(bench.importlib, "import_module", lambda name: part)
    monkeypatch.chdir(tmp_path)
    assert bench.main(argparse.Namespace(part="harden", quick=True, output=None)) == 0
    assert not (tmp_path / "docs").exists()
    assert (tmp_path / "bench-runs/quick/bench/harden.md").read_text() == "## Harden\n\nquick figures"
    assert "quick figures" in (tmp_path / "bench-runs/quick/benchmarks.md").read_text()
    assert bench.main(argparse.Namespace(part="harden", quick=False, output=None)) == 0
    assert (tmp_path / "docs/bench/harden.md").exists() and (tmp_path / "docs/benchmarks.md").exists()


def test_the_committed_report_is_its_committed_sections():
    """docs/benchmarks.md is rebuilt from docs/bench/*.md by every part's run: text written into the
    report alone would vanish at the next run of any part, so it must be in a section file."""
    docs = Path(__file__).resolve().parent.parent / "docs"
    assert (docs / "benchmarks.md").read_text(encoding="utf-8") == assemble(docs)


#: Sections with a written note beside the run's figures (app: the reading of a run's misses).
_ANNOTATED_SECTIONS = {"app"}


@pytest.mark.parametrize("part", [part for part in PARTS if part not in _ANNOTATED_SECTIONS])
def test_each_committed_section_is_its_figures_rendered(part):
    """A section edited by hand, or a renderer changed without re-rendering, shows here (the large
    part's stream sentence read '4,355 records (0 MB)' until its figures were rendered again)."""
    import importlib
    import json

    from amnesia.bench import PART_MODULES

    folder = Path(__file__).resolve().parent.parent / "docs" / "bench"
    figures = json.loads((folder / f"{part}.json").read_text(encoding="utf-8"))
    rendered = importlib.import_module(PART_MODULES[part]).markdown(figures)
    assert rendered.strip() == (folder / f"{part}.md").read_text(encoding="utf-8").strip()


def test_the_neighbours_part_times_both_engines_and_checks_the_lists(monkeypatch):
    """One small round (a slice of MovieLens): every figure is there, the lists equal a fresh fit's
    after the random requests, and the report says so (timings are not asserted)."""
    import argparse

    from amnesia.bench import neighbours

    monkeypatch.setattr(neighbours, "TYPICAL", 4)
    monkeypatch.setattr(neighbours, "HEAVY", 2)
    monkeypatch.setattr(neighbours, "RECOMMEND_USERS", 10)
    monkeypatch.setattr(neighbours, "REQUESTS", 30)
    figures = neighbours.run(argparse.Namespace(quick=True))
    lists = figures["summary"]["lists"]
    assert figures["rounds"] == 1 and figures["identical"]["identical"] is True
    assert lists["forget_typical"]["p50_ms"]["median"] > 0 and lists["recommend"]["p50_ms"]["median"] > 0
    assert figures["summary"]["implicit_k"]["fit_s"]["median"] > 0
    assert set(figures["summary"]["every"]["cost_fit"]) == {"a_us", "b_us", "c_ns"}
    assert [row["label"] for row in figures["targets"]][-1].startswith("lists after 1,000 random requests")
    report = neighbours.markdown(figures)
    assert "the lists equal a fresh fit's" in report and "implicit 0.7.3 ItemItemRecommender, K = 20" in report
    assert figures["summary"]["candidate"]["recommend"]["p50_ms"]["median"] > 0
    assert "| this engine, K = 50 lists, each candidate scored from its own list | the same model |" in report
    assert figures["summary"]["read"]["rows_of_c"]["p50_ms"]["median"] > 0
    assert "Reading those rows alone (the typical users' items' rows of C" in report


def test_the_rows_the_neighbours_part_reads_are_the_engines_c():
    """The reading it times beside a forget is of the engine's own counts: C = HᵀH, uint16."""
    import scipy.sparse as sp

    from amnesia.bench.neighbours import _read_rows, dense_c

    pairs = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 0), (2, 2), (3, 2)]
    model = ItemCF.fit(pairs)
    users, items = zip(*pairs)
    core = dense_c(sp.csr_matrix((np.ones(len(pairs)), (users, items)), shape=(4, 3)))
    assert core.dtype == np.uint16
    assert core.tolist() == [[model.cooccurrence(a, b) if a != b else model.count(a) for b in range(3)] for a in range(3)]
    assert _read_rows(core, np.array([0, 2])) == int(core[[0, 2]].sum()) == 13


def test_the_cost_fit_recovers_known_coefficients():
    from amnesia.bench.neighbours import cost_fit

    lengths = [10, 50, 100, 400, 1000, 2500]
    seconds = [20e-6 + 1.5e-6 * k + 0.6e-9 * k * k for k in lengths]
    fit = cost_fit(lengths, seconds)
    assert fit["a_us"] == pytest.approx(20, rel=1e-6) and fit["b_us"] == pytest.approx(1.5, rel=1e-6)
    assert fit["c_ns"] == pytest.approx(0.6, rel=1e-6)
    # each time's error counts relative to it: 10 % noise on short histories and one long history 20 % slow
    # move a by about a tenth; unweighted, the long history's error weighs most and a moves more than twice as far
    lengths = list(range(20, 320, 10)) + [2700]
    true = [300e-6 + 8e-6 * k + 10e-9 * k * k for k in lengths]
    noisy = [t * (1 + 0.1 * (-1) ** i) for i, t in enumerate(true[:-1])] + [true[-1] * 1.2]
    fit = cost_fit(lengths, noisy)
    assert fit["a_us"] == pytest.approx(300, rel=0.25) and fit["b_us"] == pytest.approx(8, rel=0.25)
    c, b, a = np.polyfit(lengths, noisy, 2)  # the plain least squares, for contrast
    assert abs(a * 1e6 - 300) > 2 * abs(fit["a_us"] - 300)
