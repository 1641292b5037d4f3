"""The operator accuracy's precomputed join (eta.api.accuracy_view): the operator API and the dashboard
answer from one kept frame, equal to joining afresh while the store is unchanged, and follow its changes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from eta.api import accuracy, accuracy_view
from eta.api.accuracy_view import AccuracyView
from tests.api.conftest import DB_DAY_NOW
from tests.api.helpers import add_observation, add_prediction, call_at

ACCURACY = "/api/v1/operator/accuracy"
NOW = DB_DAY_NOW + timedelta(hours=8)  # the seeded day's predictions lie in the week before


def _same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Equal rows; a missing value may be None or NaN (a column all None in one window keeps None)."""

    def plain(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.sort_values(["call_id", "made_at"]).reset_index(drop=True).astype(object)
        return frame.where(frame.notna(), None)

    pd.testing.assert_frame_equal(plain(left), plain(right))


def test_the_kept_frame_equals_the_join_for_any_window_it_covers(engine: Engine) -> None:
    view = AccuracyView(engine, span=timedelta(days=7), ahead=timedelta(days=1), stale_s=0)
    windows = [
        (NOW - timedelta(days=7), NOW),
        (NOW - timedelta(hours=26), NOW - timedelta(hours=6)),
        (datetime(2026, 5, 4, 15, 0, tzinfo=UTC), datetime(2026, 5, 4, 18, 30, tzinfo=UTC)),
    ]
    for start, end in windows:
        for mode in (None, "train", "flight"):
            kept = view.frame(start, end, NOW, mode)
            fresh = accuracy.served_vs_actual(engine, start, end, mode)
            if fresh.empty:
                assert kept.empty
                continue
            _same(kept, fresh)
    assert len(view.frame(*windows[0], NOW)) > 20


def test_the_operator_api_and_the_dashboard_join_once_for_every_view(
    make_client: Callable[..., TestClient],
    seeded_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from eta.api.apikeys import create_key
    from eta.clock import ManualClock

    clock = ManualClock(NOW)
    client = make_client(seeded_url, clock)
    engine = client.app.state.eta.engine  # type: ignore[attr-defined]
    key, _ = create_key(engine, "ops")
    joins: list[tuple[datetime, datetime]] = []
    join = accuracy.served_vs_actual

    def counted(engine: Engine, start: datetime, end: datetime, mode: str | None = None) -> Any:
        joins.append((start, end))
        return join(engine, start, end, mode)

    monkeypatch.setattr(accuracy_view.accuracy, "served_vs_actual", counted)
    headers = {"X-API-Key": key}
    answers = [
        client.get(ACCURACY, params={"group_by": group}, headers=headers).json()
        for group in ("overall", "horizon", "station", "line", "day")
    ]
    answers.append(client.get(ACCURACY, params={"mode": "train"}, headers=headers).json())
    clock.advance(600)  # the served clock goes on: still inside the kept span
    answers.append(client.get(ACCURACY, headers=headers).json())
    login = client.post(
        "/dashboard/login",
        data={"api_key": key},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert login.status_code == 303
    page = client.get("/dashboard", params={"days": 1})
    assert page.status_code == 200 and "accuracy-by-horizon" in page.text
    assert len(joins) == 1 and joins[0] == (NOW - timedelta(days=7), NOW + timedelta(days=1))
    assert answers[0]["rows"][0]["n"] > 20
    assert sum(r["n"] for r in answers[1]["rows"]) == answers[0]["rows"][0]["n"]
    assert answers[-1]["rows"] == answers[0]["rows"]  # nothing new was served or arrived
    # a write to the store: the next answer joins again and counts it (stale_s 0 in tests)
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), "8000261")
    add_prediction(engine, call, NOW - timedelta(hours=3), 60)
    add_observation(engine, call, NOW - timedelta(hours=2), actual_arrival=call.scheduled_arrival)
    after = client.get(ACCURACY, headers=headers).json()
    assert len(joins) == 2 and after["rows"][0]["n"] >= answers[0]["rows"][0]["n"] + 1


def test_a_changed_store_is_answered_from_the_kept_frame_while_it_is_refreshed(engine: Engine) -> None:
    view = AccuracyView(engine, span=timedelta(days=7), ahead=timedelta(days=1), stale_s=3600)
    start = NOW - timedelta(days=7)
    before = view.frame(start, NOW, NOW)
    first = view.kept
    call = call_at(engine, "ICE", "1011", date(2026, 5, 4), "8000261")
    add_prediction(engine, call, NOW - timedelta(hours=3), 60)
    add_observation(engine, call, NOW - timedelta(hours=2), actual_arrival=call.scheduled_arrival)
    stale = view.frame(start, NOW, NOW)  # at once, from the kept frame; a refresh starts meanwhile
    assert len(stale) == len(before)
    for _ in range(1_200):  # until the background refresh is kept (a bound, not a time budget)
        if view.kept is not first and view.kept is not None and view.kept.version == view.version():
            break
        time.sleep(0.05)
    assert view.kept is not first
    assert len(view.frame(start, NOW, NOW)) == len(accuracy.served_vs_actual(engine, start, NOW))
    assert len(view.frame(start, NOW, NOW)) > len(before)


def test_a_window_outside_the_kept_span_is_joined_there_and_then(engine: Engine) -> None:
    view = AccuracyView(engine, span=timedelta(days=1), ahead=timedelta(hours=1), stale_s=0)
    start, end = NOW - timedelta(days=30), NOW
    _same(view.frame(start, end, NOW), accuracy.served_vs_actual(engine, start, end))
    assert view.kept is None  # nothing kept for a window it does not keep


def test_a_roll_up_is_a_change_the_kept_frame_follows(engine: Engine) -> None:
    """Rolling up deletes the rolled days' predictions (their sums go to accuracy_daily): the kept frame
    must not count them a second time beside the sums."""
    from eta.api.rollup import roll_up_predictions
    from eta.config import Settings

    settings = Settings()
    now = datetime(2026, 5, 5, 12, 0, tzinfo=UTC) + timedelta(days=settings.store.predictions_keep_days)
    view = AccuracyView(engine, span=timedelta(days=60), ahead=timedelta(days=1), stale_s=0)
    start = now - timedelta(days=60)
    before = view.frame(start, now, now)
    assert len(before) > 20
    roll_up_predictions(engine, settings, now)
    after = view.frame(start, now, now)
    assert len(after) < len(before)  # the rolled days are counted from accuracy_daily only
    rows = accuracy.summarise(after, "overall", accuracy.rolled_up(engine, start, now))
    assert rows[0]["n"] == accuracy.summarise(before, "overall")[0]["n"]


def test_closing_waits_for_a_refresh_under_way(engine: Engine) -> None:
    """A refresh thread still running when the interpreter exits aborts ``eta serve`` (exit 134); the app's
    shutdown closes the view, which waits for it."""
    view = AccuracyView(engine, span=timedelta(days=7), ahead=timedelta(days=1), stale_s=0)
    entered, release = threading.Event(), threading.Event()

    def slow_plots(kept: accuracy_view.Kept) -> None:
        entered.set()
        release.wait(30)

    view.after_kept = slow_plots
    view.warm(NOW)
    assert entered.wait(60)
    closing = threading.Thread(target=view.close)
    closing.start()
    closing.join(0.2)
    assert closing.is_alive()  # still waiting for the refresh
    release.set()
    closing.join(60)
    assert not closing.is_alive()
    assert not [t for t in threading.enumerate() if t.name == "eta-accuracy"]
