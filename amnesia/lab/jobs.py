"""Running a lab for a visitor: one run at a time per server, each in a child process.

:data:`LAB_GATE` is the server's one slot for a visitor-started run (a lock, no visitor data);
:func:`run_in_subprocess` runs a quick lab in a child whose memory and threads end with it, and
kills it when the caller goes away.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import AmnesiaError
from .result import LabResult, read_result
from .run import Progress

# ---------------------------------------------------------------------------- one run at a time
class RunGate:
    """At most one lab run at a time in this process (one server): :meth:`try_run` yields
    whether this caller got the slot. Holds no visitor data."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started: float | None = None

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @contextmanager
    def try_run(self) -> Iterator[bool]:
        acquired = self._lock.acquire(blocking=False)
        if acquired:
            self.started = time.monotonic()
        try:
            yield acquired
        finally:
            if acquired:
                self.started = None
                self._lock.release()


LAB_GATE = RunGate()  # the server's one slot for a visitor-started lab run (a lock, no visitor data)


def run_in_subprocess(
    data: str, forget_set: str, seeds: int, progress: Progress | None = None, timeout: float = 180.0
) -> LabResult:
    """Run a quick lab in a child process (its memory and threads end with it) and return its
    ``lab.json`` document. ``progress`` gets (fraction, message) as the child reports it; if the
    callback raises (for example because the visitor left), the child is killed."""
    with tempfile.TemporaryDirectory(prefix="amnesia-lab-") as out:
        command = [
            sys.executable,
            "-m",
            "amnesia",
            "lab",
            "--quick",
            "--data",
            data,
            "--forget-set",
            forget_set,
            "--seeds",
            str(seeds),
            "--out",
            out,
            "--threads",
            "1",  # one core for a visitor's run: the server keeps the other for everyone else
            "--progress-json",
        ]
        # the folder that holds this amnesia package (a checkout or site-packages): the child imports the same code
        root = Path(__file__).resolve().parents[2]
        path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=path)
        child = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        timer = threading.Timer(timeout, child.kill)
        timer.start()
        try:
            for line in child.stdout:
                try:
                    update = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if progress is not None and "progress" in update:
                    progress(float(update["progress"]), str(update.get("message", "")))
            child.wait()
        finally:
            timer.cancel()
            if child.poll() is None:
                child.kill()
                child.wait()
        if child.returncode != 0:
            error = (child.stderr.read() or "").strip().splitlines()
            reason = (
                error[-1]
                if error
                else f"it was stopped after {timeout:.0f} s"
                if child.returncode < 0
                else "no message"
            )
            raise AmnesiaError(f"The lab run failed: {reason}")
        return read_result(Path(out) / "lab.json")
