"""Amnesia: a recommender that can forget.

Exact decremental item-based collaborative filtering (Schelter, CIDR 2020): forgetting a
user updates the model in place so that it equals a retrain without that user.

Importing it sets one process default: the compiled kernels' worker threads sleep as soon as a
parallel loop ends (``OMP_WAIT_POLICY=PASSIVE``, unless the environment sets it). OpenMP's default
spins them for a while, which on a machine whose cores are shared pays dearly: beside one busy
process, forgetting a typical MovieLens user with K = 50 lists took 5.0 ms p50 and 48 ms p95
spinning, 2.0 and 4.9 ms sleeping (measured 2026-12-07, when a forget still woke its threads three
times; on an idle machine 1.3-1.7 ms against 1.8-2.0 ms). In the app, between the many short
parallel loops of a heavy forget, spinning threads used twice the CPU time of the wall time (User
414's forget: 1.5 s of CPU in 0.78 s), taking the second core from the browser and other visitors.

GNU OpenMP reads the setting once, when the library is loaded: import amnesia before anything that
loads an OpenMP runtime (implicit does, when imported), or set the variable in the environment. A
runtime already loaded is reported by a RuntimeWarning.
"""

import os
import warnings


def _openmp_loaded() -> bool:
    """Is an OpenMP runtime (GNU, LLVM or Intel) already mapped into this process? (Linux; else False.)"""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return any(name in line for line in maps for name in ("libgomp", "libomp.", "libiomp"))
    except OSError:
        return False


if "OMP_WAIT_POLICY" not in os.environ:
    if _openmp_loaded():
        warnings.warn(
            "An OpenMP runtime was loaded before amnesia (implicit loads one when imported): its threads keep "
            "OpenMP's default and spin between parallel loops, which makes forgets with neighbour lists many times "
            "slower beside other work. Import amnesia first, or set OMP_WAIT_POLICY=PASSIVE in the environment.",
            RuntimeWarning, stacklevel=2)
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

from .data.datasets import Dataset
from .data.datasets import load as load_dataset
from .engine.changes import ChangeSet, PairChanges
from .errors import (
    AmbiguousTitleError,
    AmnesiaError,
    DataFormatError,
    RequestError,
    TitleError,
    UnknownTitleError,
    UnknownUserError,
)
from .engine.ease import EASE
from .engine.model import ItemCF
from .limits import APP_LIMITS, CLI_LIMITS, LimitError, Limits
from .engine.requests import ChangeRequest, parse_request

__all__ = [
    "APP_LIMITS",
    "CLI_LIMITS",
    "LimitError",
    "Limits",
    "AmbiguousTitleError",
    "AmnesiaError",
    "ChangeRequest",
    "ChangeSet",
    "DataFormatError",
    "EASE",
    "Dataset",
    "ItemCF",
    "PairChanges",
    "RequestError",
    "TitleError",
    "UnknownTitleError",
    "UnknownUserError",
    "load_dataset",
    "parse_request",
]
__version__ = "0.1.0"
