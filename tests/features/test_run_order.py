"""The features see a run's calls in the order the run reaches them (issue 15's notes).

IRIS numbers the stops a change list adds to a run from 100 on, after the trip's own stops, wherever they lie
on the run. Here an S-Bahn run numbered as IRIS numbers it: own stops 1 … 5, and stop 100 added between own
stops 3 and 4 by scheduled time. Its features must be those of the same run numbered in run order (1 … 6):
the stop added is the previous stop of own stop 4, and two stops lie between it and own stop 5.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import delete, insert, update

from eta.config import Settings
from eta.features import compute_features, load_frames
from eta.features.frames import Frames, added_later, run_positions
from eta.features.history import History
from eta.features.queries import QUERY_COLUMNS, horizon_queries, target_calls
from eta.store import open_store
from eta.store.schema import Call, Observation, Service

DAY = date(2025, 9, 8)
# (IRIS sequence, sequence in run order, location, scheduled arrival, departure); the train runs 3 min late
STOPS = [
    (1, 1, "8089063", None, "06:00"),
    (2, 2, "8089052", "06:04", "06:05"),
    (3, 3, "8089007", "06:09", "06:10"),
    (100, 4, "8089024", "06:13", "06:14"),  # added by a change list
    (4, 5, "8089053", "06:17", "06:18"),
    (5, 6, "8089021", "06:22", None),
]
LATE = timedelta(minutes=3)
T = datetime(2025, 9, 8, 6, 19, tzinfo=UTC)  # the added stop left (known 06:18), own stop 4 not reached


def _at(hhmm: str | None) -> datetime | None:
    return None if hhmm is None else datetime.fromisoformat(f"{DAY}T{hhmm}:00+00:00")


def _frames(tmp_path: Path, numbering: str) -> Frames:
    """A store holding the run, its stops numbered as IRIS numbers them (``iris``) or in run order."""
    engine = open_store(Settings(database_url=f"sqlite:///{tmp_path / numbering}.sqlite3", data_dir=tmp_path))
    with engine.begin() as conn:
        conn.execute(
            insert(Service).values(
                id=1, mode="train", operator="S", number="5", service_date=DAY, line="S5", source="db-iris"
            )
        )
        for iris, in_order, location, arrival, departure in STOPS:
            sequence = iris if numbering == "iris" else in_order
            call_id = 10 + in_order
            conn.execute(
                insert(Call).values(
                    id=call_id,
                    service_id=1,
                    sequence=sequence,
                    location=location,
                    location_tz="Europe/Berlin",
                    scheduled_arrival=_at(arrival),
                    scheduled_departure=_at(departure),
                )
            )
            # each event reported a minute after it happened
            for kind, planned in (("arrival", _at(arrival)), ("departure", _at(departure))):
                if planned is None:
                    continue
                actual = planned + LATE
                conn.execute(
                    insert(Observation).values(
                        call_id=call_id,
                        observed_at=actual + timedelta(minutes=1),
                        source="db-iris",
                        **{f"actual_{kind}": actual},
                    )
                )
    frames = load_frames(engine, "train", datetime(2025, 9, 8, tzinfo=UTC), datetime(2025, 9, 9, tzinfo=UTC))
    engine.dispose()
    return frames


def _features_of_last_stop(frames: Frames) -> pd.DataFrame:
    last = frames.calls[frames.calls["call_id"] == 16]
    queries = last[["call_id", "service_id", "sequence"]].assign(qid=0, t=pd.Timestamp(T), horizon="test")
    queries["t"] = queries["t"].astype("datetime64[us, UTC]")
    return compute_features("train", frames, queries[QUERY_COLUMNS], History(), {})


def test_a_stop_added_between_own_stops_counts_where_the_run_reaches_it(tmp_path: Path) -> None:
    iris = _frames(tmp_path, "iris")
    features = _features_of_last_stop(iris).iloc[0]
    # the latest report, the added stop's departure (3 min late), lies two stops before own stop 5
    assert features["latest_delay_s"] == LATE.total_seconds()
    assert features["report_location"] == "8089024"
    assert features["report_stops_to_go"] == 2
    # own stop 4 is left from the added stop: its next_stop query is made when that departure is known
    next_stop = horizon_queries(iris, target_calls(iris), ("next_stop",)).set_index("call_id")["t"]
    assert next_stop[15] == _at("06:18")  # type: ignore[operator]
    # the same run numbered in run order has the same features
    in_order = _features_of_last_stop(_frames(tmp_path, "in_order"))
    pd.testing.assert_frame_equal(_features_of_last_stop(iris), in_order)


def test_positions_keep_the_stores_numbers_where_they_are_in_run_order() -> None:
    """Run order by scheduled time; the store's numbers where they already are that order (gaps: stops
    not in the store), else the next position. S 90068 of 2025-09-04 (Berlin IRIS week) ran its added stops
    100 … 102 from 08:23, then its own stop 9 at 09:24; a run may also end on added stops."""
    runs = [  # service, store's sequence in run order, positions
        (1, [3, 5, 9], [3, 5, 9]),
        (2, [100, 101, 102, 9], [9, 10, 11, 12]),
        (3, [1, 2, 3, 100, 4, 5], [1, 2, 3, 4, 5, 6]),
        (4, [0, 1, 100, 101], [0, 1, 100, 101]),
    ]
    service = pd.Series([s for s, numbers, _ in runs for _ in numbers])
    sequence = pd.Series([n for _, numbers, _ in runs for n in numbers])
    expected = [p for _, _, positions in runs for p in positions]
    assert run_positions(service, sequence).tolist() == expected


def _added_stop_known_after(tmp_path: Path, t: datetime) -> tuple[Frames, Frames]:
    """The IRIS-numbered run with its added stop known only 5 min after ``t``: the frames the sweep reads
    at ``t``, and the frames read whole."""
    url = f"sqlite:///{tmp_path / 'iris'}.sqlite3"
    _frames(tmp_path, "iris")
    engine = open_store(Settings(database_url=url, data_dir=tmp_path))
    with engine.begin() as conn:
        conn.execute(update(Call).where(Call.id == 14).values(known_since=t + timedelta(minutes=5)))
    window = (datetime(2025, 9, 8, tzinfo=UTC), datetime(2025, 9, 9, tzinfo=UTC))
    live = load_frames(engine, "train", *window, observed_until=t)
    everything = load_frames(engine, "train", *window)
    engine.dispose()
    return live, everything


def test_a_stop_added_later_moves_no_stop_before_it_is_known(tmp_path: Path) -> None:
    """The sweep at t reads only the calls known by t; frames read later and cut at t number them alike."""
    before = datetime(2025, 9, 8, 5, 30, tzinfo=UTC)
    live, everything = _added_stop_known_after(tmp_path, before)
    pd.testing.assert_frame_equal(live.calls, everything.observed_until(before).calls)
    assert live.calls["sequence"].tolist() == [1, 2, 3, 4, 5]
    assert everything.calls["sequence"].tolist() == [1, 2, 3, 4, 5, 6]


def test_a_query_takes_its_position_from_the_frames_it_is_computed_on(tmp_path: Path) -> None:
    """served-accuracy replays a served prediction with the backtest's query (built on the frames read
    whole, where the stop added later already moves own stops 4 and 5 on by one) on the frames as the store
    held them when it was made: the features must be those the sweep computed then, whatever position the
    query carries."""
    made = datetime(2025, 9, 8, 6, 11, tzinfo=UTC)
    live, everything = _added_stop_known_after(tmp_path, made)
    whole = everything.calls.set_index("call_id")["sequence"]
    assert whole[16] == 6  # on the frames read whole, the query for own stop 5 carries position 6

    def features(frames: Frames, sequence: int) -> pd.DataFrame:
        query = pd.DataFrame(
            {
                "qid": [0],
                "call_id": [16],
                "service_id": [1],
                "sequence": [sequence],
                "t": [pd.Timestamp(made)],
            }
        ).assign(horizon="test")
        query["t"] = query["t"].astype("datetime64[us, UTC]")
        return compute_features("train", frames, query[QUERY_COLUMNS], History(), {})

    swept = features(live, int(live.calls.set_index("call_id")["sequence"][16]))
    pd.testing.assert_frame_equal(features(everything.observed_until(made), int(whole[16])), swept)
    assert swept.iloc[0]["report_stops_to_go"] == 3  # from own stop 2 (left 06:08, known 06:09) to own stop 5


def _stops_after(frames: Frames) -> dict[int, float]:
    arriving = frames.calls[frames.calls["scheduled_arrival"].notna()]
    queries = arriving[["call_id", "service_id", "sequence"]].assign(t=pd.Timestamp(T), horizon="test")
    queries = queries.reset_index(drop=True).assign(qid=lambda q: range(len(q)))
    queries["t"] = queries["t"].astype("datetime64[us, UTC]")
    features = compute_features("train", frames, queries[QUERY_COLUMNS], History(), {})
    return dict(zip(queries["call_id"], features["stops_after"].reindex(queries["qid"]), strict=True))


def test_stops_after_counts_the_calls_after_the_target_on_its_run(tmp_path: Path) -> None:
    """IRIS numbers a run's stops from 1, and a store need not hold all of them: the stops after a call
    are the run's calls after it, 0 at its last (the calibration's end bucket), not n_calls - sequence - 1."""
    assert _stops_after(_frames(tmp_path, "iris")) == {12: 4.0, 13: 3.0, 14: 2.0, 15: 1.0, 16: 0.0}
    url = f"sqlite:///{tmp_path / 'in_order'}.sqlite3"
    _frames(tmp_path, "in_order")
    engine = open_store(Settings(database_url=url, data_dir=tmp_path))
    with engine.begin() as conn:  # own stop 2 not in the store: the gap stays in the numbers
        conn.execute(delete(Observation).where(Observation.call_id == 12))
        conn.execute(delete(Call).where(Call.id == 12))
    frames = load_frames(engine, "train", datetime(2025, 9, 8, tzinfo=UTC), datetime(2025, 9, 9, tzinfo=UTC))
    engine.dispose()
    assert frames.calls["sequence"].tolist() == [1, 3, 4, 5, 6]
    assert _stops_after(frames) == {13: 3.0, 14: 2.0, 15: 1.0, 16: 0.0}


def test_frames_read_whole_count_no_stop_added_after_the_querys_t(tmp_path: Path) -> None:
    """Training and backtests compute a query at t on the frames read whole, where the stop added 5 min
    after t is already on the run: its features must be those the sweep computes at t on the frames the
    store held then (own stop 5 at position 5, 1 stop after own stop 4, 3 stops from the latest report),
    for every query at t, not only those after the stop added."""
    made = datetime(2025, 9, 8, 6, 11, tzinfo=UTC)
    live, everything = _added_stop_known_after(tmp_path, made)
    arriving = live.calls[live.calls["scheduled_arrival"].notna()]
    queries = arriving[["call_id", "service_id", "sequence"]].assign(t=pd.Timestamp(made), horizon="test")
    queries = queries.reset_index(drop=True).assign(qid=lambda q: range(len(q)))
    queries["t"] = queries["t"].astype("datetime64[us, UTC]")
    swept = compute_features("train", live, queries[QUERY_COLUMNS], History(), {})
    assert swept.loc[3, ["sequence", "stops_after", "report_stops_to_go"]].tolist() == [5.0, 0.0, 3.0]
    whole = compute_features("train", everything, queries[QUERY_COLUMNS], History(), {})
    pd.testing.assert_frame_equal(whole, swept)


def test_a_stop_is_added_later_where_a_stop_after_it_was_known_before() -> None:
    """IRIS: each station's plan comes for its hour, so a run's stops become known in their order; a stop a
    change list adds is known after a stop that comes after it on the run. Only the latter is added later
    (NULL: known before anything stored)."""
    at = [pd.Timestamp(f"2025-09-08T{hh}:01:00+00:00") for hh in ("05", "06", "07")]
    calls = pd.DataFrame(
        {
            "service_id": [1, 1, 1, 1, 2, 2, 2],
            "known_since": [at[0], at[1], at[0], at[1], pd.NaT, at[2], pd.NaT],
        }
    ).astype({"known_since": "datetime64[us, UTC]"})
    assert added_later(calls).tolist() == [False, True, False, False, False, True, False]
