"""IRIS snapshot archives: calls and platforms as a direct reading of the XML, known at snapshot time."""

from __future__ import annotations

import tarfile
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from eta.config import Settings
from eta.errors import InputError
from eta.importers import iris_archive
from eta.store.queries import latest_state, observations_as_of
from eta.store.schema import Call, CallRef, Observation
from tests.conftest import FIXTURES, REPO

SLICE = FIXTURES / "iris_archive" / "raw"
WEEK = REPO.parent / "shared" / "data" / "trains" / "platforms" / "db-iris-berlin-dams"


def _direct_reading(archive: Path, kind: str) -> dict[str, dict[str, str]]:
    """stop id → <ar> attributes read with ElementTree (plan: first seen; changes: last seen; added: the
    first change that carries a planned time ``pt`` and names its train, an additional stop's plan)."""
    found: dict[str, dict[str, str]] = {}
    with tarfile.open(archive) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            handle = tar.extractfile(member)
            if handle is None:
                continue
            for s in ET.fromstring(handle.read()).iter("s"):
                ar = s.find("ar")
                if ar is None:
                    continue
                tl = s.find("tl")
                if kind == "plan":
                    found.setdefault(s.get("id", ""), dict(ar.attrib))
                elif kind == "added":
                    if ar.get("pt") and tl is not None and tl.get("c") and tl.get("n"):
                        found.setdefault(s.get("id", ""), {"pp": ar.get("pp", "")})
                else:
                    found[s.get("id", "")] = dict(ar.attrib)
    return found


def test_calls_and_final_platforms_match_the_xml(store: Engine, settings: Settings) -> None:
    iris_archive.run(store, settings, SLICE)
    plan = _direct_reading(next((SLICE / "timetables").glob("*.tar.gz")), "plan")
    changes = _direct_reading(next((SLICE / "timetable_changes").glob("*.tar.gz")), "changes")
    added = _direct_reading(next((SLICE / "timetable_changes").glob("*.tar.gz")), "added")
    plan = {**added, **plan}  # a stop a plan lists is as that plan lists it (plans are read first)
    with store.connect() as conn:
        calls = pd.read_sql(
            select(CallRef.ref, Call.id, Call.planned_platform)
            .join(Call, Call.id == CallRef.call_id)
            .where(Call.scheduled_arrival.is_not(None)),
            conn,
        ).set_index("ref")
    assert set(calls.index) == set(plan)
    state = latest_state(observations_as_of(store, datetime(2025, 9, 4, tzinfo=UTC)))
    for stop_id, attributes in plan.items():
        call = calls.loc[stop_id]
        assert call["planned_platform"] == (attributes.get("pp") or None)
        final = changes.get(stop_id, {}).get("cp") or attributes.get("pp")
        announced = state["platform"].get(call["id"]) if call["id"] in state.index else None
        assert (announced if isinstance(announced, str) else attributes.get("pp")) == final, stop_id


def test_a_platform_change_is_known_from_its_snapshot_on(store: Engine, settings: Settings) -> None:
    iris_archive.run(store, settings, SLICE)
    with store.connect() as conn:
        first_change = conn.execute(
            select(Observation.call_id, func.min(Observation.observed_at))
            .where(Observation.platform.is_not(None))
            .group_by(Observation.call_id)
            .limit(1)
        ).one()
    call_id, observed_at = first_change
    # snapshot folders are named for HH:00/15/30/45 and fetched a minute later
    assert observed_at.minute % 15 == 1
    before = latest_state(observations_as_of(store, observed_at.replace(second=0) - pd.Timedelta(seconds=1)))
    after = latest_state(observations_as_of(store, observed_at))
    assert call_id not in before.index or pd.isna(before.loc[call_id, "platform"])
    assert isinstance(after.loc[call_id, "platform"], str)


def test_reimporting_the_archive_adds_nothing(store: Engine, settings: Settings) -> None:
    first = iris_archive.run(store, settings, SLICE)
    assert first.inserted["observations"] > 0
    second = iris_archive.run(store, settings, SLICE)
    assert sum(second.inserted.values()) == 0


def test_a_folder_without_archives_is_a_clear_error(
    tmp_path: Path, store: Engine, settings: Settings
) -> None:
    with pytest.raises(InputError, match="no plan archives"):
        iris_archive.run(store, settings, tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not WEEK.exists(), reason="the shared Berlin IRIS week is not beside the checkout")
def test_the_berlin_week_rebuilds_every_arrival_and_platform(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eta.config import get_settings
    from eta.store import open_store

    monkeypatch.setenv("ETA_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    settings = get_settings()
    engine = open_store(settings)
    iris_archive.run(engine, settings, WEEK / "raw")
    derived = pd.read_csv(WEEK / "arrivals_derived.csv.gz", dtype=str)
    with engine.connect() as conn:
        calls = pd.read_sql(
            select(CallRef.ref, Call.id, Call.planned_platform)
            .join(Call, Call.id == CallRef.call_id)
            .where(Call.scheduled_arrival.is_not(None)),
            conn,
        )
    state = latest_state(observations_as_of(engine, datetime(2025, 9, 10, tzinfo=UTC)))
    joined = derived.merge(calls, left_on="stop_id", right_on="ref", how="outer", indicator=True)
    assert (joined["_merge"] != "left_only").all()
    # besides: the additional stops only change lists name (not in the plan-based reference)
    joined = joined[joined["_merge"] == "both"]
    assert len(joined) == 295_940
    final = joined["id"].map(state["platform"]).fillna(joined["planned_platform_y"])
    assert (joined["planned_platform_x"].fillna("") == joined["planned_platform_y"].fillna("")).all()
    assert (final.fillna("") == joined["actual_platform"].fillna("")).all()
