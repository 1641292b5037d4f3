"""Errors a user can cause and fix; the CLI prints them as one line, the API as RFC 9457 problems."""


class EtaError(Exception):
    """A user-facing error with a message that says what to do."""


class InputError(EtaError):
    """The input (a file, an argument, a request) is malformed."""


class NotFoundError(EtaError):
    """The thing asked for does not exist."""


class LimitError(EtaError):
    """A limit on what one client, trip or target may have has been reached."""
