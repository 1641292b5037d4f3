"""Where to park: the reference file format, and the expected-walk recommendation."""

from __future__ import annotations

from pathlib import Path

import pytest

from eta.config import Settings
from eta.errors import InputError
from eta.parking import ParkingReference, expand_platforms, read_rows

HEADER = "location,place_id,place_name,place_kind,platforms,walk_min,status,source\n"


def test_platform_lists_and_ranges() -> None:
    assert expand_platforms("11-13;27; T4") == ["11", "12", "13", "27", "T4"]
    assert expand_platforms("B20-B22") == ["B20", "B21", "B22"]
    with pytest.raises(ValueError, match="backwards"):
        expand_platforms("16-11")


def test_the_bundled_reference_loads_examples_and_published_berlin_car_parks() -> None:
    directory = Settings().reference_dir / "parking"
    reference = ParkingReference.load(directory)
    assert {"8000261", "8011160", "8098160", "8010255", "8011113", "JFK"} <= set(reference.by_location)
    examples = directory / "examples.csv"
    assert "EXAMPLES TO BE REPLACED" in examples.read_text()
    assert {row["status"] for row in read_rows(examples)} == {"example"}
    published = read_rows(directory / "db-bahnpark.csv")
    assert {row["status"] for row in published} == {"published"}
    assert all("CC BY 4.0" in row["source"] for row in published)
    munich = reference.by_location["8000261"]
    assert munich.platforms() == {str(n) for n in range(5, 37)}


def test_a_walk_for_every_platform_is_advised_with_or_without_platform_probabilities() -> None:
    reference = ParkingReference.load(Settings().reference_dir / "parking")
    for probs in ({}, {"14": 0.7, "15": 0.3}):
        found = reference.recommend("8011160", probs)  # Berlin Hbf, upper level
        assert found is not None
        assert found.best.place.name == "Parkhaus Berlin Hauptbahnhof"
        assert found.best.expected_walk_min == pytest.approx(4.6)
        assert found.coverage == pytest.approx(1.0) and found.confidence == pytest.approx(1.0)
        assert not found.best.place.example and "DB BahnPark" in found.best.place.source
    ostbahnhof = reference.recommend("8010255", {"3": 1.0})
    assert ostbahnhof is not None
    assert [ostbahnhof.best.place.place_id] + [o.place.place_id for o in ostbahnhof.alternatives] == [
        "db-100023",
        "db-100024",
    ]
    assert reference.recommend("8011102", {}) is None  # Gesundbrunnen: no published car park
    assert reference.recommend("8000261", {}) is None  # platform rows only: a platform is needed


def test_the_place_with_the_least_expected_walk_and_how_sure(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text(
        HEADER
        + "S,north,North gate,drop_off,1-2,2,published,measured 2025\n"
        + "S,north,North gate,drop_off,3,8,published,measured 2025\n"
        + "S,south,South gate,car_park,1-2,7,published,measured 2025\n"
        + "S,south,South gate,car_park,3,3,published,measured 2025\n"
    )
    reference = ParkingReference.load(tmp_path)
    # north 0.3·2 + 0.2·2 + 0.5·8 = 5.0, south 0.3·7 + 0.2·7 + 0.5·3 = 5.0, and each is the nearest with
    # probability 0.5: a full tie is broken by the place id
    tie = reference.recommend("S", {"1": 0.3, "2": 0.2, "3": 0.5})
    assert tie is not None and tie.best.place.place_id == "north"
    found = reference.recommend("S", {"1": 0.6, "3": 0.4})
    assert found is not None
    assert found.best.place.place_id == "north"
    assert found.best.expected_walk_min == pytest.approx(0.6 * 2 + 0.4 * 8)
    assert found.confidence == pytest.approx(0.6)
    assert found.alternatives[0].expected_walk_min == pytest.approx(0.6 * 7 + 0.4 * 3)
    # how sure, in the traveller's terms: the platforms the place is nearest to, and their probability
    assert found.serves == ["1", "2"] and found.serves_probability == pytest.approx(0.6)
    assert "North gate, about 4 min walk expected; it serves platforms 1–2: 60%." in found.summary()
    partial = reference.recommend("S", {"3": 0.5, "9": 0.5})  # platform 9 is not in the file
    assert partial is not None and partial.coverage == pytest.approx(0.5)
    assert partial.best.place.place_id == "south"
    assert "cover 50%" in partial.summary()
    assert reference.recommend("S", {"9": 1.0}) is None
    assert reference.recommend("Z", {"1": 1.0}) is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("S,a,A,drop_off,1,2,guessed,\n", "status must be one of"),
        ("S,a,A,drop_off,1,2,published,\n", "must name its source"),
        ("S,a,A,drop_off,1,two,example,\n", "is not a number"),
        ("S,a,A,drop_off,1,500,example,\n", "between 0 and 120"),
        ("S,a,,drop_off,1,2,example,\n", "place_name is empty"),
        ("S,a,A,drop_off,9-1,2,example,\n", "backwards"),
    ],
)
def test_bad_rows_are_named(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + row)
    with pytest.raises(InputError, match=message):
        ParkingReference.load(tmp_path)


def test_missing_columns(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("location,walk_min\nS,3\n")
    with pytest.raises(InputError, match="lacks the columns"):
        ParkingReference.load(tmp_path)
