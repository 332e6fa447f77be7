"""The change stream: a drop-in for the original Amnesia demo's Differential Dataflow backend.

Reads change requests as JSON lines, applies each one to a model, and writes the records of
what changed in H, n, C and S (see :mod:`amnesia.records` for the record format). A rejected
line writes one JSON error object to the error stream, nothing to the output, and takes no
logical time; the stream always goes on with the next line, whatever the line held (bad
JSON, 100,000 nested brackets, 5,000-digit numbers, invalid UTF-8, a line too long to hold,
a request too big for memory). Nothing is kept per line, so memory does not grow with the
lines read.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from .engine.model import ItemCF
from .errors import AmnesiaError
from .limits import CLI_LIMITS, STREAM_FLAGS, LimitError, Limits
from .records import COLLECTIONS, NEIGHBOURS, change_records, neighbour_records, record_lines

_CHUNK = 1 << 16  # bytes read at a time while skipping an over-long line


@dataclass(frozen=True)
class SkippedLine:
    """A line that was not read whole because it is over the ``request_chars`` limit."""

    bytes_read: int


def bounded_lines(stream: BinaryIO, max_chars: int) -> Iterator[bytes | SkippedLine]:
    """The lines of a binary stream, never holding more than ``4 * max_chars`` bytes of one.

    A UTF-8 character takes at most 4 bytes, so a line longer than that (and its line ending,
    which is not part of the request) is surely over ``max_chars`` characters: it is read past in
    chunks and yielded as a :class:`SkippedLine`.
    """
    max_bytes = 4 * max_chars + 2
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        if len(line) > max_bytes and not line.endswith(b"\n"):
            total = len(line)
            while True:
                rest = stream.readline(_CHUNK)
                total += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            yield SkippedLine(total)
        else:
            yield line


def _error(number: int, error: BaseException, limits: Limits) -> dict:
    """The JSON error object for a line that failed with ``error`` (nothing was changed)."""
    record: dict = {"line": number}
    if isinstance(error, LimitError):
        record["limit"] = error.limit
    if isinstance(error, AmnesiaError):
        record["error"] = str(error)
        if isinstance(error, LimitError) and error.limit in STREAM_FLAGS:  # the sentence says no limit's name
            record["error"] += f" (The stream's {STREAM_FLAGS[error.limit]} sets this limit.)"
    elif isinstance(error, UnicodeDecodeError):
        record["error"] = f"The line is not UTF-8 text ({error.reason} at byte {error.start}); nothing was changed."
    elif isinstance(error, RecursionError):
        record["error"] = "The request is nested too deeply to read; nothing was changed."
    elif isinstance(error, MemoryError):
        record["error"] = (
            "The request needs more memory than this machine has; nothing was changed. "
            "Split it into smaller requests or lower the --max-* limits."
        )
    else:  # a bug of ours: say so, and keep the stream alive
        record["error"] = f"Internal error ({type(error).__name__}) while applying the line; nothing was changed."
    return record


def run_stream(
    model: ItemCF,
    lines: Iterable[str | bytes | SkippedLine],
    out: TextIO,
    err: TextIO,
    limits: Limits = CLI_LIMITS,
    collections: Collection[str] = COLLECTIONS,
) -> tuple[int, int]:
    """Apply each non-blank line of ``lines`` to ``model``; write records to ``out``, errors to ``err``.

    ``lines`` are text, UTF-8 bytes, or :class:`SkippedLine` markers from :func:`bounded_lines`.
    Only the records of ``collections`` are written. Returns (accepted, failed) line counts: a line
    is failed when it was refused, or when it was applied but its records could not be written
    whole (out of memory; the stream's exit status then says so too). Such a line counts in both.
    """
    accepted = rejected = 0
    for number, line in enumerate(lines, start=1):
        try:
            if isinstance(line, SkippedLine):
                raise LimitError(
                    f"The line has {line.bytes_read:,} bytes, more than 4 × the limit of {limits.request_chars:,} "
                    f"characters, so it was skipped without being read whole. Split it into several "
                    f"smaller requests. Nothing was changed.",
                    "request_chars", line.bytes_read, limits.request_chars,
                )
            text = line.decode("utf-8") if isinstance(line, bytes) else line
            text = text.removesuffix("\n").removesuffix("\r")  # the line ending is not part of the request
            if not text.strip():
                continue
            before = model.neighbour_state() if NEIGHBOURS in collections else None
            changes = model.apply(text, limits)
        except Exception as error:  # noqa: BLE001 - every line gets an answer (RecursionError, MemoryError too)
            rejected += 1
            err.write(json.dumps(_error(number, error, limits)) + "\n")
            err.flush()
            continue
        accepted += 1
        try:
            out.writelines(record_lines(change_records(model, changes, collections)))
            if before is not None:
                out.writelines(record_lines(neighbour_records(model.neighbour_changes(before), changes.time)))
        except MemoryError:
            rejected += 1
            err.write(json.dumps({"line": number, "time": changes.time, "error": "Out of memory while writing the "
                                  "records of this change: they are incomplete. The change itself was applied."}) + "\n")
            err.flush()
        out.flush()
    return accepted, rejected
