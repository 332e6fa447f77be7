"""The project's exception types.

Every error a caller can cause with bad input derives from :class:`AmnesiaError`, a
``ValueError``, so ``except ValueError`` works for callers that do not know this package.
Messages say what is wrong and what to do about it.
"""

from __future__ import annotations


class AmnesiaError(ValueError):
    """Base class of every error raised for bad input or an impossible request."""


class RequestError(AmnesiaError):
    """A change request is malformed or cannot be applied (the model is left unchanged)."""


class UnknownUserError(RequestError):
    """A user id that the model has no interactions for (forgetting or scoring it is refused)."""


class ArgumentError(AmnesiaError):
    """A model's read or setting got an argument of the wrong type or out of range (an id that
    is not an integer, a negative k, an unknown store or similarity, ...); nothing was read,
    built or changed."""


class BusyError(AmnesiaError):
    """A heavy action could not start: the server runs as many as it allows, or the action
    would cost more than one request may (see :mod:`amnesia.limits`). Nothing was changed."""


class DataFormatError(AmnesiaError):
    """A data file is malformed; the message names the file, line and reason."""


class TitleError(AmnesiaError):
    """A typed movie name could not be resolved to exactly one item.

    ``candidates`` holds ``(item_id, display_title)`` pairs the user may have meant,
    best first, so a UI can offer them as choices. When the message lists them, ``summary`` is
    the message without that list, for a UI that shows the choices right after it (else it is
    the message).
    """

    def __init__(self, message: str, query: str, candidates: list[tuple[int, str]], summary: str | None = None):
        super().__init__(message)
        self.query = query
        self.candidates = candidates
        self.summary = summary or message


class UnknownTitleError(TitleError):
    """Nothing in the catalog matches well enough; candidates are the closest titles."""


class AmbiguousTitleError(TitleError):
    """Several items match equally well (for example remakes); candidates lists them."""
