"""Typed errors raised by m2sdk.

Every error a user can trigger with bad input derives from :class:`M2Error`, so an app can catch
one type. Messages name the offending file, tensor, field or frame and say what to do next.
"""

from __future__ import annotations


class M2Error(Exception):
    """Base class of every error m2sdk raises on purpose."""


class InputError(M2Error, ValueError):
    """A frame, prompt, option or file given by the caller cannot be used.

    Example:
        >>> try:
        ...     m2sdk.query(None, "How far is the chair?")
        ... except m2sdk.InputError as err:
        ...     print(err)
    """


class PromptTooLongError(InputError):
    """The prompt plus image tokens does not fit into the model's context window."""


class CheckpointError(M2Error):
    """A checkpoint or bundle folder is missing, incomplete, corrupt or tampered with."""


class MissingExtraError(M2Error, ImportError):
    """An optional dependency group is not installed; the message holds the pip command."""


class SourceError(M2Error):
    """A camera, video file or stream URL cannot be opened or stopped delivering frames."""


class ModelError(M2Error):
    """The model failed while answering (for example a backend crash); the input was valid."""
