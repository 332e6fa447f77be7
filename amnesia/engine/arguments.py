"""Checks of the arguments of the model's reads, like :mod:`.requests` checks requests.

Every public read of :class:`~amnesia.engine.model.ItemCF` passes its arguments through these
before any work: a wrong type or a value out of range raises an
:class:`~amnesia.errors.ArgumentError` that says what to pass, never a raw Python error
(``OverflowError`` for ``2**70``, ``TypeError`` for ``k="3"``) and never a silent wrong answer
(``k=-1`` used to return all but the last item, ``1.5`` used to read item 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..errors import ArgumentError
from ..limits import MAX_ID

#: Cells of a dense answer (rows x columns) one read may build: 2**27 int64 cells are 1 GB.
MAX_CELLS = 1 << 27


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_id(value: Any, what: str = "item") -> int:
    """``value`` as an int id in 0..MAX_ID, or an ArgumentError naming ``what``."""
    if not _is_int(value):
        raise ArgumentError(f"The {what} id must be an integer from 0 to {MAX_ID}, got {_shown(value)}.")
    value = int(value)
    if not 0 <= value <= MAX_ID:
        shown = str(value) if abs(value) < 10**30 else "a number with more than 30 digits"
        raise ArgumentError(f"The {what} id must be an integer from 0 to {MAX_ID}, got {shown}.")
    return value


def check_ids(values: Any, what: str = "item") -> np.ndarray:
    """A sequence (list, tuple, range, 1-D integer array) of ids as an int64 array, each checked
    like :func:`check_id`."""
    if isinstance(values, np.ndarray):
        if values.ndim != 1 or not (np.issubdtype(values.dtype, np.integer) or values.size == 0):
            raise ArgumentError(f"Pass the {what} ids as a list of integers, got an array of {values.dtype} with shape {values.shape}.")
        array = values.astype(np.int64, copy=False) if values.size else np.zeros(0, np.int64)
        if values.size and (values.min() < 0 or values.max() > MAX_ID):
            bad = values[(values < 0) | (values > MAX_ID)][0]
            raise ArgumentError(f"The {what} ids must be integers from 0 to {MAX_ID}, got {bad}.")
        return array
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise ArgumentError(f"Pass the {what} ids as a list of integers, got {_shown(values)}.")
    if isinstance(values, (list, tuple, range)):  # the usual case, checked in one vectorised pass
        array = np.asarray(values) if len(values) else np.zeros(0, np.int64)
        if array.ndim == 1 and array.dtype.kind in "iu" and (not len(array) or (array.min() >= 0 and array.max() <= MAX_ID)):
            return array.astype(np.int64, copy=False)
    return np.fromiter((check_id(value, what) for value in values), dtype=np.int64)


def check_count(value: Any, what: str = "k", meaning: str = "how many to return", at_least: int = 0) -> int:
    """An int from ``at_least`` to MAX_ID (by default: how many results to return), or an
    ArgumentError that says what the number is (``meaning``)."""
    if not _is_int(value) or not at_least <= int(value) <= MAX_ID:
        raise ArgumentError(f"{what} must be an integer from {at_least} to {MAX_ID} ({meaning}), got {_shown(value)}.")
    return int(value)


def check_cells(rows: int, columns: int, what: str) -> None:
    """Refuse a dense answer of more than :data:`MAX_CELLS` cells before it is built."""
    if rows * columns > MAX_CELLS:
        raise ArgumentError(
            f"{what} of {rows:,} x {columns:,} would hold {rows * columns:,} cells; one read builds at most "
            f"{MAX_CELLS:,}. Ask for fewer items at a time."
        )


def check_buffer(out: Any, shape: tuple[int, int]) -> np.ndarray:
    """``out`` when it can take a block of C of ``shape`` (a C-contiguous int64 or int32 numpy array:
    counts are at most the number of users), else an ArgumentError; nothing is written."""
    if (not isinstance(out, np.ndarray) or out.shape != shape or out.dtype not in (np.int64, np.int32)
            or not out.flags.c_contiguous):
        raise ArgumentError(f"out must be a C-contiguous int64 or int32 numpy array of shape {shape} (items x columns); "
                            f"got {getattr(out, 'dtype', type(out).__name__)} {getattr(out, 'shape', '')}.")
    return out
