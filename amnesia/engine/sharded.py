"""C partitioned by item over W shards, behind the same :class:`~amnesia.engine.store.Store`
interface, so :class:`~amnesia.engine.model.ItemCF` is the one model whatever holds its rows.

Each shard holds the rows of C of the items it owns (:mod:`amnesia.engine.rowstore`: a contiguous
range of fitted items balanced by Σ k² work, plus new items by index modulo W) in the project's own
layout, dense or sparse per shard, and H for the users whose id is its number modulo W. Shards live in this process (``backend="memory"``) or in Ray
actors (``backend="ray"``, :mod:`amnesia.engine.ray_shards`), on one machine or a cluster. The
driver (this store) keeps n, fetches the rows of H a request or a read needs (one round trip), and
sends each read of C to the shards that own its rows.

A change is planned and checked by the model before any shard writes (a rejected request never
reaches a shard). Every shard receives every change (it keeps n, which every change may move) and
writes the rows it owns; a shard's write allocates before it writes, so a shard that fails
(MemoryError, a dead actor) wrote nothing. If one shard fails, the shards that applied the change
apply its inverse (the same users' items with the opposite step: C and n move back by exactly what
they moved), and the request fails with nothing changed.

The fingerprint is computed where the rows live: each shard hashes its own rows
(:meth:`RowStore.lower_digests`) and the driver combines the 32-byte digests in item-id order,
which gives the single-process fingerprint bit for bit (:mod:`amnesia.engine.fingerprint`).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import AmnesiaError, ArgumentError
from .arguments import check_buffer
from .rowstore import RowStore, owners, partition
from .store import LAYOUTS, OwnCounts, Store, StoreChange, UserDelta, transpose
from .transport import LocalTransport, Transport

#: Where a model's rows can live (``ItemCF.fit(..., backend=...)``).
BACKENDS = ("memory", "ray")
#: The most shards a model may have (a request goes to every shard).
MAX_SHARDS = 256
#: The most changes a pipelined model may have in flight to its shards.
MAX_PIPELINE = 1024
#: Changes between two checkpoints of a model whose shards can be restarted (Ray's): while checkpoints
#: work, the replay log holds at most this many, and a forgotten user's data is out of every recovery
#: state by then. A failed automatic checkpoint (``ItemCF.checkpoint_error``) is tried again this many
#: changes later; until one works, the log and the older checkpoint keep growing and keep the user.
CHECKPOINT_EVERY = 1000
#: Restores of shards a model remembers (the latest), for tests and the docs.
RESTORES_KEPT = 100
_COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # Ray colours its errors' text for a terminal


def _plain(error: BaseException) -> str:
    """A shard's error as text, without the terminal colour codes Ray puts in it."""
    return _COLOURS.sub("", str(error))


def _first_line(error: BaseException) -> str:
    """The first line of :func:`_plain` (the error's name when it has no text, as MemoryError())."""
    return (_plain(error).strip().splitlines() or [type(error).__name__])[0]


@dataclass(frozen=True)
class Placement:
    """Where a sharded model's rows live: ``backend`` (one of :data:`BACKENDS`), how many
    ``shards``, for Ray the cluster ``address`` (None: start a local Ray on 127.0.0.1), and how many
    changes may be in flight to the shards at once (``pipeline``, see :class:`ShardedStore`)."""

    backend: str
    shards: int
    address: str | None = None
    pipeline: int = 1


def check_placement(backend: str, shards: int | None, address: str | None, pipeline: int = 1) -> Placement | None:
    """The placement ``ItemCF.fit`` was asked for, or None for today's single store (backend
    ``"memory"`` without ``shards``); an ArgumentError saying what to pass otherwise."""
    if backend not in BACKENDS:
        raise ArgumentError(f"Unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    if shards is not None and (isinstance(shards, bool) or not isinstance(shards, (int, np.integer))
                               or not 1 <= shards <= MAX_SHARDS):
        raise ArgumentError(f"shards must be a whole number from 1 to {MAX_SHARDS}, got {shards!r}.")
    if address is not None and backend != "ray":
        raise ArgumentError("address= joins a Ray cluster: pass it with backend='ray'.")
    if address is not None and not isinstance(address, str):
        raise ArgumentError(f"address must be text such as 'auto' or 'ray://host:10001', got {type(address).__name__}.")
    if isinstance(pipeline, bool) or not isinstance(pipeline, (int, np.integer)) or not 1 <= pipeline <= MAX_PIPELINE:
        raise ArgumentError(f"pipeline must be a whole number from 1 (every change confirmed) to {MAX_PIPELINE}, got {pipeline!r}.")
    if backend == "memory" and shards is None:
        if pipeline != 1:
            raise ArgumentError("pipeline= sends changes to shards ahead of their answers: pass it with shards= or backend='ray'.")
        return None
    return Placement(backend, int(shards if shards is not None else 2), address, int(pipeline))


def _transport(placement: Placement) -> Transport:
    if placement.backend == "memory":
        return LocalTransport(placement.shards)
    from .ray_shards import RayTransport  # Ray is optional (requirements-scale.txt): imported only when asked for

    return RayTransport(placement.shards, placement.address)


def _inverse(change: StoreChange, count_old: np.ndarray) -> StoreChange:
    """The change that undoes ``change`` on a store that applied it: the same items against the
    same columns with the opposite step, and the counts as they were (new items stay, with n = 0,
    as after any forget)."""
    users = tuple(UserDelta(d.user, d.new_row, d.old_row, d.changed, d.columns) for d in change.users)
    return StoreChange(-change.step, change.size, users, change.count_index, count_old)


class ShardedStore(OwnCounts, Store):
    """n here; the rows of C, and H by user, in W shards (see the module docstring)."""

    #: H lives in the shards (user id modulo W), not in the model: ItemCF asks this store for rows
    holds_histories = True

    def __init__(self, transport: Transport, bounds: np.ndarray, fitted: int, kinds: list[str],
                 counts: np.ndarray | None = None, pipeline: int = 1) -> None:
        self.transport = transport
        self.pipeline = pipeline  # changes that may be in flight at once (1: each confirmed before apply returns)
        self._pending: deque[tuple[int, Any]] = deque()  # (version, submitted calls) not yet confirmed
        self._broken: AmnesiaError | None = None  # a pipelined change a shard refused: the shards disagree
        self.bounds, self.fitted = np.asarray(bounds, dtype=np.int64), fitted
        self.kinds = kinds
        self.kind = "dense" if all(kind == "dense" for kind in kinds) else "sparse"
        self._counts = np.zeros(16, dtype=np.int64) if counts is None else np.asarray(counts, dtype=np.int64).copy()
        self._size = 0 if counts is None else len(counts)
        self.version = 0  # changes applied since the fit; every shard is at this version between requests
        self._log: list[tuple[int, StoreChange]] = []  # (version, change) since the last checkpoint, for replays
        #: (shard, version restored, version replayed to), in order: the last RESTORES_KEPT
        self.restores: deque[tuple[int, int, int]] = deque(maxlen=RESTORES_KEPT)
        #: why the last automatic checkpoint failed (None after one that worked): the changes stay accepted and
        #: the replay log is kept, so a restarted shard still recovers, but forgotten users stay in it until one works
        self.checkpoint_error: AmnesiaError | None = None
        self._next_checkpoint = CHECKPOINT_EVERY  # the replay log's length at which the next one is tried

    @classmethod
    def fit(cls, user_ptr: np.ndarray, user_items: np.ndarray, size: int, layout: str, placement: Placement,
            users: np.ndarray) -> ShardedStore:
        """C = HᵀH of H given as sorted rows (as :meth:`ArrayStore.fit`; ``users``: the external id
        of each row), its rows split over ``placement.shards`` shards by Σ k² work and H's rows by
        user id modulo W, each shard building its part from H shared once."""
        check_sharded_layout(layout)
        transport = _transport(placement)
        bounds = partition(user_ptr, user_items, size, placement.shards)
        transposed = transpose(user_ptr, user_items, size)
        # the driver's saturation, so that a test that lowers it reaches shards in other processes too
        kinds = transport.fit(transposed, size, bounds, layout, RowStore.default_saturation, np.asarray(users, np.int64))
        return cls(transport, bounds, size, kinds, np.diff(transposed[2]), placement.pipeline)

    @classmethod
    def empty(cls, placement: Placement) -> ShardedStore:
        """The store of a sharded model with no data yet: every item it gets is owned by index modulo W."""
        transport = _transport(placement)
        kinds = transport.empty(RowStore.default_saturation)
        return cls(transport, np.zeros(placement.shards + 1, dtype=np.int64), 0, kinds, pipeline=placement.pipeline)

    @property
    def shards(self) -> int:
        return self.transport.shards

    def owner(self, items: np.ndarray) -> np.ndarray:
        """The shard that owns each internal index of ``items``."""
        return owners(items, self.bounds, self.fitted, self.shards)

    def _calls(self, calls: list[tuple[int, str, tuple]], rolling_back: bool = False) -> list[Any]:
        """Results of ``calls`` (errors returned, not raised); a shard whose process died is
        restored (:meth:`_recover`) and its call made again, once. A shard that cannot be restored
        (its process is gone for good) answers with that error and leaves the model unusable after
        this call (``rolling_back``: a call that undoes a change on the other shards, made even so)."""
        if self._broken is not None and not rolling_back:
            raise self._broken
        results = self.transport.run(calls)
        gone: AmnesiaError | None = None
        for position, ((shard, method, args), result) in enumerate(zip(calls, results)):
            if isinstance(result, BaseException) and self.transport.lost(result):
                try:
                    self._recover(shard)
                except AmnesiaError as error:
                    results[position] = gone = error
                    continue
                results[position] = self.transport.run([(shard, method, args)])[0]
        if gone is not None and self._broken is None:
            # every later call says so at once (each had waited for the dead host again)
            self._broken = gone
        return results

    def _run(self, calls: list[tuple[int, str, tuple]]) -> list[Any]:
        results = self._calls(calls)
        for (shard, method, _), result in zip(calls, results):
            if isinstance(result, AmnesiaError):
                raise result
            if isinstance(result, BaseException):
                raise AmnesiaError(f"Shard {shard} failed to answer {method}: {_plain(result)}") from result
        return results

    def _recover(self, shard: int) -> None:
        """Bring a restarted shard back to this model's version: its checkpoint (or its part of the
        fit, before the first checkpoint), then every change since, in order (each applied once).
        An AmnesiaError when its process cannot be restarted (killed for good, or out of restarts)."""
        try:
            restored = self.transport.restore(shard)
        except Exception as error:  # noqa: BLE001 - whatever the transport raised, this model cannot go on
            if self.transport.lost(error):
                raise AmnesiaError(f"Shard {shard}'s process is gone and was not restarted ({_first_line(error)}): "
                                   "its rows are lost to this model; refit it.") from error
            cause = getattr(error, "cause", None) or error  # a task error: what the restarted process raised
            raise AmnesiaError(f"Shard {shard}'s process was restarted but could not load its rows back "
                               f"({type(cause).__name__}: {_first_line(cause)}); refit the model.") from error
        for version, change in self._log:
            if version > restored:
                result = self.transport.run([(shard, "apply_at", (change, version))])[0]
                if isinstance(result, BaseException):
                    raise AmnesiaError(f"Shard {shard} was restarted but could not replay change {version}: {_plain(result)}") from result
        self.restores.append((shard, restored, self.version))

    def _settle(self, keep: int = 0) -> None:
        """Wait for the oldest pipelined changes until at most ``keep`` are in flight. A shard that
        died is restored (its replay includes them); a shard that refused one leaves the model
        unusable, since the change was accepted already: every later call says so."""
        while len(self._pending) > keep:
            version, submitted = self._pending.popleft()
            for shard, result in enumerate(self.transport.collect(submitted)):
                if not isinstance(result, BaseException):
                    continue
                if self.transport.lost(result):
                    try:
                        self._recover(shard)
                    except AmnesiaError as error:  # the change was accepted: the shards no longer agree
                        self._broken = error
                        raise
                    continue
                self._broken = AmnesiaError(
                    f"Shard {shard} could not apply change {version} ({_plain(result)}) after it was accepted (pipeline="
                    f"{self.pipeline}): the shards no longer agree. Refit the model; with pipeline=1 such a change "
                    f"is undone everywhere instead.")
                raise self._broken from result

    def checkpoint(self) -> int:
        """Every shard writes its rows and version where its process can read them after a restart,
        and the replay log is dropped (with it, the data of users forgotten before now; see the
        module docstring). Returns the version checkpointed. Only for shards that can be restarted."""
        if not self.transport.recoverable:
            raise ArgumentError("Only a model on Ray shards keeps checkpoints: its shards can be restarted on their own.")
        self._settle()
        self._run([(w, "save", ()) for w in range(self.shards)])
        self._log.clear()
        self.transport.checkpointed()
        self.checkpoint_error, self._next_checkpoint = None, CHECKPOINT_EVERY
        return self.version

    # ------------------------------------------------------------------ H, by user
    def user_rows(self, users: Sequence[int]) -> list[np.ndarray]:
        """Each user's row of H (sorted internal indices, int32; empty for an unknown user), from the
        shards that keep them: one round trip, whatever the number of users."""
        users = [int(user) for user in users]
        owner = [user % self.shards for user in users]
        groups = sorted(set(owner))
        answers = self._run([(w, "user_rows", ([u for u, o in zip(users, owner) if o == w],)) for w in groups])
        found = {w: iter(rows) for w, rows in zip(groups, answers)}
        return [next(found[o]) for o in owner]

    def user_ids(self) -> list[int]:
        """Users with at least one interaction, sorted."""
        parts = self._run([(w, "user_ids", ()) for w in range(self.shards)])
        return sorted(np.concatenate(parts).tolist()) if parts else []

    def history_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """H as (user, internal item) int64 columns, in no particular order."""
        parts = self._run([(w, "history_pairs", ()) for w in range(self.shards)])
        return np.concatenate([users for users, _ in parts]), np.concatenate([items for _, items in parts])

    # ------------------------------------------------------------------ reads
    def block(self, rows: np.ndarray, cols: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        shape = (len(rows), self._size if cols is None else len(cols))
        result = np.zeros(shape, dtype=np.int64) if out is None else check_buffer(out, shape)
        inside = rows < self._size  # indices >= size read 0
        if out is not None:
            result[~inside] = 0
        owner = self.owner(rows)
        groups = [(w, np.flatnonzero(inside & (owner == w))) for w in range(self.shards)]
        groups = [(w, where) for w, where in groups if len(where)]
        cols = None if cols is None else np.asarray(cols, dtype=np.int64)
        answers = self._run([(w, "block", (rows[where], cols)) for w, where in groups])
        for (_, where), answer in zip(groups, answers):
            result[where] = answer
        return result

    def pairs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        values = np.zeros(len(a), dtype=np.int64)
        inside = (a < self._size) & (b < self._size)
        owner = self.owner(a)
        groups = [(w, np.flatnonzero(inside & (owner == w))) for w in range(self.shards)]
        groups = [(w, where) for w, where in groups if len(where)]
        answers = self._run([(w, "pairs", (a[where], b[where])) for w, where in groups])
        for (_, where), answer in zip(groups, answers):
            values[where] = answer
        return values

    def row_digests(self, live: np.ndarray) -> bytes:
        """The fingerprint's digests of C's rows over ``live`` (internal indices in id order),
        each computed by the shard that owns the row, 32 bytes a row in ``live``'s order."""
        live = np.asarray(live, dtype=np.int64)
        self._settle()  # a certificate is given for confirmed changes only
        combined = np.zeros((len(live), 32), dtype=np.uint8)
        for positions, digests in self._run([(w, "lower_digests", (live,)) for w in range(self.shards)]):
            combined[positions] = np.frombuffer(digests, dtype=np.uint8).reshape(len(positions), 32)
        return combined.tobytes()

    # ------------------------------------------------------------------ writes
    def apply(self, change: StoreChange) -> None:
        count_old = np.zeros(len(change.count_index), dtype=np.int64)
        known = change.count_index < self._size
        count_old[known] = self._counts[change.count_index[known]]
        if self._broken is not None:
            raise self._broken
        self._reserve_counts(change.size)  # before any shard writes: the only allocation here
        version = self.version + 1
        arguments = (change, version)  # one object for every shard: a transport may encode it once
        calls = [(w, "apply_at", arguments) for w in range(self.shards)]
        if self.pipeline > 1:  # sent, not waited for: a shard runs calls in the order they came
            self._pending.append((version, self.transport.submit(calls)))
        else:
            results = self._calls(calls)
            failed = [w for w, result in enumerate(results) if isinstance(result, BaseException)]
            if failed:
                undo = _inverse(change, count_old)  # on the shards that applied it (undo_at skips the others)
                undone = self._calls([(w, "undo_at", (undo, version)) for w in range(self.shards) if w not in failed],
                                     rolling_back=True)
                lost = [result for result in undone if isinstance(result, BaseException)]
                first = results[failed[0]]
                if lost:
                    raise AmnesiaError(f"Shard {failed[0]} failed ({_plain(first)}) and rolling the others back failed too "
                                       f"({_plain(lost[0])}): refit the model.") from first
                if self._broken is not None:  # a shard gone for good: the others are back where they were
                    raise AmnesiaError(f"{_plain(first)} The other shards were rolled back: nothing was changed.") from first
                raise AmnesiaError(f"Shard {failed[0]} could not apply the change ({_plain(first)}); nothing was changed.") from first
        self._size = change.size
        self._counts[change.count_index] = change.count_new
        self.version = version
        if self.transport.recoverable:
            self._log.append((version, change))
        self._settle(self.pipeline - 1)
        if self.transport.recoverable and len(self._log) >= self._next_checkpoint:
            # the change is whole on every shard and in n already: a checkpoint that fails (a full disk) must not
            # make the caller believe it was refused (the model would skip its time step and index while the
            # shards kept it: items were given each other's slots). It is tried again after as many changes.
            try:
                self.checkpoint()
            except AmnesiaError as error:
                self.checkpoint_error = error
                self._next_checkpoint = len(self._log) + CHECKPOINT_EVERY

    def share(self, lean: bool = False) -> tuple[Store, Store]:
        raise ArgumentError("A sharded model cannot be forked: its rows live in its shards. Fit a second "
                            "model for a copy, or use the in-process backend (backend='memory' without shards).")

    def nbytes(self) -> int:
        return self._counts.nbytes + sum(self._run([(w, "nbytes", ()) for w in range(self.shards)]))

    def sparse_entries(self) -> int:
        return int(sum(self._run([(w, "sparse_entries", ()) for w in range(self.shards)])))


def check_sharded_layout(layout: str | int) -> str:
    """``layout`` if a sharded model can take it (``"auto"``, ``"dense"`` or ``"sparse"``, chosen per
    shard), else an ArgumentError that says so: a dense block size is a single store's choice."""
    if isinstance(layout, (int, np.integer)) or layout not in LAYOUTS:
        raise ArgumentError(f"A sharded model chooses dense or sparse per shard: pass store='auto', 'dense' or "
                            f"'sparse', not {layout!r}.")
    return layout
