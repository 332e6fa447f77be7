"""Figure builders: pure functions of windows; frames, fixed colour scales, marks, size."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from amnesia import ItemCF
from amnesia.data.datasets import load
from amnesia.dashboard.figures import STAGES, state_figure, update_figure
from amnesia.dashboard.views import window_csv
from amnesia.dashboard.workspace import Workspace


@pytest.fixture(scope="module")
def forget_alice():
    data = load("toy")
    space = Workspace(data, ItemCF.fit(data.interactions))
    return space.forget_user(0)


def test_update_figure_has_five_stages_and_play_controls(forget_alice):
    figure = update_figure(forget_alice.before, forget_alice.after, "Forgot Alice")
    assert [frame.name for frame in figure.frames] == list(STAGES)
    assert figure.layout.updatemenus[0].buttons[0].label == "▶ Play"
    play_args = figure.layout.updatemenus[0].buttons[0].args[1]
    assert play_args["frame"]["redraw"] is True  # heatmaps only animate with redraw
    assert [step.label for step in figure.layout.sliders[0].steps] == ["before", "H", "n", "C", "S"]
    assert figure.layout.sliders[0].active == 4
    # every frame trace names its subplot's axes
    for frame in figure.frames:
        assert [(t.xaxis, t.yaxis) for t in frame.data] == [(t.xaxis, t.yaxis) for t in figure.data]


def test_stages_change_one_matrix_at_a_time(forget_alice):
    before, after = forget_alice.before, forget_alice.after
    frames = update_figure(before, after, "x").frames
    h, n, c, s = 0, 1, 2, 3
    assert [list(row) for row in frames[0].data[h].z] == (before.history.tolist())
    assert [list(row) for row in frames[1].data[h].z] == (after.history.tolist())
    assert [list(row) for row in frames[1].data[c].z] == (before.cooccurrences.tolist())
    assert list(frames[2].data[n].y) == after.counts.tolist() and list(frames[1].data[n].y) == before.counts.tolist()
    assert [list(row) for row in frames[3].data[c].z] == (after.cooccurrences.tolist())
    assert [list(row) for row in frames[3].data[s].z] == (before.similarities.tolist())
    assert [list(row) for row in frames[4].data[s].z] == (after.similarities.tolist())
    # colour scales are fixed across frames
    for trace in (h, c, s):
        assert len({(f.data[trace].zmin, f.data[trace].zmax) for f in frames}) == 1
    assert frames[0].data[c].zmax == 4  # max of C before and after (The Matrix: 4 viewers)


def test_changed_cells_are_marked_with_deltas(forget_alice):
    frames = update_figure(forget_alice.before, forget_alice.after, "x").frames
    h_marks = frames[1].data[4]
    assert list(h_marks.y) == ["Alice"] * 4 and list(h_marks.text) == ["−1"] * 4
    assert len(frames[0].data[4].x) == 0  # nothing marked before the change
    c_marks = frames[3].data[5]
    assert len(c_marks.x) == 16  # Alice's 4 movies: 4 x 4 cells of C moved by one
    assert set(c_marks.text) == {"−1"}
    bars = frames[2].data[1]
    assert list(bars.text) == ["2→1", "4→3", "2→1", "", "1→0"]


def test_state_figure_and_csv(forget_alice):
    figure = state_figure(forget_alice.after, "now")
    assert isinstance(figure, go.Figure) and not figure.frames and len(figure.data) == 4
    csv = window_csv(forget_alice.after).splitlines()
    assert csv[0] == "item_a,item_b,title_a,title_b,cooccurrences,similarity"
    assert '1,0,"The Matrix (1999)","Toy Story (1995)",1,0.3333333333333333' in csv
    assert len(csv) == 1 + 10


def test_before_and_after_must_match(forget_alice):
    other = Workspace(load("toy"), ItemCF.fit(load("toy").interactions)).add_user("Z", typed="titanic")
    with pytest.raises(ValueError, match="same users and items"):
        update_figure(forget_alice.before, other.after, "x")


def test_movielens_chart_stays_under_2_mb():
    data = load("movielens-small")
    space = Workspace(data, ItemCF.fit(data.interactions))
    entry = space.forget_user(414)  # the heaviest user
    size = len(update_figure(entry.before, entry.after, "x").to_json())
    assert size <= 2_000_000, size
    assert len(state_figure(space.current_window()).to_json()) <= 2_000_000
