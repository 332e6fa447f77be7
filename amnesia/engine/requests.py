"""Parsing and validating change requests in the original Amnesia JSON format.

A request is ``{"change": "Add" | "Remove", "interactions": [[user, item], ...]}``, given
as a dict or a JSON string. Parsing either returns a :class:`ChangeRequest` or raises a
:class:`~amnesia.errors.RequestError` that names the offending field and says how to fix it.
Nothing here touches a model, so a rejected request can never change one.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import RequestError
from ..limits import MAX_ID, Limits, LimitError, check_id, nesting_depth

CHANGE_KINDS = ("Add", "Remove")
_EXAMPLE = '{"change": "Remove", "interactions": [[1, 1], [1, 2]]}'
_ID_DIGITS = len(str(MAX_ID))  # longer JSON numbers are out of range whatever their value


def _show(value: Any, limit: int = 40) -> str:
    """A short JSON-ish rendering of a bad value for an error message (never huge, never raises)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**_ID_DIGITS:
        return f"a number with more than {_ID_DIGITS} digits"
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_pairs(pairs: np.ndarray, where: str, max_id: int) -> np.ndarray:
    """Validate an integer (k, 2) array of ids and return it unique and sorted, as int64."""
    if not np.issubdtype(pairs.dtype, np.integer):
        raise RequestError(f"{where}: ids must be integers, got an array of {pairs.dtype}.")
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise RequestError(f"{where} must be an array of [user, item] rows, got shape {pairs.shape}.")
    bad = np.flatnonzero((pairs < 0).any(axis=1) | (pairs > max_id).any(axis=1))
    if len(bad):
        raise LimitError(
            f"{where}[{bad[0]}] = {pairs[bad[0]].tolist()}: ids must be between 0 and {max_id}.",
            "max_id",
            int(pairs[bad[0]].max()),
            max_id,
        )
    pairs = pairs.astype(np.int64, copy=False)
    if len(pairs) > 1:
        users, items = pairs[:, 0], pairs[:, 1]
        ordered = (users[1:] > users[:-1]) | ((users[1:] == users[:-1]) & (items[1:] > items[:-1]))
        if not ordered.all():  # already unique and sorted (the usual case) costs one pass
            pairs = pairs[np.lexsort((items, users))]
            keep = np.ones(len(pairs), dtype=bool)
            keep[1:] = (pairs[1:] != pairs[:-1]).any(axis=1)
            pairs = pairs[keep]
    return np.ascontiguousarray(pairs.reshape(-1, 2))


@dataclass(frozen=True)
class ChangeRequest:
    """A validated request: ``pairs`` is an (k, 2) int64 array of unique (user, item) rows,
    sorted by user then item, every id in 0..MAX_ID.

    Built by hand or by :func:`parse_request`; either way the pairs are checked and
    normalised here, so no request (the app builds its own) can bypass the id range.
    """

    change: Literal["Add", "Remove"]
    pairs: np.ndarray

    def __post_init__(self) -> None:
        _check_change(self.change)
        pairs = np.asarray(self.pairs)
        if pairs.size == 0:
            pairs = np.zeros((0, 2), dtype=np.int64)
        object.__setattr__(self, "pairs", _check_pairs(pairs, "interactions", MAX_ID))
        self.pairs.setflags(write=False)

    def to_json(self) -> str:
        """The request in the original Amnesia format (round-trips through :func:`parse_request`)."""
        return json.dumps({"change": self.change, "interactions": self.pairs.tolist()})


def _check_id(value: Any, where: str, what: str, limits: Limits | None) -> int:
    # bool is an int subclass in Python; true/false in JSON is never a valid id.
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise RequestError(f"{where}: {what} id must be a non-negative integer, got {_show(value)}.")
    check_id(int(value), where, what, limits.max_id if limits else MAX_ID)
    return int(value)


def normalize_pairs(interactions: Any, where: str = "interactions", limits: Limits | None = None) -> np.ndarray:
    """Validate a list of ``[user, item]`` pairs and return them as a unique, sorted (k, 2) int64 array.

    Duplicates collapse, because the interaction history H is binary. With ``limits``, the
    number of pairs is checked before any pair is looked at.
    """
    max_id = limits.max_id if limits else MAX_ID
    if isinstance(interactions, np.ndarray) and interactions.ndim == 2 and interactions.shape[1] == 2:
        if limits:
            limits.check("interactions", len(interactions))
        return _check_pairs(interactions, where, max_id)
    if isinstance(interactions, (str, bytes, Mapping)) or not isinstance(interactions, Iterable):
        raise RequestError(
            f"{where} must be a list of [user, item] pairs, got {_show(interactions)}. Example: {_EXAMPLE}"
        )
    if limits and hasattr(interactions, "__len__"):
        limits.check("interactions", len(interactions))
    fast = _plain_pairs(interactions, max_id)
    if fast is not None:
        return _check_pairs(fast, where, max_id)
    rows = []
    for index, pair in enumerate(interactions):
        if limits and index >= limits.interactions:  # a generator: stop counting at the limit
            limits.check("interactions", index + 1)
        here = f"{where}[{index}]"
        if isinstance(pair, (str, bytes, Mapping)) or not isinstance(pair, Iterable):
            raise RequestError(f"{here} must be a [user, item] pair, got {_show(pair)}.")
        pair = list(itertools.islice(pair, 3))
        if len(pair) != 2:
            raise RequestError(
                f"{here} must have exactly two ids [user, item], got {'3 or more' if len(pair) == 3 else len(pair)}: "
                f"{_show(pair)}."
            )
        rows.append((_check_id(pair[0], here, "user", limits), _check_id(pair[1], here, "item", limits)))
    return _check_pairs(np.array(rows, dtype=np.int64).reshape(-1, 2), where, max_id)


def _plain_pairs(interactions: Any, max_id: int) -> np.ndarray | None:
    """A list of [int, int] lists of valid ids (what JSON gives) as a (k, 2) int64 array in one
    pass, or None when anything else is in it (then every pair is checked one by one, so the
    message names the first bad one)."""
    if type(interactions) is not list or not interactions:
        return None
    if set(map(type, interactions)) != {list} or set(map(len, interactions)) != {2}:
        return None
    flat = list(itertools.chain.from_iterable(interactions))
    if set(map(type, flat)) != {int}:  # bool, float, str, None... (bool is not int here: type() is exact)
        return None
    try:
        pairs = np.array(flat, dtype=np.int64).reshape(-1, 2)
    except OverflowError:
        return None
    return pairs if pairs.min() >= 0 and pairs.max() <= max_id else None


def _parse_int(text: str) -> int:
    # JSON numbers are parsed lazily by this hook: a 5,000-digit id is refused here, before
    # Python's int() would raise its own ValueError (or spend time on it).
    if len(text.lstrip("-")) > _ID_DIGITS:
        raise _HugeNumber(text)
    return int(text)


_LONG_NUMBER = re.compile(r"[0-9]{%d}" % (_ID_DIGITS + 1))


class _HugeNumber(Exception):
    pass


class _Object(dict):
    """A decoded JSON object that knows the first key it was given twice (None: none was)."""

    repeated: str | None = None


def _objects(pairs: list[tuple[str, Any]]) -> _Object:
    """json.loads keeps a repeated key's last value silently, so {"change": "Remove", ...,
    "change": "Add"} was applied as an Add: the request's own object is refused when it repeats a
    key (an object nested in it is wrong anyway and is told so as a bad value)."""
    built = _Object(pairs)
    if len(built) < len(pairs):
        seen: set[str] = set()
        built.repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
    return built


def parse_request(
    request: str | bytes | Mapping[str, Any] | ChangeRequest, limits: Limits | None = None
) -> ChangeRequest:
    """Parse and validate a change request given as JSON text or an already-decoded dict.

    With ``limits``, sizes are checked before the work they bound: the characters and the
    nesting depth before the JSON is decoded, the number of pairs before any pair is read.
    Raises :class:`RequestError` (or its :class:`LimitError`) for anything malformed.
    """
    if isinstance(request, ChangeRequest):
        if limits:
            limits.check("interactions", len(request.pairs))
            limits.check_id(int(request.pairs.max(initial=0)), "interactions", "user or item")
        return request
    if isinstance(request, bytes):
        if limits and len(request) > 4 * limits.request_chars:  # surely over: not decoded at all
            limits.check("request_chars", len(request) // 4 + 1, at_least=True)
        try:
            request = request.decode("utf-8")
        except UnicodeDecodeError as error:
            raise RequestError(f"The request is not UTF-8 text ({error.reason} at byte {error.start}).") from None
    if isinstance(request, str):
        if limits:
            limits.check("request_chars", len(request))
            limits.check("nesting", nesting_depth(request))
        try:
            # numbers are parsed by the checking hook only when the text has one too long for an id
            hook = _parse_int if _LONG_NUMBER.search(request) else None
            request = json.loads(request, parse_int=hook, object_pairs_hook=_objects)
        except json.JSONDecodeError as error:
            raise RequestError(
                f"The request is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}). "
                f"Example: {_EXAMPLE}"
            ) from None
        except _HugeNumber as error:
            raise LimitError(
                f"The request has a number with {len(str(error))} digits; ids must be between 0 and {MAX_ID}.",
                "max_id",
                MAX_ID + 1,
                MAX_ID,
            ) from None
        except RecursionError:  # only without limits: with them the depth was checked first
            raise RequestError(f"The request is nested too deeply to read; a request looks like {_EXAMPLE}.") from None
    if not isinstance(request, Mapping):
        raise RequestError(
            f"A request must be a JSON object with 'change' and 'interactions', got {_show(request)}. "
            f"Example: {_EXAMPLE}"
        )
    if getattr(request, "repeated", None) is not None:
        raise RequestError(f"The request gives {_show(request.repeated)} twice; give each field once. Example: {_EXAMPLE}")
    # a wrong change first: {"change": "Forget", "user": 7} was told it lacked 'interactions', a symptom
    if "change" in request:
        _check_change(request["change"])
    missing = [key for key in ("change", "interactions") if key not in request]
    if missing:
        raise RequestError(f"The request is missing {', '.join(repr(k) for k in missing)}. Example: {_EXAMPLE}")
    extra = sorted(map(str, set(request) - {"change", "interactions"}))
    if extra:
        shown = ", ".join(repr(k if len(k) <= 40 else k[:39] + "…") for k in extra[:5])
        raise RequestError(f"The request has {'an unknown field' if len(extra) == 1 else 'unknown fields'} {shown}; "
                           "only 'change' and 'interactions' are allowed.")
    return ChangeRequest(change=request["change"], pairs=normalize_pairs(request["interactions"], limits=limits))


#: What people call a forget; the format has none (a forget removes every interaction of a user).
_FORGET_WORDS = {"forget", "forget_user", "forgetuser", "remove_user", "removeuser", "delete_user", "erase_user"}
#: Other words for taking interactions out ("Delete" one interaction is a Remove, not a forget).
_REMOVE_WORDS = {"delete", "erase", "drop"}


def _check_change(change: Any) -> None:
    """A RequestError unless ``change`` is one of :data:`CHANGE_KINDS`."""
    if isinstance(change, str) and change in CHANGE_KINDS:
        return
    hint = ""
    if isinstance(change, str) and change.casefold() in _FORGET_WORDS:
        hint = (" There is no forget request: to forget a user, remove every one of their interactions, e.g. "
                '{"change": "Remove", "interactions": [[7, 1], [7, 2]]} for user 7 who watched items 1 and 2.')
    elif isinstance(change, str) and change.casefold() in _REMOVE_WORDS:
        hint = ' To take interactions out, use "Remove".'
    raise RequestError(f"'change' must be \"Add\" or \"Remove\" (case-sensitive), got {_show(change)}.{hint}")


def interaction_pairs(interactions: Any) -> np.ndarray:
    """Unique sorted (k, 2) int64 (user, item) pairs from a DataFrame, array or iterable."""
    import pandas as pd  # only callers with DataFrames pay for it

    if isinstance(interactions, pd.DataFrame):
        missing = {"user", "item"} - set(interactions.columns)
        if missing:
            raise RequestError(
                f"The interactions DataFrame needs 'user' and 'item' columns; missing {sorted(missing)} "
                f"(it has {list(interactions.columns)})."
            )
        frame = interactions[["user", "item"]]
        for column in ("user", "item"):
            if not pd.api.types.is_integer_dtype(frame[column]):
                raise RequestError(f"Column {column!r} must hold integer ids, not {frame[column].dtype}.")
        return normalize_pairs(frame.to_numpy(dtype=np.int64))
    return normalize_pairs(interactions)


# ---------------------------------------------------------------------- the request log
#: Line breaks as str.splitlines knows them (text) and as JSON lines use them (bytes).
_TEXT_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_BYTES_BREAK = re.compile(b"\r\n|[\n\r]")


def iter_lines(source: str | bytes) -> Iterator[tuple[int, str | bytes]]:
    """``(number, line)`` for each line of ``source`` (1-based, line breaks removed), one at a
    time: nothing but the current line is built, so a reader can stop at its limit."""
    breaks = _BYTES_BREAK if isinstance(source, bytes) else _TEXT_BREAK
    start, number = 0, 0
    for number, found in enumerate(breaks.finditer(source), start=1):
        yield number, source[start : found.start()]
        start = found.end()
    if start < len(source):
        yield number + 1, source[start:]


def parse_request_log(source: str | bytes, limits: Limits) -> list[ChangeRequest]:
    """The requests of an exported request log: one JSON request per line, blank lines skipped,
    as text or as the uploaded UTF-8 bytes.

    Reads line by line and stops at the limits: the non-blank lines are counted first, up to
    ``limits.log_lines`` + 1 and no further, then each line's size is checked before it is
    decoded or parsed; so refusing a 5 MB file of junk costs what 1,001 short lines cost. The
    first bad line raises a :class:`RequestError` (or :class:`LimitError`) that names it.
    Nothing is applied here.
    """
    count = 0
    for _, line in iter_lines(source):
        if line.strip():
            count += 1
            if count > limits.log_lines:
                limits.check("log_lines", count, at_least=True)
    if not count:
        raise RequestError("The request log is empty: it holds no requests. Export a session's log with \"Download the "
                           "request log\" on the Change log page, then import that file.")
    requests = []
    for number, line in iter_lines(source):
        if not line.strip():
            continue
        try:
            if isinstance(line, bytes):
                if len(line) > 4 * limits.request_chars:
                    limits.check("request_chars", len(line) // 4 + 1, at_least=True)
                try:
                    line = line.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise RequestError(f"The line is not UTF-8 text ({error.reason} at byte {error.start}); export the request log again.") from None
            requests.append(parse_request(line, limits))
        except RequestError as error:
            extra = tuple(getattr(error, name) for name in ("limit", "seen", "allowed") if hasattr(error, name))
            raise type(error)(f"Line {number} of the request log: {error}", *extra) from None
    return requests
