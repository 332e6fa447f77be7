"""The README's examples run: every ```python and ```bash block is executed as written.

A block that cannot run in a test (it installs packages, opens a server, downloads from the
internet) is preceded by an HTML comment that says so and why, e.g.
``<!-- doc-test: skip, it starts the app's server -->``; ``<!-- doc-test: slow -->`` runs a block only in
the slow suite. Blocks run in a scratch folder with a small request log ``requests.jsonl``
(the README's replay examples read it), with the checkout on PYTHONPATH.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"(?:<!--\s*doc-test:\s*(?P<marker>[^>]*?)\s*-->\s*\n)?```(?P<lang>\w+)\n(?P<code>.*?)```", re.S)
REQUESTS = '{"change": "Add", "interactions": [[9001, 1], [9001, 2]]}\n{"change": "Remove", "interactions": [[9001, 1]]}\n'


def blocks(path: Path = ROOT / "README.md") -> list[tuple[str, str, str, int]]:
    """(language, code, marker, line number) of every fenced block."""
    text = path.read_text(encoding="utf-8")
    return [
        (m["lang"], m["code"], (m["marker"] or "").strip(), text.count("\n", 0, m.start("code")))
        for m in FENCE.finditer(text)
    ]


def _cases() -> list:
    cases = []
    for lang, code, marker, line in blocks():
        if lang not in ("python", "bash"):
            continue
        marks = [pytest.mark.slow] if marker.startswith("slow") else []
        if marker.startswith("skip"):
            marks.append(pytest.mark.skip(reason=f"README line {line}: {marker}"))
        cases.append(pytest.param(lang, code, id=f"{lang}-line-{line}", marks=marks))
    return cases


def test_every_skipped_block_says_why() -> None:
    for lang, _, marker, line in blocks():
        if marker.startswith("skip"):
            assert len(marker.split(",", 1)[-1].strip()) > 10, f"README line {line}: say why the block cannot run"
        else:
            assert marker in ("", "slow"), f"README line {line}: unknown doc-test marker {marker!r}"


def test_the_readme_has_runnable_examples() -> None:
    runnable = [p for p in _cases() if not any(m.name == "skip" for m in p.marks)]
    assert len(runnable) >= 3


@pytest.mark.parametrize(("lang", "code"), _cases())
def test_readme_block_runs(lang: str, code: str, tmp_path: Path) -> None:
    (tmp_path / "requests.jsonl").write_text(REQUESTS)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-c", code] if lang == "python" else ["bash", "-euo", "pipefail", "-c", code]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"the block failed:\n{code}\nstdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-4000:]}"
