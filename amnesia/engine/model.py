"""ItemCF: exact decremental item-based collaborative filtering (Schelter, "Amnesia", CIDR 2020).

State: the binary history H (one sorted row of internal item indices per user), and, in a
:mod:`store <amnesia.engine.store>`, item counts n = column sums of H and co-occurrences
C = HᵀH. Similarity S = f(C_ab, n_a, n_b) (:mod:`amnesia.engine.similarity`) is a view,
computed for the entries asked for and never stored.

A request is parsed and its limits checked (:mod:`amnesia.engine.requests`), then planned:
every check happens and every new value is computed before anything is written, so a
rejected request leaves the model untouched. Committing moves n and C by ±1 on exactly the
entries the request changes (k items of a user: k counts and k² co-occurrences).

Item and user ids are external (whatever the data uses, 0 <= id < 2^31).
"""

from __future__ import annotations

import time as _time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from immutables import Map

from ..errors import ArgumentError, RequestError, UnknownUserError
from ..limits import Limits
from . import kernels
from .arguments import check_buffer, check_cells, check_count, check_id, check_ids
from .changes import ChangeSet, PairChanges, iter_cooccurrence_changes, iter_similarity_changes
from .fingerprint import CELLS as _CELLS, digest as fingerprint_digest, row_digests  # _CELLS: cells of C read at once by fingerprints and scans
from .index import ItemIndex
from .neighbours import NeighbourIndex, check_neighbours, check_scoring
from .recommend import Recommendation, explain, recommend, recommend_from_scores, similar_items, top_positions
from .requests import ChangeRequest, interaction_pairs, parse_request
from .sharded import ShardedStore, check_placement, check_sharded_layout
from .similarity import DEFAULT, Measure, measure
from .store import Store, StoreChange, UserDelta, choose_layout, empty_store, fit_store, transpose

_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class _Plan:
    """A validated request, ready to write: the store's change, items to index, old counts."""

    kind: str
    change: StoreChange
    new_items: list[int]
    count_old: np.ndarray


def _members(row: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Boolean mask: which of ``values`` occur in the sorted array ``row``."""
    if len(row) == 0:
        return np.zeros(len(values), dtype=bool)
    positions = np.minimum(np.searchsorted(row, values), len(row) - 1)
    return row[positions] == values


def _user_rows(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """H as the stores take it, or None for no pairs: ``(users, item_ids, user_ptr, user_items)``
    with items in internal order (most popular first, ties by smaller id: ``item_ids[index]`` is
    the external id) and each user's row ``user_items[user_ptr[k]:user_ptr[k+1]]`` sorted, int32."""
    if len(pairs) == 0:
        return None
    users, user_of_pair = np.unique(pairs[:, 0], return_inverse=True)
    item_ids, item_of_pair = np.unique(pairs[:, 1], return_inverse=True)
    counts = np.bincount(item_of_pair, minlength=len(item_ids))
    rank = np.empty(len(item_ids), dtype=np.int64)
    rank[np.lexsort((item_ids, -counts))] = np.arange(len(item_ids))
    internal = rank[item_of_pair]
    order = np.lexsort((internal, user_of_pair))
    user_items = internal[order].astype(np.int32)
    user_ptr = np.searchsorted(user_of_pair[order], np.arange(len(users) + 1)).astype(np.int64)
    return users, item_ids[np.argsort(rank)], user_ptr, user_items


class ItemCF:
    """Item-based collaborative filtering that can forget exactly.

    Build with :meth:`fit`; change with :meth:`apply`, :meth:`add`, :meth:`remove`,
    :meth:`add_user` and :meth:`forget_user`, each of which returns a :class:`ChangeSet`.
    After any sequence of changes every read equals that of ``ItemCF.fit`` on the remaining
    interactions, and :meth:`fingerprint` proves it.
    """

    def __init__(self, similarity: str | Measure = DEFAULT, neighbours: int | None = None, scoring: str = "history") -> None:
        """An empty model at logical time -1 (its first change happens at time 0), on a sparse store;
        ``neighbours`` and ``scoring`` as in :meth:`fit`."""
        self.measure: Measure = measure(similarity)
        self._k = check_neighbours(neighbours)  # K, or None: every neighbour, no lists
        self._scoring = check_scoring(scoring)  # how recommending reads the lists (not state: forgetting ignores it)
        # the lists when K is set; None until first needed in a lean fork (derived state, rebuilt from C)
        self._neighbours: NeighbourIndex | None = None if self._k is None else NeighbourIndex(self._k)
        self._index = ItemIndex()
        self._store: Store = empty_store()
        self._base_rows: dict[int, np.ndarray] = {}  # H as fitted; shared with forks, never written
        self._rows: Map = Map()  # rows this model changed since (or since fit), replacing base rows (persistent: forks share it)
        self._num_users = 0  # users with at least one interaction
        self._owns_base = True  # built _base_rows itself (a fork shares its parent's)
        self._base_shared = False  # _base_rows is shared with a fork (or a parent): never written
        self.time = -1

    # ------------------------------------------------------------------ construction
    @classmethod
    def fit(
        cls, interactions: Any, similarity: str | Measure = DEFAULT, store: str | int = "auto", neighbours: int | None = None,
        backend: str = "memory", shards: int | None = None, address: str | None = None, pipeline: int = 1,
        scoring: str = "history",
    ) -> ItemCF:
        """Train from scratch on ``interactions`` and return a model at logical time 0.

        ``interactions``: a DataFrame with integer ``user`` and ``item`` columns, an (k, 2)
        integer array, or an iterable of ``(user, item)`` pairs (duplicates collapse).
        ``similarity``: ``"jaccard"`` (default) or ``"cosine"``. ``store``: ``"dense"``,
        ``"sparse"``, ``"auto"`` (the smaller in memory, see :func:`~amnesia.engine.store.choose_layout`),
        or the number of most popular items to keep in a dense block (the rest get sparse rows).
        ``neighbours``: K keeps each item's K most similar items (item-kNN; recommendations,
        "because you watched" and similar items read these lists, kept exact under every
        change, see :mod:`amnesia.engine.neighbours`); None (default) sums over every neighbour.
        ``scoring`` (with K): ``"history"`` (default) sums the lists of the user's items;
        ``"candidate"`` scores each candidate from its own list, counting the user's items in it
        (Sarwar et al.'s item-based model; more accurate on MovieLens, and it reads every list:
        items x K per recommendation instead of history x K). Without K both are the same model.
        ``shards``: split C's rows by item over W shards (:mod:`amnesia.engine.sharded`), in this
        process (``backend="memory"``) or in Ray actors (``backend="ray"``: ``address`` None starts
        a local Ray, ``"auto"`` or ``"ray://host:port"`` joins a cluster; 2 shards unless given).
        Every method works the same on a sharded model, but :meth:`fork` (an ArgumentError).
        ``pipeline``: how many changes a sharded model sends before it waits for the shards' answers
        (1, the default: each change is confirmed by every shard before it returns, and one a shard
        cannot apply is undone everywhere; more: faster, but such a change leaves the model unusable).
        """
        placement = check_placement(backend, shards, address, pipeline)
        if placement is not None:
            check_sharded_layout(store)
        model = cls(similarity, neighbours, scoring)
        model.time = 0
        rows = _user_rows(interaction_pairs(interactions))
        if rows is None:
            if placement is not None:
                model._store = ShardedStore.empty(placement)
            return model
        users, item_ids, user_ptr, user_items = rows
        model._index = ItemIndex(item_ids)
        model._num_users = len(users)
        if placement is None:
            model._base_rows = {int(user): user_items[user_ptr[k] : user_ptr[k + 1]] for k, user in enumerate(users)}
            model._store = fit_store(user_ptr, user_items, len(item_ids), store)
        else:  # H goes to the shards with C (by user id), not into this process
            model._store = ShardedStore.fit(user_ptr, user_items, len(item_ids), store, placement, users)
        if model._k is not None:
            model._neighbours = None
            model._lists()
        return model

    @staticmethod
    def layout_for(interactions: Any, store: str | int = "auto") -> str:
        """``"dense"`` or ``"sparse"``: the store :meth:`fit` would choose for ``interactions``
        with ``store`` (see :func:`~amnesia.engine.store.choose_layout`), without building it."""
        rows = _user_rows(interaction_pairs(interactions))
        if rows is None or isinstance(store, int):
            return "sparse" if rows is None or store <= 0 else "dense"
        _, item_ids, user_ptr, user_items = rows
        return "dense" if choose_layout(store, transpose(user_ptr, user_items, len(item_ids)), len(item_ids)) else "sparse"

    def retrained(self) -> ItemCF:
        """A model fitted from scratch on this model's interactions, with the same measure and
        store kind: what forgetting replaces, and the other half of the certificate."""
        return ItemCF.fit(self.interactions(), self.measure, store=self.store_kind, neighbours=self.neighbours,
                          scoring=self.scoring)

    def fork(self, lean: bool = False) -> ItemCF:
        """A copy that shares this model's state read-only and records only its own changes.

        Changes to the fork are never visible in this model or in other forks, and changes to
        this model after forking never reach the fork. Forking costs O(1): the changed rows
        live in persistent maps that both sides share until either changes them. A ``lean``
        fork (a checkpoint) does not share what reads derive from the state (n and the
        structure that answers C reads): it rebuilds them on its first read, so a kept
        checkpoint costs only what changed since the one before it.
        """
        child = ItemCF.__new__(ItemCF)
        self._store, child._store = self._store.share(lean)
        child.measure, child.time = self.measure, self.time
        # a lean fork (a checkpoint) leaves the lists out, like n: they are rebuilt from C if it is read
        child._k, child._scoring = self._k, self._scoring
        child._neighbours = None if lean or self._neighbours is None else self._neighbours.fork()
        child._index = self._index.fork()
        child._base_rows = self._base_rows
        child._rows = self._rows  # a persistent map: rows are never mutated, only replaced
        child._num_users = self._num_users
        child._owns_base = False
        self._base_shared = child._base_shared = True
        return child

    def with_neighbours(self, neighbours: int | None, scoring: str | None = None) -> ItemCF:
        """A fork of this model that keeps ``neighbours`` = K lists (None: none, every neighbour),
        read with ``scoring`` (None: this model's; see :meth:`fit`).

        It shares this model's state like any fork and adds only its lists (items x K), so one
        fitted model can serve several choices of K."""
        k = check_neighbours(neighbours)
        scoring = self._scoring if scoring is None else check_scoring(scoring)
        child = self.fork()
        child._scoring = scoring
        if k != self._k:
            child._k, child._neighbours = k, None
            if k is not None:
                child._lists()
        return child

    def checkpoint(self) -> int:
        """On Ray shards: every shard writes its rows to its node now and the replay log is dropped,
        so a user forgotten before now is in no recovery state either (otherwise that happens every
        :data:`~amnesia.engine.sharded.CHECKPOINT_EVERY` changes). Returns the changes since the fit
        it reflects. An ArgumentError for a model in one process (nothing to restart, nothing kept)."""
        save = getattr(self._store, "checkpoint", None)
        if save is None:
            raise ArgumentError("Only a model on Ray shards keeps checkpoints (ItemCF.fit(..., backend='ray')).")
        return save()

    @property
    def lists_error(self) -> Exception | None:
        """Why the last update of the neighbour lists failed (out of memory half-way, or a fault); None
        once one has worked, and for a model without lists. The change stayed accepted and the lists
        were dropped, to be rebuilt from C when next read, so they are still exact; a fault in the
        update kernels shows here, not only as slower reads."""
        return getattr(self, "_lists_error", None)

    @property
    def checkpoint_error(self) -> Exception | None:
        """On Ray shards: why the last automatic checkpoint failed, None once one has worked (and for a
        model in one process). The changes stay accepted and recoverable, but until a checkpoint works
        the replay log and the older checkpoint files still hold users forgotten since the last one."""
        return getattr(self._store, "checkpoint_error", None)

    @property
    def neighbours(self) -> int | None:
        """K, the neighbours each item keeps, or None when scores sum over every neighbour."""
        return self._k

    @property
    def scoring(self) -> str:
        """How recommending reads the lists: ``"history"`` or ``"candidate"`` (see :meth:`fit`)."""
        return self._scoring

    @property
    def store_kind(self) -> str:
        """``"dense"`` or ``"sparse"``: how C is kept (a fork keeps its base's kind)."""
        return self._store.kind

    @property
    def shard_kinds(self) -> list[str]:
        """How each shard keeps its slice of C (``"dense"`` or ``"sparse"``), in shard order; one
        entry for a model in one process."""
        return list(getattr(self._store, "kinds", [self._store.kind]))

    # ------------------------------------------------------------------ changes
    def apply(self, request: str | bytes | Mapping[str, Any] | ChangeRequest, limits: Limits | None = None) -> ChangeSet:
        """Apply a change request in the Amnesia format, atomically.

        ``request``: ``{"change": "Add" | "Remove", "interactions": [[user, item], ...]}`` as a
        dict or JSON text. Adding a known interaction changes nothing; removing an unknown one
        rejects the whole request with a :class:`RequestError` and changes nothing. With
        ``limits``, every size is checked before the work it bounds (:class:`LimitError`).
        """
        started = _time.perf_counter()
        plan = self._plan(parse_request(request, limits), limits)
        self._commit(plan)
        self.time += 1
        return self._changeset(plan, _time.perf_counter() - started)

    def add(self, pairs: Iterable[Sequence[int]] | np.ndarray) -> ChangeSet:
        """Add interactions ``[(user, item), ...]``; known ones are ignored."""
        return self.apply({"change": "Add", "interactions": pairs})

    def remove(self, pairs: Iterable[Sequence[int]] | np.ndarray) -> ChangeSet:
        """Remove interactions ``[(user, item), ...]``; all must exist or nothing changes."""
        return self.apply({"change": "Remove", "interactions": pairs})

    def add_user(self, user: int, items: Iterable[int]) -> ChangeSet:
        """Add interactions of ``user`` with ``items`` (a new user, or more items for a known one)."""
        check_id(user, "user")
        items = check_ids(items)
        if len(items) == 0:
            raise RequestError(f"add_user({user!r}, ...) needs at least one item; the selection is empty.")
        # one (k, 2) array of ids checked above: the request's pair-by-pair checks are for untyped input
        return self.add(np.column_stack([np.full(len(items), user, dtype=np.int64), items]))

    def forget_user(self, user: int) -> ChangeSet:
        """Remove every interaction of ``user``: the right to be forgotten, exactly."""
        user = check_id(user, "user")
        row = self._row(user)
        if len(row) == 0:
            raise UnknownUserError(
                f"User {user!r} has no interactions, so there is nothing to forget. "
                f"Pick one of the {len(self.users())} current users."
            )
        # The plan apply() would make for Remove [user, every item], built from the row directly: every pair
        # exists by construction, so there is nothing to look up or check (a third of a typical forget's time)
        started = _time.perf_counter()
        changed = row.astype(np.int64)  # sorted, unique: the row's internal indices
        count_old = self._store.counts()[changed]
        delta = UserDelta(user, row, row[:0].astype(np.int32), changed, changed)
        plan = _Plan("Remove", StoreChange(-1, self._index.size, (delta,), changed, count_old - 1), [], count_old)
        self._commit(plan)
        self.time += 1
        return self._changeset(plan, _time.perf_counter() - started)

    def _plan(self, request: ChangeRequest, limits: Limits | None) -> _Plan:
        """Validate a request and compute every new value, without writing anything."""
        pairs, adding = request.pairs, request.change == "Add"
        index, known = self._index.lookup(pairs[:, 1])
        new_items: list[int] = []
        if adding and not known.all():
            new_items = np.unique(pairs[~known, 1]).tolist()  # sorted: deterministic indices
            index[~known] = self._index.size + np.searchsorted(new_items, pairs[~known, 1])
        users, starts = np.unique(pairs[:, 0], return_index=True)
        if limits and adding:  # before any other work
            limits.check("new_items", len(new_items))
        old_rows = self._rows_of(users.tolist())  # (one round trip when H lives in shards)
        if limits and adding:
            limits.check("new_users", sum(1 for row in old_rows if len(row) == 0))
        bounds = np.append(starts, len(pairs)).tolist()
        deltas: list[UserDelta] = []
        missing: list[tuple[int, int]] = []
        for k, user in enumerate(users.tolist()):
            requested = index[bounds[k] : bounds[k + 1]]
            old_row = old_rows[k]  # the stored row itself (int32): the fork store keeps it as it is
            present = _members(old_row, requested) & (requested >= 0)
            if adding:
                changed = np.sort(requested[~present])
                columns = np.union1d(old_row, changed)
                new_row = columns.astype(np.int32)
            elif not present.all():
                missing.extend((user, item) for item in pairs[bounds[k] : bounds[k + 1], 1][~present].tolist())
                continue
            else:
                changed = np.sort(requested)
                new_row, columns = old_row[~_members(changed, old_row)].astype(np.int32), old_row.astype(np.int64)
            if len(changed):
                deltas.append(UserDelta(user, old_row, new_row, changed, columns))
        if limits and adding:  # the k² co-occurrences of the update, before any is touched
            limits.check("pairs", sum(len(delta.changed) * len(delta.columns) for delta in deltas))
        if missing:
            shown = ", ".join(f"[{u}, {i}]" for u, i in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise RequestError(
                f"Cannot remove {'an interaction that does' if len(missing) == 1 else f'{len(missing):,} interactions that do'}"
                f" not exist: {shown}{more}. "
                f"Nothing was changed; remove only interactions the model has."
            )
        step = 1 if adding else -1
        flipped = np.concatenate([delta.changed for delta in deltas]) if deltas else _EMPTY
        count_index, moves = np.unique(flipped, return_counts=True)
        counts = self._store.counts()
        count_old = np.zeros(len(count_index), dtype=np.int64)
        existing = count_index < len(counts)
        count_old[existing] = counts[count_index[existing]]
        change = StoreChange(step, self._index.size + len(new_items), tuple(deltas), count_index, count_old + step * moves)
        return _Plan(request.change, change, new_items, count_old)

    def _commit(self, plan: _Plan) -> None:
        """Write a plan: the store first (it allocates before it writes), then H and the index.

        A model whose fitted rows nobody else shares erases a changed user's fitted row (the
        slice of the fitted array is overwritten), so that a forgotten user's history does not
        stay in memory; a model shared with forks masks it with its own row instead.
        """
        rows = [delta.new_row for delta in plan.change.users]  # int32, shared with the fork store
        self._store.apply(plan.change)
        self._index.extend(plan.new_items)
        self._num_users += sum((len(row) > 0) - (len(delta.old_row) > 0) for delta, row in zip(plan.change.users, rows))
        if not self._sharded_rows:  # (the shards keep H of a sharded model: they took the new rows with the change)
            self._commit_rows(plan, rows)
        if self._neighbours is not None:  # last: the change is whole before the lists follow it
            self._update_neighbours(plan.change)

    @property
    def _sharded_rows(self) -> bool:
        """Whether H lives in the store's shards (a sharded model) rather than in this object."""
        return getattr(self._store, "holds_histories", False)

    def _commit_rows(self, plan: _Plan, rows: list[np.ndarray]) -> None:
        """The changed users' rows, in this model's own H."""
        with self._rows.mutate() as changed:
            for delta, row in zip(plan.change.users, rows):
                if not self._base_shared and (fitted := self._base_rows.pop(delta.user, None)) is not None:
                    fitted[:] = -1
                if len(row) or self._base_shared:
                    changed[delta.user] = row
                elif delta.user in changed:
                    del changed[delta.user]
            self._rows = changed.finish()

    def _update_neighbours(self, change: StoreChange) -> None:
        """The lists after a committed change. The change is already whole, so if the update
        cannot finish (out of memory half-way) the lists are dropped, to be rebuilt from C when
        next read: they never disagree with it, and the accepted change stays accepted."""
        try:
            # whole rows removed (forgets): C moved only between the items whose counts moved
            forgets = change.step < 0 and all(delta.whole_row for delta in change.users)
            self._neighbours.update(change.count_index, change.size, self._read_rows, self.measure, self._index.ids(),
                                    self._store.dense_matrix(), forgets=forgets)
            self._lists_error = None
        except Exception as error:  # MemoryError above all; kept in lists_error, so a fault cannot hide as slow reads
            self._neighbours = None
            self._lists_error = error
        except BaseException:  # an interrupt: the same, and it goes on
            self._neighbours = None
            raise

    def _lists(self) -> NeighbourIndex:
        """The neighbour lists, built from C first if this model has none yet; an ArgumentError
        when the model keeps every neighbour (no K)."""
        if self._k is None:
            raise ArgumentError("This model keeps every neighbour (neighbours=None): it has no lists. Fit it with neighbours=K.")
        if self._neighbours is None:
            self._neighbours = NeighbourIndex.build(self._k, self._store.size, self._read_rows, self.measure,
                                                    self._index.ids(), self._store.dense_matrix())
        return self._neighbours

    def _read_rows(self, rows: np.ndarray, columns: np.ndarray | None = None,
                   out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """C for internal ``rows`` x ``columns`` (None: every item), into ``out`` when given, and n:
        what the neighbour lists are built from."""
        return self._store.block(rows, columns, out), self._store.counts()

    def _changeset(self, plan: _Plan, seconds: float) -> ChangeSet:
        change = plan.change
        return ChangeSet.from_internal(
            self.time, seconds, plan.kind, self._index.ids(),
            [(d.user, d.changed, d.columns) for d in change.users], change.count_index, plan.count_old, change.count_new,
        )

    # ------------------------------------------------------------------ internal reads
    def _row(self, user: int) -> np.ndarray:
        """H row of ``user``: sorted internal indices (empty for an unknown user)."""
        if self._sharded_rows:
            return self._store.user_rows([user])[0]
        row = self._rows.get(user)
        return row if row is not None else self._base_rows.get(user, _EMPTY)

    def _rows_of(self, users: list[int]) -> list[np.ndarray]:
        """:meth:`_row` of each of ``users`` (from a sharded store, in one round trip)."""
        if self._sharded_rows:
            return self._store.user_rows(users)
        return [self._row(user) for user in users]

    def _pair_values(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """C at external id pairs (a[k], b[k]), int64; 0 for unknown items."""
        ia, known_a = self._index.lookup(a)
        ib, known_b = self._index.lookup(b)
        known = known_a & known_b
        values = np.zeros(len(a), dtype=np.int64)
        values[known] = self._store.pairs(ia[known], ib[known])
        return values

    def _lookup(self, items: Any, what: str = "item") -> tuple[np.ndarray, np.ndarray]:
        """Internal indices of external ``items`` (checked ids; unknown ones -> index 0) and the known mask."""
        index, known = self._index.lookup(check_ids(items, what))
        return np.where(known, index, 0), known

    # ------------------------------------------------------------------ public reads
    # Each checks its arguments first (amnesia.engine.arguments): a wrong type or range raises an
    # ArgumentError that says what to pass, before any work, and nothing changes.
    def users(self) -> list[int]:
        """Ids of users with at least one interaction, sorted."""
        if self._sharded_rows:
            return self._store.user_ids()
        users = set(self._base_rows) | set(self._rows)
        return sorted(user for user in users if len(self._row(user)))

    def num_users(self) -> int:
        """How many users have at least one interaction (len(users()), kept as changes happen)."""
        return self._num_users

    def items(self) -> list[int]:
        """Ids of items with at least one interaction (n > 0), sorted."""
        return self.live_items().tolist()

    def live_items(self) -> np.ndarray:
        """Ids of items with at least one interaction (n > 0), sorted, int64: :meth:`items` as an array."""
        return np.sort(self._index.ids()[self._store.counts() > 0])

    def num_items(self) -> int:
        """How many items have at least one interaction (len(items()), without sorting them)."""
        return int(np.count_nonzero(self._store.counts()))

    def num_interactions(self) -> int:
        """|H|: the number of (user, item) interactions."""
        return int(self._store.counts().sum())

    def history(self, user: int) -> list[int]:
        """The items ``user`` has interacted with, sorted; empty for an unknown user."""
        return sorted(self._index.ids()[self._row(check_id(user, "user"))].tolist())

    def history_length(self, user: int) -> int:
        """How many items ``user`` has interacted with (len(history(user)), without listing them)."""
        return len(self._row(check_id(user, "user")))

    def interactions(self) -> pd.DataFrame:
        """All interactions as a DataFrame with ``user`` and ``item`` columns, sorted."""
        users, items = self._interaction_arrays()
        return pd.DataFrame({"user": users, "item": items})

    def _interaction_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        ids = self._index.ids()
        if self._sharded_rows:
            user_column, items = self._store.history_pairs()
            item_column = ids[items] if len(items) else _EMPTY
        else:
            users = self.users()
            rows = [self._row(user) for user in users]
            user_column = np.repeat(np.array(users, dtype=np.int64), [len(r) for r in rows])
            item_column = ids[np.concatenate(rows)] if rows else _EMPTY
        order = np.lexsort((item_column, user_column))
        return user_column[order], item_column[order]

    def count(self, item: int) -> int:
        """n_item: how many users interacted with ``item`` (0 for an unknown item)."""
        return int(self.counts([check_id(item)])[0])

    def cooccurrence(self, a: int, b: int) -> int:
        """C_ab: how many users interacted with both ``a`` and ``b`` (C_aa = n_a)."""
        return int(self._pair_values(np.array([check_id(a)]), np.array([check_id(b)]))[0])

    def similarity(self, a: int, b: int) -> float:
        """S_ab under the model's measure (Jaccard by default); 0.0 if either count is 0."""
        return float(self.measure(self.cooccurrence(a, b), self.count(a), self.count(b)))

    def cooccurrence_pairs(self, item_a: np.ndarray, item_b: np.ndarray) -> np.ndarray:
        """C at each pair (item_a[k], item_b[k]) of external ids, shape (p,), int64; 0 for unknown items."""
        a, b = check_ids(item_a), check_ids(item_b)
        if len(a) != len(b):
            raise ArgumentError(f"Pass two lists of item ids of the same length (one pair per position), got {len(a):,} and {len(b):,}.")
        return self._pair_values(a, b)

    def counts(self, items: Sequence[int]) -> np.ndarray:
        """n for ``items`` (external ids), shape (k,), int64; 0 for unknown items."""
        index, known = self._lookup(items)
        values = np.zeros(len(index), dtype=np.int64)
        values[known] = self._store.counts()[index[known]]
        return values

    def cooccurrences(self, items: Sequence[int], columns: Sequence[int] | None = None,
                      out: np.ndarray | None = None) -> np.ndarray:
        """Dense C for ``items`` x ``columns`` (default: ``items``), shape (k, l), int64; 0 for
        unknown items. ``out``: a C-contiguous int64 or int32 array of that shape to write into
        (and return), so a caller reading many blocks reuses one buffer (C is at most the number
        of users, so int32 is exact)."""
        rows, rows_known = self._lookup(items)
        cols, cols_known = (rows, rows_known) if columns is None else self._lookup(columns)
        check_cells(len(rows), len(cols), "C")
        if out is not None:
            check_buffer(out, (len(rows), len(cols)))
        block = self._store.block(rows, cols, out)
        if not rows_known.all():
            block[~rows_known, :] = 0
        if not cols_known.all():
            block[:, ~cols_known] = 0
        return block

    def similarities(self, items: Sequence[int], columns: Sequence[int] | None = None) -> np.ndarray:
        """Dense S for ``items`` x ``columns`` (default: ``items``), shape (k, l), float64."""
        rows = check_ids(items)
        columns = rows if columns is None else check_ids(columns)
        return self.measure(self.cooccurrences(rows, columns), self.counts(rows)[:, None], self.counts(columns)[None, :])

    def history_matrix(self, users: Sequence[int], items: Sequence[int]) -> np.ndarray:
        """Dense H for ``users`` x ``items``, shape (u, k), uint8 (1 = interacted)."""
        users = check_ids(users, "user")
        index, known = self._lookup(items)
        check_cells(len(users), len(index), "H")
        matrix = np.zeros((len(users), len(index)), dtype=np.uint8)
        rows = self._rows_of(users.tolist())
        lengths = np.array([len(row) for row in rows], dtype=np.int64)
        if len(index) == 0 or lengths.sum() == 0:
            return matrix
        # one vectorised pass over the users' rows: which of their items are asked for
        flat = np.concatenate(rows).astype(np.int64)
        owner = np.repeat(np.arange(len(users)), lengths)
        asked, columns = np.unique(index[known], return_inverse=True)
        position = np.minimum(np.searchsorted(asked, flat), max(len(asked) - 1, 0))
        hit = asked[position] == flat if len(asked) else np.zeros(len(flat), dtype=bool)
        unique = np.zeros((len(users), len(asked)), dtype=np.uint8)
        unique[owner[hit], position[hit]] = 1
        matrix[:, np.flatnonzero(known)] = unique[:, columns]
        return matrix

    def similarity_rows(self, items: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """S between ``items`` and every item of the catalog.

        Returns ``(item_ids, S)`` with item_ids the model's items (the same set as :meth:`items`:
        n > 0; in internal order, not sorted; shape (m,)) and S of shape (len(items), m).
        Unknown items give zero rows.
        """
        ids, rows = self._slot_rows(items)
        live = self._store.counts() > 0
        if len(live) and not live.all():
            # an item whose only viewers were forgotten keeps its slot (indices are only appended), but
            # a retrain never saw it: its id must not be readable here (an engineer found it was)
            return ids[live], rows[:, live]
        return ids, rows

    def _slot_rows(self, items: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`similarity_rows` over every slot, an emptied item's too (its S is 0 everywhere):
        what scoring reads, since a zero never scores. Filtering the columns on every read of a
        recommendation cost up to 2.2 x its time once any item had emptied (a reviewer's timing)."""
        index, known = self._lookup(items)
        counts = self._store.counts()
        if len(counts) == 0:  # an empty model: no item, no similarity
            return self._index.ids(), np.zeros((len(index), 0))
        check_cells(len(index), len(counts), "S rows")
        block = self._store.block(index)
        block[~known] = 0
        return self._index.ids(), self.measure(block, counts[index][:, None], counts[None, :])

    def read_cost(self, items: Sequence[int]) -> int:
        """The work (multiply-adds) of reading the full rows of C for ``items`` (what
        :meth:`similarity_rows` and so :meth:`recommend` do): len(items) x catalog for the
        shared part, plus what this fork's changes add (large when many long rows were added).
        Known before any of it is done, so callers can refuse a read over their budget. With
        neighbour lists, recommending reads len(items) x K list entries instead (plus building
        the lists from C, catalog², when this model has not built them yet)."""
        index, known = self._lookup(items)
        if self._k is not None:
            lists = self._index.size if self._scoring == "candidate" else len(index)
            return lists * self._k + (0 if self._neighbours is not None else self._index.size ** 2)
        shared = len(index) * self._index.size
        extra = getattr(self._store, "read_cost", None)
        return shared + (int(extra(index[known])) if extra is not None else 0)

    def cooccurrence_changes(self, changes: ChangeSet) -> PairChanges:
        """Every C entry that ``changes`` altered (``item_a > item_b``, old and new counts),
        sorted. The model must still be at ``changes.time``; see :func:`iter_cooccurrence_changes`
        to stream large changes in chunks."""
        return PairChanges.concatenate(list(iter_cooccurrence_changes(self, _changeset(changes))))

    def similarity_changes(self, changes: ChangeSet) -> PairChanges:
        """Every S entry that ``changes`` altered (``item_a > item_b``, old and new values),
        sorted. The model must still be at ``changes.time``."""
        return PairChanges.concatenate(list(iter_similarity_changes(self, _changeset(changes))), np.float64)

    def recommend(self, user: int, k: int = 10) -> list[Recommendation]:
        """Top-``k`` unseen items for ``user`` (see :func:`amnesia.engine.recommend.recommend`).

        With neighbour lists (``neighbours=K``) a score sums S only over the lists of the
        user's items: score_j = Σ over items i of the user with j in L_i of S_ij; with
        ``scoring="candidate"`` over j's own list: score_j = Σ over items i of the user in L_j of S_ji."""
        user, k = check_id(user, "user"), check_count(k, "k")
        if self._k is None:
            return recommend(self, user, k, self._slot_rows)
        row = self._history_rows(user)
        lists = self._lists()
        scores = lists.candidate_scores(row) if self._scoring == "candidate" else lists.scores(row)
        return recommend_from_scores(self._index.ids(), scores, row, k)

    def _history_rows(self, user: int) -> np.ndarray:
        """The user's internal indices in external-id order (so sums run in one fixed order), or
        an UnknownUserError."""
        row = self._row(user).astype(np.int64)
        if len(row) == 0:
            raise UnknownUserError(f"User {user!r} has no interactions, so there is nothing to recommend from.")
        return row[np.argsort(self._index.ids()[row], kind="stable")]

    def explain(self, user: int, item: int, n: int = 3) -> list[tuple[int, float]]:
        """The ``n`` items of ``user``'s history most similar to ``item`` ("because you watched");
        with neighbour lists, only those that have ``item`` in their list (what scored it), or with
        ``scoring="candidate"`` only those in ``item``'s list."""
        user, item, n = check_id(user, "user"), check_id(item), check_count(n, "n")
        if self._k is None:
            return explain(self, user, item, n)
        target = self._index.index(item)
        row = self._row(user).astype(np.int64)
        if target is None or len(row) == 0:
            return []
        values = np.zeros(len(row))
        if self._scoring == "candidate":
            neighbours, similarity = self._lists().row(target)
            entry = {int(b): e for e, b in enumerate(neighbours.tolist())}
            for position, source in enumerate(row.tolist()):
                if source in entry:
                    values[position] = similarity[entry[source]]
        else:
            for position, source in enumerate(row.tolist()):
                neighbours, similarity = self._lists().row(source)
                hit = np.flatnonzero(neighbours == target)
                if len(hit):
                    values[position] = similarity[hit[0]]
        ids = self._index.ids()[row]
        return [(int(ids[p]), float(values[p])) for p in top_positions(ids, values, n)]

    def similar_items(self, item: int, k: int = 10) -> list[tuple[int, float]]:
        """The ``k`` items most similar to ``item`` as ``(item, S)``, S > 0, ties by smaller id
        (with neighbour lists: the first ``k`` of its list). An item no user has (never seen, or
        its last viewer forgotten) has no similar items: ``[]``. (:meth:`recommend` instead refuses
        a user with no interactions: it has no history to score from, which a caller must hear.)"""
        item, k = check_id(item), check_count(k, "k")
        if self._k is None:
            return similar_items(self, item, k, self._slot_rows)
        source = self._index.index(item)
        if source is None:
            return []
        neighbours, similarity = self._lists().row(source)
        ids = self._index.ids()
        return [(int(ids[b]), float(v)) for b, v in zip(neighbours[:k].tolist(), similarity[:k].tolist())]

    def neighbour_state(self) -> NeighbourIndex:
        """The lists as they are now, for :meth:`neighbour_changes` after the next change (a fork
        of the lists: free until the model writes, then the model copies them). Needs ``neighbours=K``."""
        state = self._lists().fork()
        state.item_ids = self._index.ids()  # read-only and append-only: what neighbour_changes checks against
        return state

    def neighbour_changes(self, before: NeighbourIndex) -> PairChanges:
        """The list entries that changed since ``before`` (from :meth:`neighbour_state`): here
        ``item_a`` is an item and ``item_b`` one of its neighbours (a directed pair: lists are not
        symmetric), ``old`` and ``new`` its S in the list (0 = not in the list), sorted."""
        if self._k is None or not isinstance(before, NeighbourIndex):
            raise ArgumentError("Pass what neighbour_state() returned, from a model with neighbour lists.")
        ids = self._index.ids()
        taken = before.item_ids
        if before.k != self._k or taken is None or len(taken) > len(ids) or not np.array_equal(taken, ids[: len(taken)]):
            # rows are compared by internal index: another K's lists raised numpy's broadcast error, and another
            # model's (or a sibling fork's, whose later items took the same indices) gave a diff under wrong ids
            raise ArgumentError(
                f"This state does not belong to this model's lists (K = {self._k}, the same items in the same order): "
                f"pass what this model's neighbour_state() returned before the change."
            )
        return PairChanges(*self._lists().changes_since(before, ids))

    def neighbour_lists(self, items: Sequence[int]) -> list[list[tuple[int, float]]]:
        """Each item's whole list as ``[(neighbour, S), ...]`` best first (external ids); empty
        for unknown items. Needs ``neighbours=K`` (an ArgumentError otherwise)."""
        index, known = self._lookup(items)
        lists = self._lists()
        ids = self._index.ids()
        result = []
        for source, ok in zip(index.tolist(), known.tolist()):
            neighbours, similarity = lists.row(source) if ok else (np.zeros(0, np.int32), np.zeros(0))
            result.append([(int(ids[b]), float(v)) for b, v in zip(neighbours.tolist(), similarity.tolist())])
        return result

    # ------------------------------------------------------------------ certificate
    def _live_by_id(self) -> np.ndarray:
        """Internal indices of the live items (n > 0), in external-id order."""
        counts, order = self._store.counts(), self._index.by_id()
        return order[counts[order] > 0]

    @staticmethod
    def _row_ranges(live: int) -> Iterator[tuple[int, int]]:
        """(start, stop) of consecutive row blocks over ``live`` rows: ~4 million cells a block,
        whatever the catalog size (one row a block past that many items)."""
        step = max(1, _CELLS // max(live, 1))
        for start in range(0, live, step):
            yield start, min(start + step, live)

    def _lower_triangle(self) -> Iterator[bytes]:
        """The digests of C's rows below the diagonal over the live items in id order (one chunk
        of :func:`~amnesia.engine.fingerprint.row_digests` per block of :meth:`_row_ranges`): the
        fingerprint's part for C. The rows are written by a compiled loop straight from the store's
        matrix when it holds one (a retrain's), else from gathered blocks; a store spread over
        processes hashes its rows where they live (``row_digests``)."""
        dense, live = self._store.dense_matrix(), self._live_by_id()
        remote = getattr(self._store, "row_digests", None)
        if remote is not None:
            yield remote(live)
            return
        # a block's prefixes hold fewer than step * len(live) <= _CELLS values (len(live) for a one-row block)
        out = np.empty(min(max(_CELLS, len(live)), len(live) * (len(live) - 1) // 2 + 1), dtype=np.uint32)
        for start, stop in self._row_ranges(len(live)):
            if dense is None:
                written = kernels.lower_rows_block(self._store.block(live[start:stop], live[:stop]), start, out)
            else:
                written = kernels.lower_rows_dense(dense, live, start, stop, out)
            yield row_digests(out[:written], start, stop)

    def _lower_blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """C below the diagonal over the live items (n > 0) in external-id order, in row blocks.

        Yields (live internal indices, first row position, block) with block[i, j] = C between
        live[start + i] and live[j] for j < start + i (the rest of the block is not meaningful).
        Blocks hold ~4 million cells, whatever the catalog size (:meth:`_row_ranges`).
        """
        live = self._live_by_id()
        for start, stop in self._row_ranges(len(live)):
            yield live, start, self._store.block(live[start:stop], live[:stop])

    def cooccurrence_entries(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """All non-zero C entries with item_a > item_b, as blocks of arrays (item_a, item_b, C_ab),
        ordered by item_a, then item_b, in external ids (bounded memory, see :meth:`_lower_blocks`)."""
        ids = self._index.ids()
        for live, start, block in self._lower_blocks():
            below = np.arange(block.shape[1])[None, :] < np.arange(start, start + len(block))[:, None]
            r, c = np.nonzero(below & (block > 0))
            yield ids[live[start + r]], ids[live[c]], block[r, c]

    def fingerprint(self) -> str:
        """SHA-256 of the measure's name and the canonical (H, n, C): equal for equal models,
        however they were built, whichever store holds them.

        H as sorted (user, item) int64 pairs; n as (item, count) int64 pairs for the live
        items (count > 0), sorted; C as the strictly lower triangle over those live items in
        id order, row by row, zeros included, as uint32 (canonical because the live items are
        hashed with n; dense so that no scan for non-zeros is needed), each row entering as its
        own SHA-256 digest (so rows kept in other processes are hashed where they live). With neighbour lists,
        also K and every live item's list (neighbour ids and the bits of their S), in id order.
        """
        users, items = self._interaction_arrays()
        live = np.array(self.items(), dtype=np.int64)
        lists = None if self._k is None else (lambda: self._lists().digest(self._live_by_id(), self._index.ids()))
        return fingerprint_digest(self.measure, np.column_stack([users, items]), live, self.counts(live),
                                  self._lower_triangle(), lists)

    def stored_entries(self) -> int:
        """Entries of C the store keeps as sparse rows (both halves of each pair); 0 for a dense block
        or a fork (whose overlay is its changed rows): the density of C, as the large benchmark reports it."""
        return self._store.sparse_entries()

    def nbytes(self) -> int:
        """Bytes of this model's own state: its store (a fork counts only its overlay), its rows,
        and the fitted rows when it is not a fork."""
        rows = sum(row.nbytes for row in self._rows.values())
        if self._owns_base:
            rows += sum(row.nbytes for row in self._base_rows.values()) + self._store_bytes_shared()
        lists = 0 if self._neighbours is None else self._neighbours.nbytes()
        return self._store.nbytes() + rows + lists

    def _store_bytes_shared(self) -> int:
        """The shared arrays of a store this model built and then forked (counted once, by their builder)."""
        base = getattr(self._store, "base", None)
        return base.nbytes() if base is not None else 0

    def __repr__(self) -> str:
        return (
            f"ItemCF(users={len(self.users())}, items={len(self.items())}, interactions={self.num_interactions()}, "
            f"similarity={self.measure.name}, neighbours={self.neighbours}, "
            + ("" if self._scoring == "history" else f"scoring={self._scoring}, ")
            + f"store={self.store_kind}, time={self.time})"
        )


def _changeset(changes: Any) -> ChangeSet:
    if not isinstance(changes, ChangeSet):
        raise ArgumentError(f"Pass the ChangeSet that apply() returned, got {type(changes).__name__}.")
    return changes
