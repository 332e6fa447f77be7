"""Every input limit, in one place.

A hosted demo meets people who paste 160 kB requests, type 5,000-digit ids and nest brackets
100,000 deep. Each entry point (the stream CLI, every form of the app) checks the relevant
limits *before* doing any work, so a request over a limit costs almost nothing, changes
nothing, and gets a :class:`LimitError` that names the limit, the number seen and the maximum.

Per-request work and memory are then bounded by these numbers, not by the catalog: a request
touches at most ``interactions`` pairs, creates at most ``new_users`` users and ``new_items``
items, and (see the engine) nothing sized items² is allocated for it.

``APP_LIMITS`` suit a public demo link; ``CLI_LIMITS`` are generous defaults for the stream
(the original demo's drop-in), each overridable with a ``--max-...`` flag.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numba import njit

from .errors import RequestError

#: Largest accepted user or item id: ids stay in int32 range for compact storage.
MAX_ID = 2**31 - 1
#: The app offers the full change stream for download up to this many bytes (estimated up front);
#: bigger exports are refused with a pointer to the command line, which streams any size.
EXPORT_MAX_BYTES = 20_000_000
#: Longest "ready" signal the Private page's component may send back (a model version, ~20 characters).
DEVICE_SIGNAL_CHARS = 64
#: Models per side of a visitor's quick lab run on the Lab page (the slider's default and its least:
#: with 3 a side the permutation test cannot reject even for models told apart completely, p ≥ 0.1,
#: so every measured row of a 3-seed run read "cannot tell"; 4 gives p down to 0.029).
LAB_PAGE_SEEDS = 4
#: The most models per side a visitor's quick lab run may ask for.
LAB_PAGE_MAX_SEEDS = 5
#: Most neighbours an item may keep (K of ``neighbours=K``): the lists cost items x K x 12 bytes
#: whatever the catalog (117 MB on MovieLens latest-small at this K), and item-kNN in use keeps
#: 20 to a few hundred; ``neighbours=None`` keeps every neighbour without lists.
MAX_NEIGHBOURS = 1_000
_LARGEST = 10**12  # no limit is set above this (a --max-* flag is a size, not a wish)


class LimitError(RequestError):
    """An input is over one of the :class:`Limits`; nothing was done with it.

    ``limit`` is the field name (e.g. ``"interactions"``), ``seen`` the size found (a lower
    bound when counting stopped early), ``allowed`` the maximum.
    """

    def __init__(self, message: str, limit: str, seen: int, allowed: int):
        super().__init__(message)
        self.limit, self.seen, self.allowed = limit, seen, allowed


# What each limit counts, as the start of a sentence ("{seen:,}" is filled in) ...
_DESCRIPTIONS = {
    "request_chars": "The request has {seen:,} characters",
    "nesting": "The request is nested {seen:,} levels deep",
    "interactions": "The request has {seen:,} [user, item] pairs",
    "new_users": "The request would create {seen:,} new users",
    "new_items": "The request would create {seen:,} new items",
    "pairs": "The request would change {seen:,} co-occurrences",
    "title_chars": "A typed title line has {seen:,} characters",
    "typed_lines": "{seen:,} title lines were typed",
    "typed_chars": "The typed titles have {seen:,} characters",
    "name_chars": "The name has {seen:,} characters",
    "filter_chars": "The filter has {seen:,} characters",
    "log_lines": "The log has {seen:,} requests",
    "read_work": "This needs {seen:,} steps of reading C",
    "retrain_pairs": "A retrain of your model would make {seen:,} co-occurrence updates",
    "max_id": "The id is {seen:,}",
}
# ... and how to get under it.
_ADVICE = {
    "request_chars": "Split it into several smaller requests",
    "nesting": 'A request looks like {"change": "Add", "interactions": [[user, item], ...]}',
    "interactions": "Split it into several smaller requests",
    "new_users": "Add the users in several requests",
    "new_items": "Add the new items in several requests",
    "pairs": "Add fewer items per user in one request (a user with k items changes about k² co-occurrences)",
    "title_chars": "Type one title per line",
    "typed_lines": "Add the rest in another request",
    "typed_chars": "Type one title per line, at most the allowed number of lines",
    "name_chars": "Use a shorter name",
    "filter_chars": "Type less",
    "log_lines": "Import a shorter log",
    "read_work": "Pick a user with fewer movies, or reset the users you imported with thousands of movies each",
    "retrain_pairs": "Reset the users you imported with thousands of movies each, or verify with the command line",
    "max_id": "Use a smaller id",
}


@dataclass(frozen=True)
class Limits:
    """The largest input each entry point accepts (see the module docstring)."""

    request_chars: int  # characters in one JSON request: a stream line, the raw box, one imported log line
    nesting: int  # JSON nesting depth of a request (a valid one needs 3: object, list, pair)
    interactions: int  # [user, item] pairs in one request
    new_users: int  # users one request may create
    new_items: int  # items (unknown to the model) one request may create
    pairs: int  # co-occurrence entries an Add may change (each user: its new items x all its items)
    title_chars: int  # characters in one typed title line
    typed_lines: int  # typed title lines in one add
    name_chars: int  # characters in a user's display name
    filter_chars: int  # characters in a filter or search box
    log_lines: int  # requests in one imported request log
    read_work: int = 10**12  # steps one page's reads of C may take (recommendations after big imports)
    retrain_pairs: int = 10**12  # co-occurrence updates (Σ k² over users) one Verify's retrain may make
    import_measure_ms: int = 10**9  # milliseconds an import may spend measuring its changes' effects
    max_id: int = MAX_ID  # largest user or item id

    @property
    def typed_chars(self) -> int:
        """Characters in the whole typed-titles box: ``typed_lines`` lines of ``title_chars``
        and their line breaks (checked before the lines are split)."""
        return self.typed_lines * (self.title_chars + 2)

    def check(self, limit: str, seen: int, at_least: bool = False) -> None:
        """Raise :class:`LimitError` if ``seen`` is over the limit called ``limit``.

        ``at_least``: ``seen`` is where counting stopped (the reader stopped at the limit), so
        the message says "at least"."""
        allowed = getattr(self, limit)
        if seen > allowed:
            shown = _DESCRIPTIONS[limit].replace("{seen:,}", "at least {seen:,}" if at_least else "{seen:,}")
            shown = shown[0].upper() + shown[1:]  # "At least 201 title lines were typed"
            raise LimitError(
                # the limit's name stays out of the sentence (a visitor read "(typed_lines)"); the error
                # carries it as .limit, and the stream writes it as the error's "limit" field
                f"{shown.format(seen=seen)}; the limit is {allowed:,}. "
                f"{_ADVICE[limit]}. Nothing was changed.",
                limit,
                seen,
                allowed,
            )

    def check_id(self, value: int, where: str, what: str) -> None:
        """Raise :class:`LimitError` unless ``0 <= value <= max_id``."""
        check_id(value, where, what, self.max_id)

    def replace(self, **changes: int) -> Limits:
        """A copy with some limits changed (``--max-...`` flags); each must be a positive integer."""
        for name, value in changes.items():
            if name not in _FIELDS:
                raise ValueError(f"Unknown limit {name!r}; known limits: {', '.join(sorted(_FIELDS))}.")
            largest = MAX_ID if name == "max_id" else _LARGEST
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= largest:
                raise ValueError(f"Limit {name} must be an integer from 1 to {largest:,}, got {value!r}.")
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class GateLimit:
    """How many of one heavy action may run at once in one server (``slots``), and how long a
    visitor waits for a slot (``wait_seconds``) before being told the server is busy."""

    slots: int
    wait_seconds: float


#: Verify retrains a whole model (on MovieLens: ~300 MB for a few seconds): one at a time per
#: server keeps three visitors' Verifies within the memory budget; the others queue.
VERIFY_GATE = GateLimit(slots=1, wait_seconds=60.0)
#: Reads of many full rows of C (recommendations, the forget effect) above ``HEAVY_READ`` steps.
READS_GATE = GateLimit(slots=2, wait_seconds=30.0)
#: Reads below this many steps are light: they never wait for the reads gate.
HEAVY_READ = 20_000_000


def check_id(value: int, where: str, what: str, max_id: int = MAX_ID) -> None:
    """Raise :class:`LimitError` unless ``0 <= value <= max_id`` (``where``/``what`` name it in the message)."""
    if value < 0 or value > max_id:
        shown = str(value) if abs(value) < 10**30 else "with more than 30 digits"
        raise LimitError(
            f"{where}: {what} id {shown} is out of range; ids must be between 0 and {max_id}.", "max_id", value, max_id
        )


_FIELDS = {field.name for field in dataclasses.fields(Limits)}

#: A public demo link: a request may add a user with a few thousand movies, not the catalog.
APP_LIMITS = Limits(
    request_chars=100_000,
    nesting=4,
    interactions=5_000,
    new_users=50,
    new_items=100,
    pairs=10_000_000,
    title_chars=200,
    typed_lines=200,
    name_chars=60,
    filter_chars=100,
    log_lines=1_000,
    read_work=200_000_000,  # about a second of one core
    retrain_pairs=500_000_000,  # MovieLens latest-small needs 61 million: a few seconds
    # an imported log's changes are measured as they were live while this lasts: a presenter's log
    # of a few forgets is measured whole (~50 ms each), a 1,000-line upload is not held up for 30 s
    import_measure_ms=2_000,
)

#: The stream CLI: generous, because its input is a file or a pipe its operator controls.
CLI_LIMITS = Limits(
    request_chars=10_000_000,
    nesting=4,
    interactions=500_000,
    new_users=100_000,
    new_items=20_000,
    pairs=200_000_000,
    title_chars=1_000,
    typed_lines=10_000,
    name_chars=200,
    filter_chars=1_000,
    log_lines=10_000_000,
)

#: The limits the stream's command line sets, each by its flag (``--max-request-chars N``).
STREAM_FLAGS = {field: "--" + ("max-id" if field == "max_id" else "max-" + field.replace("_", "-"))
                for field in ("request_chars", "nesting", "interactions", "new_users", "new_items", "pairs", "max_id")}

@njit(cache=True, nogil=True)
def _depth(codes: np.ndarray) -> int:  # pragma: no cover - compiled
    depth = deepest = 0
    inside = escaped = False
    for code in codes:
        if inside:
            if escaped:
                escaped = False
            elif code == 92:  # backslash
                escaped = True
            elif code == 34:  # closing quote
                inside = False
        elif code == 34:
            inside = True
        elif code == 91 or code == 123:  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif code == 93 or code == 125:  # ] }
            depth -= 1
    return deepest


def nesting_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in JSON ``text``, brackets inside strings ignored.

    One compiled pass over the UTF-8 bytes (multi-byte characters never contain the ASCII
    bytes of quotes, backslashes or brackets), without recursion and with no memory beyond the
    bytes, so it can run before ``json.loads`` (whose parser recurses: 100,000 nested brackets
    raise RecursionError).
    """
    return int(_depth(np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)))
