"""How a visitor's model reaches the device: versions per workspace state, bytes only when needed."""

from __future__ import annotations

import json

import pytest

from amnesia.dashboard.workspace import Workspace
from amnesia.data.datasets import load
from amnesia import ItemCF
from amnesia.device.delivery import DeviceChannel, held_version
from amnesia.device.export import build_device_model

RUNTIME = {"source": "local", "base": "runtime/", "files": {}, "version": "test"}


@pytest.fixture
def workspace() -> Workspace:
    data = load("toy")
    return Workspace(data, ItemCF.fit(data.interactions))


@pytest.mark.parametrize(
    ("signal", "expected"),
    [
        (None, (False, None)),
        ({"ready": None}, (True, None)),
        ({"ready": "abc123"}, (True, "abc123")),
        ({"ready": "x" * 65}, (True, None)),
        ({"ready": 7}, (True, None)),
        ("ready", (False, None)),
        ({"picks": [1, 2]}, (False, None)),
    ],
)
def test_the_ready_signal_is_read_defensively(signal, expected):
    assert held_version(signal) == expected


def test_bytes_go_only_to_a_device_that_holds_another_version(workspace):
    channel = DeviceChannel()
    first = channel.render_args(workspace, "toy", None, RUNTIME)
    assert first["model"] is None and first["sidecar"] is None  # nobody said what they hold yet
    version = first["version"]
    empty = channel.render_args(workspace, "toy", {"ready": None}, RUNTIME)
    assert isinstance(empty["model"], bytes) and json.loads(empty["sidecar"])["version"] == version
    assert empty["changes"] == []
    held = channel.render_args(workspace, "toy", {"ready": version}, RUNTIME)
    assert held["model"] is None and held["sidecar"] is None and held["version"] == version
    # the arguments of a rerun are small: no catalogue, no model
    assert len(json.dumps({k: v for k, v in held.items() if k != "runtime"})) < 300


def test_a_forget_makes_a_new_version_and_explains_it(workspace):
    channel = DeviceChannel()
    before = channel.render_args(workspace, "toy", None, RUNTIME)["version"]
    workspace.forget_user(1)  # Bob: The Matrix and Titanic
    args = channel.render_args(workspace, "toy", {"ready": before}, RUNTIME)
    assert args["version"] != before and args["time"] == 1
    sidecar = json.loads(args["sidecar"])
    assert sidecar["fingerprint"] == workspace.model.fingerprint()
    assert sidecar["version"] == args["version"] and sidecar["items"] == workspace.model.items()
    assert len(args["changes"]) == 1
    assert args["changes"][0].startswith("t = 1: Forgot Bob (2 movies). Each of their 2 movies lost one viewer in n")
    assert "the 1 co-occurrence pair among them lost one in C" in args["changes"][0]
    assert "co-occurrences are gone from the table" in args["changes"][0]


def test_reset_and_unknown_versions_are_explained(workspace):
    channel = DeviceChannel()
    start = channel.render_args(workspace, "toy", None, RUNTIME)["version"]
    workspace.forget_user(1)
    forgot = channel.render_args(workspace, "toy", None, RUNTIME)["version"]
    workspace.reset()
    args = channel.render_args(workspace, "toy", {"ready": forgot}, RUNTIME)
    assert args["version"] == start
    assert args["changes"] == ["You reset your changes: the model is back to the shared starting data."]
    stranger = channel.render_args(workspace, "toy", {"ready": "0123456789ab"}, RUNTIME)
    assert "did not build" in stranger["changes"][0]


def test_exports_are_built_once_per_model_state_and_shared_only_while_untouched(workspace):
    built = []

    def shared():
        built.append("shared")
        return build_device_model(workspace.base, 50, workspace.catalog)

    channel = DeviceChannel()
    first = channel.current(workspace, "toy", shared)
    assert channel.current(workspace, "toy", shared) is first and built == ["shared"]
    workspace.add_user("Maya", [0, 3])
    mine = channel.current(workspace, "toy", shared)
    assert built == ["shared"]  # a changed workspace never uses the shared export
    assert mine.version != first.version and mine.sidecar["fingerprint"] == workspace.model.fingerprint()
    assert channel.current(workspace, "toy", shared) is mine


def test_two_visitors_get_their_own_models():
    data = load("toy")
    base = ItemCF.fit(data.interactions)
    first, second = Workspace(data, base), Workspace(data, base)
    first.forget_user(0)
    mine = DeviceChannel().render_args(first, "toy", {"ready": None}, RUNTIME)
    theirs = DeviceChannel().render_args(second, "toy", {"ready": None}, RUNTIME)
    assert mine["version"] != theirs["version"]
    assert json.loads(theirs["sidecar"])["items"] == [0, 1, 2, 3, 4]
    assert json.loads(mine["sidecar"])["items"] == [0, 1, 2, 3]  # Finding Nemo left with Alice
    assert theirs["changes"] == []


def test_a_channel_sends_the_models_own_lists_and_cuts_every_neighbour_to_fifty():
    """DeviceChannel() had cut every model to 50 neighbours: a K = 2 workspace's device ranked from
    another model than the server's. It now sends the model's own K."""
    data = load("toy")
    lists = Workspace(data, ItemCF.fit(data.interactions, neighbours=2, scoring="candidate"))
    assert DeviceChannel().current(lists, "toy").sidecar["neighbours"] == 2
    assert DeviceChannel().current(lists, "toy").sidecar["scoring"] == "candidate"
    every = Workspace(data, ItemCF.fit(data.interactions))
    assert DeviceChannel().current(every, "toy").sidecar["neighbours"] == 50
    assert DeviceChannel(3).current(lists, "toy").sidecar["neighbours"] == 3
