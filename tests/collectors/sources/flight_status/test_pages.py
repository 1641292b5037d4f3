"""Flight-status paging (AeroAPI ``links.next``, AviationStack ``pagination``) and the terminals and runway
times it stores, over the loopback server, on SQLite and PostgreSQL.

The pages are built from the real flight objects in ``tests/fixtures/aeroapi`` and ``…/aviationstack`` and
the providers' documented envelopes: AeroAPI ``{"arrivals": [...], "links": {"next":
"/airports/<code>/flights/arrivals?cursor=<c>"} | null, "num_pages": 1}`` (the shape recorded around the
BAW196 object, see that README), AviationStack ``{"pagination": {"limit", "offset", "count", "total"},
"data": [...]}`` (its `/v1/flights` documentation).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from eta.collectors import archive
from eta.collectors.base import Request
from eta.collectors.runner import Runner
from eta.collectors.sources.flight_status.settings import FlightStatusSettings
from eta.collectors.sources.flight_status.status import AeroApi, AviationStack, FlightStatusAdapter
from eta.config import Settings, get_settings
from eta.store.queries import latest_state, observations_as_of
from eta.store.schema import Call, CollectorRun, Observation, RawPayload, Service
from tests.collectors.conftest import Sleeps
from tests.collectors.loopback import Loopback, Reply
from tests.conftest import FIXTURES

NOW = datetime(2024, 10, 11, 1, 0, tzinfo=UTC)
JSON = "application/json"
ARRIVALS = "/aeroapi/airports/SAEZ/flights/arrivals"
SCHEDULED = "/aeroapi/airports/SAEZ/flights/scheduled_arrivals"
STACK = "/v1/flights"


def _load(path: str) -> Any:
    return json.loads((FIXTURES / path).read_bytes())


def _arg1545() -> dict[str, Any]:
    flight: dict[str, Any] = _load("aeroapi/flights_ARG1545_2024-10-10_arrived_CONVERTED-from-python.json")[0]
    return flight


AERO_FLIGHTS = [
    _arg1545(),
    _load("aeroapi/arrivals_EGLL_BAW196_2022-06-27_landed_OBJECT-EXCERPT.json"),
    _load("aeroapi/flight_JZA8838_2023-03-20_scheduled_FRAGMENT-wrapped.json"),
]
STACK_FLIGHTS: list[dict[str, Any]] = _load(
    "aviationstack/flights_data_page100_2023-01-11_abhinav-sanga.json"
)


def _aero_page(flights: list[dict[str, Any]], cursor: str | None) -> Reply:
    links = {"next": f"/airports/SAEZ/flights/arrivals?cursor={cursor}"} if cursor else None
    body = {"arrivals": flights, "links": links, "num_pages": 1}
    return Reply(json.dumps(body).encode(), content_type=JSON)


def _stack_page(offset: int, limit: int) -> Reply:
    data = STACK_FLIGHTS[offset : offset + limit]
    paging = {"limit": limit, "offset": offset, "count": len(data), "total": len(STACK_FLIGHTS)}
    return Reply(json.dumps({"pagination": paging, "data": data}).encode(), content_type=JSON)


@pytest.fixture
def fast(settings: Settings, fast_http: None) -> Settings:
    get_settings.cache_clear()
    return get_settings()


def _aero(loopback: Loopback, max_pages: int = 5) -> FlightStatusAdapter:
    loopback.route(
        SCHEDULED, Reply(b'{"scheduled_arrivals": [], "links": null, "num_pages": 1}', content_type=JSON)
    )
    config = FlightStatusSettings(
        base_url=f"{loopback.url}/aeroapi", airports=["SAEZ"], api_key="aero-key-789", max_pages=max_pages
    )
    return FlightStatusAdapter(config)


def _stack(loopback: Loopback, max_pages: int = 5) -> FlightStatusAdapter:
    config = FlightStatusSettings(
        provider="aviationstack",
        base_url=f"{loopback.url}/v1",
        airports=["NZAA"],
        api_key="stack-key-456",
        max_pages=max_pages,
    )
    return FlightStatusAdapter(config)


def _count(store: Engine, table: Any) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _raw(store: Engine) -> pd.DataFrame:
    with store.connect() as conn:
        return pd.read_sql(select(RawPayload).order_by(RawPayload.id), conn)


def _three_aero_pages(loopback: Loopback) -> None:
    loopback.route(ARRIVALS, _aero_page(AERO_FLIGHTS[:1], "c2-BAW"))
    loopback.route(f"{ARRIVALS}?cursor=c2-BAW", _aero_page(AERO_FLIGHTS[1:2], "c3-JZA"))
    loopback.route(f"{ARRIVALS}?cursor=c3-JZA", _aero_page(AERO_FLIGHTS[2:], None))


# --- following pages ---------------------------------------------------------------------------------


def test_aeroapi_follows_links_next_and_archives_every_page(
    store: Engine, fast: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    _three_aero_pages(loopback)
    result = make_runner(_aero(loopback), store, fast, now=NOW).run_once()
    assert result.ok and not result.errors and result.capped == 0, result.line()
    assert result.fetched == 4  # three pages of arrivals, one of scheduled arrivals
    cursors = [
        q.get("cursor") for path, q in zip(loopback.hits, loopback.queries, strict=True) if path == ARRIVALS
    ]
    assert cursors == [None, "c2-BAW", "c3-JZA"]
    assert all(h["x-apikey"] == "aero-key-789" for h in loopback.headers_seen)  # every page authenticated
    with store.connect() as conn:
        legs = set(conn.execute(select(Service.operator, Service.number)).all())
    assert legs == {("AR", "1545"), ("BA", "196"), ("QK", "8838")}  # a flight from each page
    raw = _raw(store)
    arrivals = raw[raw["kind"] == "arrivals"]
    assert [p.get("cursor") for p in arrivals["params"]] == [None, "c2-BAW", "c3-JZA"]
    assert set(raw["status"]) == {"parsed"}
    for path in arrivals["path"]:  # archived before parsing, and the name gives the page's request back
        body = archive.read(fast.data_dir, path)
        assert json.loads(body)["arrivals"]
        assert archive.parse_name(path)[1].kind == "arrivals"
    assert archive.parse_name(arrivals["path"].iloc[2])[1] == Request.of(
        "arrivals", airport="SAEZ", cursor="c3-JZA"
    )


def test_max_pages_caps_the_pages_read_and_says_so(
    store: Engine, fast: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    _three_aero_pages(loopback)
    result = make_runner(_aero(loopback, max_pages=2), store, fast, now=NOW).run_once()
    assert result.ok and result.capped == 1 and "more pages than max_pages" in result.line()
    assert loopback.queries.count({"cursor": "c3-JZA"}) == 0  # the third page is not asked for
    assert _count(store, Service) == 2


def test_aviationstack_follows_offsets_to_the_total(
    store: Engine, fast: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    loopback.route(STACK, _stack_page(0, 40))
    loopback.route(f"{STACK}?offset=40", _stack_page(40, 40))
    loopback.route(f"{STACK}?offset=80", _stack_page(80, 40))  # 20 left: the last page
    result = make_runner(_stack(loopback), store, fast, now=NOW).run_once()
    assert result.ok and not result.errors, result.line()
    assert [q.get("offset") for q in loopback.queries] == [None, "40", "80"]
    assert all(q["access_key"] == "stack-key-456" and q["arr_icao"] == "NZAA" for q in loopback.queries)
    single = AviationStack(FlightStatusSettings()).flights(STACK_FLIGHTS)  # the same flights as one page
    expected = {(f.carrier_iata, f.number, f.origin.iata) for f in single if f.keyable}
    with store.connect() as conn:
        stored = set(conn.execute(select(Service.operator, Service.number, Service.leg)).all())
    assert stored == expected and len(stored) > 80
    raw = _raw(store)
    assert [p.get("offset") for p in raw["params"]] == [None, "40", "80"]
    assert not any("stack-key-456" in path for path in raw["path"])  # the key is not in archive names


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"pagination": {"limit": 100, "offset": 0, "count": 100, "total": 1669}}, "100"),
        ({"pagination": {"limit": 100, "offset": 1600, "count": 69, "total": 1669}}, None),
        ({"pagination": {"limit": 100, "offset": 0, "count": 0, "total": 5}}, None),  # nothing came: stop
        ({"pagination": {"limit": "100", "offset": "100", "count": "100", "total": "250"}}, "200"),
        ({"pagination": None, "data": []}, None),
        ([], None),
    ],
)
def test_aviationstack_next_offset(data: object, expected: str | None) -> None:
    following = AviationStack(FlightStatusSettings()).next_request(
        Request.of("flights", arr_icao="EDDF"), data
    )
    assert (following.param("offset") if following else None) == expected
    if following:
        assert following.param("arr_icao") == "EDDF"


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        ({"next": "/airports/LHR/flights/arrivals?cursor=b422e1642a81971"}, "b422e1642a81971"),  # recorded
        (None, None),
        ({"next": None}, None),
        ({"next": "/airports/LHR/flights/arrivals"}, None),  # no cursor: not a page link
    ],
)
def test_aeroapi_next_cursor(links: object, expected: str | None) -> None:
    request = Request.of("arrivals", airport="EGLL", cursor="a0")
    following = AeroApi(FlightStatusSettings()).next_request(request, {"arrivals": [], "links": links})
    assert (following.param("cursor") if following else None) == expected
    if following:
        assert following.param("airport") == "EGLL"  # the request's airport, whatever the link names
        url, query = AeroApi(FlightStatusSettings(base_url="https://x/aeroapi")).url(following)
        assert url == "https://x/aeroapi/airports/EGLL/flights/arrivals" and query == {"cursor": expected}


# --- a page that fails -------------------------------------------------------------------------------


def test_a_page_failing_midway_keeps_the_pages_before_it(
    store: Engine,
    fast: Settings,
    loopback: Loopback,
    make_runner: Callable[..., Runner],
    sleeps: Sleeps,
) -> None:
    loopback.route(STACK, _stack_page(0, 40))
    loopback.route(f"{STACK}?offset=40", Reply(b"upstream down", status=503, content_type="text/plain"))
    loopback.route(f"{STACK}?offset=80", _stack_page(80, 40))
    runner = make_runner(_stack(loopback), store, fast, now=NOW)
    result = runner.run_once()
    # page 2 was tried with the runner's retries (3 attempts, 2 backoff sleeps) and given up on
    assert loopback.queries.count(loopback.queries[1]) == 3 and len(sleeps) == 2
    assert result.errors == {"http_5xx": 3} and result.fetched == 1
    assert result.ok  # page 1 was written
    assert {q.get("offset") for q in loopback.queries} == {None, "40"}  # page 3 is not asked for
    first_page = {
        (f.carrier_iata, f.number, f.origin.iata)
        for f in AviationStack(FlightStatusSettings()).flights(STACK_FLIGHTS[:40])
        if f.keyable
    }
    with store.connect() as conn:
        stored = set(conn.execute(select(Service.operator, Service.number, Service.leg)).all())
        run = conn.execute(select(CollectorRun)).one()
    assert stored == first_page
    assert run.error_kind == "http_5xx" and "offset" in (run.error_message or "")
    assert "stack-key-456" not in (run.error_message or "")
    assert len(_raw(store)) == 1

    # the provider recovers: the next run reads every page; page 1 adds nothing twice
    loopback.route(f"{STACK}?offset=40", _stack_page(40, 40))
    n_obs = _count(store, Observation)
    again = make_runner(_stack(loopback), store, fast, now=NOW + timedelta(minutes=5)).run_once()
    assert again.ok and not again.errors and again.fetched == 3
    with store.connect() as conn:
        n_services = conn.execute(select(func.count()).select_from(Service)).scalar_one()
    single = AviationStack(FlightStatusSettings()).flights(STACK_FLIGHTS)
    assert n_services == len({(f.carrier_iata, f.number, f.origin.iata) for f in single if f.keyable})
    assert again.unchanged > 0 and _count(store, Observation) > n_obs


def test_a_page_retried_after_a_5xx_is_read(
    store: Engine,
    fast: Settings,
    loopback: Loopback,
    make_runner: Callable[..., Runner],
    sleeps: Sleeps,
) -> None:
    loopback.route(ARRIVALS, _aero_page(AERO_FLIGHTS[:1], "c2-BAW"))
    loopback.route(
        f"{ARRIVALS}?cursor=c2-BAW",
        Reply(b"", status=502, content_type="text/plain"),
        _aero_page(AERO_FLIGHTS[1:2], None),
    )
    result = make_runner(_aero(loopback), store, fast, now=NOW).run_once()
    assert result.ok and result.errors == {"http_5xx": 1} and len(sleeps) == 1
    assert _count(store, Service) == 2


# --- terminals and runway times ----------------------------------------------------------------------


def _state(store: Engine, t: datetime, call_id: int) -> pd.Series:
    return latest_state(observations_as_of(store, t, [call_id])).loc[call_id]


def _calls(store: Engine) -> pd.DataFrame:
    with store.connect() as conn:
        return pd.read_sql(select(Call).order_by(Call.sequence), conn)


def test_terminals_and_runway_times_are_kept_with_their_history(
    store: Engine, fast: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    """ARG1545 as AeroAPI reported it after landing, and (derived from it) earlier: airborne, with an
    estimated landing and terminal A; later the terminal changes to DA and the actual runway times come."""
    landed = _arg1545()
    airborne = {
        **landed,
        "actual_on": None,
        "actual_in": None,
        "estimated_on": "2024-10-10T23:58:00Z",
        "terminal_destination": "A",
        "status": "En Route / On Time",
    }
    t_air, t_landed = NOW - timedelta(minutes=20), NOW
    loopback.route(ARRIVALS, _aero_page([airborne], None), _aero_page([landed], None))
    assert make_runner(_aero(loopback), store, fast, now=t_air).run_once().ok
    assert make_runner(_aero(loopback), store, fast, now=t_landed).run_once().ok

    origin, destination = (int(i) for i in _calls(store)["id"])
    calls = _calls(store).set_index("sequence")
    assert pd.Timestamp(calls.loc[0, "scheduled_runway_departure"]) == pd.Timestamp(
        "2024-10-10 23:00", tz="UTC"
    )
    assert pd.Timestamp(calls.loc[1, "scheduled_runway_arrival"]) == pd.Timestamp(
        "2024-10-11 00:00", tz="UTC"
    )
    assert pd.isna(calls.loc[0, "scheduled_runway_arrival"]) and pd.isna(
        calls.loc[1, "scheduled_runway_departure"]
    )

    # what was known when: before landing, then after
    before, after = _state(store, t_air, destination), _state(store, t_landed, destination)
    assert before["terminal"] == "A" and after["terminal"] == "DA"
    assert before["estimated_runway_arrival"] == pd.Timestamp("2024-10-10 23:58", tz="UTC")
    assert pd.isna(before["actual_runway_arrival"])
    assert after["actual_runway_arrival"] == pd.Timestamp("2024-10-10 23:56", tz="UTC")
    assert after["estimated_runway_arrival"] == pd.Timestamp("2024-10-10 23:56", tz="UTC")
    assert pd.isna(after["actual_runway_departure"])  # off is the origin's
    dep = _state(store, t_landed, origin)
    assert dep["actual_runway_departure"] == pd.Timestamp("2024-10-10 22:52", tz="UTC")
    assert dep["estimated_runway_departure"] == pd.Timestamp("2024-10-10 22:52", tz="UTC")
    assert dep["platform"] == "5" and pd.isna(dep["terminal"])  # gate 5, no terminal given at Córdoba
    assert dep["actual_departure"] == pd.Timestamp("2024-10-10 22:42", tz="UTC")  # gate out stays apart

    with store.connect() as conn:
        history = pd.read_sql(
            select(Observation).where(Observation.call_id == destination).order_by(Observation.observed_at),
            conn,
        )
    assert list(history["terminal"]) == ["A", "DA"]  # appended, never updated

    # the same report again adds nothing; a change of terminal alone is a new report
    n = _count(store, Observation)
    loopback.route(
        ARRIVALS, _aero_page([landed], None), _aero_page([{**landed, "terminal_destination": "DB"}], None)
    )
    repeat = make_runner(_aero(loopback), store, fast, now=NOW + timedelta(minutes=5)).run_once()
    assert repeat.unchanged == 2 and _count(store, Observation) == n
    moved = make_runner(_aero(loopback), store, fast, now=NOW + timedelta(minutes=10)).run_once()
    assert moved.written["observations"] == 1
    assert _state(store, NOW + timedelta(minutes=10), destination)["terminal"] == "DB"


def test_aviationstack_terminal_and_runway_times_in_local_time(
    store: Engine, fast: Settings, loopback: Loopback, make_runner: Callable[..., Runner]
) -> None:
    body = (FIXTURES / "aviationstack" / "flights_TK17_2024-03-29_landed_ali-osman-de.json").read_bytes()
    loopback.route(STACK, Reply(body, content_type=JSON))  # no pagination block: one page
    result = make_runner(_stack(loopback), store, fast, now=datetime(2024, 3, 30, tzinfo=UTC)).run_once()
    assert result.ok and result.fetched == 1 and len(loopback.queries) == 1
    origin, destination = (int(i) for i in _calls(store)["id"])
    at = datetime(2024, 3, 30, tzinfo=UTC)
    arr, dep = _state(store, at, destination), _state(store, at, origin)
    assert (arr["terminal"], arr["platform"]) == ("1", "E78")
    assert (dep["terminal"], dep["platform"]) == (None, "F7")
    # 19:34 in Toronto (EDT, -4) and 16:07 in Istanbul (+3)
    assert arr["actual_runway_arrival"] == pd.Timestamp("2024-03-29 23:34", tz="UTC")
    assert dep["actual_runway_departure"] == pd.Timestamp("2024-03-29 13:07", tz="UTC")
    assert pd.isna(_calls(store).set_index("sequence").loc[1, "scheduled_runway_arrival"])  # not given


# --- replays -----------------------------------------------------------------------------------------


def _history(engine: Engine) -> pd.DataFrame:
    columns = [c for c in Observation.__table__.columns if c.name not in ("id", "raw_ref")]
    with engine.connect() as conn:
        frame = pd.read_sql(select(*columns).order_by(Observation.call_id, Observation.observed_at), conn)
    for name in frame.columns:
        if name.endswith(("_at", "_arrival", "_departure")):
            frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601")
    return frame.reset_index(drop=True)


def _timetable(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = pd.read_sql(select(Call).order_by(Call.id), conn)
    for name in ("scheduled_runway_arrival", "scheduled_runway_departure"):
        frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601")
    return frame


def test_recorded_pages_replay_to_the_same_rows(
    store: Engine,
    fast: Settings,
    loopback: Loopback,
    make_runner: Callable[..., Runner],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two runs of three pages each, replayed from the raw archive and from the store: same history."""
    from eta.collectors.replay import replay_archive, replay_store
    from eta.store import open_store

    landed = _arg1545()
    airborne = {**landed, "actual_on": None, "actual_in": None, "terminal_destination": "A"}
    _three_aero_pages(loopback)
    loopback.route(ARRIVALS, _aero_page([airborne], "c2-BAW"), _aero_page([landed], "c2-BAW"))
    adapter = _aero(loopback)
    assert make_runner(adapter, store, fast, now=NOW - timedelta(minutes=20)).run_once().ok
    assert make_runner(adapter, store, fast, now=NOW).run_once().ok
    assert len(_raw(store)) == 8

    monkeypatch.setenv("ETA_DATABASE_URL", f"sqlite:///{tmp_path / 'from-archive.sqlite3'}")
    monkeypatch.setenv("ETA_DATA_DIR", str(tmp_path / "other"))
    get_settings.cache_clear()
    other = open_store(get_settings())
    summary = replay_archive(other, get_settings(), adapter, fast.data_dir / "raw", progress=False)
    assert summary.cycles == 2
    pd.testing.assert_frame_equal(_history(other), _history(store))
    pd.testing.assert_frame_equal(_timetable(other), _timetable(store))
    assert set(_history(other)["terminal"].dropna()) >= {"A", "DA"}

    monkeypatch.setenv("ETA_DATABASE_URL", f"sqlite:///{tmp_path / 'from-store.sqlite3'}")
    get_settings.cache_clear()
    third = open_store(get_settings())
    replay_store(
        store, third, get_settings(), NOW - timedelta(hours=1), NOW + timedelta(hours=1), progress=False
    )
    arg = _timetable(third)  # only ARG1545 flies in the window
    assert len(arg) == 2
    pd.testing.assert_frame_equal(
        arg, _timetable(store)[lambda f: f["id"].isin(arg["id"])].reset_index(drop=True)
    )
    source = _history(store)
    pd.testing.assert_frame_equal(
        _history(third), source[source["call_id"].isin(arg["id"])].reset_index(drop=True)
    )
    for engine in (other, third):
        engine.dispose()
