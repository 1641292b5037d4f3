"""The page's frame, manifest, service worker and files, as the server sends them."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

PAGES = (
    "/",
    "/trip/train/ICE/1011/2026-05-04?stop=8000261",
    "/board/8000261",
    "/pickup/shr_abcdefghijklmnop",
)


def test_pages_speak_the_browsers_language_and_remember_a_switch(client: TestClient) -> None:
    german = client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert german.status_code == 200
    assert '<html lang="de">' in german.text and "Fahrt suchen" in german.text
    assert german.headers["content-language"] == "de"

    switched = client.get("/board/8000261?lang=fr", headers={"Accept-Language": "de"})
    assert '<html lang="fr">' in switched.text and "Arrivées" in switched.text
    assert "eta_lang=fr" in switched.headers["set-cookie"]
    again = client.get("/", headers={"Accept-Language": "de"})  # the client kept the cookie
    assert '<html lang="fr">' in again.text


def test_pages_hold_no_inline_code_or_style_and_send_a_strict_policy(client: TestClient) -> None:
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.text
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        for tag in re.findall(r"<script[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, tag
        assert "<style" not in html and " style=" not in html
        assert not re.search(r" on[a-z]+=", html), "no inline event handlers"
        assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html


def test_the_words_for_the_script_are_a_data_block_that_cannot_close_early(client: TestClient) -> None:
    html = client.get("/?lang=de").text
    block = re.search(r'<script type="application/json" id="messages">(.*?)</script>', html, re.S)
    assert block is not None
    words = json.loads(block.group(1))
    assert words["find_trip"] == "Fahrt suchen"


def test_a_trip_page_carries_its_key_and_refuses_a_bad_one(client: TestClient) -> None:
    html = client.get("/trip/flight/UA/1545/2013-01-01?leg=EWR&stop=IAH").text
    assert 'data-mode="flight"' in html and 'data-leg="EWR"' in html and 'data-stop="IAH"' in html
    assert client.get("/trip/bus/X/1/2026-05-04").status_code == 422
    assert client.get("/trip/train/IC<E/1/2026-05-04").status_code in (404, 422)
    assert client.get("/pickup/not-a-share").status_code == 422


def test_manifest_makes_the_page_installable(client: TestClient) -> None:
    manifest = client.get("/manifest.webmanifest", headers={"Accept-Language": "fr"})
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["start_url"] == "/" and body["display"] == "standalone" and body["lang"] == "fr"
    sizes = {icon["sizes"] for icon in body["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in body["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.headers["content-type"] == icon["type"]
        if icon["type"] == "image/png":
            assert image.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_service_worker_lists_the_current_assets_and_they_are_served(client: TestClient) -> None:
    worker = client.get("/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"
    assets = json.loads(re.match(r"const ASSETS = (.*);\n", worker.text).group(1))  # type: ignore[union-attr]
    assert any(a.startswith("/static/web/app.js?v=") for a in assets)
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert "immutable" in response.headers["cache-control"]
    assert client.get("/static/web/missing.js").status_code == 404
    assert client.get("/static/web/..%2Fi18n.py").status_code in (404, 422)
