"""The change stream: a drop-in for the original Amnesia demo's Differential Dataflow backend.

Reads change requests as JSON lines, applies each one to a model, and writes the records of
what changed in H, n, C and S (see :mod:`amnesia.changes` for the record format). A rejected
line writes one JSON error object to the error stream, nothing to the output, and takes no
logical time. Nothing is kept per line, so memory does not grow with the lines read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TextIO

from .changes import ChangeSet, count_records, interaction_records, pair_records
from .errors import AmnesiaError
from .model import ItemCF, _jaccard


def change_records(model: ItemCF, changes: ChangeSet) -> Iterator[dict]:
    """All records of one change, in the order H, n, C, S; the model must be at ``changes.time``."""
    yield from interaction_records(changes)
    yield from count_records(changes)
    yield from pair_records(changes.cooccurrences, changes.time, "cooccurrences_c", "num_cooccurrences")
    yield from pair_records(model.similarity_changes(changes), changes.time, "similarities_s", "similarity")


def snapshot_records(model: ItemCF) -> Iterator[dict]:
    """The whole state of ``model`` as ``+1`` records at its current time (used for ``--data``)."""
    time = model.time
    frame = model.interactions()
    for user, item in zip(frame["user"].tolist(), frame["item"].tolist()):
        yield {"change": 1, "data": "interactions", "user": user, "item": item, "time": time}
    items = model.items()
    for item, count in zip(items, model.counts(items).tolist()):
        yield {"change": 1, "data": "item_interactions_n", "item": item, "count": count, "time": time}
    # two passes over C instead of holding it: MovieLens has 13 million pairs
    for item_a, item_b, values in model.cooccurrence_entries():
        for a, b, c in zip(item_a.tolist(), item_b.tolist(), values.tolist()):
            yield {"change": 1, "data": "cooccurrences_c", "item_a": a, "item_b": b, "num_cooccurrences": c, "time": time}
    for item_a, item_b, values in model.cooccurrence_entries():
        similarity = _jaccard(values, model.counts(item_a.tolist()), model.counts(item_b.tolist()))
        for a, b, s in zip(item_a.tolist(), item_b.tolist(), similarity.tolist()):
            yield {"change": 1, "data": "similarities_s", "item_a": a, "item_b": b, "similarity": s, "time": time}


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
