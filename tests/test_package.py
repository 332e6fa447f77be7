"""The library installs: it runs from wherever it is installed, with its bundled data, without the checkout.

The fast test lays the package out as an install would (the Python modules and the package data
that pyproject.toml declares, nothing else) and imports it from another folder; the slow one runs a
real ``pip install .`` into a fresh virtual environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECK = (
    "import amnesia, pathlib; "
    "data = amnesia.load_dataset('movielens-small'); toy = amnesia.load_dataset('toy'); "
    "model = amnesia.ItemCF.fit(toy.interactions); "
    "print(pathlib.Path(amnesia.__file__).parent, len(data.interactions), len(toy.interactions), model.num_items())"
)


def _install_like(target: Path) -> Path:
    """Copy what an install of the package contains into ``target``: *.py and the declared package data."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_data = config["package-data"]
    for source in (ROOT / "amnesia").rglob("*.py"):
        destination = target / source.relative_to(ROOT)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    for package, patterns in package_data.items():
        folder = ROOT / package.replace(".", "/")
        for pattern in patterns:
            for source in folder.glob(pattern):
                destination = target / source.relative_to(ROOT)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)
    return target


def test_the_package_needs_no_checkout(tmp_path: Path) -> None:
    site = _install_like(tmp_path / "site")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", CHECK], cwd=elsewhere, env={**env, "PYTHONPATH": str(site)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    where, ratings, toy, items = done.stdout.split()
    assert Path(where) == site / "amnesia"
    assert (int(ratings), int(toy), int(items)) == (100_836, 11, 5)


def test_an_installed_library_runs_the_engine_bench_and_says_where_the_app_parts_are(tmp_path: Path) -> None:
    """The app's harnesses (tools/) are not installed: asking for one says to use a checkout,
    without a traceback; the library never imports streamlit."""
    site = _install_like(tmp_path / "site")
    assert not (site / "tools").exists()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-m", "amnesia", "bench", "--part", "app", "--output", str(tmp_path / "b.md")],
                          cwd=tmp_path, env={**env, "PYTHONPATH": str(site)}, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "run `python -m amnesia bench --part app` from a source checkout" in done.stderr
    imports = subprocess.run([sys.executable, "-c", "import sys, amnesia.dashboard.workspace, amnesia.lab.report, "
                              "amnesia.bench; print('streamlit' in sys.modules)"],
                             cwd=tmp_path, env={**env, "PYTHONPATH": str(site)}, capture_output=True, text=True, timeout=300)
    assert imports.stdout.strip() == "False", imports.stderr[-2000:]


@pytest.mark.slow
def test_pip_install_then_import_from_any_folder(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(ROOT)], check=True, timeout=600)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([str(python), "-c", CHECK], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert Path(done.stdout.split()[0]).is_relative_to(venv)
