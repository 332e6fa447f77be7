"""The ``lab.json`` document: its shape, one reader that checks it, and what people call a run.

:func:`amnesia.lab.run.run_lab` writes the document; everything that reads one (the Lab page,
the report, the figures, the tests) goes through :func:`read_result`, which refuses a file of
another shape with a message saying what to do, instead of failing later on a missing key.
The types are :class:`~typing.TypedDict` s: the document stays plain JSON, and its readers are
checked against the keys listed here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from ..errors import AmnesiaError

#: The document version this code writes and reads.
VERSION = 2

Interval = list  # [low, high]: a 95 % confidence interval (either end may be None)


class NullControl(TypedDict):
    """Retrain vs retrain with other seeds, on one forget set: what "no difference" looks like."""

    epsilon: float | None
    epsilon_ci: Interval
    forgetting_quality: float | None
    forgetting_quality_ci: Interval
    final_score: float | None
    mia_auc: float | None
    mia_auc_ci: Interval
    ndcg_at_10: float | None
    ndcg_at_10_ci: Interval
    top10_overlap_with_retrain: float | None
    top10_overlap_ci: Interval
    epsilon_p_value: float | None
    epsilon_in_sample: float | None  # the challenge's in-sample estimator, for its scale
    #: the verdict's test on retrain-vs-retrain splits: splits, rejected, rate, alpha, permutations, p_values
    verdict_false_positives: dict[str, Any]


class Row(TypedDict, total=False):
    """One method on one forget set (the keys every row has are in :data:`ROW_KEYS`)."""

    method: str
    label: str
    family: str
    description: str
    forget_set: str
    reference: str
    models: int
    seconds: float
    seconds_max: float
    retrain_seconds: float
    speedup: float | None
    epsilon: float | None
    epsilon_ci: Interval
    epsilon_p_value: float | None  # the permutation test against retrains (None: one model a side)
    forgetting_quality: float | None
    final_score: float | None
    mia_auc: float | None
    ndcg_at_10: float | None
    ndcg_gap_to_als: float | None  # minus the retrained factorisations' (the references), paired over users
    ndcg_gap_to_als_ci: Interval
    top10_overlap_with_retrain: float | None
    forgets: bool
    verdict: str
    seconds_per_request: float
    speedup_per_request: float
    certificate: dict[str, Any]


class LabResult(TypedDict):
    """The whole document."""

    version: int
    generated: str
    config: dict[str, Any]
    data: dict[str, Any]
    hyper_parameters: dict[str, Any]
    forget_sets: dict[str, dict[str, Any]]
    null_control: dict[str, NullControl]
    rows: list[Row]
    seconds_total: float
    machine: dict[str, Any]
    targets: NotRequired[dict[str, Any]]  # a full run's targets, measured
    agreement: NotRequired[dict[str, Any]]  # the verdicts on other splits and draws (amnesia.lab.agreement)


DOCUMENT_KEYS = tuple(key for key in LabResult.__annotations__ if key not in ("targets", "agreement"))  # full runs only
ROW_KEYS = ("method", "label", "family", "description", "forget_set", "reference", "models", "seconds", "epsilon",
            "epsilon_ci", "epsilon_p_value", "forgets", "verdict")


def read_result(source: str | Path) -> LabResult:
    """The lab document at ``source`` (a path), checked: the version, every top-level key, the
    keys of every row, and a null control for every forget set a row names. Raises
    :class:`AmnesiaError` saying what is wrong and how to make a new one."""
    path = Path(source)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise AmnesiaError(f"No lab results at {path} ({error.strerror}): run `python -m amnesia lab` to make them.") from None
    except ValueError as error:
        raise AmnesiaError(f"{path} is not valid JSON ({error}); run `python -m amnesia lab` to make it again.") from None
    return check_result(document, str(path))


def check_result(document: Any, where: str = "the lab document") -> LabResult:
    """``document`` as a :class:`LabResult`, after the checks of :func:`read_result`."""
    redo = "run `python -m amnesia lab` to make it again"
    if not isinstance(document, dict):
        raise AmnesiaError(f"{where} is not a lab document (a JSON object); {redo}.")
    if document.get("version") != VERSION:
        raise AmnesiaError(f"{where} has version {document.get('version')!r}; this code reads version {VERSION}: {redo}.")
    missing = [key for key in DOCUMENT_KEYS if key not in document]
    if missing:
        raise AmnesiaError(f"{where} lacks {', '.join(missing)}; {redo}.")
    for number, row in enumerate(document["rows"], start=1):
        lacking = [key for key in ROW_KEYS if key not in row]
        if lacking:
            raise AmnesiaError(f"Row {number} of {where} lacks {', '.join(lacking)}; {redo}.")
        if row["forget_set"] not in document["null_control"]:
            raise AmnesiaError(f"Row {number} of {where} names forget set {row['forget_set']!r}, which has no null control; {redo}.")
    return document  # type: ignore[return-value]


def rows_of(result: LabResult, kind: str) -> dict[str, Row]:
    """The rows of forget set ``kind``, by method name, in the document's order."""
    return {row["method"]: row for row in result["rows"] if row["forget_set"] == kind}


def run_label(result: LabResult, whose: str = "Committed") -> str:
    """What the run is, for a page: ``"Committed full run (movielens-small, N = 16, 2026-11-30)"``.
    A quick run says so, whoever committed it."""
    config = result["config"]
    kind = "quick" if config.get("quick") else "full"
    date = str(result.get("generated", ""))[:10] or "undated"
    return f"{whose} {kind} run ({result['data']['name']}, N = {config['seeds']}, {date})"
