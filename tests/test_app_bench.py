"""The app's benchmark part: its report says plainly which targets were met (no browser needed here)."""

from __future__ import annotations

from tools.bench_app import _summary, check_targets, markdown, resolution, typical_users


def _figures(load_levels: dict) -> dict:
    s = lambda *values: _summary(list(values))  # noqa: E731
    figures = {
        "machine": "test", "when": "now", "quick": False,
        "resolution": {"lines": 3, "longest": 200, **s(0.001, 0.002, 0.009)},
        "waiting": {
            "toy_add": s(0.3, 0.35), "toy_forget": s(0.3, 0.7), "ml_add": s(0.9), "ml_forget_typical": s(0.8),
            "server_ml_add": s(0.1), "server_ml_forget": s(0.12, 0.2, 0.3),
            "ml_forget_heaviest": s(1.4, 1.5, 1.9), "server_ml_forget_heaviest": s(0.6, 0.7, 0.9), "ml_verify": s(2.0, 2.5, 3.0),
            "ml_forget_heaviest_s": 1.5, "server_ml_forget_heaviest_s": 0.7, "ml_recommendations_s": 1.2, "ml_verify_s": 2.5,
            "typical_users": [{"user": 86, "movies": 70}],
        },
        "memory": {
            "start_mb": 390.0, "peak_mb": 800.0, "ten_visitors_mb": 600.0,
            "waves": [{"after_mb": a, "add_3000_s": s(1.0), "forget_s": s(0.5), "errors": []} for a in (500.0, 540.0, 570.0)],
        },
        "load": load_levels,
    }
    figures["targets"] = check_targets(figures)
    return figures


def test_targets_are_met_missed_or_not_measured():
    level = {**_summary([1.0, 2.0, 4.0]), "open": _summary([0.3, 0.4]), "server": _summary([0.2, 0.5, 0.9]),
             "errors": ["TimeoutError: x"], "server_mb": 600.0, "server_peak_mb": 650.0}
    figures = _figures({"pinned": True, "1": level, "10": level, "30": {**level, "errors": []}})
    verdict = {row["key"]: row["met"] for row in figures["targets"]}
    assert verdict["toy_add_p95_s"] is True and verdict["toy_forget_p95_s"] is False  # 0.7 s > 0.4 s
    assert verdict["ml_verify_s"] is False and verdict["waves_growth_mb"] is False  # 570 - 500 > 60
    assert verdict["server_ml_forget_p50_s"] is False  # p50 0.2 s > 0.15 s
    assert verdict["load_10_errors"] is False and verdict["load_10_p95_s"] is False  # p95 4 s > 2 s
    assert verdict["load_10_server_p95_s"] is True  # server-side p95 0.9 s <= 1 s
    assert verdict["load_30_errors"] is True and verdict["load_30_peak_mb"] is True  # 650 MB <= 1 GB
    text = markdown(figures)
    assert "| MovieLens: Verify (retrain and compare; median of 3 tries) | <= 1 s | 2.50 s | **not met** |" in text
    assert "| MovieLens: forget User 414 (a fresh visitor each try) | 3 | 1.50 | 1.90 | 1.90 |" in text
    assert "User 414 took 0.70 s on the server (median of the tries) in this run of its 1.50 s" in text
    assert "| 10 | 3 | 0.35 / 0.40 | 2.00 / 4.00 / 4.00 | 0.50 / 0.90 / 0.90 | 1 | 600 / 650 |" in text
    assert "|  | error: TimeoutError: x | | | | | |" in text
    assert "protocol clients (Streamlit's WebSocket messages" in text
    assert "the server on one core and the clients on the other" in text
    assert "| server RSS after wave 3 minus after wave 1 | <= 60 MB | 70 MB | **not met** |" in text
    just_over = _figures({"1": level})
    just_over["waiting"]["ml_verify_s"] = 1.0001519
    just_over["targets"] = check_targets(just_over)
    assert "| MovieLens: Verify (retrain and compare; median of 3 tries) | <= 1 s | 1.0002 s | **not met** |" in markdown(just_over)
    quick = _figures({"1": level})
    assert "| load, N = 10: errors | <= 0 | not measured | not measured |" in markdown(quick)


def test_resolution_and_typical_users():
    figures = resolution(repeats=5)
    assert figures["n"] == figures["lines"] == 17 and figures["p50"] <= figures["max"]
    assert [(u, m) for u, m in typical_users(2)] == [(86, 70), (143, 71)]  # median history: 70.5 movies
