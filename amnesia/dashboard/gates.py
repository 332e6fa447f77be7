"""Per-server gates for heavy actions: a queue with a visible wait, or a clear "busy".

A public link can get three visitors clicking Verify at once (each retrain of MovieLens holds
~300 MB for a few seconds) or reading thousands of rows of C after a big import. A
:class:`Gate` lets at most ``slots`` of one action run at a time in this process (one
server), first come first served; a caller waits at most ``wait_seconds``, and is told while
waiting how many are ahead of them (``on_wait``), or gets a :class:`~amnesia.errors.BusyError`
that says to try again. The numbers live in :mod:`amnesia.limits`. Gates hold no visitor data.

The server's garbage collection is throttled here too (:class:`Collector`): a full collection
after every script run cost more than the run itself.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..errors import BusyError
from ..limits import READS_GATE, VERIFY_GATE, GateLimit


class Gate:
    """At most ``limit.slots`` holders at a time, in arrival order (see the module docstring)."""

    def __init__(self, what: str, limit: GateLimit):
        self.what, self.limit = what, limit
        self._condition = threading.Condition()
        self._queue: deque[object] = deque()
        self._running = 0

    @property
    def running(self) -> int:
        """How many hold the gate now."""
        return self._running

    @contextmanager
    def hold(self, on_wait: Callable[[int], None] | None = None) -> Iterator[None]:
        """Hold one slot for the ``with`` block. ``on_wait(ahead)`` is called (outside the lock)
        when the caller has to wait, with how many are running or queued ahead of it. Raises
        BusyError, having held nothing, if no slot frees within ``limit.wait_seconds``."""
        ticket = object()
        deadline = time.monotonic() + self.limit.wait_seconds
        told = None
        with self._condition:
            self._queue.append(ticket)
        try:
            while True:
                with self._condition:
                    position = self._queue.index(ticket)
                    if position == 0 and self._running < self.limit.slots:
                        self._queue.popleft()
                        self._running += 1
                        break
                    ahead = self._running + position
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise BusyError(
                            f"The server is busy with {self.what} for other visitors ({ahead} running or waiting ahead "
                            f"of you; {self.limit.slots} at a time). Try again in a minute. Nothing was changed."
                        )
                    if on_wait is None or ahead == told:
                        self._condition.wait(remaining)  # checked and waited under one lock: no wake-up is missed
                        continue
                on_wait(ahead)  # outside the lock: it may render a message
                told = ahead
        except BaseException:
            with self._condition:
                if ticket in self._queue:
                    self._queue.remove(ticket)
                self._condition.notify_all()
            raise
        try:
            yield
        finally:
            with self._condition:
                self._running -= 1
                self._condition.notify_all()


#: The server's gates (one process serves every visitor of a Streamlit app).
VERIFY = Gate("Verify retrains", VERIFY_GATE)
READS = Gate("large reads of the model", READS_GATE)


class Collector:
    """A full garbage collection at most once every ``interval`` seconds, when no script runs.

    Streamlit collects all generations after every script run (``runner.postScriptGC``): with a
    MovieLens catalog in memory (~350,000 tracked objects) that was ~0.2 s of held GIL per click,
    more than the run itself, and with ten visitors every click waited for the others'
    collections. The app turns that off (.streamlit/config.toml) and tells this collector when a
    run starts (:meth:`run_started`) and ends (:meth:`after_run`). Once ``interval`` has passed,
    the collection waits for the server to be idle for ``quiet`` seconds (no run under way) and
    runs on a timer thread: made at the end of a run, as it was, it held that run's finish
    0.1-0.15 s (a toy click every 30 s was that much slower: the toy add's p95 in the app
    benchmark). A server never idle that long collects at the end of a run once ``2 * interval``
    has passed. Cycles left by ended sessions (a workspace freed after ``disconnectedSessionTTL``)
    are still collected within about that time; reference counting frees everything else (a
    forgotten user's arrays) at once, as before.
    """

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic, collect: Callable[[], object] = gc.collect,
                 quiet: float = 0.5, schedule: Callable[[float, Callable[[], None]], None] | None = None,
                 freeze: Callable[[], None] = gc.freeze):
        self.interval, self.quiet = interval, quiet
        self._clock, self._collect, self._freeze = clock, collect, freeze
        self._frozen = False
        self._schedule = schedule or _on_timer
        self._lock = threading.Lock()
        self._last = self._last_end = clock()
        self._active = 0  # runs under way
        self._pending = False  # a timer is waiting for an idle moment

    def run_started(self) -> None:
        """A script run begins (a collection now would hold it)."""
        with self._lock:
            self._active += 1

    def after_run(self) -> bool:
        """A run ended: once ``interval`` has passed, wait for an idle moment to collect (True if
        this call collected itself: the server was never idle during ``2 * interval``)."""
        now = self._clock()
        with self._lock:
            self._active = max(0, self._active - 1)
            self._last_end = now
            if now - self._last < self.interval:
                return False
            if now - self._last < 2 * self.interval:
                if not self._pending:
                    self._pending = True
                    self._schedule(self.quiet, self._when_idle)
                return False
            self._last = now
        self._collect()
        return True

    def freeze_once(self) -> bool:
        """Collect, then move every object alive now out of the collector's sight (``gc.freeze``),
        once per process (True if this call froze).

        Called when the first shared model is built, before any visitor's workspace can exist
        (every workspace starts from one): what is frozen then is the server itself (Streamlit,
        Plotly, pandas, numba, the first catalog and model, ~210,000 tracked objects with the toy
        world), which no collection could free anyway. Each full collection, this collector's or
        Python's own, then scans only what came later: 0.11 s of held GIL became ~0 with the toy
        world, and 0.03 s with MovieLens loaded after it (0.19 s unfrozen). Only once: a later
        freeze could make a visitor's workspace, alive at that moment, uncollectable after the
        session ends if it sits in a cycle, and a forgotten user's data must not linger.
        """
        with self._lock:
            if self._frozen:
                return False
            self._frozen = True
        self._collect()
        self._freeze()
        return True

    def _when_idle(self) -> None:
        now = self._clock()
        with self._lock:
            if now - self._last < self.interval:  # a busy server's run collected meanwhile
                self._pending = False
                return
            if self._active or now - self._last_end < self.quiet:
                self._schedule(self.quiet, self._when_idle)  # still busy: look again
                return
            self._pending = False
            self._last = now
        self._collect()


def _on_timer(delay: float, action: Callable[[], None]) -> None:
    timer = threading.Timer(delay, action)
    timer.daemon = True  # never holds the server's exit
    timer.start()


#: Seconds between full collections of the server (one ended session's cycles wait at most this
#: long after the next run; a collection holds the GIL ~0.2 s on MovieLens).
COLLECT_INTERVAL = 30.0
COLLECTOR = Collector(COLLECT_INTERVAL)
