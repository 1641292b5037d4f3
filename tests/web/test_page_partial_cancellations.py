"""The traveller's page for a call one event of which is cancelled, in a real headless Chromium (Debian's
``chromium``), on the real IRIS records of Berlin Nordbahnhof, 2025-09-08
(:mod:`tests.partial_cancellations`): S 26527 ends there (it arrives; its onward journey is cancelled),
S 26532 starts there (it does not arrive; it leaves). Beside the call's status, the trip card, its stop list
and the arrivals board say so, in each language of the page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from eta.clock import ManualClock
from eta.web import i18n
from tests.partial_cancellations import BERLIN, NORDBAHNHOF, store_url
from tests.web.conftest import needs_chromium

pytestmark = needs_chromium
ENDS_AT = datetime(2025, 9, 8, 6, 5, tzinfo=BERLIN)  # S 26527 due 06:09, its departure cancelled
STARTS_AT = datetime(2025, 9, 8, 7, 5, tzinfo=BERLIN)  # S 26532 due 07:26, its arrival cancelled


def _page(browser: Any, lang: str) -> Any:
    page = browser.new_context(viewport={"width": 360, "height": 640}, locale=lang).new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # read by the tests
    return page


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_a_train_ending_here_says_its_onward_journey_is_cancelled(
    browser: Any, live_server: Any, tmp_path: Path, lang: str
) -> None:
    words = i18n.MESSAGES[lang]
    live = live_server(store_url(tmp_path), ManualClock(ENDS_AT))
    page = _page(browser, lang)
    page.goto(f"{live.base}/trip/train/S/26527/2025-09-08?stop={NORDBAHNHOF}")
    page.wait_for_selector("#status")
    assert page.locator("#status").inner_text() == words["status_scheduled"]  # it arrives
    assert page.locator("#ends-here").inner_text() == words["ends_here"]
    assert page.locator("#starts-here").count() == 0
    assert words["ends_here_short"] in page.locator("#stops li").all_inner_texts()[0]

    page.goto(f"{live.base}/board/{NORDBAHNHOF}")
    page.wait_for_selector("#arrivals li a")
    [row] = [r for r in page.locator("#arrivals li").all_inner_texts() if "S 26527" in r]
    assert words["status_scheduled"] in row and words["ends_here_short"] in row
    others = [r for r in page.locator("#arrivals li").all_inner_texts() if "S 26527" not in r]
    assert not any(words["ends_here_short"] in r for r in others)
    assert page.errors == []


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_a_train_starting_here_says_it_leaves_from_here(
    browser: Any, live_server: Any, tmp_path: Path, lang: str
) -> None:
    words = i18n.MESSAGES[lang]
    live = live_server(store_url(tmp_path), ManualClock(STARTS_AT))
    page = _page(browser, lang)
    page.goto(f"{live.base}/trip/train/S/26532/2025-09-08?stop={NORDBAHNHOF}")
    page.wait_for_selector("#status")
    assert page.locator("#status").inner_text() == words["status_cancelled"]  # it does not arrive
    assert page.locator("#starts-here").inner_text() == words["starts_here"]
    assert page.locator("#ends-here").count() == 0
    assert words["starts_here_short"] in page.locator("#stops li").all_inner_texts()[0]

    page.goto(f"{live.base}/board/{NORDBAHNHOF}")
    page.wait_for_selector("#arrivals li a")
    [row] = [r for r in page.locator("#arrivals li").all_inner_texts() if "S 26532" in r]
    assert words["status_cancelled"] in row and words["starts_here_short"] in row
    assert page.errors == []
