"""Shared measuring tools for the benchmark parts: timers, percentiles, memory readings."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def percentiles(seconds: list[float] | np.ndarray) -> dict[str, float]:
    """p50, p95, p99 and max of durations given in seconds, reported in milliseconds, with n."""
    ms = np.asarray(seconds, dtype=np.float64) * 1e3
    if len(ms) == 0:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan"), "n": 0}
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "n": len(ms),
    }


def _status(field: str, pid: int | str = "self") -> float:
    """A field of /proc/<pid>/status in MB (Linux), or NaN elsewhere."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def resident_mb(pid: int | str = "self") -> float:
    """A process's resident memory now (VmRSS), MB: this one's, or process ``pid``'s."""
    return _status("VmRSS", pid)


def peak_mb() -> float:
    """This process's peak resident memory since the last :func:`reset_peak` (VmHWM), MB."""
    return _status("VmHWM")


def reset_peak() -> None:
    """Start a new peak-memory window (Linux: writing 5 to /proc/self/clear_refs resets VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def machine() -> str:
    """One line describing where the figures were measured."""
    import os

    return (
        f"{platform.machine()}, {os.cpu_count()} cores, CPython {platform.python_version()}, numpy {np.__version__}"
    )


def load_average() -> str:
    """The machine's 1-minute load average as text (other processes on the cores make times pessimistic)."""
    import os

    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:  # not every platform reports it
        return "unknown"


def when() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def measured(figures: dict[str, Any]) -> str:
    """The start of a section's first sentence: when and where, and the load around the run."""
    return (f"Measured {figures['when']} on {figures['machine']} (load average {figures['load_before']} before, "
            f"{figures['load_after']} after)")


def target_rows(targets: dict[str, tuple[str, str, float, str]], measured: dict[str, float]) -> list[dict[str, Any]]:
    """Each target ``key: (label, "<=" | ">=", target, unit)`` with its measured value and whether it was met."""
    rows = []
    for key, (label, relation, target, unit) in targets.items():
        value = measured[key]
        met = bool(value <= target if relation == "<=" else value >= target)
        rows.append({"key": key, "label": label, "target": f"{relation} {target:g} {unit}", "value": value, "unit": unit, "met": met})
    return rows


def fmt(value: float) -> str:
    """A figure for a table: no decimals from 100 up, three significant digits below."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def target_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines of a targets table (what, target, measured, met)."""
    lines = ["| what | target | measured | met |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['label']} | {row['target']} | {fmt(row['value'])} {row['unit']} | {'yes' if row['met'] else '**no**'} |")
    return lines
