"""JSON logs: one object per line, extra fields kept, webhook URLs reduced to scheme and host."""

from __future__ import annotations

import json
import logging

from eta.logging import JsonFormatter, safe_url


def test_json_lines_with_extra_fields() -> None:
    record = logging.LogRecord(
        "eta.api.access", logging.INFO, __file__, 1, "GET %s %d", ("/livez", 200), None
    )
    record.route = "/livez"
    record.duration_ms = 1.5
    line = JsonFormatter().format(record)
    payload = json.loads(line)
    assert payload["message"] == "GET /livez 200"
    assert payload["level"] == "INFO"
    assert payload["route"] == "/livez" and payload["duration_ms"] == 1.5
    assert payload["time"].endswith("+00:00")
    assert "\n" not in line


def test_exceptions_are_one_line_of_json() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("eta", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    payload = json.loads(JsonFormatter().format(record))
    assert payload["error"] == "ValueError"
    assert "boom" in payload["traceback"]


def test_safe_url_drops_path_query_and_credentials() -> None:
    assert (
        safe_url("https://user:pw@hooks.example.org:8443/x/y?token=abc") == "https://hooks.example.org:8443"
    )
    assert safe_url("http://127.0.0.1/hook?k=v") == "http://127.0.0.1"
