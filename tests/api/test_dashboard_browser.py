"""The operator dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine

from eta.api.apikeys import create_key
from eta.api.app import create_app
from eta.clock import ManualClock
from eta.store.schema import CollectorRun, CollectorState
from tests.api.conftest import api_settings
from tests.api.test_health import _register_champion
from tests.live import CHROMIUM, CHROMIUM_ARGS, needs_chromium, serving

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)
pytestmark = needs_chromium


def _collectors(engine: Engine) -> None:
    """Collector state and runs as the collectors write them: one healthy, one failing."""
    with engine.begin() as conn:
        for name, age_min, failures in (("db-iris", 4, 0), ("open-meteo", 95, 3)):
            conn.execute(
                CollectorState.__table__.insert().values(
                    collector=name,
                    primed_at=NOW - timedelta(days=2),
                    last_success_at=NOW - timedelta(minutes=age_min),
                    last_error_kind="timeout" if failures else None,
                    consecutive_failures=failures,
                    data_until=NOW - timedelta(minutes=age_min),
                )
            )
            for i in range(12):
                failed = failures and i % 4 == 0
                conn.execute(
                    CollectorRun.__table__.insert().values(
                        collector=name,
                        started_at=NOW - timedelta(minutes=30 * (i + 1)),
                        ok=not failed,
                        error_kind="timeout" if failed else None,
                        rows_written=0 if failed else 250,
                        rows_quarantined=0,
                    )
                )


@pytest.fixture
def server(seeded_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    settings = api_settings(seeded_url, tmp_path / "var", collectors={"enabled": ["db-iris", "open-meteo"]})
    app = create_app(settings, clock=ManualClock(NOW))
    engine = app.state.eta.engine
    model = tmp_path / "arrival-train.ubj"
    model.write_bytes(b"model bytes")
    _register_champion(engine, model, hashlib.sha256(model.read_bytes()).hexdigest(), "train-arrival-test")
    _collectors(engine)
    key, _ = create_key(engine, "dashboard test")
    with serving(app) as base:
        yield base, key


def test_dashboard_in_headless_chromium(server: tuple[str, str], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    base, key = server
    overall = requests.get(
        f"{base}/api/v1/operator/accuracy",
        headers={"X-API-Key": key},
        timeout=30,
        params={"from": "2025-09-01T00:00:00Z", "to": "2025-09-30T00:00:00Z"},
    ).json()
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda request: requested.append(request.url))

        page.goto(f"{base}/dashboard?days=400")
        assert page.locator("h1").inner_text() == "eta operator dashboard"
        page.fill("#api_key", "eta_not-a-key")
        page.click("button[type=submit]")
        assert page.get_by_role("alert").inner_text() == "This API key is unknown or revoked."

        page.fill("#api_key", key)
        page.click("button[type=submit]")
        page.goto(f"{base}/dashboard?days=400")
        header = page.locator("header").inner_text()
        assert page.locator("#readiness").inner_text() == "ready"  # champion verified, both collectors primed
        assert "dashboard test" in header
        for section in ("accuracy", "predicted-vs-actual", "platform-calibration", "collectors", "models"):
            assert page.locator(f"section#{section} h2").count() == 1
        assert page.locator("section svg").count() == 4
        n_total = int(page.locator("#n-predictions").inner_text().replace(",", ""))
        assert n_total > overall["rows"][0]["n"] > 0  # May 2026 (München) and September 2025 (Berlin)
        horizons = page.locator("#accuracy-by-horizon tr td:first-child").all_inner_texts()
        assert horizons == ["0-15 min", "30-60 min", "1-2 h", "2-6 h"]
        assert "Mean absolute error by horizon" in page.locator("section#accuracy svg").inner_html()
        calibration = page.locator("section#platform-calibration").inner_text()
        assert "platform predictions with a known platform" in calibration
        collectors = page.locator("#collector-table").inner_text()
        assert "db-iris" in collectors and "open-meteo" in collectors and "timeout: 3" in collectors
        models = page.locator("#models-table").inner_text()
        assert "train-arrival-test" in models
        assert "the model's own (not re-calibrated yet)" in models  # no served re-calibration in this store
        assert page.locator("#model-versions").inner_text() == "Served by: persistence-baseline"

        csp = page.request.get(f"{base}/dashboard").headers["content-security-policy"]
        assert "script-src 'none'" in csp and "frame-ancestors 'none'" in csp

        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)

        session = next(c for c in page.context.cookies() if c["name"] == "eta_session")
        assert key not in session["value"] and session["httpOnly"] and session["sameSite"] == "Strict"
        page.click("form.logout button")  # ends the session on the server: back to the login form
        page.goto(f"{base}/dashboard")
        assert page.locator("#api_key").count() == 1
        replayed = requests.get(f"{base}/dashboard", cookies={"eta_session": session["value"]}, timeout=30)
        assert replayed.status_code == 401
        browser.close()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000
    shutil.copy(shot, REPO / "docs" / "dashboard.png")
    assert all(url.startswith(base) for url in requested), "the page must not load anything from elsewhere"
