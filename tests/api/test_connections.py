"""'Will I make my connection?': two trains at Augsburg Hbf on 4 May 2026 (real DB runs), the first
train's served arrival and the second's departure from a departure model trained on a March week."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from eta.clock import ManualClock
from eta.features import load_frames
from eta.model import departure, registry
from eta.model.artefact import Artefact
from eta.store import open_store
from eta.store.engine import make_engine
from tests import slices
from tests.api.helpers import berlin
from tests.model.conftest import small_settings

AUGSBURG = "8000013"
URL = f"/api/v1/connections/train/{AUGSBURG}"
# ICE 1011 is due at Augsburg at 19:11 (3 min late, then on to München); ICE 1069 leaves at 20:22.
PAIR = {"arriving": "ICE/1011/2026-05-04", "leaving": "ICE/1069/2026-05-04"}


@pytest.fixture(scope="module")
def departure_model(tmp_path_factory: pytest.TempPathFactory) -> Artefact:
    directory = tmp_path_factory.mktemp("departure-week")
    url = slices.copy_of(slices.trains_template(), directory)
    engine = make_engine(url)
    start, end = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 7, tzinfo=UTC)
    frames = load_frames(engine, "train", start, end)
    engine.dispose()
    return departure.train(frames, "train", start, end, small_settings(url, directory, n_rounds=10))


def _with_model(url: str, model: Artefact, tmp_path: Path) -> str:
    """Register ``model`` in the store at ``url`` and make it the departure champion."""
    settings = small_settings(url, tmp_path / "models")
    engine = open_store(settings)
    entry = registry.register(engine, settings, model, "train-departure-test")
    registry.promote(engine, settings, entry.version)
    engine.dispose()
    return entry.version


def test_the_chance_a_connection_holds_falls_with_the_transfer_time_needed(
    seeded_url: str,
    clock: ManualClock,
    make_client: Callable[..., TestClient],
    departure_model: Artefact,
    tmp_path: Path,
) -> None:
    client = make_client(seeded_url, clock)
    refused = client.get(URL, params=PAIR)
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    assert "departure model" in refused.json()["detail"]
    version = _with_model(seeded_url, departure_model, tmp_path)
    answer = client.get(URL, params=PAIR).json()
    assert answer["scheduled_transfer_s"] == 71 * 60 and answer["min_transfer_s"] == 300
    arriving, leaving = answer["arriving"], answer["leaving"]
    assert arriving["basis"] == "predicted" and arriving["scheduled"] == "2026-05-04T19:11:00+02:00"
    assert leaving["basis"] == "predicted" and leaving["model_version"] == version
    assert leaving["scheduled"] == "2026-05-04T20:22:00+02:00"
    p10, p50, p90 = (datetime.fromisoformat(leaving[k]) for k in ("p10", "p50", "p90"))
    assert p10 <= p50 <= p90 and abs(p50 - datetime.fromisoformat(leaving["scheduled"])) < timedelta(
        minutes=15
    )

    def chance(minutes: int) -> float:
        got = client.get(URL, params=PAIR | {"min_transfer_s": minutes * 60})
        assert got.status_code == 200, got.text
        return float(got.json()["probability"])

    chances = [chance(m) for m in (5, 60, 71, 80, 110)]
    assert chances == sorted(chances, reverse=True)
    assert chances[0] > 0.97  # an hour to spare
    assert chances[-1] < 0.05  # it would have to leave 39 min later than the other arrives late
    assert chances[1] > chances[3]


def test_a_train_that_has_arrived_is_certain(
    seeded_url: str,
    clock: ManualClock,
    make_client: Callable[..., TestClient],
    departure_model: Artefact,
    tmp_path: Path,
) -> None:
    _with_model(seeded_url, departure_model, tmp_path)
    clock.now = berlin("2026-05-04 19:30")  # ICE 1011 reached Augsburg at 19:14
    client = make_client(seeded_url, clock)
    answer = client.get(URL, params=PAIR | {"min_transfer_s": 4080}).json()
    assert answer["arriving"]["basis"] == "arrived"
    assert answer["arriving"]["actual"] == "2026-05-04T19:14:00+02:00"
    assert answer["arriving"]["p50"] is None
    # 68 min needed, 68 min left after its arrival: it holds where ICE 1069 does not leave early
    assert 0.4 < answer["probability"] <= 1.0


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        (PAIR | {"arriving": "ICE-1011-2026-05-04"}, 422, "query.arriving"),
        (PAIR | {"min_transfer_s": -1}, 422, "query.min_transfer_s"),
        (PAIR | {"leaving": "ICE/1069/2026-13-04"}, 422, "not a date"),
        (PAIR | {"leaving": "ICE/1069/2027-05-04"}, 422, "days ahead"),
        (PAIR | {"arriving": "ICE/9999/2026-05-04"}, 404, ""),
    ],
)
def test_bad_requests_are_problems(client: TestClient, params: dict, status: int, detail: str) -> None:
    answer = client.get(URL, params=params)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.text


def test_a_train_that_does_not_call_there_is_not_found(client: TestClient) -> None:
    answer = client.get("/api/v1/connections/train/8000261", params=PAIR)  # ICE 1069 ends at München
    assert answer.status_code == 404
    assert "does not leave from 8000261" in answer.json()["detail"]
