"""The change-stream format: one module owns the records the CLI prints and the app exports.

Records follow the original Amnesia demo (Differential Dataflow backend):
``{"change": ±1, "data": "interactions" | "item_interactions_n" | "cooccurrences_c" |
"similarities_s", ..., "time": t}``, consolidated: per time and entry one ``-1`` with the
old value and one ``+1`` with the new value; an entry that appears (old value 0) has only
``+1``, one that disappears (new value 0) only ``-1``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator
from typing import Any

from .engine.changes import ChangeSet, PairChanges, iter_cooccurrence_changes, iter_similarity_changes
from .engine.model import ItemCF

#: The four collections of the stream, in the order they are emitted.
COLLECTIONS = ("interactions", "item_interactions_n", "cooccurrences_c", "similarities_s")
#: The neighbour lists of a model with ``neighbours=K``: emitted only when asked for (``--emit L``),
#: keyed by (item, neighbour) with the neighbour's S as the value.
NEIGHBOURS = "neighbours_k"
#: The letter each collection goes by on the command line (``python -m amnesia stream --emit H,n,C``).
LETTERS = {"interactions": "H", "item_interactions_n": "n", "cooccurrences_c": "C", "similarities_s": "S", NEIGHBOURS: "L"}

#: Bytes one record's line takes, by collection (measured on MovieLens: ids of 1-6 digits,
#: similarities with up to 17 significant digits): the up-front estimate of an export's size.
RECORD_BYTES = {"interactions": 78, "item_interactions_n": 86, "cooccurrences_c": 104, "similarities_s": 118}


def record_line(record: dict[str, Any]) -> str:
    """One record as the stream writes it: JSON, keys in the record's order, and a newline."""
    return json.dumps(record) + "\n"


def record_lines(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The stream's lines for ``records``."""
    return map(record_line, records)


def _value_records(time: int, old: Any, new: Any, record: dict[str, Any], value_key: str) -> Iterator[dict]:
    """The consolidated -1/+1 records for one entry whose value went from old to new (0 = absent)."""
    if old == new:
        return
    if old:
        yield {"change": -1, **record, value_key: old, "time": time}
    if new:
        yield {"change": 1, **record, value_key: new, "time": time}


def interaction_records(changes: ChangeSet) -> Iterator[dict]:
    """Stream records for H, sorted by (user, item)."""
    for user, item, sign in zip(changes.users.tolist(), changes.items.tolist(), changes.sign.tolist()):
        yield {"change": sign, "data": "interactions", "user": user, "item": item, "time": changes.time}


def count_records(changes: ChangeSet) -> Iterator[dict]:
    """Stream records for n, sorted by item."""
    for item, old, new in zip(changes.count_items.tolist(), changes.count_old.tolist(), changes.count_new.tolist()):
        yield from _value_records(changes.time, old, new, {"data": "item_interactions_n", "item": item}, "count")


def pair_records(pairs: PairChanges, time: int, data: str, value_key: str) -> Iterator[dict]:
    """Stream records for C (``cooccurrences_c``) or S (``similarities_s``), sorted by (item_a, item_b)."""
    for a, b, old, new in zip(pairs.item_a.tolist(), pairs.item_b.tolist(), pairs.old.tolist(), pairs.new.tolist()):
        yield from _value_records(time, old, new, {"data": data, "item_a": a, "item_b": b}, value_key)


def change_records(model: ItemCF, changes: ChangeSet, collections: Collection[str] = COLLECTIONS) -> Iterator[dict]:
    """The records of one change in ``collections`` (default all), in the order H, n, C, S.

    The model must be at ``changes.time`` (the C and S changes are derived from it).
    """
    if "interactions" in collections:
        yield from interaction_records(changes)
    if "item_interactions_n" in collections:
        yield from count_records(changes)
    # both in sorted chunks: forgetting a user with thousands of items changes millions of pairs
    if "cooccurrences_c" in collections:
        for chunk in iter_cooccurrence_changes(model, changes):
            yield from pair_records(chunk, changes.time, "cooccurrences_c", "num_cooccurrences")
    if "similarities_s" in collections:
        for chunk in iter_similarity_changes(model, changes):
            yield from pair_records(chunk, changes.time, "similarities_s", "similarity")


def neighbour_records(pairs: PairChanges, time: int) -> Iterator[dict]:
    """Stream records for changed neighbour-list entries (:meth:`ItemCF.neighbour_changes`),
    sorted by (item, neighbour)."""
    for a, b, old, new in zip(pairs.item_a.tolist(), pairs.item_b.tolist(), pairs.old.tolist(), pairs.new.tolist()):
        yield from _value_records(time, old, new, {"data": NEIGHBOURS, "item": a, "neighbour": b}, "similarity")


def snapshot_records(model: ItemCF, collections: Collection[str] = COLLECTIONS) -> Iterator[dict]:
    """The whole state of ``model`` in ``collections`` as ``+1`` records at its current time (``--data``)."""
    time = model.time
    if "interactions" in collections:
        frame = model.interactions()
        for user, item in zip(frame["user"].tolist(), frame["item"].tolist()):
            yield {"change": 1, "data": "interactions", "user": user, "item": item, "time": time}
    if "item_interactions_n" in collections:
        items = model.items()
        for item, count in zip(items, model.counts(items).tolist()):
            yield {"change": 1, "data": "item_interactions_n", "item": item, "count": count, "time": time}
    # one pass over C per collection instead of holding it: MovieLens has 13 million pairs
    if "cooccurrences_c" in collections:
        for item_a, item_b, values in model.cooccurrence_entries():
            for a, b, c in zip(item_a.tolist(), item_b.tolist(), values.tolist()):
                yield {"change": 1, "data": "cooccurrences_c", "item_a": a, "item_b": b, "num_cooccurrences": c, "time": time}
    if "similarities_s" in collections:
        for item_a, item_b, values in model.cooccurrence_entries():
            similarity = model.measure(values, model.counts(item_a.tolist()), model.counts(item_b.tolist()))
            for a, b, s in zip(item_a.tolist(), item_b.tolist(), similarity.tolist()):
                yield {"change": 1, "data": "similarities_s", "item_a": a, "item_b": b, "similarity": s, "time": time}
    if NEIGHBOURS in collections:
        items = model.items()
        for item, entries in zip(items, model.neighbour_lists(items)):
            for neighbour, s in entries:
                yield {"change": 1, "data": NEIGHBOURS, "item": item, "neighbour": neighbour, "similarity": s, "time": time}
