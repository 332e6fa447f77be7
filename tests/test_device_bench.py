"""The device benchmark's own logic: its exact reference, its agreement figure and its report."""

from __future__ import annotations

import math

from amnesia import ItemCF
from tools.bench_device import check_targets, exact_top, markdown, measure_agreement
from amnesia.data.datasets import load


def test_the_exact_reference_is_recommend():
    data = load("toy")
    model = ItemCF.fit(data.interactions)
    for user in model.users():
        assert exact_top(model, model.history(user)) == [rec.item for rec in model.recommend(user, 10)]


def test_agreement_is_perfect_when_k_keeps_every_neighbour():
    data = load("toy")  # 5 movies: K = 20, 50, 100 all keep every neighbour
    figures = measure_agreement(ItemCF.fit(data.interactions), data.catalog)
    for k in ("20", "50", "100"):
        for kind in ("five", "whole"):
            assert figures[k][kind]["overlap_mean"] == 1.0 and figures[k][kind]["identical_share"] == 1.0


def test_a_browser_that_could_not_run_is_reported_as_not_measured():
    k = {"export_s": {"p50": 1.0, "max": 1.2}, "onnx_mb": 2.96, "sidecar_mb": 0.38, "width": 50, "peak_mb": 100.0}
    agreement = {"overlap_mean": 0.6, "overlap_p10": 0.3, "overlap_min": 0.0, "identical_share": 0.03,
                 "python_onnxruntime_ms": {"p50": 0.1, "p95": 0.2, "max": 1.0, "n": 610}}
    figures = {
        "when": "today", "machine": "here", "measure": "jaccard", "quick": True,
        "export": {"fingerprint_s": 1.0, "k": {"20": k, "50": k, "100": k}},
        "fork_export": {"user": 1, "history": 64, "fingerprint_s": 1.0, "export_s": 2.0, "total_s": 3.0},
        "agreement": {"users": 610, **{key: {"five": agreement, "whole": agreement} for key in ("20", "50", "100")}},
        "browser": {"skipped": "no Chromium"},
    }
    figures["targets"] = check_targets(figures)
    size, inference, switch = figures["targets"]
    assert size["met"] and size["value"] == 2.96
    assert math.isnan(inference["value"]) and not inference["met"] and not switch["met"]
    report = markdown(figures)
    assert "| ONNX model, K = 50 | <= 5 MB | 2.96 MB | met |" in report
    assert "| in-browser inference p50 (5 picks, headless Chromium) | <= 50 ms | not measured (see below) | **no** |" in report
    assert "In the browser: not measured (no Chromium)." in report
