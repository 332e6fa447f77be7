import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings
from streamlit.testing.v1 import AppTest

import ui_state
from amnesia.dashboard import views

# CI gets more examples than a laptop run; both are deterministic per seed database.
settings.register_profile("ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


# ---------------------------------------------------------------------- the app under AppTest (shared by its tests)
@pytest.fixture(autouse=True)
def clicks_far_apart(monkeypatch):
    """AppTest clicks the same button again within milliseconds of a shown result, faster than any
    visitor, which the app reads as the second half of a double click (``ui_state.ECHO_SECONDS``) and
    ignores. Tests act as visitors who click once and read: the window is closed here, and
    tests/test_app.py's double-click tests open it again."""
    monkeypatch.setattr(ui_state, "ECHO_SECONDS", 0.0)
    monkeypatch.setattr(ui_state, "BURST_SECONDS", 0.0)


APP = Path(__file__).resolve().parent.parent / "app.py"
ADD = "forget.add_submit"
FORGET = "FormSubmitter:forget.forget_form-Forget this user"
RAW = "FormSubmitter:forget.raw_form-Apply request"
VERIFY = "Verify: retrain from scratch and compare"


def current(app: AppTest, name: str) -> str:
    """The key ``name`` ("forget.add_name", or a form's button "FormSubmitter:forget.raw_form-Apply
    request") in its page's current generation: a page's keys change each time they are cleared
    (``ui_state.key``: a widget whose key was only deleted kept its old value in the browser)."""
    generations = app.session_state["app.generations"] if "app.generations" in app.session_state else {}
    prefix, _, rest = name.rpartition(":")
    own, dash, label = rest.partition("-") if prefix else (rest, "", "")
    generation = generations.get(own.split(".", 1)[0], 0)
    own = f"{own}~{generation}" if generation else own
    return f"{prefix}:{own}{dash}{label}" if prefix else own


def plain(text: str) -> str:
    """What a visitor reads from a Markdown source made with ``views.md``."""
    return views.plain(text)


def start(data: str = "toy") -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=180)
    app.query_params["data"] = data
    app.run()
    assert not app.exception
    return app


def space(app: AppTest):
    """The visitor's current workspace (what the sidebar shows)."""
    state = app.session_state
    return state["app.workspaces"][state["app.current"]]


def errors(app: AppTest) -> list[str]:
    return [plain(e.value) for e in app.error]


# ---------------------------------------------------------------------- lab data (shared by the lab's tests)
def clustered(users: int = 90, items: int = 60, seed: int = 0) -> pd.DataFrame:
    """Users of three tastes, each liking mostly one third of the items; 6 to 25 items each."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(users):
        taste = user % 3
        weights = np.where(np.arange(items) // (items // 3) == taste, 8.0, 1.0)
        count = int(rng.integers(6, 26))
        for item in rng.choice(items, size=count, replace=False, p=weights / weights.sum()):
            rows.append((user, int(item)))
    return pd.DataFrame(rows, columns=["user", "item"])
