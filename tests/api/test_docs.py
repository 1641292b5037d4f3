"""/docs and /redoc work offline: every script and style comes from eta itself, and Swagger UI renders the
API's operations in a real headless Chromium that may reach nothing but the server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from eta.api.app import create_app
from tests.api.conftest import api_settings
from tests.live import CHROMIUM, CHROMIUM_ARGS, needs_chromium, serving

ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def _references(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_documentation_pages_load_everything_from_eta(client: TestClient, page: str) -> None:
    answer = client.get(page)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    references = _references(answer.text)
    assert any(ref.endswith(".js") for ref in references)
    assert "<script>" not in answer.text, "no inline script: a strict Content-Security-Policy allows the page"
    for ref in references:
        assert ref.startswith("/"), f"{page} loads {ref} from elsewhere"
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert asset.headers["content-type"].startswith(ASSET_TYPES[Path(ref).suffix]), ref
    scripts = [client.get(ref).content for ref in references if ref.endswith(".js")]
    assert max(len(script) for script in scripts) > 500_000  # the real UI bundle, not a placeholder


def test_only_the_named_assets_are_served(client: TestClient) -> None:
    assert client.get("/docs/assets/core.py").status_code == 404
    assert client.get("/docs/assets/..%2F__init__.py").status_code == 404
    assert client.get("/docs/assets/swagger-ui.css").headers["cache-control"].startswith("public")


def test_the_docs_are_not_part_of_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(path.startswith(("/docs", "/redoc")) for path in paths)


@pytest.fixture
def live_server(seeded_url: str, tmp_path: Path) -> Iterator[str]:
    with serving(create_app(api_settings(seeded_url, tmp_path / "var"))) as base:
        yield base


@needs_chromium
def test_swagger_ui_renders_the_operations_offline(live_server: str) -> None:
    from playwright.sync_api import Route, sync_playwright

    elsewhere: list[str] = []

    def only_the_server(route: Route) -> None:
        if route.request.url.startswith(live_server):
            route.continue_()
        else:  # what a machine without internet would see
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.route("**/*", only_the_server)
        page.goto(f"{live_server}/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        browser.close()
    assert any("/api/v1/trips/" in path for path in paths), paths
    assert elsewhere == []
