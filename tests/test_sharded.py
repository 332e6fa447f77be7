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
    assert sharded.store_kind == layout
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
