"""History: checkpointed replay to any past time, windows of the past, the request log, records."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amnesia import APP_LIMITS, CLI_LIMITS, ItemCF, LimitError, RequestError
from amnesia.dashboard.history import CHECKPOINT_EVERY, History
from amnesia.engine.requests import parse_request_log
from amnesia.dashboard.workspace import Workspace, shared_base
from amnesia.records import COLLECTIONS
from amnesia.stream import run_stream


@pytest.fixture(scope="module")
def toy():
    return shared_base("toy")


def _busy(toy, changes: int) -> Workspace:
    """A workspace with ``changes`` alternating adds and forgets of one user."""
    space = Workspace(*toy)
    for k in range(changes):
        if k % 2 == 0:
            space.add_user(f"U{k}", typed="toy story\ntitanic" if k % 4 == 0 else "the godfather")
        else:
            space.forget_user(space.log[-1].change.touched_users[0])
    return space


@settings(max_examples=15, deadline=None)
@given(changes=st.integers(0, 3 * CHECKPOINT_EVERY + 2), at=st.integers(-2, 3 * CHECKPOINT_EVERY + 5))
def test_model_at_any_time_equals_a_replay_from_the_start(toy, changes, at):
    space = _busy(toy, changes)
    expected = space.base.fork()
    for entry in space.log[: max(0, min(at, changes))]:
        expected.apply(entry.request)
    past = space.history.model_at(at)
    assert past.fingerprint() == expected.fingerprint()
    assert past.time == max(0, min(at, changes))
    assert space.history.replays_to(at) <= CHECKPOINT_EVERY - 1
    past.apply({"change": "Add", "interactions": [[99, 0]]})  # a fresh fork: the history is untouched
    assert space.history.model_at(at).fingerprint() == expected.fingerprint()


def test_entries_must_be_consecutive(toy):
    space = _busy(toy, 1)
    history = History(space.base)
    with pytest.raises(ValueError, match="expected time 1, got 5"):
        history.append(space.log[0].__class__(**{**space.log[0].__dict__, "time": 5}), space.model)


def test_windows_of_the_past_are_the_logged_ones(toy):
    space = _busy(toy, 3)
    window, entry = space.history.window_at(2)
    assert entry is space.log[1] and window is space.log[1].after
    window, entry = space.history.window_at(0)
    assert entry is None and window is space.log[0].before
    # the starting data is shown in the first change's window: its caption says so, not "this change"
    caption = space.window_caption(window, 0)
    assert caption.startswith(f"Before any change (the window of {space.log[0].label}). ")
    assert not space.window_caption(space.log[0].after, 1).startswith("Before any change")
    assert space.history.window_at(99)[1] is space.log[-1]
    with pytest.raises(ValueError, match="the log is empty"):
        Workspace(*toy).history.window_at(0)


def test_the_request_log_replays_on_the_stream_to_the_same_model(toy):
    space = _busy(toy, 5)
    space.apply_json('{"change": "Add", "interactions": [[0, 0]]}')  # a no-op keeps its time step
    text = "".join(space.history.request_lines())
    stream = ItemCF.fit(toy[0].interactions)
    out, err = io.StringIO(), io.StringIO()
    run_stream(stream, io.StringIO(text), out, err)
    assert err.getvalue() == "" and stream.time == space.model.time == 6
    assert stream.fingerprint() == space.model.fingerprint()


def test_parse_request_log_names_the_bad_line():
    good = '{"change": "Add", "interactions": [[1, 2]]}'
    assert [r.change for r in parse_request_log(f"{good}\n\n{good}\n", APP_LIMITS)] == ["Add", "Add"]
    with pytest.raises(RequestError, match="^Line 3 of the request log: The request is not valid JSON"):
        parse_request_log(f"{good}\n\nnope", APP_LIMITS)
    with pytest.raises(LimitError, match="^Line 1 of the request log: The request is nested 3,000 levels deep") as raised:
        parse_request_log("[" * 3000, APP_LIMITS)
    assert (raised.value.limit, raised.value.seen) == ("nesting", 3000)
    with pytest.raises(LimitError, match="The log has at least 3 requests; the limit is 2"):
        parse_request_log(f"{good}\n{good}\n{good}", APP_LIMITS.replace(log_lines=2))
    assert len(parse_request_log(f"{good}\n" * 1500, CLI_LIMITS)) == 1500


def test_records_table_names_users_and_titles_and_filters(toy):
    space = Workspace(*toy)
    space.add_user("Maya", typed="titanic")
    space.forget_user(0)
    table, total = space.history.records_table(space.catalog)
    assert total == len(list(space.history.window_records())) == len(table)
    assert table.iloc[0].tolist() == [1, "interactions", "+1", "watched", "Maya (#4) × Titanic (1997) (#2)"]
    assert not table.isna().any().any()
    only, _ = space.history.records_table(space.catalog, ["item_interactions_n"], (2, 2), item=4)
    assert only.values.tolist() == [[2, "item_interactions_n", "-1", "1", "Finding Nemo (2003) (#4)"]]
    assert set(table["collection"]) == set(COLLECTIONS)
    # toy windows are the whole world: the window records are the full stream
    full = [r for entry in space.log for r in _full(space, entry.time)]
    assert list(space.history.window_records()) == full


def _full(space: Workspace, time: int):
    from amnesia.records import change_records

    model = space.history.model_at(time - 1)
    return list(change_records(model, model.apply(space.history.entry_at(time).request)))
