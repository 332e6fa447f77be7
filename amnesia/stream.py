"""The change stream: a drop-in for the original Amnesia demo's Differential Dataflow backend.

Reads change requests as JSON lines, applies each one to a model, and writes the records of
what changed in H, n, C and S (see :mod:`amnesia.records` for the record format). A rejected
line writes one JSON error object to the error stream, nothing to the output, and takes no
logical time. Nothing is kept per line, so memory does not grow with the lines read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from .engine.model import ItemCF
from .errors import AmnesiaError
from .records import change_records


def run_stream(model: ItemCF, lines: Iterable[str], out: TextIO, err: TextIO) -> tuple[int, int]:
    """Apply each non-blank line of ``lines`` to ``model``; write records to ``out``, errors to ``err``.

    Returns (accepted, rejected) line counts.
    """
    accepted = rejected = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            changes = model.apply(line)
        except AmnesiaError as error:
            rejected += 1
            err.write(json.dumps({"error": str(error), "line": number}) + "\n")
            err.flush()
            continue
        accepted += 1
        out.writelines(json.dumps(record) + "\n" for record in change_records(model, changes))
        out.flush()
    return accepted, rejected
