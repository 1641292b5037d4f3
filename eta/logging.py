"""Logging for eta's processes: plain text, or one JSON object per line (``ETA_LOG_JSON``).

Never log personal data or secrets: no client IPs, no webhook URLs beyond scheme and host, no tokens,
API keys or webhook secrets. :func:`safe_url` is the one way to mention a webhook target. What slips
through anyway (an exception's message, a library's log line) is scrubbed by the formatters: every URL is
cut to scheme and host, and signing secrets, API keys, bearer tokens and long opaque tokens are masked.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from eta.config import Settings

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


_URL = re.compile(
    r"\b(https?|wss?)://([^\s/?#'\"<>@]*@)?([^\s/?#'\":<>]+)(:\d+)?([^\s'\"<>]*)", re.IGNORECASE
)
_SECRETS = [
    (re.compile(r"whsec_[A-Za-z0-9+/=_-]*"), "whsec_…"),  # Standard Webhooks signing secrets
    (re.compile(r"\beta_[A-Za-z0-9_-]{8,}"), "eta_…"),  # operator API keys
    (re.compile(r"\b(bearer|basic|vapid)\s+[A-Za-z0-9._~+/=,:-]+", re.IGNORECASE), r"\1 …"),
    (re.compile(r"enc1:[A-Za-z0-9_=-]+"), "enc1:…"),  # secrets as stored, encrypted
    # anything long and opaque: push keys, session ids, tokens (hex digests and paths are broken by . and /)
    (re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43,}(?![A-Za-z0-9_-])"), "…"),
]


def scrub(text: str) -> str:
    """``text`` with URLs cut to scheme and host and anything that looks like a secret masked."""
    text = _URL.sub(_url_without_secrets, text)
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _url_without_secrets(match: re.Match[str]) -> str:
    scheme, _credentials, host, port, rest = match.groups()
    return f"{scheme}://{host}{port or ''}" + ("/…" if rest else "")


class ScrubbingFormatter(logging.Formatter):
    """Plain text, scrubbed of secrets (:func:`scrub`): message, traceback and all."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, RFC 3339), level, logger, message and any ``extra`` fields;
    every text scrubbed of secrets (:func:`scrub`)."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info and record.exc_info[0] is not None:
            payload["error"] = record.exc_info[0].__name__
            payload["traceback"] = scrub(self.formatException(record.exc_info))
        return json.dumps(payload, default=str, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    """Root handler on stderr in the configured format and level (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def safe_url(url: str) -> str:
    """A URL reduced to scheme and host: paths and query strings of webhooks may carry tokens."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
