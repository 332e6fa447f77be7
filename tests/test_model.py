"""Unit tests of ItemCF with exact expected values (the original Amnesia demo world)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amnesia import AmnesiaError, ItemCF, RequestError, UnknownUserError

# The original demo's starting world (amnesia-demo, morechanges.json at time 0).
DEMO = [(0, 0), (0, 1), (0, 2), (0, 4), (1, 1), (1, 2), (2, 0), (2, 1), (2, 3), (3, 1), (3, 3)]
ITEMS = [0, 1, 2, 3, 4]


@pytest.fixture
def demo() -> ItemCF:
    return ItemCF.fit(DEMO)


def test_fit_computes_exact_counts_cooccurrences_and_similarities(demo):
    assert demo.users() == [0, 1, 2, 3]
    assert demo.items() == ITEMS
    assert demo.counts(ITEMS).tolist() == [2, 4, 2, 2, 1]
    assert demo.cooccurrences(ITEMS).tolist() == [
        [2, 2, 1, 1, 1],
        [2, 4, 2, 2, 1],
        [1, 2, 2, 0, 1],
        [1, 2, 0, 2, 0],
        [1, 1, 1, 0, 1],
    ]
    s = demo.similarities(ITEMS)
    assert s[1, 0] == 0.5 and s[2, 0] == 1 / 3 and s[3, 0] == 1 / 3 and s[4, 0] == 0.5
    assert s[2, 1] == 0.5 and s[3, 1] == 0.5 and s[4, 1] == 0.25 and s[4, 2] == 0.5
    assert s[3, 2] == 0.0 and np.allclose(np.diag(s), 1.0)
    assert demo.history_matrix([0, 1, 2, 3], ITEMS).tolist() == [
        [1, 1, 1, 0, 1],
        [0, 1, 1, 0, 0],
        [1, 1, 0, 1, 0],
        [0, 1, 0, 1, 0],
    ]
    assert demo.time == 0 and demo.num_interactions() == 11


def test_forget_user_matches_the_original_demo_and_a_retrain(demo):
    changes = demo.forget_user(1)
    assert changes.time == 1 and changes.change == "Remove"
    assert changes.interactions_dict() == {(1, 1): -1, (1, 2): -1}
    assert changes.counts_dict() == {1: (4, 3), 2: (2, 1)}
    assert demo.cooccurrence_changes(changes).as_dict() == {(2, 1): (2, 1)}
    # exactly the similarity changes of the original demo's time 1, consolidated
    assert demo.similarity_changes(changes).as_dict() == {
        (1, 0): (0.5, 2 / 3),
        (2, 0): (1 / 3, 0.5),
        (2, 1): (0.5, 1 / 3),
        (3, 1): (0.5, 2 / 3),
        (4, 1): (0.25, 1 / 3),
        (4, 2): (0.5, 1.0),
    }
    remaining = [p for p in DEMO if p[0] != 1]
    assert demo.fingerprint() == ItemCF.fit(remaining).fingerprint()
    assert changes.seconds > 0


def test_fingerprint_is_order_independent_and_sensitive():
    a = ItemCF.fit(DEMO)
    b = ItemCF.fit(list(reversed(DEMO)) + DEMO[:3])  # order and duplicates do not matter
    c = ItemCF()
    for pair in reversed(DEMO):
        c.add([pair])
    assert a.fingerprint() == b.fingerprint() == c.fingerprint()
    assert len(a.fingerprint()) == 64
    assert ItemCF.fit(DEMO[:-1]).fingerprint() != a.fingerprint()
    assert ItemCF.fit([(9, i) for _, i in DEMO]).fingerprint() != a.fingerprint()  # H matters, not just n


def test_fit_accepts_a_dataframe_and_rejects_bad_columns():
    frame = pd.DataFrame(DEMO, columns=["user", "item"])
    assert ItemCF.fit(frame).fingerprint() == ItemCF.fit(DEMO).fingerprint()
    with pytest.raises(RequestError, match=r"needs 'user' and 'item' columns; missing \['item'\]"):
        ItemCF.fit(pd.DataFrame({"user": [1]}))
    with pytest.raises(RequestError, match="Column 'item' must hold integer ids, not float64"):
        ItemCF.fit(pd.DataFrame({"user": [1], "item": [1.5]}))


def test_item_whose_count_falls_to_zero_has_similarity_zero(demo):
    demo.forget_user(0)  # item 4 was only user 0's
    assert demo.count(4) == 0
    assert 4 not in demo.items()
    assert demo.similarities([4, 1]).tolist() == [[0.0, 0.0], [0.0, 1.0]]
    assert not np.isnan(demo.similarities(ITEMS)).any()
    assert demo.similar_items(4) == []
    assert demo.similarity(4, 4) == 0.0


def test_adding_an_existing_interaction_changes_nothing_but_takes_a_time(demo):
    before = demo.fingerprint()
    changes = demo.add([(0, 0), (1, 1)])
    assert changes.is_empty and changes.time == 1 and demo.time == 1
    assert changes.counts_dict() == {} and len(demo.cooccurrence_changes(changes)) == 0
    assert demo.fingerprint() == before


def test_add_user_with_new_items_grows_the_catalog(demo):
    changes = demo.add_user(7, [4, 99, 3])
    assert changes.counts_dict() == {3: (2, 3), 4: (1, 2), 99: (0, 1)}
    assert demo.cooccurrence_changes(changes).as_dict() == {(4, 3): (0, 1), (99, 3): (0, 1), (99, 4): (0, 1)}
    assert demo.history(7) == [3, 4, 99]
    assert demo.similarity(99, 4) == 0.5
    assert demo.fingerprint() == ItemCF.fit(DEMO + [(7, 4), (7, 99), (7, 3)]).fingerprint()


def test_adding_items_to_a_known_user_moves_pairs_with_their_old_items(demo):
    changes = demo.add([(3, 0)])
    assert demo.cooccurrence_changes(changes).as_dict() == {(1, 0): (2, 3), (3, 0): (1, 2)}


def test_multi_user_request_consolidates_shared_pairs(demo):
    changes = demo.remove([(0, 1), (0, 2), (1, 1), (1, 2)])
    assert demo.cooccurrence_changes(changes).as_dict() == {
        (1, 0): (2, 1),
        (2, 0): (1, 0),
        (2, 1): (2, 0),
        (4, 1): (1, 0),
        (4, 2): (1, 0),
    }
    assert changes.touched_users == (0, 1)


@pytest.mark.parametrize(
    "request_, message",
    [
        ({"change": "Remove", "interactions": [[1, 1], [1, 3]]},
         r"an interaction that does not exist: \[1, 3\]\. Nothing was changed"),
        ({"change": "Remove", "interactions": [[9, 0]]}, r"an interaction that does not exist: \[9, 0\]"),
        ({"change": "Remove", "interactions": [[9, 0], [9, 1]]},
         r"Cannot remove 2 interactions that do not exist: \[9, 0\], \[9, 1\]\."),
        ({"change": "Remove", "interactions": [[0, 77]]}, r"does not exist: \[0, 77\]"),
        ("{not json", "not valid JSON"),
        ({"change": "Delete", "interactions": []}, 'must be "Add" or "Remove"'),
        ({"change": "Add", "interactions": [[1, -2]]}, r"interactions\[0\]: item id -2 is out of range"),
    ],
)
def test_rejected_requests_change_nothing(demo, request_, message):
    before, time = demo.fingerprint(), demo.time
    with pytest.raises(RequestError, match=message):
        demo.apply(request_)
    assert demo.fingerprint() == before and demo.time == time


def test_rejected_request_in_a_fork_changes_nothing(demo):
    fork = demo.fork()
    fork.forget_user(2)
    before = fork.fingerprint()
    with pytest.raises(RequestError):
        fork.remove([(0, 0), (2, 0)])  # user 2 no longer has item 0
    assert fork.fingerprint() == before


def test_forget_unknown_user_explains(demo):
    with pytest.raises(UnknownUserError, match="User 42 has no interactions, so there is nothing to forget"):
        demo.forget_user(42)
    with pytest.raises(AmnesiaError):
        demo.forget_user(True)
    with pytest.raises(RequestError, match="needs at least one item; the selection is empty"):
        demo.add_user(5, [])
    assert issubclass(AmnesiaError, ValueError)


def test_recommend_and_similar_items_exact(demo):
    recs = demo.recommend(1, k=10)
    # user 1 saw items 1, 2: score_j = S_1j + S_2j
    assert recs == [(0, 0.5 + 1 / 3), (4, 0.25 + 0.5), (3, 0.5)]
    assert (recs[0].item, recs[0].score) == (0, 0.5 + 1 / 3)
    assert demo.explain(1, 0) == [(1, 0.5), (2, 1 / 3)] and demo.explain(1, 4) == [(2, 0.5), (1, 0.25)]
    assert demo.explain(1, 3) == [(1, 0.5)]  # Titanic (2) shares no viewer with item 3
    assert demo.similar_items(1, k=3) == [(0, 0.5), (2, 0.5), (3, 0.5)]  # ties: smaller id first
    assert demo.similar_items(1, k=10)[-1] == (4, 0.25)
    with pytest.raises(UnknownUserError):
        demo.recommend(42)


def test_forks_are_isolated_in_both_directions(demo):
    base_print = demo.fingerprint()
    left, right = demo.fork(), demo.fork()
    left.forget_user(1)
    right.add_user(9, [0, 3])
    assert demo.fingerprint() == base_print
    assert left.fingerprint() == ItemCF.fit([p for p in DEMO if p[0] != 1]).fingerprint()
    assert right.fingerprint() == ItemCF.fit(DEMO + [(9, 0), (9, 3)]).fingerprint()
    assert 9 not in left.users() and 1 in right.users()
    # a change to the parent after forking never reaches the existing forks
    demo.forget_user(3)
    assert left.history(3) == [1, 3] and right.cooccurrence(3, 1) == 2
    assert demo.fingerprint() == ItemCF.fit([p for p in DEMO if p[0] != 3]).fingerprint()


def test_fork_memory_is_proportional_to_its_changes():
    rng = np.random.default_rng(1)
    pairs = np.unique(np.column_stack([rng.integers(0, 300, 20_000), rng.integers(0, 2_000, 20_000)]), axis=0)
    base = ItemCF.fit(pairs)
    fork = base.fork()
    assert fork.nbytes() == 0
    for user in base.users()[:10]:
        fork.forget_user(user)
    assert 0 < fork.nbytes() < 100_000  # the overlay, not a copy of the 8 MB C
    assert base.nbytes() > 7_000_000


def test_counts_overflow_widens_cooccurrence_dtype():
    model = ItemCF.fit([(u, 0) for u in range(65_535)] + [(u, 1) for u in range(65_535)])
    model.add([(70_000, 0), (70_000, 1)])
    assert model.count(0) == 65_536 and model.cooccurrence(0, 1) == 65_536
    model.forget_user(70_000)
    assert model.cooccurrence(1, 0) == 65_535


def test_empty_model_starts_before_time_zero():
    model = ItemCF()
    assert model.time == -1 and model.users() == [] and model.items() == []
    assert model.apply({"change": "Add", "interactions": []}).time == 0
    assert model.fingerprint() == ItemCF.fit([]).fingerprint()


def test_a_changeset_read_after_later_requests_still_says_what_it_changed():
    # A ChangeSet keeps the change in internal indices and works out ids when first read: later
    # requests (new items extend the index, the user comes back with other items) must not move it.
    model = ItemCF.fit([(1, 30), (1, 20), (2, 20), (2, 10)])
    forgotten = model.forget_user(1)
    model.add_user(1, [99, 98, 10])
    model.forget_user(2)
    assert forgotten.change == "Remove" and forgotten.touched_users == (1,) and not forgotten.is_empty
    assert forgotten.users.tolist() == [1, 1] and forgotten.items.tolist() == [20, 30] and forgotten.sign.tolist() == [-1, -1]
    assert forgotten.counts_dict() == {20: (2, 1), 30: (1, 0)}
    (change,) = forgotten.user_changes
    assert change.user == 1 and change.changed.tolist() == [20, 30] and change.columns.tolist() == [20, 30]
    assert not forgotten.items.flags.writeable


def test_a_read_changeset_keeps_its_change_once():
    """Read, a ChangeSet lets its internal arrays go (a 1,000-line import of 50,000 users held them twice: +110 MB
    where the bound is 100, tests/test_hardening.py), and says the same about the change as before the read."""
    model = ItemCF.fit([(1, 30), (1, 20), (2, 20), (2, 10)])
    many = model.apply({"change": "Add", "interactions": [[5, 10], [5, 40], [6, 20], [3, 30]]})
    again = model.apply({"change": "Add", "interactions": [[5, 10]]})  # known: accepted, changes nothing
    unread = (many.touched_users, many.is_empty, again.touched_users, again.is_empty)
    assert unread == ((3, 5, 6), False, (), True)
    assert many.interactions_dict() == {(3, 30): 1, (5, 10): 1, (5, 40): 1, (6, 20): 1} and again.users.tolist() == []
    assert (many.touched_users, many.is_empty, again.touched_users, again.is_empty) == unread
    assert all(getattr(change, name) is None for change in (many, again)
               for name in ("_ids", "_parts", "_count_index", "_count_old", "_count_new"))
    assert many.counts_dict() == {10: (1, 2), 20: (2, 3), 30: (1, 2), 40: (0, 1)}
    # another wall time (EASE's) keeps the change, read or not: dataclasses.replace would copy the emptied fields
    timed = many.timed(1.5)
    assert timed.seconds == 1.5 and timed.interactions_dict() == many.interactions_dict() and timed.touched_users == (3, 5, 6)


def test_a_changeset_read_by_several_threads_at_once_says_the_same_to_each():
    """The first read empties the internal arrays: a second reader must not be halfway through them (without the
    lock, Python 3.12's cached_property let four threads crash on a 2,000-user change 100 times in 100)."""
    import sys
    import threading

    from amnesia.engine.changes import ChangeSet

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as CPython can
    try:
        rng = np.random.default_rng(3)
        ids = np.arange(500, dtype=np.int64) * 7
        parts = [(user, np.sort(rng.choice(500, 5, replace=False)), np.sort(rng.choice(500, 5, replace=False)))
                 for user in range(2_000)]
        expected = None
        for trial in range(20):
            change = ChangeSet.from_internal(trial, 0.0, "Add", ids, parts, np.arange(500), np.zeros(500), np.ones(500))
            start, answers = threading.Barrier(4), [None] * 4

            def read(k: int, change=change, start=start, answers=answers) -> None:
                start.wait()
                try:
                    answers[k] = (change.users.sum(), change.count_old.sum(), change.touched_users[-1], change.is_empty)
                except Exception as error:  # noqa: BLE001 - the failure is the finding
                    answers[k] = repr(error)

            threads = [threading.Thread(target=read, args=(k,)) for k in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            expected = expected or answers[0]
            assert answers == [expected] * 4, answers
    finally:
        sys.setswitchinterval(interval)


def test_the_one_user_changeset_equals_the_general_one():
    # One user whose changed items are the items whose n moved takes a shortcut (one sort serves
    # every array); the same change with an empty second part goes the general way.
    from amnesia.engine.changes import ChangeSet

    rng = np.random.default_rng(5)
    ids = rng.permutation(1_000)[:300].astype(np.int64)  # internal index -> id, not sorted
    for trial in range(20):
        columns = np.sort(rng.choice(300, size=40, replace=False)).astype(np.int64)
        changed = columns if trial % 2 else np.sort(rng.choice(columns, size=15, replace=False))
        old = rng.integers(1, 50, len(changed))
        new = old - 1 if trial % 2 else old + 1
        kind = "Remove" if trial % 2 else "Add"
        one = ChangeSet.from_internal(trial, 0.0, kind, ids, [(7, changed, columns)], changed, old, new)
        general = ChangeSet.from_internal(trial, 0.0, kind, ids, [(7, changed, columns), (8, changed[:0], changed[:0])],
                                          changed, old, new)
        for name in ("users", "items", "sign", "count_items", "count_old", "count_new"):
            assert np.array_equal(getattr(one, name), getattr(general, name)), name
        assert one.items.tolist() == sorted(ids[changed].tolist())
        assert [c.columns.tolist() for c in one.user_changes] == [general.user_changes[0].columns.tolist()]
        assert one.user_changes[0].changed.tolist() == general.user_changes[0].changed.tolist()
