"""A visitor without a browser: Streamlit's own WebSocket protocol, for the load benchmark.

A browser tab spends most of a click drawing (Plotly, React): ten tabs on one core measure
the tabs, not the server. This client does what a tab's JavaScript does on the wire and
nothing else: it opens ``/_stcore/stream``, asks for a run of the script with the page's
widget values (Streamlit's ``BackMsg.rerun_script``), and reads the ``ForwardMsg`` s of that run
until ``script_finished``. Thirty of them cost the clients' core almost nothing, so the times
are the server's answer as a visitor's connection receives it: from the click to the run's
last message, drawing excluded (the single-visitor browser figures say what drawing adds).

Widgets are found by kind and label in the elements of the latest run, as a person finds them
on the page; their ids come from the server. Only the widgets a step sets are sent: Streamlit
keeps the others' values from the previous run.

Written against the protobuf messages of the pinned Streamlit (requirements.txt); the
``websockets`` package comes with Streamlit.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from amnesia.dashboard.views import plain


class ProtocolError(RuntimeError):
    """The server answered a run with an exception, an unknown widget, or no finished run in time."""


@dataclass
class Run:
    """One finished script run as received: its elements by delta path and the seconds from the
    request to ``script_finished``."""

    elements: dict[tuple[int, ...], Any] = field(default_factory=dict)
    seconds: float = 0.0
    messages: int = 0
    bytes: int = 0

    def of_kind(self, kind: str) -> list[Any]:
        """The elements of one kind (``"button"``, ``"alert"``, ...) in page order, as their protos."""
        return [getattr(e, kind) for _, e in sorted(self.elements.items()) if e.WhichOneof("type") == kind]

    def widget(self, kind: str, label: str) -> Any:
        """The widget of ``kind`` whose label is ``label`` (its proto, with ``.id``)."""
        found = [w for w in self.of_kind(kind) if w.label == label]
        if not found:
            labels = [w.label for w in self.of_kind(kind)]
            raise ProtocolError(f"no {kind} labelled {label!r} on the page (it has {labels})")
        return found[0]

    def texts(self) -> list[str]:
        """The bodies of every alert (st.success, st.error, ...) and markdown element."""
        return [e.body for kind in ("alert", "markdown") for e in self.of_kind(kind)]

    def exceptions(self) -> list[str]:
        return [f"{e.type}: {e.message}" for e in self.of_kind("exception")]


class ProtocolVisitor:
    """One session of the app over its WebSocket (async)."""

    def __init__(self, server: str, query: dict[str, str] | None = None, timeout: float = 180.0):
        self.url = server.replace("http://", "ws://", 1).rstrip("/") + "/_stcore/stream"
        self.query = urlencode(query or {})
        self.timeout = timeout
        self.socket = None
        self.page: Run | None = None

    async def __aenter__(self) -> ProtocolVisitor:
        import websockets  # a dependency of Streamlit's server

        self.socket = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None, open_timeout=self.timeout)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.socket.close()

    async def open(self) -> Run:
        """The first run of the page, as a tab's first connection asks for it."""
        return await self._run([])

    async def _run(self, states: list[Any]) -> Run:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        message = BackMsg()
        message.rerun_script.query_string = self.query
        message.rerun_script.widget_states.widgets.extend(states)
        started = time.perf_counter()
        await self.socket.send(message.SerializeToString())
        run = Run()
        deadline = started + self.timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise ProtocolError(f"no finished run within {self.timeout:.0f} s")
            data = await asyncio.wait_for(self.socket.recv(), timeout=left)
            run.messages += 1
            run.bytes += len(data)
            forward = ForwardMsg()
            forward.ParseFromString(data)
            kind = forward.WhichOneof("type")
            if kind == "new_session":
                run.elements.clear()  # a run starts (a request that interrupted another starts again)
            elif kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                run.elements[tuple(forward.metadata.delta_path)] = forward.delta.new_element
            elif kind == "script_finished":
                if forward.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                    break
                if forward.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise ProtocolError("the script did not compile")
        run.seconds = time.perf_counter() - started
        if run.exceptions():
            raise ProtocolError(f"the page showed an exception: {run.exceptions()[0][:200]}")
        self.page = run
        return run

    # ------------------------------------------------------------------ what a visitor does
    def _state(self, kind: str, label: str, **value: Any) -> Any:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        state = WidgetState(id=self.page.widget(kind, label).id)
        for name, v in value.items():
            if isinstance(v, list):
                getattr(state, name).data.extend(v)
            else:
                setattr(state, name, v)
        return state

    async def add(self, name: str, typed: str, expect: str) -> Run:
        """Fill Name and the typed-titles box and click Add user, as one request (what a click
        straight after typing sends). ``expect``: text the finished run must show."""
        run = await self._run([
            self._state("text_input", "Name", string_value=name),
            self._state("text_area", "…or type titles or ids, one per line", string_value=typed),
            self._state("button", "Add user", trigger_value=True),
        ])
        return self._expect(run, expect)

    async def forget(self, choice: str, expect: str) -> Run:
        """Pick ``choice`` (the option's label, e.g. "User 86 (70 movies)") and click Forget this user."""
        run = await self._run([
            self._state("selectbox", "User to forget", string_value=choice),
            self._state("button", "Forget this user", trigger_value=True),
        ])
        return self._expect(run, expect)

    def option(self, label: str, starts: str) -> str:
        """The first option of selectbox ``label`` that starts with ``starts``."""
        options = [o for o in self.page.widget("selectbox", label).options if o.startswith(starts)]
        if not options:
            raise ProtocolError(f"no option starting {starts!r} in {label!r}")
        return options[0]

    @staticmethod
    def _expect(run: Run, expect: str) -> Run:
        if not any(expect in plain(text) for text in run.texts()):
            alerts = [plain(alert.body) for alert in run.of_kind("alert")]
            raise ProtocolError(f"the page did not show {expect!r} (its messages: {' / '.join(alerts)[:200] or 'none'})")
        return run
