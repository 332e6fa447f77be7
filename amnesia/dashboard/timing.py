"""Server-side time of each script run, for the app benchmark (issue #21: click cost apart from drawing).

When ``$AMNESIA_SCRIPT_TIMES`` names a file, every run of the app appends one JSON line
``{"page": ..., "seconds": ..., "callback_seconds": ..., "at": ...}``: ``seconds`` is the whole
server-side time of the run (the action's callback, then the script), ``callback_seconds`` the
callback's share. Without the variable nothing is written. The benchmark reads the file with
:func:`read_script_times`. Nothing here imports Streamlit.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

#: the environment variable that turns recording on (the file to append to)
SCRIPT_TIMES_ENV = "AMNESIA_SCRIPT_TIMES"
_LOCK = threading.Lock()  # sessions run in threads of one process: one line at a time


def record_script_time(page: str, seconds: float, callback_seconds: float = 0.0) -> None:
    """Append one run's server-side time (s) when recording is on."""
    path = os.environ.get(SCRIPT_TIMES_ENV)
    if not path:
        return
    line = json.dumps({"page": page, "seconds": round(seconds, 6), "callback_seconds": round(callback_seconds, 6),
                       "at": time.time()})
    with _LOCK, open(path, "a", encoding="utf-8") as file:
        file.write(line + "\n")


def read_script_times(path: str | Path) -> list[dict]:
    """The recorded runs, oldest first (an absent file: none)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
