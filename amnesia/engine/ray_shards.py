"""Shards in Ray actors: the transport of ``ItemCF.fit(..., backend="ray")``.

Starting an actor means starting a Python process that imports numpy and the compiled kernels
(about a second), so a model does not start its own. A process keeps one pool of *shard hosts*
per cluster, long-lived actors placed one a node in turn; shard ``w`` of every model lives
in host ``w``, under the model's own key, and leaves it, with its checkpoints, when the model is
dropped or the driver exits (the hosts are the driver's actors and end with it). Arrays travel through Ray's
object store: H is put there once for a fit and every shard reads it from there.

Ray is optional (``pip install -r requirements-scale.txt``); this module is imported only when a
model asks for the Ray backend. Without an address a local Ray is started, bound to 127.0.0.1,
without a dashboard, with as many CPUs as the machine has.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import pickle
import shutil
import tempfile
import time
import uuid
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import AmnesiaError, ArgumentError

try:
    import ray
except ImportError as error:  # pragma: no cover - the message is the point
    raise ArgumentError("backend='ray' needs Ray: pip install -r requirements-scale.txt") from error

from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from .rowstore import RowStore
from .transport import Transport

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


#: How long the driver waits for a restarted shard host before it gives up (seconds).
RESTART_WAIT = 120.0
#: How long a host may keep answering "died" before the driver takes it for dead for good (seconds): a
#: host that Ray restarts takes new calls once it is back (they wait in its queue), so only the calls
#: sent just as it died fail; one killed without a restart, or out of restarts, fails every call at once,
#: and the driver had waited RESTART_WAIT on every later call (an engineer's run: 120 s each).
DEAD_GRACE = 5.0


def checkpoint_folder(key: str) -> str:
    """The folder of model ``key``'s checkpoints on a node (one file per shard the node hosts)."""
    return os.path.join(tempfile.gettempdir(), "amnesia-shards", key)


def checkpoint_path(key: str, me: int) -> str:
    """Where shard ``me`` of model ``key`` keeps its checkpoint, on its host's node (hosts are
    pinned to their node, so a restarted host finds it there)."""
    return os.path.join(checkpoint_folder(key), f"shard-{me}.npz")


@ray.remote(num_cpus=0, max_restarts=100, max_task_retries=0)
class ShardHost:
    """One process that holds shard ``w`` of any number of models, each under its model's key.
    Ray restarts it when its process dies (empty: each model restores its shard when it next calls)."""

    def __init__(self) -> None:
        self.stores: dict[str, RowStore] = {}

    def restore(self, key: str, me: int, shards: int, transposed: tuple[np.ndarray, ...] | None, size: int,
                bounds: np.ndarray, layout: str, saturation: int | None, users: np.ndarray | None) -> int:
        """Shard ``me`` of model ``key`` from its checkpoint, or from the fit's input (``transposed``)
        before its first checkpoint, or empty; returns the version it holds."""
        path = checkpoint_path(key, me)
        if os.path.exists(path):
            store = RowStore.load(path)
        elif transposed is not None:
            store = RowStore.fit_shard(transposed, size, me, bounds, layout, saturation, users)
        elif size < 0:  # the model has checkpointed, so the file must be there
            raise FileNotFoundError(f"the checkpoint of shard {me} is gone from {path}; refit the model")
        else:
            store = RowStore(me, shards, saturation=saturation)
        self.stores[key] = store
        return store.version

    def fit(self, key: str, transposed: tuple[np.ndarray, ...], size: int, me: int, bounds: np.ndarray,
            layout: str, saturation: int | None, users: np.ndarray) -> str:
        self.stores[key] = RowStore.fit_shard(transposed, size, me, bounds, layout, saturation, users)
        return self.stores[key].kind

    def empty(self, key: str, me: int, shards: int, saturation: int | None) -> str:
        self.stores[key] = RowStore(me, shards, saturation=saturation)
        return self.stores[key].kind

    def call(self, key: str, method: str, packed: bytes) -> Any:
        """``method(*args)`` on this host's shard of model ``key``; ``packed``: the pickled args (a
        request's change is pickled once for all shards, not by Ray once per shard)."""
        args = pickle.loads(packed)
        store = self.stores[key]  # a KeyError after a restart: the driver restores this shard
        if method == "save":  # to this node's checkpoint folder
            os.makedirs(checkpoint_folder(key), exist_ok=True)
            return store.save(checkpoint_path(key, store.me))
        return getattr(store, method)(*args)

    def drop(self, key: str) -> None:
        store = self.stores.pop(key, None)
        if store is not None:
            shutil.rmtree(checkpoint_folder(key), ignore_errors=True)

    def keys(self) -> list[str]:
        """The models this host holds a shard of (a dropped model's is gone)."""
        return sorted(self.stores)

    def call_pid(self) -> int:
        """This host's process id (the benchmark reads its memory)."""
        return os.getpid()

    def node(self) -> str:
        return ray.get_runtime_context().get_node_id()


_hosts: list[Any] = []  # this process's shard hosts on the cluster it is connected to
_hosts_job: str | None = None  # the Ray job (this driver's connection) they were started in
_finalizers: list[weakref.finalize] = []  # each live model's drop of its shards (and their checkpoints)


def _job() -> str | None:
    """This driver's current Ray connection: its node and job ids (None when not connected). After
    ``ray.shutdown()`` and a new ``ray.init()`` one of them differs: a new local Ray numbers its jobs
    from 1 again but has a new node, and a new connection to the same cluster is a new job."""
    if not ray.is_initialized():
        return None
    context = ray.get_runtime_context()
    return f"{context.get_node_id()}/{context.get_job_id()}"


def _drop_all() -> None:
    """Drop every live model's shards now, while Ray still runs: registered with ``atexit`` after Ray
    registered its shutdown (when it was imported), and handlers run last-registered first. The
    models' finalizers otherwise ran after Ray had shut down, and a forgotten user's rows stayed on
    disk in a checkpoint (an engineer's run found them)."""
    for finalizer in list(_finalizers):
        try:
            finalizer()
        except Exception:  # noqa: BLE001 - one model's drop failing must not keep the others' checkpoints
            pass
    _finalizers.clear()


def connect(address: str | None) -> None:
    """Join the cluster at ``address`` (``"auto"``, ``"ray://host:port"``), or start a local Ray
    on 127.0.0.1 when None, unless this process is connected already."""
    if ray.is_initialized():
        _at_exit()
        return
    # the hosts import this package: give their processes the directory it is in
    runtime_env = {"env_vars": {"PYTHONPATH": _PACKAGE_ROOT}}
    # Ray announces on stderr that it enabled token authentication (it stays enabled): the stream's
    # stderr carries JSON answers only, so that notice is kept out of it
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    if address is None:
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, configure_logging=False,
                 runtime_env=runtime_env, _node_ip_address="127.0.0.1")
    else:
        ray.init(address=address, log_to_driver=False, configure_logging=False, runtime_env=runtime_env)
    _at_exit()


_registered_for: str | None = None  # the job whose exit drops the shards


def _at_exit() -> None:
    """Register :func:`_drop_all` (once per connection: harmless twice, it drops each model once)."""
    global _registered_for
    job = _job()
    if job != _registered_for:
        atexit.register(_drop_all)
        _registered_for = job


def hosts(count: int) -> list[Any]:
    """The first ``count`` shard hosts, starting the missing ones: host w on the w-th alive node
    (modulo their number, by node id), so W shards on W nodes sit on W different
    machines. Pinned (Ray's soft affinity let two hosts share a node): a host whose actor dies is
    restarted on its node; a host whose node is gone cannot be, and its models must be refitted."""
    global _hosts, _hosts_job
    job = _job()
    if _hosts_job != job:  # a previous connection's hosts ended with it (ray.shutdown(), then a new ray.init())
        _hosts, _hosts_job = [], job
    if len(_hosts) < count:
        nodes = sorted(node["NodeID"] for node in ray.nodes() if node["Alive"])
        # the hosts' own runtime env names this package's directory too: a driver that started Ray itself
        # (ray.init() in a script beside a checkout) gave its workers no way to import amnesia, and the
        # first request died with "ActorDiedError ... No module named 'amnesia'" (an engineer's run)
        # (an actor's env_vars replace the job's: a path the driver's own runtime env gave its workers is
        # kept after ours)
        theirs = (ray.get_runtime_context().runtime_env.get("env_vars") or {}).get("PYTHONPATH")
        env = {"env_vars": {"PYTHONPATH": _PACKAGE_ROOT + (os.pathsep + theirs if theirs and theirs != _PACKAGE_ROOT else "")}}
        while len(_hosts) < count:
            where = NodeAffinitySchedulingStrategy(nodes[len(_hosts) % len(nodes)], soft=False)
            _hosts.append(ShardHost.options(scheduling_strategy=where, runtime_env=env).remote())
    return _hosts[:count]


def _drop(handles: list[Any], key: str, job: str | None = None) -> None:
    """A dropped model's shards leave their hosts, with their checkpoints; waited for (briefly), so
    that a driver that exits does not leave a forgotten user's rows on a disk. When the connection
    that held them has ended (``job``), the hosts are gone: the checkpoints on this machine are
    deleted here (a cluster's other machines keep theirs until their temporary folders are cleaned)."""
    if ray.is_initialized() and job == _job():
        try:
            ray.get([handle.drop.remote(key) for handle in handles], timeout=30)
        except Exception:  # noqa: BLE001 - a host already gone took its shard with it
            pass
        return
    shutil.rmtree(checkpoint_folder(key), ignore_errors=True)


class RayTransport(Transport):
    """A model's W shards, in the first W shard hosts."""

    _ids = itertools.count()

    recoverable = True

    def __init__(self, shards: int, address: str | None) -> None:
        connect(address)
        self.shards = shards
        self.key = f"{uuid.uuid4().hex}-{next(self._ids)}"
        self.hosts = hosts(shards)
        self.job = _job()
        # what rebuilds a shard that died before its first checkpoint: the fit's input, in the object store
        self._source: tuple = (None, 0, np.zeros(shards + 1, dtype=np.int64), "sparse", None, None)
        _finalizers[:] = [finalizer for finalizer in _finalizers if finalizer.alive]  # dropped models' are done
        _finalizers.append(weakref.finalize(self, _drop, list(self.hosts), self.key, self.job))

    def fit(self, transposed: tuple[np.ndarray, ...], size: int, bounds: np.ndarray, layout: str,
            saturation: int | None, users: np.ndarray) -> list[str]:
        shared, ids = ray.put(transposed), ray.put(users)  # once: every shard reads H from the object store
        self._source = (shared, size, bounds, layout, saturation, ids)
        return ray.get([host.fit.remote(self.key, shared, size, me, bounds, layout, saturation, ids)
                        for me, host in enumerate(self.hosts)])

    def empty(self, saturation: int | None) -> list[str]:
        self._source = (None, 0, np.zeros(self.shards + 1, dtype=np.int64), "sparse", saturation, None)
        return ray.get([host.empty.remote(self.key, me, self.shards, saturation) for me, host in enumerate(self.hosts)])

    def lost(self, error: BaseException) -> bool:
        # a dead or restarting actor; or a restarted one that no longer holds this model (KeyError)
        if isinstance(error, (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError)):
            return True
        return isinstance(error, ray.exceptions.RayTaskError) and isinstance(error.cause, KeyError)

    def restore(self, shard: int) -> int:
        self._connected()
        started = time.monotonic()
        died_since: float | None = None  # when the host began answering "died" to every call
        while True:
            try:
                return ray.get(self.hosts[shard].restore.remote(self.key, shard, self.shards, *self._source))
            except ray.exceptions.ActorUnavailableError:  # restarting: it takes calls again once it is back
                died_since = None
                if time.monotonic() - started > RESTART_WAIT:
                    raise
            except ray.exceptions.RayActorError:
                now = time.monotonic()
                died_since = now if died_since is None else died_since
                if now - died_since > DEAD_GRACE or now - started > RESTART_WAIT:
                    raise
            time.sleep(0.1)

    def _connected(self) -> None:
        """An AmnesiaError if the Ray connection this model's shards lived in has ended: after
        ``ray.shutdown()`` a call went to Ray's auto-started new cluster and failed with "Can't find actor"."""
        if _job() != self.job:
            raise AmnesiaError("The Ray cluster connection that held this model's shards was shut down (ray.shutdown()): "
                               "its rows are gone. Refit the model.")

    def checkpointed(self) -> None:
        # the checkpoints replace the fit's input (and the forgotten users' rows in it)
        self._source = (None, -1, *self._source[2:5], None)

    def submit(self, calls: Sequence[tuple[int, str, tuple]]) -> list[Any]:
        self._connected()
        packed: dict[int, bytes] = {}  # by identity: every shard gets the same change object
        for _, _, args in calls:
            if id(args) not in packed:
                packed[id(args)] = pickle.dumps(args, protocol=5)
        return [self.hosts[shard].call.remote(self.key, method, packed[id(args)]) for shard, method, args in calls]

    def collect(self, submitted: list[Any]) -> list[Any]:
        results: list[Any] = []
        for future in submitted:
            try:
                results.append(ray.get(future))
            except Exception as error:  # a shard's error or a dead actor: the caller decides
                results.append(error)
        return results

    def nodes(self) -> list[str]:
        """The Ray node id of each shard's host (for tests and the docs' placement example)."""
        return ray.get([host.node.remote() for host in self.hosts])
