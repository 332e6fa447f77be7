"""Parsing and validating change requests in the original Amnesia JSON format.

A request is ``{"change": "Add" | "Remove", "interactions": [[user, item], ...]}``, given
as a dict or a JSON string. Parsing either returns a :class:`ChangeRequest` or raises a
:class:`~amnesia.errors.RequestError` that names the offending field and says how to fix it.
Nothing here touches a model, so a rejected request can never change one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import RequestError

#: Largest accepted user or item id; keeps ids in int32 range for compact storage.
MAX_ID = 2**31 - 1
CHANGE_KINDS = ("Add", "Remove")
_EXAMPLE = '{"change": "Remove", "interactions": [[1, 1], [1, 2]]}'


@dataclass(frozen=True)
class ChangeRequest:
    """A validated request: ``pairs`` is an (k, 2) int64 array of unique (user, item) rows,
    sorted by user then item."""

    change: Literal["Add", "Remove"]
    pairs: np.ndarray

    def to_json(self) -> str:
        """The request in the original Amnesia format (round-trips through :func:`parse_request`)."""
        return json.dumps({"change": self.change, "interactions": self.pairs.tolist()})


def _check_id(value: Any, where: str, what: str) -> int:
    # bool is an int subclass in Python; true/false in JSON is never a valid id.
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise RequestError(
            f"{where}: {what} id must be a non-negative integer, got {json.dumps(value, default=str)}."
        )
    if value < 0 or value > MAX_ID:
        raise RequestError(f"{where}: {what} id {value} is out of range; ids must be between 0 and {MAX_ID}.")
    return int(value)


def normalize_pairs(interactions: Any, where: str = "interactions") -> np.ndarray:
    """Validate a list of ``[user, item]`` pairs and return them as a unique, sorted (k, 2) int64 array.

    Duplicates collapse, because the interaction history H is binary.
    """
    if isinstance(interactions, np.ndarray) and interactions.ndim == 2 and interactions.shape[1] == 2:
        if not np.issubdtype(interactions.dtype, np.integer):
            raise RequestError(f"{where}: ids must be integers, got an array of {interactions.dtype}.")
        pairs = interactions.astype(np.int64, copy=False)
        bad = np.flatnonzero((pairs < 0).any(axis=1) | (pairs > MAX_ID).any(axis=1))
        if len(bad):
            raise RequestError(
                f"{where}[{bad[0]}] = {pairs[bad[0]].tolist()}: ids must be between 0 and {MAX_ID}."
            )
    else:
        if isinstance(interactions, (str, bytes, Mapping)) or not isinstance(interactions, Iterable):
            raise RequestError(
                f"{where} must be a list of [user, item] pairs, got {type(interactions).__name__}. "
                f"Example: {_EXAMPLE}"
            )
        rows = []
        for index, pair in enumerate(interactions):
            here = f"{where}[{index}]"
            if isinstance(pair, (str, bytes, Mapping)) or not isinstance(pair, Iterable):
                raise RequestError(f"{here} must be a [user, item] pair, got {json.dumps(pair, default=str)}.")
            pair = list(pair)
            if len(pair) != 2:
                raise RequestError(
                    f"{here} must have exactly two ids [user, item], got {len(pair)}: {json.dumps(pair, default=str)}."
                )
            rows.append((_check_id(pair[0], here, "user"), _check_id(pair[1], here, "item")))
        pairs = np.array(rows, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        return pairs.reshape(0, 2)
    return np.unique(pairs, axis=0)


def parse_request(request: str | bytes | Mapping[str, Any] | ChangeRequest) -> ChangeRequest:
    """Parse and validate a change request given as JSON text or an already-decoded dict."""
    if isinstance(request, ChangeRequest):
        return request
    if isinstance(request, (str, bytes)):
        try:
            request = json.loads(request)
        except json.JSONDecodeError as error:
            raise RequestError(
                f"The request is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}). "
                f"Example: {_EXAMPLE}"
            ) from None
    if not isinstance(request, Mapping):
        raise RequestError(
            f"A request must be a JSON object with 'change' and 'interactions', got "
            f"{type(request).__name__}. Example: {_EXAMPLE}"
        )
    missing = [key for key in ("change", "interactions") if key not in request]
    if missing:
        raise RequestError(f"The request is missing {', '.join(repr(k) for k in missing)}. Example: {_EXAMPLE}")
    extra = sorted(set(request) - {"change", "interactions"})
    if extra:
        raise RequestError(
            f"The request has unknown field(s) {', '.join(repr(k) for k in extra)}; "
            f"only 'change' and 'interactions' are allowed."
        )
    change = request["change"]
    if change not in CHANGE_KINDS:
        raise RequestError(
            f"'change' must be \"Add\" or \"Remove\" (case-sensitive), got {json.dumps(change, default=str)}."
        )
    return ChangeRequest(change=change, pairs=normalize_pairs(request["interactions"]))
