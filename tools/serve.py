"""Running the dashboard for a browser: one ``streamlit run app.py`` on a free localhost port.

Shared by the browser tests (tests/e2e) and the app's benchmark parts (tools/bench_*): the server process,
its memory, Chromium's path and flags, and the in-page check that a click has finished
(the script idle, a text shown, the chart redrawn with a title). No Streamlit import: the
app runs in its own process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]  # the checkout: app.py lives here
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
#: A CSS selector that matches once Streamlit has finished running the script.
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
#: A page function ``(ms) -> bool``: true once the script has been seen idle, without a run in
#: between, for ``ms`` milliseconds since the wait began (call :data:`SETTLE_RESET` first). A state
#: wait, not a fixed sleep: a rerun that starts just after a click is seen and waited for.
SETTLED = """(ms) => {
    const app = document.querySelector('[data-testid=stApp]');
    const now = performance.now();
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') { window.__amnesiaIdleSince = null; return false; }
    if (window.__amnesiaIdleSince == null) window.__amnesiaIdleSince = now;
    return now - window.__amnesiaIdleSince >= ms;
}"""
SETTLE_RESET = "() => { window.__amnesiaIdleSince = null; }"
#: A page function ``([text, title]) -> bool``: the script is idle, the main column shows ``text``
#: (word joiners that keep user text from becoming links ignored), and the first chart's title
#: contains ``title`` (when one is given).
FINISHED = """([text, title]) => {
    const app = document.querySelector('[data-testid=stApp]');
    const chart = document.querySelector('[data-testid=stPlotlyChart] .gtitle');
    return app && app.getAttribute('data-test-script-state') === 'notRunning'
        && document.querySelector('[data-testid=stMain]').innerText.replaceAll('\\u2060', '').includes(text)
        && (!title || (chart && chart.textContent.includes(title)));
}"""


def chromium_path() -> str | None:
    """Debian's Chromium ($CHROMIUM, /usr/bin/chromium or on the PATH), or None."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


class Server(str):
    """The app's base URL (a str), with its process for memory readings."""

    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid

    def memory_mb(self, field: str = "VmRSS") -> float:
        """Resident memory (``VmRSS``) or its peak so far (``VmHWM``), in MB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no {field} for process {self.pid}")


@contextlib.contextmanager
def streamlit_server(
    log: IO | int = subprocess.DEVNULL, timeout: float = 90, env: dict[str, str] | None = None,
    cpus: set[int] | None = None,
) -> Iterator[Server]:
    """Start the app on 127.0.0.1 with ``env`` added to the environment (for example
    ``AMNESIA_ORT_SOURCE``) and wait until /_stcore/health answers; stop it afterwards.
    ``cpus``: run the server on these CPUs only (the load benchmark keeps its browsers off them)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    url = Server(f"http://127.0.0.1:{port}")
    url.process = process
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("streamlit did not become healthy")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
