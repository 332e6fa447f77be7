"""The benchmark harness computes real figures (small sizes here; timings are not asserted)."""

from __future__ import annotations

from amnesia.bench import check_targets, markdown, measure, synthetic


def test_synthetic_data_is_seeded_and_shaped():
    data = synthetic(users=300, items=500, mean_per_user=40, seed=3)
    again = synthetic(users=300, items=500, mean_per_user=40, seed=3)
    assert data.equals(again)
    per_user = data.groupby("user").size()
    assert per_user.min() >= 20 and data["user"].nunique() == 300
    popularity = data["item"].value_counts()
    assert popularity.iloc[0] > 10 * popularity.median()  # Zipf-like: a few items are very popular


def test_measure_reports_exact_forgetting_and_consistent_figures():
    figures = measure(synthetic(users=200, items=300, mean_per_user=40, seed=5), users_to_forget=20, fit_repeats=1)
    assert figures["exact"] is True
    assert figures["users"] == 200 and figures["forget"]["n"] == 20 and figures["add_user"]["n"] == 20
    assert figures["forget"]["p50_ms"] <= figures["forget"]["p99_ms"] <= figures["forget"]["max_ms"]
    assert figures["speedup"] == figures["retrain_s"] / (figures["forget"]["p50_ms"] / 1e3)
    assert figures["model_mb"] >= 0.18


def test_report_marks_missed_targets():
    ml = measure(synthetic(users=100, items=200, mean_per_user=30, seed=2), users_to_forget=10, fit_repeats=1)
    figures = {
        "when": "now", "machine": "test", "quick": True, "movielens_small": ml, "synthetic_ml1m": ml,
        "resolve": {"all": {"p50_ms": 1.0, "p99_ms": 2.0, "max_ms": 9.0, "n": 3}}, "sweep": [], "peak_rss_mb": 1.0,
    }
    figures["targets"] = check_targets(figures)
    resolve_max = next(row for row in figures["targets"] if row["key"] == "resolve_max_ms")
    assert resolve_max["met"] is False and resolve_max["value"] == 9.0
    report = markdown(figures)
    assert "| resolve a title (max) | <= 5 ms | 9 ms | **no** |" in report
    assert "| speedup (retrain ÷ forget p50) |" in report
