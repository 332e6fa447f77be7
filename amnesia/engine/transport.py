"""How a sharded store's driver reaches its shards (:mod:`amnesia.engine.sharded`): a method of a
shard's :class:`~amnesia.engine.rowstore.RowStore` called by name, on objects in this process
(:class:`LocalTransport`) or in Ray actors (:class:`amnesia.engine.ray_shards.RayTransport`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from .rowstore import RowStore


class Transport(ABC):
    """How the driver reaches its shards: call a :class:`RowStore` method on some of them."""

    shards: int
    #: whether a shard can fail on its own and be restarted (then the driver keeps a replay log)
    recoverable = False

    def lost(self, error: BaseException) -> bool:
        """Whether ``error`` means the shard's process died (its state is gone until restored)."""
        return False

    def restore(self, shard: int) -> int:
        """Wait for a restarted shard and load its last checkpoint; returns the version it holds."""
        raise NotImplementedError("shards in this process are not restarted on their own")

    def checkpointed(self) -> None:
        """Every shard has just written a checkpoint: what the transport kept to rebuild a shard
        without one (the fit's input) can go."""

    @abstractmethod
    def fit(self, transposed: tuple[np.ndarray, ...], size: int, bounds: np.ndarray, layout: str,
            saturation: int | None, users: np.ndarray) -> list[str]:
        """Build every shard's rows of C and of H (``users``: the external id of each row of H), in
        parallel where the transport can; returns their layouts."""

    @abstractmethod
    def empty(self, saturation: int | None) -> list[str]:
        """Give every shard an empty store (a model with no data yet); returns their layouts."""

    def run(self, calls: Sequence[tuple[int, str, tuple]]) -> list[Any]:
        """Call ``method(*args)`` on shard ``w`` for every ``(w, method, args)``, concurrently where
        the transport can; each result in order, or the exception that call raised (not raised here)."""
        return self.collect(self.submit(calls))

    @abstractmethod
    def submit(self, calls: Sequence[tuple[int, str, tuple]]) -> Any:
        """Send ``calls`` without waiting for them; :meth:`collect` gives their results. Calls to one
        shard run in the order they were sent, so a read sent after a change sees it."""

    @abstractmethod
    def collect(self, submitted: Any) -> list[Any]:
        """The results of calls :meth:`submit` sent (waiting for them): each result, or its exception."""


class LocalTransport(Transport):
    """Shards as objects in this process (one after the other): the sharded layout without a cluster."""

    def __init__(self, shards: int) -> None:
        self.shards = shards
        self.stores: list[RowStore] = []

    def fit(self, transposed: tuple[np.ndarray, ...], size: int, bounds: np.ndarray, layout: str,
            saturation: int | None, users: np.ndarray) -> list[str]:
        self.stores = [RowStore.fit_shard(transposed, size, me, bounds, layout, saturation, users) for me in range(self.shards)]
        return [store.kind for store in self.stores]

    def empty(self, saturation: int | None) -> list[str]:
        self.stores = [RowStore(me, self.shards, saturation=saturation) for me in range(self.shards)]
        return [store.kind for store in self.stores]

    def submit(self, calls: Sequence[tuple[int, str, tuple]]) -> list[Any]:
        results: list[Any] = []  # in this process a call is done when it is sent
        for shard, method, args in calls:
            try:
                results.append(getattr(self.stores[shard], method)(*args))
            except Exception as error:  # reported to the caller, which rolls back the others
                results.append(error)
        return results

    def collect(self, submitted: list[Any]) -> list[Any]:
        return submitted
