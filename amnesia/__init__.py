"""Amnesia: a recommender that can forget.

Exact decremental item-based collaborative filtering (Schelter, CIDR 2020): forgetting a
user updates the model in place so that it equals a retrain without that user.
"""

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
