"""JSON logs: one object per line, extra fields kept, webhook URLs reduced to scheme and host."""

from __future__ import annotations

import json
import logging

from eta.logging import JsonFormatter, ScrubbingFormatter, safe_url, scrub


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


def test_the_formatters_scrub_secrets_from_messages_and_tracebacks() -> None:
    secret = "whsec_MfKQ9r0GdB2XTnqRDWsV1PfMKoMBvP+p"
    key = "eta_" + "k" * 43
    push_key = "B" + "x" * 86  # a browser's p256dh: 87 base64url characters
    try:
        raise RuntimeError(
            f"insert failed: ('https://u:pw@hooks.example.org:8443/T0/B1/s3cr3t?t=abc', '{secret}')"
        )
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "eta",
            logging.ERROR,
            __file__,
            1,
            "key %s sent Bearer %s for %s",
            (key, "tok.en-1", push_key),
            sys.exc_info(),
        )
    plain = ScrubbingFormatter().format(record)
    as_json = JsonFormatter().format(record)
    for text in (plain, as_json):
        for leaked in ("s3cr3t", "t=abc", "u:pw", secret[6:], key[4:], "tok.en-1", push_key):
            assert leaked not in text
        assert "https://hooks.example.org:8443/…" in text
        assert "RuntimeError: insert failed" in text or "insert failed" in text
    assert scrub("GET /livez 200 in 1.5 ms, model 2026-05-04T12:00 sha256 ab12") == (
        "GET /livez 200 in 1.5 ms, model 2026-05-04T12:00 sha256 ab12"
    )
