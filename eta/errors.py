"""Errors a user can cause and fix; the CLI prints them as one line, the API as RFC 9457 problems."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class EtaError(Exception):
    """A user-facing error with a message that says what to do."""


class InputError(EtaError):
    """The input (a file, an argument, a request) is malformed."""


class NotFoundError(EtaError):
    """The thing asked for does not exist."""


class LimitError(EtaError):
    """A limit on what one client, trip or target may have has been reached."""


def validation_message(error: Mapping[str, Any]) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) in the words a user should read: a
    validator's own exception as it was raised (pydantic's ``msg`` frames it as "Value error, …"), else
    pydantic's message."""
    raised = (error.get("ctx") or {}).get("error")
    return str(raised) if isinstance(raised, Exception) else str(error.get("msg", "invalid value"))
