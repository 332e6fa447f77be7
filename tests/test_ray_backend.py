"""The Ray backend (``ItemCF.fit(..., backend="ray", shards=W)``) against the plain reference and
the in-process engine: the conformance suite's runs with W = 1, 2 and 3 shards, on one Ray cluster
of three nodes started on this machine for the whole module (``ray.cluster_utils.Cluster``), so
every test also runs across nodes. Shard hosts bind to 127.0.0.1; nothing reaches the network.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Ray rewrites a 127.0.0.1 address to the machine's outward IP (for remote nodes) unless told that
# clusters are loopback-only: without this the driver waits for a GCS that listens on 127.0.0.1 only.
# Read when Ray is imported, so set before; the cluster's processes inherit it.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray", reason="the Ray backend's tests need Ray: pip install -r requirements-scale.txt")

from amnesia import ItemCF, RequestError  # noqa: E402
from amnesia.engine import ray_shards  # noqa: E402
from amnesia.engine.similarity import MEASURES  # noqa: E402
from amnesia.engine.store import ArrayStore  # noqa: E402
from amnesia.errors import AmnesiaError, ArgumentError  # noqa: E402

from .reference import ReferenceCF  # noqa: E402
from .test_properties import NEIGHBOURS, PAIRS, assert_matches_reference, changeset_fields, requests, run  # noqa: E402

RAY = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
#: (shards, layout, saturation): every W of the issue, dense and sparse shards, the overflow table at 3
ENGINES = [(1, "dense", None), (2, "sparse", 3), (3, "dense", 3)]


@pytest.fixture(scope="module")
def cluster():
    """A head node and two more, one CPU each, on this machine; this process is the driver."""
    from ray.cluster_utils import Cluster

    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1"})
    for _ in range(2):
        nodes.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    nodes.wait_for_nodes()
    ray_shards.connect(nodes.address)
    yield nodes
    ray.shutdown()
    nodes.shutdown()


@pytest.fixture(params=ENGINES, ids=lambda e: f"W{e[0]}-{e[1]}-sat{e[2]}")
def engine(request, cluster, monkeypatch):
    shards, layout, saturation = request.param
    if saturation:  # the driver sends its saturation to the shards
        monkeypatch.setattr(ArrayStore, "default_saturation", saturation)
    return shards, layout


@RAY
@given(initial=PAIRS, steps=requests, data=st.data(), neighbours=NEIGHBOURS, measure=st.sampled_from(list(MEASURES)))
def test_any_sequence_of_requests_on_ray_shards_equals_a_retrain(engine, initial, steps, data, neighbours, measure):
    shards, layout = engine
    model = ItemCF.fit(initial, measure, store=layout, neighbours=neighbours, backend="ray", shards=shards)
    assert model.store_kind == (layout if initial else "sparse")  # an empty model starts sparse, as in one process
    reference = ReferenceCF(initial, measure)
    run(model, reference, steps, data)
    assert_matches_reference(model, reference)


@RAY
@given(initial=PAIRS, steps=requests)
def test_every_changeset_read_and_fingerprint_equals_the_in_process_engine(engine, initial, steps):
    shards, layout = engine
    sharded = ItemCF.fit(initial, store=layout, backend="ray", shards=shards)
    local = ItemCF.fit(initial, store=layout)
    for kind, pairs in steps:
        request = {"change": "Add" if kind == "Forget" else kind, "interactions": [list(p) for p in pairs]}
        try:
            expected = local.apply(request)
        except RequestError as error:
            with pytest.raises(RequestError, match="not exist"):
                sharded.apply(request)
            assert "not exist" in str(error)
        else:
            assert changeset_fields(sharded, sharded.apply(request)) == changeset_fields(local, expected)
        assert sharded.fingerprint() == local.fingerprint()
        items = list(range(10))
        assert sharded.cooccurrences(items).tolist() == local.cooccurrences(items).tolist()


def test_shards_are_placed_on_different_nodes(cluster):
    pairs = np.random.default_rng(3).integers(0, 40, size=(400, 2))
    model = ItemCF.fit(pairs, backend="ray", shards=3)
    nodes = model._store.transport.nodes()
    assert len(set(nodes)) == 3 == len(cluster.list_all_nodes())
    assert model.fingerprint() == ItemCF.fit(pairs).fingerprint()
    user = int(pairs[0, 0])
    model.forget_user(user)
    assert model.fingerprint() == ItemCF.fit(pairs[pairs[:, 0] != user]).fingerprint()


def test_bad_requests_change_nothing_on_any_shard(cluster):
    model = ItemCF.fit([(0, 1), (0, 2), (1, 2)], backend="ray", shards=2)
    before = model.fingerprint()
    with pytest.raises(RequestError, match=r"an interaction that does not exist: \[5, 5\]"):
        model.apply({"change": "Remove", "interactions": [[0, 1], [5, 5]]})
    with pytest.raises(RequestError):
        model.forget_user(9)
    with pytest.raises(ArgumentError, match="cannot be forked"):
        model.fork()
    assert model.fingerprint() == before and model.time == 0
    assert model.checkpoint() == 0  # forced now: nothing changed since the fit
    with pytest.raises(ArgumentError, match="Only a model on Ray shards keeps checkpoints"):
        ItemCF.fit([(0, 1)], shards=2).checkpoint()
    with pytest.raises(ArgumentError, match="Only a model on Ray shards"):
        ItemCF.fit([(0, 1)]).checkpoint()


def test_a_dropped_model_leaves_its_shard_hosts(cluster):
    model = ItemCF.fit([(0, 1), (0, 2), (1, 2)], backend="ray", shards=2)
    key, hosts = model._store.transport.key, model._store.transport.hosts
    assert all(key in keys for keys in ray.get([host.keys.remote() for host in hosts]))
    del model
    gc.collect()
    ray.get([host.keys.remote() for host in hosts])  # the drops were sent before this call
    assert not any(key in keys for keys in ray.get([host.keys.remote() for host in hosts]))


def test_without_an_address_a_local_ray_starts_on_this_machine(tmp_path):
    """In a fresh process (this one is a cluster's driver): address=None starts Ray on 127.0.0.1."""
    script = textwrap.dedent("""
        import ray
        from amnesia import ItemCF
        pairs = [(u, i) for u in range(12) for i in range(8) if (u * i) % 3]
        model = ItemCF.fit(pairs, backend="ray", shards=2)
        model.forget_user(1)
        rest = [(u, i) for u, i in pairs if u != 1]
        assert model.fingerprint() == ItemCF.fit(rest).fingerprint()
        print(ray.util.get_node_ip_address(), len(ray.nodes()))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["127.0.0.1", "1"]
    assert done.stderr == ""  # nothing of Ray's on stderr, where the stream writes its JSON answers


def test_a_driver_that_started_ray_itself_gives_the_hosts_this_package(tmp_path):
    """A script outside the checkout that found amnesia by sys.path and called ray.init() itself: its
    workers could not import amnesia, and the first request died with Ray's ActorDiedError."""
    root = str(Path(__file__).parents[1])
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {root!r})
        import ray
        ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1",
                 runtime_env={{"env_vars": {{"PYTHONPATH": {str(tmp_path)!r}}}}})
        from amnesia import ItemCF
        pairs = [(u, i) for u in range(12) for i in range(8) if (u * i) % 3]
        model = ItemCF.fit(pairs, backend="ray", shards=1)
        model.forget_user(1)
        print(model.fingerprint() == ItemCF.fit([(u, i) for u, i in pairs if u != 1]).fingerprint())
        from amnesia.engine import ray_shards
        print(ray.get(ray_shards._hosts[0].__ray_call__.remote(lambda self: __import__("os").environ["PYTHONPATH"])))
    """)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    # the fingerprint equals a retrain's, and the driver's own path is kept after the package's
    assert done.stdout.split()[-2:] == ["True", f"{root}{os.pathsep}{tmp_path}"]


def test_ray_shut_down_gives_a_clear_error_and_new_hosts_and_no_checkpoint_outlives_the_driver(tmp_path):
    """After ray.shutdown() a new fit in the same process failed ("Can't find actor ... from a different
    cluster": the hosts of the old connection were reused), and an old model's call started a new Ray
    and failed with Ray's own error. At a normal exit, a model kept at module level (as in the README)
    left its checkpoint on disk, a forgotten user's rows in it: its finalizer ran after Ray's shutdown.
    Now its hosts delete it while Ray still runs (on every node); the driver deletes on its own machine
    only what an ended connection's hosts can no longer delete."""
    script = textwrap.dedent("""
        import atexit, json, shutil, sys, tempfile, types
        report = {"local": []}
        atexit.register(lambda: open(sys.argv[1], "w").write(json.dumps(report)))  # registered first: runs last
        # a finalizer made before Ray is imported (importing pandas or numba makes some): weakref's exit
        # hook then runs after Ray's shutdown, and with it every model's own finalizer
        early = tempfile.TemporaryDirectory()
        import os, ray
        from amnesia import ItemCF
        from amnesia.engine import ray_shards
        from amnesia.errors import AmnesiaError

        def recorded(path, *args, **kwargs):  # the driver's own deletions
            report["local"].append(path)
            return shutil.rmtree(path, *args, **kwargs)

        ray_shards.shutil = types.SimpleNamespace(rmtree=recorded)
        pairs = [(u, i) for u in range(12) for i in range(8) if (u * i) % 3]
        old = ItemCF.fit(pairs, backend="ray", shards=2)
        old.checkpoint()
        ray.shutdown()
        try:
            old.recommend(2)
        except AmnesiaError as error:
            print(str(error))
        model = ItemCF.fit(pairs, backend="ray", shards=2)
        model.checkpoint()
        model.forget_user(1)
        print(model.fingerprint() == ItemCF.fit([(u, i) for u, i in pairs if u != 1]).fingerprint())
        for kept in (old, model):
            folder = os.path.dirname(ray_shards.checkpoint_path(kept._store.transport.key, 0))
            print(folder, os.path.isdir(folder))
    """)
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True, text=True, timeout=240,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] == ("The Ray cluster connection that held this model's shards was shut down (ray.shutdown()): its "
                        "rows are gone. Refit the model.")
    assert lines[1] == "True"
    (old, old_there), (kept, kept_there) = (line.rsplit(" ", 1) for line in lines[2:4])
    assert (old_there, kept_there) == ("True", "True")  # both checkpointed, while the script ran
    assert not Path(old).exists() and not Path(kept).exists()  # and deleted by its exit:
    # the live model's by its hosts (so on any node), the ended connection's by the driver
    assert json.loads(out.read_text())["local"] == [old]


def test_placement_arguments_are_checked_before_any_work():
    with pytest.raises(ArgumentError, match="Unknown backend 'spark'"):
        ItemCF.fit([(0, 1)], backend="spark")
    with pytest.raises(ArgumentError, match="shards must be a whole number from 1 to 256"):
        ItemCF.fit([(0, 1)], shards=0)
    with pytest.raises(ArgumentError, match="with backend='ray'"):
        ItemCF.fit([(0, 1)], address="auto")
    with pytest.raises(ArgumentError, match="per shard"):
        ItemCF.fit([(0, 1)], store=4, shards=2)


STREAM_INPUT = "\n".join([
    '{"change": "Add", "interactions": [[100, 1], [100, 2], [100, 3], [101, 2], [101, 9999]]}',
    '{"change": "Remove", "interactions": [[100, 2]]}',
    'not json at all',
    '{"change": "Remove", "interactions": [[424242, 1]]}',
    '{"change": "Add", "interactions": [[102, 1], [102, 9999], [102, 3]]}',
    '{"change": "Remove", "interactions": [[101, 2], [101, 9999]]}',
    '{"change": "Add", "interactions": [[-1, 2]]}',
    '',
    '{"change": "Remove", "interactions": [[100, 1], [100, 3]]}',
]) + "\n"


@pytest.mark.parametrize("extra", [["--store", "dense"], ["--store", "sparse", "--emit", "H,n,C,S"]], ids=["dense", "sparse"])
def test_the_stream_on_the_cluster_writes_the_in_process_streams_bytes(cluster, extra):
    """`python -m amnesia stream --backend ray --shards 2 --address ADDR`: the same records and the
    same answers to bad lines, byte for byte, as the in-process stream for the same input."""
    root = Path(__file__).parents[1]

    def stream(*flags: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "amnesia", "stream", "--data", "toy", *extra, *flags],
                              input=STREAM_INPUT, capture_output=True, text=True, timeout=180, cwd=root,
                              env={**os.environ, "PYTHONPATH": str(root)})

    local = stream()
    sharded = stream("--backend", "ray", "--shards", "2", "--address", cluster.address)
    assert local.returncode == sharded.returncode == 1, sharded.stderr[-2000:]  # 1: three lines were refused
    assert local.stdout.count("\n") > 50 and local.stderr.count("\n") == 3
    assert sharded.stdout == local.stdout
    assert sharded.stderr == local.stderr


def kill(host, key: str) -> None:
    """Kill a shard host's process and wait until Ray has restarted it (it no longer holds ``key``),
    so the next request certainly meets a shard that lost everything."""
    ray.kill(host, no_restart=False)
    while True:
        try:
            if key not in ray.get(host.keys.remote(), timeout=60):
                return
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
            pass


@pytest.mark.parametrize("pipeline", [1, 8])
def test_a_shard_killed_mid_stream_loses_nothing(cluster, monkeypatch, pipeline):
    """Kill a shard's process between requests, before and after checkpoints: Ray restarts it, it
    loads its checkpoint (or refits its rows before the first one) and replays the changes since;
    every ChangeSet, read and the final fingerprint equal the in-process engine's and a retrain's:
    nothing lost, nothing applied twice. Pipelined (8 changes in flight), the changes sent to the dead
    process are among those replayed."""
    from amnesia.engine import sharded

    monkeypatch.setattr(sharded, "CHECKPOINT_EVERY", 4)
    rng = np.random.default_rng(11)
    pairs = rng.integers(0, 30, size=(300, 2))
    model = ItemCF.fit(pairs, backend="ray", shards=2, pipeline=pipeline)
    local = ItemCF.fit(pairs)
    store = model._store
    victim = store.transport.hosts[1]
    users = iter(range(1000, 2000))
    kills = {1, 2, 6, 9, 13}  # before the first checkpoint (refit), right after one, and later
    for step in range(16):
        if step in kills:
            kill(victim, store.transport.key)
        if step % 3 == 2 and local.users():
            user = local.users()[step % len(local.users())]
            expected, got = local.forget_user(user), model.forget_user(user)
        else:
            user, items = next(users), rng.choice(40, size=5, replace=False).tolist()
            expected, got = local.add_user(user, items), model.add_user(user, items)
        assert changeset_fields(model, got) == changeset_fields(local, expected)
    assert store.version == 16 and len(store._log) == 0 and not store._pending  # checkpointed at 4, 8, 12 and 16
    # a kill before a read: the read is answered after the restore
    kill(victim, store.transport.key)
    assert model.cooccurrences(list(range(40))).tolist() == local.cooccurrences(list(range(40))).tolist()
    assert model.fingerprint() == local.fingerprint() == ItemCF.fit(local.interactions()).fingerprint()
    # (shard, version it restored, version it replayed to): from the fit's input before the first
    # checkpoint, from the last checkpoint after it
    if pipeline == 1:
        assert list(store.restores) == [(1, 0, 1), (1, 0, 2), (1, 4, 6), (1, 8, 9), (1, 12, 13), (1, 16, 16)]
    else:  # a kill is found by the next call to that shard, a read or a pending change: once or more
        assert len(store.restores) >= 6 and all(shard == 1 for shard, _, _ in store.restores)
        # always from a checkpoint (every 4 changes) or the fit, never ahead of the model
        assert all(restored % 4 == 0 and restored <= replayed for _, restored, replayed in store.restores)
        assert store.restores[-1] == (1, 16, 16)
    folder = Path(ray_shards.checkpoint_path(store.transport.key, 1)).parent
    assert folder.is_dir()  # (the cluster's nodes share this machine's temporary folder)
    del model, store
    gc.collect()
    assert not folder.exists()  # a dropped model's checkpoints are deleted with it


def test_a_failed_automatic_checkpoint_leaves_the_accepted_change_whole(cluster, monkeypatch):
    """A checkpoint that fails after a change reached every shard (here: its folder's name is taken by a
    file) had made the change look refused: the model skipped its time step and its new items' slots,
    and the next new item took another's. The change stays accepted; the checkpoint is tried again."""
    from amnesia.engine import sharded

    monkeypatch.setattr(sharded, "CHECKPOINT_EVERY", 2)
    pairs = [(u, i) for u in range(8) for i in range(6) if (u + i) % 3]
    model, local = ItemCF.fit(pairs, backend="ray", shards=2), ItemCF.fit(pairs)
    store = model._store
    blocker = Path(ray_shards.checkpoint_path(store.transport.key, 0)).parent
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    try:
        for user, items in ((50, [0, 1]), (51, [2, 777]), (52, [3, 888])):
            assert changeset_fields(model, model.add_user(user, items)) == changeset_fields(local, local.add_user(user, items))
        assert isinstance(model.checkpoint_error, AmnesiaError) and "save" in str(model.checkpoint_error)
        assert "\x1b[" not in str(model.checkpoint_error)  # Ray's terminal colours are taken out
        assert model.time == local.time == 3 and model.items() == local.items()
        assert model.recommend(51) == local.recommend(51) and model.fingerprint() == local.fingerprint()
        assert len(store._log) == 3  # kept: a restarted shard still replays every change since the fit
        blocker.unlink()
        model.add_user(53, [4, 5])  # the 4th change, CHECKPOINT_EVERY after the failed try: tried again, and it works
        assert model.checkpoint_error is None and len(store._log) == 0
    finally:
        if blocker.is_file():  # (a folder once the checkpoint works: the model's drop deletes it)
            blocker.unlink()


def test_a_shard_killed_for_good_fails_at_once_with_the_others_rolled_back(cluster, monkeypatch):
    """ray.kill without a restart: every call had waited RESTART_WAIT (120 s) for a host that would never
    come back, raised Ray's own ActorDiedError, and left the change on the live shards."""
    monkeypatch.setattr(ray_shards, "_hosts", [])  # hosts of its own: the module's pool stays alive for the rest
    monkeypatch.setattr(ray_shards, "DEAD_GRACE", 0.5)
    monkeypatch.setattr(ray_shards, "RESTART_WAIT", 60.0)
    pairs = [(u, i) for u in range(10) for i in range(8) if (u * i) % 3]
    model = ItemCF.fit(pairs, backend="ray", shards=2)
    store = model._store
    user = 4  # H of an even user lives on shard 0, which stays alive
    row = store.transport.run([(0, "user_rows", ([user],))])[0][0].tolist()
    ray.kill(store.transport.hosts[1])
    import time

    started = time.monotonic()
    with pytest.raises(AmnesiaError, match=r"Shard 1's process is gone and was not restarted .* refit it\. The other "
                                           r"shards were rolled back: nothing was changed\."):
        model.forget_user(user)
    assert time.monotonic() - started < 60.0  # given up on the dead host, not waited out
    assert store.transport.run([(0, "user_rows", ([user],))])[0][0].tolist() == row  # shard 0 rolled back
    with pytest.raises(AmnesiaError, match="Shard 1's process is gone"):  # every later call says so at once
        model.recommend(2)
