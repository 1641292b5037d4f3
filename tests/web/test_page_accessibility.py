"""Accessibility of every page: axe-core (vendored from npm, injected in headless Chromium) finds no
serious or critical violation, at phone and desktop widths; the whole path works with the keyboard alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.web.conftest import needs_chromium

pytestmark = needs_chromium
AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
TRIP = "/trip/train/ICE/1011/2026-05-04?stop=8000261"


def violations(page: Any) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it is now (WCAG 2.1 A and AA, best practice)."""
    page.add_script_tag(content=AXE)  # the context bypasses the page's CSP for this test script only
    found: list[dict[str, Any]] = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag', values:
             ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})
           .then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
           .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))})))"""
    )
    return found


@pytest.mark.parametrize("viewport", [{"width": 360, "height": 640}, {"width": 1280, "height": 900}])
def test_no_serious_or_critical_violation_on_any_page(
    browser: Any, live_server: Any, seeded_url: str, viewport: dict[str, int]
) -> None:
    live = live_server(seeded_url)
    share = requests.post(
        f"{live.base}/api/v1/shares",
        json={"trip": {"mode": "train", "operator": "ICE", "number": "1011", "service_date": "2026-05-04"}},
        timeout=30,
    ).json()
    context = browser.new_context(viewport=viewport, locale="en-GB", bypass_csp=True)
    page = context.new_page()
    pages = {
        "home": ("/", "#suggestions li a"),
        "trip": (TRIP, "#stops li"),
        "board": ("/board/8000261", "#arrivals li a"),
        "pickup": (share["page"], "#p50"),
        "home-de": ("/?lang=de", "#suggestions li a"),
    }
    found = {}
    for name, (path, ready) in pages.items():
        page.goto(live.base + path)
        page.wait_for_selector(ready)
        if name == "home":
            page.fill("#station", "berlin")
            page.wait_for_selector("#places li a")
        if name == "trip":
            page.get_by_role("button", name="Make a link").click()
            page.wait_for_selector("#share-out:not([hidden])")
        found[name] = violations(page)
    assert found == {name: [] for name in pages}
    context.close()


def test_search_to_trip_to_alerts_and_share_with_the_keyboard_alone(
    browser: Any, live_server: Any, seeded_url: str
) -> None:
    live = live_server(seeded_url)
    page = browser.new_context(viewport={"width": 360, "height": 640}, locale="en-GB").new_page()
    page.goto(live.base + "/")

    def tab_to(selector: str, limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement.matches({selector!r})"):
                return
        raise AssertionError(f"Tab never reaches {selector}")

    tab_to("a.skip")
    assert page.locator("a.skip").is_visible()  # the skip link shows when focused
    tab_to("#number")
    page.keyboard.type("ICE 1011")
    expect(page.locator("#suggestions li a")).to_have_count(1)
    tab_to("#suggestions li a")
    page.keyboard.press("Enter")
    page.wait_for_url("**/trip/train/ICE/1011/2026-05-04")
    page.wait_for_selector("#p50")

    tab_to("#w-consent")
    page.keyboard.press("Space")
    assert page.locator("#w-consent").is_checked()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused control shows it"

    tab_to("#share-make")
    page.keyboard.press("Enter")
    expect(page.locator("#share-link")).to_be_focused()
    assert "/pickup/shr_" in page.locator("#share-link").input_value()

    tab_to("#stops a")  # another stop, by keyboard
    target = page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Enter")
    expect(page.locator("#stop-name")).to_have_text(target)
    expect(page.locator("#stop-name")).to_be_focused()
