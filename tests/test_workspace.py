"""A visitor's workspace: every dashboard flow, without Streamlit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from amnesia import AmbiguousTitleError, AmnesiaError, ItemCF, RequestError, UnknownTitleError
from amnesia.data.datasets import load
from amnesia.dashboard.workspace import Workspace


@pytest.fixture(scope="module")
def toy_base():
    data = load("toy")
    return data, ItemCF.fit(data.interactions)


@pytest.fixture
def space(toy_base):
    return Workspace(*toy_base)


def test_add_user_by_names_and_ids(space, toy_base):
    entry = space.add_user("Maya", items=[4], typed="toy story\n#1\n")
    assert entry.action == "Added Maya with 3 movie(s)"
    assert space.catalog.find_user("maya") == 4 and space.model.history(4) == [0, 1, 4]
    assert entry.changes.counts_dict() == {0: (2, 3), 1: (4, 5), 4: (1, 2)}
    # the window shows every user including Maya, before (zeros) and after
    assert entry.before.users == entry.after.users == (0, 1, 2, 3, 4)
    assert entry.before.history[-1].tolist() == [0, 0, 0, 0, 0]
    assert entry.after.history[-1].tolist() == [1, 1, 0, 0, 1]
    assert entry.after.user_labels[-1] == "Maya"
    base_data, base_model = toy_base
    assert base_model.users() == [0, 1, 2, 3] and base_data.catalog.find_user("Maya") is None


@pytest.mark.parametrize(
    "name, typed, error, message",
    [
        ("Tom", "godfater\nxyzzy qwerty", UnknownTitleError, "No movie matches 'xyzzy qwerty'. Did you mean"),
        ("Tom", "", AmnesiaError, "Pick at least one movie that Tom watched; the selection is empty."),
        ("alice", "toy story", AmnesiaError, "There is already a user called 'alice'; pick another name."),
        ("", "toy story", AmnesiaError, "The user's name is empty"),
    ],
)
def test_bad_additions_change_nothing(space, name, typed, error, message):
    before = space.model.fingerprint()
    with pytest.raises(error) as raised:
        space.add_user(name, typed=typed)
    assert message in str(raised.value)
    assert space.model.fingerprint() == before and space.log == []
    assert space.catalog.find_user("Tom") is None


def test_typo_errors_carry_candidates(toy_base):
    space = Workspace(*toy_base)
    with pytest.raises(UnknownTitleError) as raised:
        space.add_user("Tom", typed="the matrx reloded zzz")
    assert len(raised.value.candidates) == 3 and raised.value.query == "the matrx reloded zzz"
    movielens = load("movielens-small")
    space = Workspace(movielens, ItemCF.fit(movielens.interactions))
    with pytest.raises(AmbiguousTitleError) as ambiguous:
        space.add_user("Tom", typed="psycho")
    assert ambiguous.value.candidates == [(1219, "Psycho (1960)"), (2389, "Psycho (1998)")]


def test_forget_user_removes_name_and_history(space):
    entry = space.forget_user(1)
    assert entry.action == "Forgot Bob (2 movie(s))" and entry.forgotten_user == 1
    assert 1 not in space.model.users() and space.catalog.find_user("Bob") is None
    assert entry.before.user_labels[1] == "Bob"  # the figure still labels the forgotten row
    assert entry.after.history[1].tolist() == [0, 0, 0, 0, 0]
    with pytest.raises(AmnesiaError, match="User 1 has no interactions left to forget"):
        space.forget_user(1)


def test_forget_added_user_and_initial_users_until_a_movie_is_gone(space):
    maya = space.add_user("Maya", typed="finding nemo").changes.touched_users[0]
    space.forget_user(maya)
    space.forget_user(0)  # Alice was the only other one who watched Finding Nemo
    assert space.model.count(4) == 0
    window = space.log[-1].after
    nemo = window.items.index(4)
    assert window.counts[nemo] == 0 and window.similarities[nemo].tolist() == [0.0] * 5
    assert not np.isnan(window.similarities).any()
    assert space.verify().match


def test_raw_requests(space):
    entry = space.apply_json('{"change": "Remove", "interactions": [[1, 1], [1, 2]]}')
    assert entry.action == "Removed 2 interaction(s) (raw request)"
    assert space.catalog.find_user("Bob") is None  # Bob has nothing left: his name goes too
    with pytest.raises(RequestError, match="do not exist: \\[1, 1\\]"):
        space.apply_json('{"change": "Remove", "interactions": [[1, 1]]}')
    with pytest.raises(RequestError, match="not valid JSON"):
        space.apply_json("{oops")
    with pytest.raises(RequestError, match="Item id\\(s\\) 99 are not in the catalog"):
        space.apply_json('{"change": "Add", "interactions": [[7, 99]]}')
    assert len(space.log) == 1


def test_verify_and_time_travel(space):
    space.add_user("Maya", typed="titanic\ngodfather")
    space.forget_user(2)
    result = space.verify()
    assert result.match and result.fingerprint == result.retrained_fingerprint
    assert result.retrain_seconds > 0 and result.last_update_seconds == space.log[-1].changes.seconds
    assert space.model_at(0).fingerprint() == space.base.fingerprint()
    assert space.model_at(1).history(4) == [2, 3] and 2 in space.model_at(1).users()
    assert space.model_at(2).fingerprint() == space.model.fingerprint()


def test_window_records_equal_the_full_stream_on_the_toy_world(space):
    space.add_user("Maya", typed="toy story\nthe matrix")
    space.forget_user(0)
    full = list(space.records())
    assert full == list(space.window_records())
    assert [json.loads(line) for line in space.stream_jsonl().splitlines()] == full
    frame = space.records_frame()
    assert len(frame) == len(full) and set(frame["collection"]) == {
        "interactions", "item_interactions_n", "cooccurrences_c", "similarities_s"
    }


def test_reset_and_isolation_between_visitors(toy_base):
    first, second = Workspace(*toy_base), Workspace(*toy_base)
    first.add_user("Maya", typed="toy story")
    first.forget_user(0)
    assert second.model.users() == [0, 1, 2, 3] and second.catalog.find_user("Maya") is None
    assert second.model.fingerprint() == toy_base[1].fingerprint()
    first.reset()
    assert first.log == [] and first.model.fingerprint() == toy_base[1].fingerprint()
    assert first.catalog.user_name(0) == "Alice"


def test_movielens_window_is_bounded_and_explained():
    data = load("movielens-small")
    space = Workspace(data, ItemCF.fit(data.interactions))
    window = space.current_window()
    assert len(window.items) == 40 and len(window.users) <= 12
    assert window.description.startswith("A focus window of 40 of 9,724 movies")
    entry = space.forget_user(414)  # the heaviest user: 2,698 movies
    assert len(entry.before.items) == 40 and entry.before.users[0] == 414
    assert entry.before.history[0].sum() >= 20  # their most popular movies are in the window
    assert "the most popular 20" in entry.before.description
