"""Getting a visitor's model to their browser: one export per model state, sent only when needed.

How the bytes travel (the choice, and why):

- The model a device runs is the export of the visitor's own workspace model, versioned by
  its fingerprint (:func:`amnesia.device.export.model_version`). A visitor who changed
  nothing runs the shared starting model; its export holds no visitor data, so it is built
  once per data set and shared. A visitor who changed something gets an export of their own
  fork, built once per (workspace model, logical time) and kept only in their session.
- The bytes go to the component as a bytes argument over the visitor's own WebSocket, never
  through a URL: no other visitor can ask for them, and nothing is written to disk.
- They are sent only when the device says it does not hold the current version. The
  component's one message to the server is a "ready" signal naming the version it holds
  (``{"ready": "<version>"}`` or ``{"ready": null}``); the first render carries no bytes,
  so a device that kept the current version in its browser cache (IndexedDB) is not sent
  them again, and later reruns of the page send a few hundred bytes of arguments, not
  megabytes.
- After a change to the workspace the version differs from the one the device holds, so the
  next render carries the new model together with notes on what changed since that version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..limits import DEVICE_SIGNAL_CHARS
from ..words import count
from .export import DEFAULT_NEIGHBOURS, MODEL_K, DeviceModel, build_device_model

if TYPE_CHECKING:
    from ..dashboard.workspace import LogEntry, Workspace

# K for the page when the visitor's model keeps every neighbour: ≤ 5 MB on MovieLens latest-small; all
# neighbours on small worlds
NEIGHBOURS = DEFAULT_NEIGHBOURS


def held_version(signal: Any) -> tuple[bool, str | None]:
    """Read the component's "ready" signal: ``(said_anything, version it holds or None)``.

    The signal comes from the browser, so anything that is not ``{"ready": <short str or None>}``
    counts as "holds nothing".
    """
    if not isinstance(signal, dict) or "ready" not in signal:
        return False, None
    value = signal["ready"]
    if isinstance(value, str) and 0 < len(value) <= DEVICE_SIGNAL_CHARS:
        return True, value
    return True, None


def change_note(entry: LogEntry) -> str:
    """One sentence on what a logged change did to the similarity table, for the device's panel."""
    changes = entry.changes
    movies = len(changes.count_items)
    if entry.forgotten_user is not None:
        k = len(changes.users)
        pairs = k * (k - 1) // 2
        return (
            f"t = {entry.time}: {entry.action}. Each of their {count(k, 'movie')} lost one viewer in n, and the "
            f"{count(pairs, 'co-occurrence pair')} among them lost one in C: the forgotten user's co-occurrences are "
            f"gone from the table, so the similarities of those movies changed."
        )
    verb = "gained" if changes.change == "Add" else "lost"
    return f"t = {entry.time}: {entry.action}. {count(movies, 'movie')} {verb} viewers, so their counts, co-occurrences and similarities changed."


@dataclass
class DeviceChannel:
    """One visitor's link to their device: the current export and the versions already built.

    Keep one per session (it holds nothing another visitor may see). ``shared`` builds (and
    should cache) the export of the untouched shared model for a data set.
    """

    # the model's own K (its lists, so the device ranks as the server does; NEIGHBOURS for a model without lists),
    # or a K to cut to
    neighbours: int | None | str = MODEL_K
    _model: Any = None  # the workspace model the current export was built from (identity check)
    _time: int | None = None
    _export: DeviceModel | None = None
    _versions: dict[str, int] = field(default_factory=dict)  # version -> logical time it was built at

    def current(self, workspace: Workspace, dataset: str, shared: Callable[[], DeviceModel] | None = None) -> DeviceModel:
        """The export of ``workspace``'s model now; rebuilt only when the model or its time changed."""
        model = workspace.model
        if self._export is None or self._model is not model or self._time != model.time:
            if not workspace.log and shared is not None:
                export = shared()  # untouched fork: the same state as the shared model
            else:
                export = build_device_model(
                    model, self.neighbours, workspace.catalog, dataset=dataset, time=model.time
                )
            self._model, self._time, self._export = model, model.time, export
            self._versions[export.version] = model.time
        return self._export

    def notes(self, workspace: Workspace, held: str | None) -> list[str]:
        """What changed between the version the device holds and the current one, in words."""
        current = self._export
        if current is None or held is None or held == current.version:
            return []
        held_time = self._versions.get(held)
        if held_time is None:
            return ["Your device held a model this session did not build (from an earlier visit or another data set); "
                    "it now gets the model of your current workspace."]
        entries = [entry for entry in workspace.log if held_time < entry.time <= workspace.model.time]
        if not entries:
            return ["You reset your changes: the model is back to the shared starting data."]
        return [change_note(entry) for entry in entries]

    def render_args(self, workspace: Workspace, dataset: str, signal: Any, runtime: dict[str, Any],
                    shared: Callable[[], DeviceModel] | None = None) -> dict[str, Any]:
        """The component's arguments for this run: the current version, the runtime source, and the
        model and sidecar bytes only if the device said it holds another version."""
        export = self.current(workspace, dataset, shared)
        said, held = held_version(signal)
        send = said and held != export.version
        return {
            "dataset": dataset,
            "version": export.version,
            "time": workspace.model.time,
            "runtime": runtime,
            "model": export.onnx_bytes if send else None,
            "sidecar": export.sidecar_bytes() if send else None,
            "changes": self.notes(workspace, held) if send else [],
        }
