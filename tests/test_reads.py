"""Every public read of the model checks its arguments: an AmnesiaError that says what to pass,
never a raw Python error or a silent wrong answer, and nothing changes (adversarial test, 2026-12-03:
``similar_items(2**70)`` raised OverflowError, ``k=-1`` returned all but the last item,
``similarities([1.5])`` read item 1)."""

from __future__ import annotations

import numpy as np
import pytest

from amnesia import AmnesiaError, ItemCF
from amnesia.engine.arguments import MAX_CELLS
from amnesia.errors import ArgumentError

DEMO = [(0, 0), (0, 1), (0, 3), (1, 1), (1, 2), (2, 0), (2, 2), (2, 4), (3, 1), (3, 3)]
BAD_IDS = [2**70, -1, 2**31, "x", "3", 1.5, 1.0, None, True, [1], (1,), {1: 2}, np.float64(2.0)]
BAD_COUNTS = [-1, "3", 2.5, None, True, 2**70, [3]]
BAD_LISTS = ["abc", b"12", 5, None, {1: 2}, [1.5], [2**70], [-1], [True], [[1]], np.array([1.5]), np.array([[1, 2]])]

# every public read, with the arguments that make it valid (`None` marks the argument under test)
READS = {
    "history": lambda m, x: m.history(x),
    "history_length": lambda m, x: m.history_length(x),
    "count": lambda m, x: m.count(x),
    "cooccurrence": lambda m, x: m.cooccurrence(x, 0),
    "cooccurrence (b)": lambda m, x: m.cooccurrence(0, x),
    "similarity": lambda m, x: m.similarity(x, 0),
    "similarity (b)": lambda m, x: m.similarity(0, x),
    "recommend": lambda m, x: m.recommend(x),
    "explain": lambda m, x: m.explain(x, 0),
    "explain (item)": lambda m, x: m.explain(0, x),
    "similar_items": lambda m, x: m.similar_items(x),
    "forget_user": lambda m, x: m.forget_user(x),
}
COUNTED = {
    "recommend k": lambda m, k: m.recommend(0, k=k),
    "similar_items k": lambda m, k: m.similar_items(0, k=k),
    "explain n": lambda m, n: m.explain(0, 1, n=n),
}
LISTED = {
    "counts": lambda m, xs: m.counts(xs),
    "cooccurrences": lambda m, xs: m.cooccurrences(xs),
    "cooccurrences (columns)": lambda m, xs: m.cooccurrences([0, 1], xs),
    "similarities": lambda m, xs: m.similarities(xs),
    "similarities (columns)": lambda m, xs: m.similarities([0, 1], xs),
    "history_matrix (users)": lambda m, xs: m.history_matrix(xs, [0, 1]),
    "history_matrix (items)": lambda m, xs: m.history_matrix([0, 1], xs),
    "similarity_rows": lambda m, xs: m.similarity_rows(xs),
    "read_cost": lambda m, xs: m.read_cost(xs),
    "cooccurrence_pairs": lambda m, xs: m.cooccurrence_pairs(xs, [0]),
    "cooccurrence_pairs (b)": lambda m, xs: m.cooccurrence_pairs([0], xs),
    "neighbour_lists": lambda m, xs: m.neighbour_lists(xs),
}
NO_ARGUMENTS = {"users", "items", "num_users", "num_items", "num_interactions", "interactions", "fingerprint", "nbytes",
                "retrained", "cooccurrence_entries", "store_kind", "shard_kinds", "checkpoint_error", "lists_error", "live_items", "stored_entries", "neighbours", "scoring",
                "checkpoint"}  # checkpoint: Ray-sharded models only (tests/test_ray_backend.py), an ArgumentError elsewhere
CHANGES = {"add", "add_user", "apply", "remove", "fit", "layout_for", "fork", "with_neighbours"}  # requests, checked by amnesia.engine.requests
CHANGESETS = {"cooccurrence_changes", "similarity_changes"}
LIST_STATES = {"neighbour_state", "neighbour_changes"}  # the neighbour lists before a change, and what it changed


def test_every_public_read_is_covered_here():
    """A new public method must be added to one of the tables above (and so be tested)."""
    public = {name for name in dir(ItemCF) if not name.startswith("_")}
    covered = {name.split(" ")[0] for table in (READS, COUNTED, LISTED) for name in table}
    assert public == covered | NO_ARGUMENTS | CHANGES | CHANGESETS | LIST_STATES


def test_list_changes_need_a_model_with_lists_and_its_own_state(model):
    if model.neighbours is None:
        assert "Fit it with neighbours=K" in _refused(model, model.neighbour_state)
    else:
        for junk in (None, {"change": "Add"}, model.fingerprint()):
            assert "Pass what neighbour_state() returned" in _refused(model, lambda: model.neighbour_changes(junk))
        # another model's lists, another K's, or a sibling fork's whose new items took the same internal indices:
        # numpy's broadcast error, an empty diff, or entries under the wrong ids
        sibling = model.fork()
        model.add([(90, 500), (91, 500), (91, 1)])
        sibling.add([(92, 600), (93, 600), (93, 1)])
        for other in (ItemCF.fit([*model.interactions().itertuples(index=False), (94, 700)], neighbours=model.neighbours).neighbour_state(),
                      model.with_neighbours(model.neighbours + 1).neighbour_state(), sibling.neighbour_state()):
            assert _refused(model, lambda: model.neighbour_changes(other)) == (
                f"This state does not belong to this model's lists (K = {model.neighbours}, the same items in the same "
                f"order): pass what this model's neighbour_state() returned before the change.")
        parent_state = model.neighbour_state()
        child = model.fork()
        child.forget_user(child.users()[0])
        assert child.neighbour_changes(parent_state).as_dict()  # a fork's history is this model's: accepted
        def lists(fitted: ItemCF) -> dict:
            return {(a, b): v for a, row in zip(fitted.items(), fitted.neighbour_lists(fitted.items())) for b, v in row}

        old = lists(model.retrained())
        before = model.neighbour_state()
        model.forget_user(0)
        new = lists(model.retrained())
        expected = {key: (old.get(key, 0.0), new.get(key, 0.0)) for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
        assert model.neighbour_changes(before).as_dict() == expected and expected


@pytest.fixture(params=["fitted", "fork", "neighbours"])
def model(request):
    """A fitted model, a fork that changed, and a fork of a model with neighbour lists that changed."""
    base = ItemCF.fit(DEMO, neighbours=2 if request.param == "neighbours" else None)
    if request.param == "fitted":
        return base
    fork = base.fork()
    fork.forget_user(1)
    fork.add_user(7, [0, 4])
    return fork


def _refused(model: ItemCF, call) -> str:
    before = model.fingerprint()
    with pytest.raises(AmnesiaError) as raised:
        call()
    assert model.fingerprint() == before
    return str(raised.value)


@pytest.mark.parametrize("name", list(READS))
@pytest.mark.parametrize("value", BAD_IDS, ids=repr)
def test_bad_ids_are_refused_with_what_to_pass(model, name, value):
    message = _refused(model, lambda: READS[name](model, value))
    assert "id must be an integer from 0 to 2147483647" in message


@pytest.mark.parametrize("name", list(COUNTED))
@pytest.mark.parametrize("value", BAD_COUNTS, ids=repr)
def test_bad_counts_are_refused(model, name, value):
    message = _refused(model, lambda: COUNTED[name](model, value))
    assert "must be an integer from 0 to 2147483647 (how many to return)" in message


@pytest.mark.parametrize(
    "name, value",
    # columns=None means "the same as the items": a valid argument there
    [(name, value) for name in LISTED for value in BAD_LISTS if not (value is None and "(columns)" in name)],
    ids=repr,
)
def test_bad_lists_are_refused(model, name, value):
    message = _refused(model, lambda: LISTED[name](model, value))
    assert "ids" in message or "id must be" in message


@pytest.mark.parametrize("name", sorted(CHANGESETS))
def test_change_reads_need_the_changeset_of_now(model, name):
    _refused(model, lambda: getattr(model, name)({"change": "Add"}))
    changes = model.apply({"change": "Add", "interactions": [[9, 0]]})
    model.apply({"change": "Add", "interactions": [[9, 1]]})
    _refused(model, lambda: getattr(model, name)(changes))  # the model moved on: the old C cannot be derived


def test_good_arguments_still_read_the_same(model):
    """numpy ids and arrays, ranges and tuples are fine; k = 0 asks for nothing."""
    assert model.similar_items(np.int64(1), k=np.int32(2)) == model.similar_items(1, k=2)
    assert model.recommend(0, k=0) == [] and model.similar_items(0, k=0) == []
    assert model.counts(range(3)).tolist() == model.counts(np.array([0, 1, 2])).tolist() == model.counts((0, 1, 2)).tolist()
    assert model.similar_items(0, k=2**31 - 1) == model.similar_items(0, k=100)
    assert model.history(10**9) == [] and model.count(10**9) == 0  # unknown but valid ids read as empty


def test_pairs_of_different_lengths_are_refused(model):
    message = _refused(model, lambda: model.cooccurrence_pairs([0, 1], [0]))
    assert "same length" in message


def test_a_read_too_large_to_build_is_refused_before_it_is_built(model):
    rows = int(MAX_CELLS**0.5) + 1
    with pytest.raises(ArgumentError, match="Ask for fewer items at a time"):
        model.cooccurrences(np.arange(rows))


@pytest.mark.parametrize("out", [np.zeros((2, 3), np.int64), np.zeros((3, 3), np.int64), np.zeros((2, 2), np.float64),
                                 np.zeros((2, 2), np.int16), np.zeros((2, 4), np.int64)[:, ::2], [[0, 0], [0, 0]]],
                         ids=["shape", "rows", "float", "int16", "strided", "list"])
def test_a_buffer_that_cannot_hold_the_block_is_refused(model, out):
    """cooccurrences(..., out=) writes only into a C-contiguous int32/int64 array of the block's shape."""
    message = _refused(model, lambda: model.cooccurrences([0, 1], [2, 3], out=out))
    assert "out must be a C-contiguous int64 or int32 numpy array of shape (2, 2)" in message
    if isinstance(out, np.ndarray):
        assert not out.any()  # nothing written


# EASE's reads, checked the same way (an engineer found them unchecked: explain(1, 1.5) read item 1,
# weights([2**70]) raised OverflowError, verify(k=-1) certified "top-10 equal")
EASE_READS = {
    "scores": lambda m, x: m.scores(x),
    "recommend": lambda m, x: m.recommend(x),
    "explain": lambda m, x: m.explain(x, 0),
    "explain (item)": lambda m, x: m.explain(0, x),
    "is_scored": lambda m, x: m.is_scored(x),
    "history": lambda m, x: m.history(x),
    "history_length": lambda m, x: m.history_length(x),
    "forget_user": lambda m, x: m.forget_user(x),
}
EASE_COUNTED = {
    "recommend k": lambda m, k: m.recommend(0, k=k),
    "explain n": lambda m, n: m.explain(0, 1, n=n),
    "verify k": lambda m, k: m.verify(k=k),
}
EASE_LISTED = {
    "weights": lambda m, xs: m.weights(xs),
    "weights_among": lambda m, xs: m.weights_among(xs),
    "scored_positions": lambda m, xs: m.scored_positions(xs),
    "read_cost": lambda m, xs: m.read_cost(xs),
    "history_matrix (users)": lambda m, xs: m.history_matrix(xs, [0, 1]),
    "history_matrix (items)": lambda m, xs: m.history_matrix([0, 1], xs),
}
EASE_OTHER = {"apply", "fit", "from_counts", "fork", "gram", "refresh", "new_inverse", "inverse", "time", "users",
              "fingerprint", "nbytes", "error"}  # error(probes, seed): its own test below


@pytest.fixture
def ease():
    from amnesia import EASE

    return EASE.fit(DEMO, l2=1.0)


def test_every_public_ease_read_is_covered_here():
    from amnesia import EASE

    public = {name for name in dir(EASE) if not name.startswith("_")}
    covered = {name.split(" ")[0] for table in (EASE_READS, EASE_COUNTED, EASE_LISTED) for name in table}
    assert public == covered | EASE_OTHER


@pytest.mark.parametrize("name", list(EASE_READS))
@pytest.mark.parametrize("value", BAD_IDS, ids=repr)
def test_ease_bad_ids_are_refused_with_what_to_pass(ease, name, value):
    message = _refused(ease, lambda: EASE_READS[name](ease, value))
    assert "id must be an integer from 0 to 2147483647" in message


@pytest.mark.parametrize("name", list(EASE_COUNTED))
@pytest.mark.parametrize("value", BAD_COUNTS, ids=repr)
def test_ease_bad_counts_are_refused(ease, name, value):
    message = _refused(ease, lambda: EASE_COUNTED[name](ease, value))
    assert "must be an integer from 0 to 2147483647 (how many to return)" in message


@pytest.mark.parametrize("name, value", [(name, value) for name in EASE_LISTED for value in BAD_LISTS], ids=repr)
def test_ease_bad_lists_are_refused(ease, name, value):
    message = _refused(ease, lambda: EASE_LISTED[name](ease, value))
    assert "ids" in message or "id must be" in message


def test_ease_weights_refuse_a_repeated_or_unscored_item_and_give_nothing_to_a_user_with_no_scored_item(ease):
    """weights([1, 1]) gave B_11 = -1 beside the documented B_jj = 0; weights([99]) read another item's
    row; a user whose only item is unscored was offered items 0, 1, 2 by id at score -0.0."""
    assert "Item 1 is given more than once; pass each item once." in _refused(ease, lambda: ease.weights([1, 1]))
    assert "Item 99 is not scored by this EASE model" in _refused(ease, lambda: ease.weights([1, 99]))
    assert ease.weights_among([1, 99]).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    ease.apply({"change": "Add", "interactions": [[7, 99]]})
    assert ease.recommend(7, k=3) == []
    assert all(str(r.score) != "-0.0" for user in ease.users() for r in ease.recommend(user, k=5))


@pytest.mark.parametrize("call, message", [
    (lambda: ItemCF.fit(DEMO, store="foo"), "Unknown store layout 'foo'"),
    (lambda: ItemCF.fit(DEMO, store=-3), "Unknown store layout -3"),
    (lambda: ItemCF.fit(DEMO, store=True), "Unknown store layout True"),
    (lambda: ItemCF.fit(DEMO, similarity="pearson"), "Unknown similarity 'pearson'"),
], ids=["name", "negative", "bool", "similarity"])
def test_bad_settings_are_argument_errors(call, message):
    """A bad store was a plain ValueError (missed by code catching the library's errors), -3 was taken
    as an all-sparse store without a word, and a bad measure was the base AmnesiaError."""
    with pytest.raises(ArgumentError, match=message):
        call()


def test_bad_ease_settings_are_argument_errors():
    from amnesia import EASE

    for call in (lambda: EASE.fit(DEMO, l2=0), lambda: EASE.fit(DEMO, min_viewers=0),
                 lambda: EASE.fit(DEMO, items="x")):
        with pytest.raises(ArgumentError):
            call()


@pytest.mark.parametrize("probes, seed, message", [
    (0, 0, "probes must be an integer from 1 to 2147483647 (columns of P to check), got 0."),
    (-1, 0, "probes must be an integer from 1 to 2147483647 (columns of P to check), got -1."),
    ("2", 0, "probes must be an integer from 1 to 2147483647 (columns of P to check), got '2'."),
    (2, -1, "seed must be an integer from 0 to 2147483647 (a seed), got -1."),
    (2, 1.5, "seed must be an integer from 0 to 2147483647 (a seed), got 1.5."),
])
def test_ease_error_checks_at_least_one_column(ease, probes, seed, message):
    """error(probes=0) answered 0.0, "no drift", from no column at all; its messages said "how many to return"."""
    assert _refused(ease, lambda: ease.error(probes, seed)) == message
