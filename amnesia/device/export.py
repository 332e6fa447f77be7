"""Export an item-based model to ONNX, for scoring on the visitor's device.

The exported graph scores a watch history without the history ever leaving the device:

- input ``history``: int64 ``[m]``, positions (0-based) in ``model.items()`` order of the items
  the person has watched (duplicates count once);
- output ``scores``: float64 ``[n_items]``, score(b) = Σ over history items a of S_ab, counting
  for each a only its K most similar *other* items (ties go to the smaller item id; K = None
  keeps every item with S_ab > 0). Items in the history get ``-inf``, the lowest score;
- outputs ``top_items`` (int64 ``[k]``, positions) and ``top_scores`` (float64 ``[k]``): the k
  best scores, ties to the smaller position (that is, the smaller item id), from ONNX TopK.

The weights are a neighbour table: for every item a, the positions (uint16 when the catalog
has fewer than 65,536 items, else int32) and float64 similarities of its K neighbours: the
model's own S, summed in the engine's order (history in id order, each list best first), so
the device's scores equal ``ItemCF.recommend``'s bit for bit for a model fitted with the same
``neighbours=K`` (whose lists the export reads as they are). The
graph gathers the rows of the history, scatter-adds them into a vector of n zeros
(ScatterElements with reduction "add", opset 16+), and overwrites the history's own entries.
Work per inference is O(m·K), independent of the catalog size except for the n-vector.

A model that scores each candidate from its own list (``scoring="candidate"``) gets another
graph over the same table: score(b) = Σ over b's list entries a that are in the history of S_ba,
in list order. It marks the history in an n-vector (ScatterElements), then adds column e of the
table, gathered through that mask, for e = 0 .. K-1 one Add at a time: the engine's order, so
again its bits. Work per inference is O(n·K).

A JSON sidecar goes with the model: item order, titles and years, the model's fingerprint,
the similarity measure, K, the format and the model version (a hash of all of those).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from numba import njit
from onnx import TensorProto, helper, numpy_helper

from ..errors import AmnesiaError
from ..words import count

if TYPE_CHECKING:
    from ..data.catalog import Catalog
    from ..engine.model import ItemCF

FORMAT = "amnesia-device-model/2"  # 2: float64 weights and scores (the engine's own sums)
OPSET = 17  # ScatterElements' "add" reduction needs 16; 17 is supported by onnxruntime-web 1.30
IR_VERSION = 8  # the IR of opset 17: readable by every onnxruntime release that runs opset 17
TOP_K = 10
#: The most neighbour entries (items × K) an export may hold: 16M entries are ~100 MB of weights.
#: Exporting every neighbour (K = None) of a large catalog hits it; pick a K instead.
MAX_ENTRIES = 16_000_000
_UINT16_ITEMS = 65_536  # positions fit in uint16 up to this many items (half the index bytes of int32)
_BLOCK_ROWS = 256  # rows of S materialised at once: 256 × 9,724 float64 is 20 MB


def measure_name(model: ItemCF) -> str:
    """The name of the similarity measure ``model`` uses ("jaccard", "cosine")."""
    return model.measure.name


def model_version(fingerprint: str, measure: str, neighbours: int | None, scoring: str = "history") -> str:
    """A short, stable version string for an export: 12 hex digits of a hash over the export
    format, the model's fingerprint, the measure, K and (when not the default) the scoring.
    Equal models give equal versions."""
    text = f"{FORMAT}|{fingerprint}|{measure}|{'all' if neighbours is None else neighbours}"
    text += "" if scoring == "history" else f"|{scoring}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class NeighbourTable:
    """The K nearest neighbours of every item, in the positions of ``items``.

    ``index[a, j]`` is the position of a's j-th most similar other item and ``weight[a, j]``
    its similarity S (float64), best first, ties by the smaller position. Rows with fewer than
    K items of positive similarity are padded with (a itself, 0.0), which adds nothing.
    """

    items: np.ndarray  # (n,) int64 item ids, sorted (= model.items())
    index: np.ndarray  # (n, K) uint16 or int32 positions
    weight: np.ndarray  # (n, K) float64 similarities
    neighbours: int | None  # the K asked for (None = all)
    scoring: str = "history"  # how a score reads the lists (amnesia.engine.neighbours.SCORINGS)

    @property
    def width(self) -> int:
        """Columns actually stored: min(K, the most positive neighbours any item has)."""
        return int(self.index.shape[1])

    def scores(self, history: np.ndarray | list[int]) -> np.ndarray:
        """What the ONNX graph computes, in numpy: float64 ``[n]`` scores for positions ``history``."""
        n = len(self.items)
        seen = np.unique(np.asarray(history, dtype=np.int64))
        if len(seen) and (seen[0] < 0 or seen[-1] >= n):
            raise AmnesiaError(f"History positions must lie in 0..{n - 1}; got {seen[0]}..{seen[-1]}.")
        if self.scoring == "candidate":  # each item's own list, column by column: the graph's order
            held = np.zeros(n, dtype=np.float64)
            held[seen] = 1.0
            scores = np.zeros(n, dtype=np.float64)
            for column in range(self.width):
                scores = scores + held[self.index[:, column].astype(np.int64)] * self.weight[:, column]
        else:  # (bincount of nothing is int64 zeros, whatever the weights: hence the cast)
            scores = np.bincount(self.index[seen].astype(np.int64).ravel(), self.weight[seen].ravel(), n).astype(np.float64)
        scores[seen] = -np.inf
        return scores


#: ``neighbours`` of an export that keeps the model's own K (its lists, so the device scores as the
#: engine does); a model that keeps every neighbour is exported with :data:`DEFAULT_NEIGHBOURS`.
MODEL_K = "model"
#: K of an export of a model without lists (50: about 5 MB on MovieLens latest-small).
DEFAULT_NEIGHBOURS = 50


def neighbour_table(model: ItemCF, neighbours: int | None = DEFAULT_NEIGHBOURS) -> NeighbourTable:
    """Each item's ``neighbours`` most similar other items in ``model`` (None = all with S > 0).

    A model fitted with ``neighbours=K`` and exported with the same K gives its own lists
    (kept exact under every change; no S is read). The table scores as the model does
    (``model.scoring``); with every neighbour (None) both scorings are one model. Otherwise S is read with
    ``model.similarity_rows`` 256 rows at a time, so memory stays at a few blocks whatever the
    catalog, and the lists are chosen by the same rule (S > 0, best first, ties to the smaller id).
    """
    if neighbours is not None and (isinstance(neighbours, bool) or not isinstance(neighbours, (int, np.integer)) or neighbours < 1):
        raise AmnesiaError(f"neighbours must be a positive whole number of items or None (all); got {neighbours!r}.")
    items = np.asarray(model.items(), dtype=np.int64)
    n = len(items)
    if n == 0:
        raise AmnesiaError("The model has no items with interactions, so there is nothing to export; add some first.")
    wanted = n - 1 if neighbours is None else min(int(neighbours), n - 1)
    index_dtype = np.uint16 if n <= _UINT16_ITEMS else np.int32
    if neighbours is not None and model.neighbours == int(neighbours):
        return _table_of_lists(model, items, index_dtype, int(neighbours), model.scoring)
    blocks: list[tuple[np.ndarray, np.ndarray]] = []
    width = 0  # the most positive neighbours seen in any row so far (capped at `wanted`)
    permutation = None
    for start in range(0, n, _BLOCK_ROWS):
        rows = items[start : start + _BLOCK_ROWS]
        ids, similarity = model.similarity_rows(rows.tolist())
        if permutation is None:  # position in `items` (id order) -> column of similarity_rows
            sorter = np.argsort(ids, kind="stable")
            permutation = sorter[np.searchsorted(ids, items, sorter=sorter)]
        if 0 < wanted <= _KERNEL_MAX_K:  # compiled: about 5x faster than partition + tie fixing
            columns = _top_columns_kernel(np.ascontiguousarray(similarity), wanted, start, permutation)
        else:
            # (np.take keeps rows contiguous; `similarity[:, permutation]` comes out column-major,
            # which makes the partition five times slower)
            block = np.take(similarity, permutation, axis=1)
            block[np.arange(len(rows)), start + np.arange(len(rows))] = -1.0  # not its own neighbour
            columns = _top_columns(block, wanted)
        values = similarity[np.arange(len(rows))[:, None], permutation[columns]]
        positive = values > 0
        block_width = int(positive.sum(axis=1).max()) if wanted else 0  # best first: positives lead
        width = max(width, block_width)
        if n * width > MAX_ENTRIES:
            raise AmnesiaError(
                f"Keeping {'every neighbour' if neighbours is None else count(neighbours, 'neighbour')} of {n:,} items needs "
                f"more than {MAX_ENTRIES:,} entries; export with a smaller K (e.g. neighbours=50)."
            )
        own = (start + np.arange(len(rows)))[:, None]
        columns, values, positive = columns[:, :block_width], values[:, :block_width], positive[:, :block_width]
        blocks.append((np.where(positive, columns, own), np.where(positive, values, 0.0)))
    width = max(width, 1)  # keep a (n, 1) table even when no item has a neighbour
    index = np.empty((n, width), dtype=index_dtype)
    weight = np.empty((n, width), dtype=np.float64)
    row = 0
    for columns, values in blocks:
        size = len(columns)
        taken = columns.shape[1]  # <= width
        index[row : row + size, :taken] = columns[:, :taken]
        weight[row : row + size, :taken] = values[:, :taken]
        if taken < width:  # a block narrower than the widest row: pad with (self, 0)
            index[row : row + size, taken:] = np.arange(row, row + size)[:, None]
            weight[row : row + size, taken:] = 0.0
        row += size
    return NeighbourTable(items, index, weight, neighbours, "history" if neighbours is None else model.scoring)


def _table_of_lists(model: ItemCF, items: np.ndarray, index_dtype: type, neighbours: int, scoring: str) -> NeighbourTable:
    """The table of a model's own neighbour lists (every live item's, in id order)."""
    lists = model.neighbour_lists(items)
    width = max(1, max(len(row) for row in lists))
    if len(items) * width > MAX_ENTRIES:  # before the table is allocated
        raise AmnesiaError(f"Keeping {count(neighbours, 'neighbour')} of {len(items):,} items needs more than {MAX_ENTRIES:,} "
                           "entries; export a model with a smaller K.")
    index = np.repeat(np.arange(len(items), dtype=np.int64)[:, None], width, axis=1)  # padding: (self, 0)
    weight = np.zeros((len(items), width), dtype=np.float64)
    for position, row in enumerate(lists):
        if row:
            ids, values = zip(*row)
            index[position, : len(row)] = np.searchsorted(items, ids)
            weight[position, : len(row)] = values
    return NeighbourTable(items, index.astype(index_dtype), weight, neighbours, scoring)


#: Up to this K the compiled selection below is used; beyond it (K = None on a small world) numpy's.
_KERNEL_MAX_K = 512


@njit(cache=True, nogil=True)
def _top_columns_kernel(similarity: np.ndarray, k: int, first: int, order: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Per row r, the positions p of the k largest ``similarity[r, order[p]]``, leaving out position
    ``first + r`` (the row's own item), best first, ties to the smaller position: one pass over the
    row in position order, keeping a sorted buffer of k, so an equal value never displaces a kept one."""
    rows = similarity.shape[0]
    n = len(order)
    chosen = np.empty((rows, k), dtype=np.int64)
    values = np.empty(k, dtype=np.float64)
    for r in range(rows):
        size = 0
        for p in range(n):
            if p == first + r:
                continue
            value = similarity[r, order[p]]
            if size == k:
                if value <= values[k - 1]:
                    continue
                slot = k - 1
            else:
                slot = size
                size += 1
            while slot > 0 and values[slot - 1] < value:
                values[slot] = values[slot - 1]
                chosen[r, slot] = chosen[r, slot - 1]
                slot -= 1
            values[slot] = value
            chosen[r, slot] = p
    return chosen


def _top_columns(block: np.ndarray, k: int) -> np.ndarray:
    """Per row, the columns of the ``k`` largest values, best first; ties by the smaller column.

    Exact on ties: everything above the k-th largest value is kept, then the smallest columns
    among those equal to it, until there are k. (Ties are common: S takes few distinct values.)
    """
    rows, n = block.shape
    if k == 0:
        return np.zeros((rows, 0), dtype=np.int64)
    if k >= n:
        chosen = np.broadcast_to(np.arange(n), (rows, n))
    else:
        kth = np.partition(block, n - k, axis=1)[:, n - k][:, None]
        above_rows, above_cols = np.nonzero(block > kth)
        room = k - np.bincount(above_rows, minlength=rows)
        tied_rows, tied_cols = np.nonzero(block == kth)  # row-major: columns ascending per row
        first = np.searchsorted(tied_rows, np.arange(rows))
        keep = np.arange(len(tied_rows)) - first[tied_rows] < room[tied_rows]
        picked_rows = np.concatenate([above_rows, tied_rows[keep]])
        picked_cols = np.concatenate([above_cols, tied_cols[keep]])
        order = np.lexsort((picked_cols, picked_rows))
        chosen = picked_cols[order].reshape(rows, k)  # exactly k per row, columns ascending
    values = np.take_along_axis(block, chosen, axis=1)
    order = np.lexsort((chosen, -values), axis=1)  # best first, then smaller column
    return np.take_along_axis(chosen, order, axis=1)


def _history_sums() -> list[onnx.NodeProto]:
    """Nodes from ``history`` to ``sums``: the rows of the history's items, scatter-added."""
    return [
        # a repeated item counts once, as in a set of watched movies
        helper.make_node("Unique", ["history"], ["seen"], sorted=1),
        helper.make_node("Gather", ["neighbour_index", "seen"], ["rows_index_narrow"], axis=0),
        helper.make_node("Cast", ["rows_index_narrow"], ["rows_index"], to=TensorProto.INT64),
        helper.make_node("Gather", ["neighbour_weight", "seen"], ["rows_weight"], axis=0),
        helper.make_node("Reshape", ["rows_index", "flat"], ["targets"]),
        helper.make_node("Reshape", ["rows_weight", "flat"], ["contributions"]),
        helper.make_node("ScatterElements", ["zeros", "targets", "contributions"], ["sums"], axis=0, reduction="add"),
    ]


def _candidate_sums(width: int) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """Nodes from ``seen`` to ``sums`` for candidate scoring, and their column constants: the
    history as a 0/1 mask, then for each column e of the table, in order, sums += mask[index[:, e]]
    · weight[:, e] (one Add per column, as the engine adds a list's entries)."""
    nodes = [
        helper.make_node("Shape", ["seen"], ["mark_shape"]),
        helper.make_node("Expand", ["one", "mark_shape"], ["ones"]),
        helper.make_node("ScatterElements", ["zeros", "seen", "ones"], ["held"], axis=0),
    ]
    constants, total = [], "zeros"
    for e in range(width):
        constants.append(numpy_helper.from_array(np.array(e, dtype=np.int64), f"column_{e}"))
        after = "sums" if e == width - 1 else f"sums_{e}"
        nodes += [
            helper.make_node("Gather", ["neighbour_index", f"column_{e}"], [f"index_{e}_narrow"], axis=1),
            helper.make_node("Cast", [f"index_{e}_narrow"], [f"index_{e}"], to=TensorProto.INT64),
            helper.make_node("Gather", ["held", f"index_{e}"], [f"held_{e}"], axis=0),
            helper.make_node("Gather", ["neighbour_weight", f"column_{e}"], [f"weight_{e}"], axis=1),
            helper.make_node("Mul", [f"held_{e}", f"weight_{e}"], [f"part_{e}"]),
            helper.make_node("Add", [total, f"part_{e}"], [after]),
        ]
        total = after
    return nodes, constants


def build_graph(table: NeighbourTable, top: int = TOP_K, metadata: dict[str, str] | None = None) -> onnx.ModelProto:
    """The scoring graph over ``table`` (see the module docstring), checked by ``onnx.checker``."""
    n, width = table.index.shape
    k = min(top, n)
    initializers = [
        numpy_helper.from_array(table.index, "neighbour_index"),
        numpy_helper.from_array(table.weight, "neighbour_weight"),
        numpy_helper.from_array(np.zeros(n, dtype=np.float64), "zeros"),
        numpy_helper.from_array(np.array([-np.inf], dtype=np.float64), "lowest"),
        numpy_helper.from_array(np.array([k], dtype=np.int64), "k"),
    ]
    if table.scoring == "candidate":
        summing, constants = _candidate_sums(width)
        initializers += [numpy_helper.from_array(np.array([1.0], dtype=np.float64), "one"), *constants]
        nodes = [helper.make_node("Unique", ["history"], ["seen"], sorted=1), *summing]
    else:  # only this scoring reshapes: an initializer no node reads made the browser's runtime warn at each load
        initializers.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat"))
        nodes = _history_sums()
    nodes += [
        helper.make_node("Shape", ["seen"], ["seen_shape"]),
        helper.make_node("Expand", ["lowest", "seen_shape"], ["seen_lowest"]),
        helper.make_node("ScatterElements", ["sums", "seen", "seen_lowest"], ["scores"], axis=0),
        helper.make_node("TopK", ["scores", "k"], ["top_scores", "top_items"], axis=0, largest=1, sorted=1),
    ]
    graph = helper.make_graph(
        nodes,
        "amnesia_item_cf",
        [helper.make_tensor_value_info("history", TensorProto.INT64, ["m"])],
        [
            helper.make_tensor_value_info("scores", TensorProto.DOUBLE, [n]),
            helper.make_tensor_value_info("top_items", TensorProto.INT64, [k]),
            helper.make_tensor_value_info("top_scores", TensorProto.DOUBLE, [k]),
        ],
        initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="amnesia",
        doc_string=f"Item-based CF scores for a watch history ({n} items, K = {table.neighbours or 'all'}, "
        f"{table.scoring} scoring).",
    )
    helper.set_model_props(model, metadata or {})
    onnx.checker.check_model(model)
    return model


@dataclass(frozen=True)
class DeviceModel:
    """An exported model in memory: the ONNX bytes, the sidecar and the timings of the export."""

    onnx_bytes: bytes
    sidecar: dict[str, Any]
    seconds: float  # building the neighbour table and the graph (excludes the fingerprint)
    fingerprint_seconds: float = 0.0
    table: NeighbourTable | None = field(default=None, repr=False)

    @property
    def version(self) -> str:
        return self.sidecar["version"]

    def sidecar_bytes(self) -> bytes:
        """The sidecar as compact UTF-8 JSON."""
        return json.dumps(self.sidecar, ensure_ascii=False, separators=(",", ":")).encode()


def sidecar_for(
    table: NeighbourTable, fingerprint: str, measure: str, catalog: Catalog | None = None, **extra: Any
) -> dict[str, Any]:
    """The JSON sidecar: item order, titles and years (from ``catalog``, or "#id"), the model's
    fingerprint, the measure, K, the format and the version."""
    items = table.items.tolist()
    titles, years = [], []
    for item in items:
        movie = catalog.movie(item) if catalog is not None and item in catalog else None
        titles.append(movie.display if movie else f"#{item}")
        years.append(movie.year if movie else None)
    return {
        "format": FORMAT,
        "version": model_version(fingerprint, measure, table.neighbours, table.scoring),
        "fingerprint": fingerprint,
        "measure": measure,
        "neighbours": table.neighbours,
        "scoring": table.scoring,
        "width": table.width,
        "top": min(TOP_K, len(items)),
        "items": items,
        "titles": titles,
        "years": years,
        **extra,
    }


def build_device_model(
    model: ItemCF,
    neighbours: int | None | str = MODEL_K,
    catalog: Catalog | None = None,
    fingerprint: str | None = None,
    keep_table: bool = False,
    **extra: Any,
) -> DeviceModel:
    """Export ``model`` in memory (see :func:`export_onnx`). Pass ``fingerprint`` when it is
    already known: computing it costs about a second on MovieLens."""
    if neighbours == MODEL_K:
        neighbours = DEFAULT_NEIGHBOURS if model.neighbours is None else model.neighbours
    started = time.perf_counter()
    if fingerprint is None:
        fingerprint = model.fingerprint()
    fingerprint_seconds = time.perf_counter() - started
    started = time.perf_counter()
    measure = measure_name(model)
    table = neighbour_table(model, neighbours)
    sidecar = sidecar_for(table, fingerprint, measure, catalog, **extra)
    metadata = {key: str(sidecar[key]) for key in ("format", "version", "fingerprint", "measure", "neighbours", "scoring")}
    graph = build_graph(table, metadata=metadata)
    data = graph.SerializeToString()
    return DeviceModel(data, sidecar, time.perf_counter() - started, fingerprint_seconds, table if keep_table else None)


def export_onnx(
    model: ItemCF, path: str | Path, neighbours: int | None | str = MODEL_K, catalog: Catalog | None = None
) -> DeviceModel:
    """Write ``model`` as an ONNX scoring graph to ``path`` and its sidecar beside it (``.json``).

    ``neighbours``: K, the most similar items kept per item (None keeps all with S > 0, for
    small catalogs); by default (:data:`MODEL_K`) the model's own K, so the device's top-10 equals
    ``model.recommend``'s, or :data:`DEFAULT_NEIGHBOURS` for a model that keeps every neighbour.
    ``catalog`` supplies titles and years for the sidecar. Returns the :class:`DeviceModel` (bytes, sidecar, timings); ``path.with_suffix(".json")`` holds the sidecar.
    """
    exported = build_device_model(model, neighbours, catalog)
    path = Path(path)
    path.write_bytes(exported.onnx_bytes)
    path.with_suffix(".json").write_bytes(exported.sidecar_bytes())
    return exported
