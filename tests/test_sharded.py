"""C's rows split by item over shards in this process (``ItemCF.fit(..., shards=W)``): the
partition, the per-shard layout and memory, and a request that one shard fails leaves every
shard as it was. The conformance suite (test_properties) runs sharded stores too; Ray's: test_ray_backend."""

from __future__ import annotations

import numpy as np
import pytest

from amnesia import ItemCF
from amnesia.engine.model import _user_rows
from amnesia.engine.requests import interaction_pairs
from amnesia.engine.rowstore import RowStore, owners, partition
from amnesia.errors import AmnesiaError


def synthetic(users: int = 300, items: int = 200, seed: int = 0) -> np.ndarray:
    """Pairs with a popularity skew, as real catalogs have (a few items in most histories)."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, items + 1) ** 0.8
    lengths = rng.integers(2, 40, size=users)
    return np.array([(u, int(i)) for u in range(users)
                     for i in rng.choice(items, size=lengths[u], replace=False, p=popularity / popularity.sum())])


def test_the_partition_balances_the_fitting_work():
    _, ids, user_ptr, user_items = _user_rows(interaction_pairs(synthetic()))
    lengths = np.diff(user_ptr)
    row_work = np.bincount(user_items, weights=np.repeat(lengths, lengths), minlength=len(ids))
    for shards in (2, 3, 5):
        bounds = partition(user_ptr, user_items, len(ids), shards)
        assert bounds[0] == 0 and bounds[-1] == len(ids) and (np.diff(bounds) > 0).all()
        work = np.add.reduceat(row_work, bounds[:-1])
        # contiguous ranges: each within one row's work of an equal share
        assert np.abs(work - row_work.sum() / shards).max() <= row_work.max()
        # items added later go round the shards by index
        assert owners(np.arange(len(ids), len(ids) + 6), bounds, len(ids), shards).tolist() == [
            (len(ids) + k) % shards for k in range(6)]


@pytest.mark.parametrize("layout", ["dense", "sparse"])
def test_shards_together_hold_what_one_store_holds(layout):
    pairs = synthetic()
    single = ItemCF.fit(pairs, store=layout)
    sharded = ItemCF.fit(pairs, store=layout, shards=3)
    assert sharded.store_kind == layout and sharded.shard_kinds == [layout] * 3
    assert sharded.fingerprint() == single.fingerprint()
    # n is kept by every shard and C once: about the single store's bytes
    assert single.nbytes() <= sharded.nbytes() <= 1.3 * single.nbytes()
    assert sharded.stored_entries() == single.stored_entries()


def test_a_change_one_shard_fails_is_rolled_back_on_the_others(monkeypatch):
    pairs = synthetic()
    model = ItemCF.fit(pairs, shards=3)
    before, counts = model.fingerprint(), model.counts(model.items()).tolist()
    failing = model._store.transport.stores[2]

    def out_of_memory(change):
        raise MemoryError("no room for the new rows")

    monkeypatch.setattr(failing, "apply", out_of_memory)
    with pytest.raises(AmnesiaError, match="Shard 2 could not apply the change .*no room.*nothing was changed"):
        model.forget_user(5)
    with pytest.raises(AmnesiaError, match="Shard 2"):
        model.add_user(999, [0, 1, 2, 5000])
    monkeypatch.undo()
    # shards 0 and 1 applied and undid each change: every shard equals the fitted model again
    assert model.counts(model.items()).tolist() == counts
    assert model.fingerprint() == before
    model.forget_user(5)
    assert model.fingerprint() == ItemCF.fit(pairs[pairs[:, 0] != 5]).fingerprint()


def test_a_shard_answers_only_for_its_rows():
    _, ids, user_ptr, user_items = _user_rows(interaction_pairs(synthetic()))
    from amnesia.engine.store import transpose

    bounds = partition(user_ptr, user_items, len(ids), 2)
    shard = RowStore.fit_shard(transpose(user_ptr, user_items, len(ids)), len(ids), 1, bounds, "dense")
    with pytest.raises(ValueError, match="shard 1 was asked for rows it does not own"):
        shard.block(np.array([0]))


def test_histories_live_in_the_shards_by_user_and_a_forgotten_one_leaves():
    pairs = synthetic()
    model = ItemCF.fit(pairs, shards=3)
    stores = model._store.transport.stores
    assert model._base_rows == {} and len(model._rows) == 0  # no H in the model itself
    for me, store in enumerate(stores):
        assert sorted(store._histories) == [u for u in sorted(set(pairs[:, 0].tolist())) if u % 3 == me]
    model.add_user(7, [0, 1, 2, 5000])
    model.forget_user(8)
    assert 8 not in stores[8 % 3]._histories and model.history(8) == [] and 8 not in model.users()
    assert model.history(7) == sorted(set(pairs[pairs[:, 0] == 7, 1].tolist()) | {0, 1, 2, 5000})
    assert len(model._rows) == 0 and model.num_users() == len(model.users()) == len(set(pairs[:, 0].tolist())) - 1
    rest = np.vstack([pairs[pairs[:, 0] != 8], [[7, 0], [7, 1], [7, 2], [7, 5000]]])
    assert model.fingerprint() == ItemCF.fit(rest).fingerprint()


def test_a_pipelined_change_a_shard_refuses_leaves_the_model_unusable_and_says_so(monkeypatch):
    pairs = synthetic()
    model = ItemCF.fit(pairs, shards=2, pipeline=4)
    local = ItemCF.fit(pairs)
    for user in (5, 6, 7):  # accepted without waiting: the same answers as in one process
        assert model.forget_user(user).interactions_dict() == local.forget_user(user).interactions_dict()
    assert model.fingerprint() == local.fingerprint()

    def out_of_memory(change, version):
        raise MemoryError("no room")

    monkeypatch.setattr(model._store.transport.stores[1], "apply_at", out_of_memory)
    for user in (8, 9, 10):  # accepted: a refusal is known when its change is settled, 4 changes later
        model.forget_user(user)
    with pytest.raises(AmnesiaError, match="Shard 1 could not apply change 4 .*no room.* after it was accepted .*Refit"):
        model.forget_user(11)
    with pytest.raises(AmnesiaError, match="Shard 1 could not apply change 4"):
        model.cooccurrences([0, 1])


def test_pipeline_needs_shards():
    from amnesia.errors import ArgumentError

    with pytest.raises(ArgumentError, match="pipeline must be a whole number from 1"):
        ItemCF.fit([(0, 1)], shards=2, pipeline=0)
    with pytest.raises(ArgumentError, match="pass it with shards= or backend='ray'"):
        ItemCF.fit([(0, 1)], pipeline=4)


class _Died(Exception):
    """A shard process that died, as a transport reports it (Ray's RayActorError in the Ray backend)."""


class _TaskFailed(Exception):
    """A call that ran and raised (Ray's RayTaskError, whose ``cause`` is what the shard raised)."""

    def __init__(self, cause: BaseException):
        super().__init__("ray::ShardHost.restore() (pid=1, ip=127.0.0.1)")
        self.cause = cause


@pytest.mark.parametrize("failure, message", [
    (_Died(), r"Shard 1's process is gone and was not restarted \(_Died\): its rows are lost to this model; refit it\."),
    (MemoryError(), r"Shard 1's process was restarted but could not load its rows back \(MemoryError: MemoryError\); "
                    r"refit the model\."),
    (_TaskFailed(FileNotFoundError("the checkpoint of shard 1 is gone from /tmp/x; refit the model")),
     r"restarted but could not load its rows back \(FileNotFoundError: the checkpoint of shard 1 is gone from /tmp/x"),
], ids=["gone", "no text", "what the shard raised"])
def test_a_shard_that_cannot_be_restored_says_why_and_leaves_the_model_unusable(failure, message):
    """A restore that failed was reported as "process gone" with Ray's header line for a reason (the shard's
    own FileNotFoundError lost), and one whose error had no text escaped as an IndexError."""
    model = ItemCF.fit([(u, i) for u in range(12) for i in range(8) if (u * i) % 3], shards=2)
    transport = model._store.transport
    real_collect, calls = transport.collect, []

    def collect(submitted):
        calls.append(1)
        return [_Died() if len(calls) == 1 and shard == 1 else r for shard, r in enumerate(real_collect(submitted))]

    def restore(shard):
        raise failure

    transport.collect, transport.restore = collect, restore
    transport.lost = lambda error: isinstance(error, _Died)
    with pytest.raises(AmnesiaError, match=message):
        model.fingerprint()
    with pytest.raises(AmnesiaError, match=message):  # and every later call, at once
        model.recommend(1)
