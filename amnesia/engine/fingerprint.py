"""The certificate's fingerprint: the one definition of the bytes it hashes, and a retrain's
fingerprint computed without keeping the retrain.

A model's fingerprint is SHA-256 over the measure's name and the canonical (H, n, C), and the
neighbour lists when the model keeps them (see :func:`digest`). Equal models give equal
fingerprints however they were built and whichever store holds them. C enters as one SHA-256
digest per live item's row (:func:`row_digests`), so a store whose rows are spread over several
processes (:mod:`amnesia.engine.sharded`) hashes each row where it lives and sends 32 bytes a
row, and the result is the same as one process hashing them all.

Verify compares a visitor's model with a retrain on the remaining interactions. Building that
retrain as a model means filling its whole C (190 MB for MovieLens-small) only to hash it and
throw it away. :func:`retrain_fingerprint` counts C from the interactions a block of rows at a
time instead (~4 million cells, reused) and hashes each block as it goes: the same counts a fit
makes, from scratch, none of the visitor's incremental state, and a tenth of the memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import kernels
from .neighbours import NeighbourIndex, check_neighbours
from .requests import interaction_pairs
from .similarity import DEFAULT, Measure, measure as get_measure
from .store import transpose

#: Cells of C read at once by fingerprints and scans (a model's blocks, a streamed retrain's: 16 MB of
#: uint32): bounds their memory whatever the catalog size.
CELLS = 1 << 22


def digest(
    measure: Measure, pairs: np.ndarray, live: np.ndarray, counts: np.ndarray, lower: Iterable[np.ndarray],
    lists: Callable[[], bytes] | None,
) -> str:
    """The fingerprint (hex SHA-256) of a model's canonical state.

    ``pairs``: H as (user, item) int64 pairs sorted by user, then item, shape (k, 2);
    ``live``: the external ids of the items with n > 0, sorted, and ``counts`` their n;
    ``lower``: for every live item in that order, the SHA-256 digest (32 bytes) of its row of C
    strictly below the diagonal (C with every live item of smaller id, in id order, zeros
    included, as uint32: dense, so no scan for non-zeros is needed), as byte chunks of whole
    digests (see :func:`row_digests`); ``lists``: gives the
    neighbour lists' digest (:meth:`NeighbourIndex.digest` over ``live``) once ``lower`` is
    consumed (a streamed retrain selects the last lists with the last block), None without lists.
    """
    hasher = hashlib.sha256(b"amnesia-itemcf-v3")
    hasher.update(b"S" + measure.name.encode())
    hasher.update(b"H")
    hasher.update(np.ascontiguousarray(pairs, dtype=np.int64).tobytes())
    hasher.update(b"n")
    hasher.update(np.column_stack([live, counts]).astype(np.int64).tobytes())
    hasher.update(b"C")
    for chunk in lower:
        hasher.update(chunk)
    if lists is not None:  # the lists too: an updated index must equal a fitted one, bit for bit
        hasher.update(b"K" + lists())
    return hasher.hexdigest()


def row_digests(lower: np.ndarray, start: int, stop: int) -> bytes:
    """The 32-byte SHA-256 digests of rows ``start``..``stop`` of C's lower triangle, concatenated.

    ``lower``: those rows one after the other as uint32, row ``i`` holding its ``i`` values below
    the diagonal (what :func:`kernels.lower_rows_block` writes), so it has
    Σ_{i=start}^{stop-1} i values."""
    ends = np.cumsum(np.arange(start, stop, dtype=np.int64))
    if len(lower) != (ends[-1] if len(ends) else 0):
        raise ValueError(f"rows {start}..{stop} of the lower triangle hold {int(ends[-1]) if len(ends) else 0} values, got {len(lower)}")
    view = memoryview(np.ascontiguousarray(lower, dtype=np.uint32)).cast("B")
    bounds = (4 * np.concatenate([[0], ends])).tolist()
    return b"".join(hashlib.sha256(view[a:b]).digest() for a, b in zip(bounds[:-1], bounds[1:]))


def retrain_fingerprint(
    interactions: Any, similarity: str | Measure = DEFAULT, neighbours: int | None = None, cells: int = CELLS,
) -> str:
    """``ItemCF.fit(interactions, similarity, neighbours=neighbours).fingerprint()``, computed
    without building the model: C is counted from ``interactions`` a block of rows at a time
    (about ``cells`` cells, every column, on every core), each block's lower triangle hashed and its
    rows' neighbour lists selected before the next block reuses the buffer.

    Memory: one block (16 MB by default) and the lists, against the whole C of a fit (size² × 2
    bytes dense). Raises what ``ItemCF.fit`` raises for bad interactions, measures or K.
    """
    chosen = get_measure(similarity)
    k = check_neighbours(neighbours)
    pairs = interaction_pairs(interactions)  # unique, sorted by user then item: H's canonical order
    if len(pairs) == 0:
        empty = np.zeros(0, dtype=np.int64)
        lists = None if k is None else (lambda: NeighbourIndex(k, 0).digest(empty, empty))
        return digest(chosen, pairs, empty, empty, (), lists)
    users, user_of_pair = np.unique(pairs[:, 0], return_inverse=True)
    ids, item_of_pair = np.unique(pairs[:, 1], return_inverse=True)
    size = len(ids)
    # items in id order: row r of C is item ids[r], so the rows come out in the order they are hashed
    user_ptr = np.searchsorted(user_of_pair, np.arange(len(users) + 1)).astype(np.int64)
    _, user_items, item_ptr, item_users = transpose(user_ptr, item_of_pair.astype(np.int32), size)
    counts = np.diff(item_ptr)
    index = None if k is None else NeighbourIndex(k, size)
    step = max(1, int(cells) // size)
    block = np.empty((min(step, size), size), dtype=np.uint32)
    # a block's lower triangle holds fewer than step * size values (size for a one-row block)
    out = np.empty(min(step * size, size * (size - 1) // 2 + 1), dtype=np.uint32)

    def lower() -> Iterable[np.ndarray]:
        for start in range(0, size, step):
            rows = kernels.fit_rows(user_ptr, user_items, item_ptr, item_users, start, block[: min(step, size - start)])
            if index is not None:
                index.select_from_rows(rows, start, counts, chosen, ids)
            yield row_digests(out[: kernels.lower_rows_block(rows, start, out)], start, start + len(rows))

    lists = None if index is None else (lambda: index.digest(np.arange(size), ids))
    return digest(chosen, pairs, ids, counts, lower(), lists)
