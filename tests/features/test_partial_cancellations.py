"""Which event a cancellation concerns, for the sweep's queries and the departure view: real IRIS records
of Berlin Nordbahnhof on 2025-09-08 (:mod:`tests.partial_cancellations`). S 26527 ends there (its departure
cancelled): its arrival is predicted, its departure is not. S 26532 starts there (its arrival cancelled):
the other way round."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from eta.features import departures, load_frames
from eta.features.frames import Frames
from eta.features.queries import serving_queries
from eta.store.engine import make_engine
from tests.partial_cancellations import BERLIN, ENDS_HERE_STOP, STARTS_HERE_STOP, store_url


def _frames(tmp_path: Path) -> tuple[Frames, dict[str, int]]:
    engine = make_engine(store_url(tmp_path))
    day = datetime(2025, 9, 8, tzinfo=BERLIN)
    frames = load_frames(engine, "train", day, day + timedelta(days=1))
    with engine.connect() as conn:
        refs = dict(conn.exec_driver_sql("SELECT ref, call_id FROM call_refs").all())
    engine.dispose()
    return frames, {"ends": refs[ENDS_HERE_STOP], "starts": refs[STARTS_HERE_STOP]}


def test_the_sweep_predicts_the_arrival_of_a_train_ending_early_and_the_departure_of_one_starting_late(
    tmp_path: Path,
) -> None:
    frames, call = _frames(tmp_path)
    at = datetime(2025, 9, 8, 7, 5, tzinfo=BERLIN)  # both known; S 26527 due at 06:09 has passed by then
    early = datetime(2025, 9, 8, 6, 5, tzinfo=BERLIN)
    assert set(serving_queries(frames, early)["call_id"]) == {call["ends"]}
    assert set(serving_queries(frames, at)["call_id"]) == set()  # S 26532 does not arrive
    view = departures.view(frames)
    assert set(serving_queries(view, early)["call_id"]) == set()  # S 26527 does not leave
    assert set(serving_queries(view, at)["call_id"]) == {call["starts"]}
