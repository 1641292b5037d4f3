"""Where to park: reference walking times from platforms (or gates, terminals) to car parks and drop-off
zones, and the place that minimises the expected walk under the platform probabilities.

The reference is every ``*.csv`` in ``<reference_dir>/parking/`` (format: docs/parking.md). A row whose
platforms are ``*`` holds one walk for every platform (measured from the station's reference point, where
platform positions are not published): such a place is advised even without platform probabilities.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from eta.errors import InputError

COLUMNS = ("location", "place_id", "place_name", "place_kind", "platforms", "walk_min", "status", "source")
STATUSES = ("published", "example")
ANY_PLATFORM = "*"
_RANGE = re.compile(r"^([A-Za-z]*)(\d+)-\1?(\d+)$")


@dataclass(frozen=True)
class Place:
    place_id: str
    name: str
    kind: str
    example: bool
    source: str = ""


@dataclass
class LocationParking:
    """Walking minutes per (place, platform) at one location."""

    places: dict[str, Place] = field(default_factory=dict)
    walk_min: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))

    def platforms(self) -> set[str]:
        return {p for walks in self.walk_min.values() for p in walks}

    def walk(self, place_id: str, platform: str) -> float | None:
        """Minutes from ``platform`` to the place: its own row, else the place's every-platform row."""
        walks = self.walk_min[place_id]
        return walks.get(platform, walks.get(ANY_PLATFORM))


@dataclass(frozen=True)
class Option:
    place: Place
    expected_walk_min: float
    best_probability: float


@dataclass(frozen=True)
class Recommendation:
    best: Option
    alternatives: list[Option]
    coverage: float
    # The platforms the recommended place is the nearest to (ties included) and the probability that the
    # train uses one of them.
    serves: list[str] = field(default_factory=list)
    serves_probability: float = 0.0

    @property
    def confidence(self) -> float:
        return self.best.best_probability

    def summary(self) -> str:
        text = (
            f"Recommended: {self.best.place.name}, about {self.best.expected_walk_min:.0f} min walk expected"
        )
        if self.serves:
            text += f"; it serves {platform_span(self.serves)}: {self.serves_probability:.0%}."
        else:
            text += "."
        if self.coverage < 0.999:
            text += f" Walking times cover {self.coverage:.0%} of the likely platforms."
        if self.best.place.example:
            text += " (Example walking times, not measured.)"
        return text


class ParkingReference:
    """All locations' parking tables, read once at start-up."""

    def __init__(self, by_location: dict[str, LocationParking]) -> None:
        self.by_location = by_location

    @classmethod
    def load(cls, directory: Path) -> ParkingReference:
        by_location: dict[str, LocationParking] = defaultdict(LocationParking)
        if directory.is_dir():
            for path in sorted(directory.glob("*.csv")):
                for row in read_rows(path):
                    table = by_location[row["location"]]
                    table.places[row["place_id"]] = Place(
                        row["place_id"],
                        row["place_name"],
                        row["place_kind"],
                        row["status"] == "example",
                        row["source"] if row["status"] == "published" else "",
                    )
                    for platform in expand_platforms(row["platforms"]):
                        table.walk_min[row["place_id"]][platform] = float(row["walk_min"])
        return cls(dict(by_location))

    def recommend(self, location: str, platform_probs: dict[str, float]) -> Recommendation | None:
        table = self.by_location.get(location)
        if table is None:
            return None
        known = table.platforms()
        every = ANY_PLATFORM in known
        covered = {p: pr for p, pr in platform_probs.items() if (p in known or every) and pr > 0}
        if not covered and every:  # no platform known yet: the walks that hold for any platform
            covered = {ANY_PLATFORM: 1.0}
        coverage = sum(covered.values())
        if coverage <= 0:
            return None
        options = [
            Option(place, _expected_walk(table, pid, covered, coverage), 0.0)
            for pid, place in table.places.items()
            if all(table.walk(pid, p) is not None for p in covered)
        ]
        if not options:
            return None
        best_share = _nearest_share(table, [o.place.place_id for o in options], covered, coverage)
        ranked = sorted(
            (Option(o.place, o.expected_walk_min, best_share[o.place.place_id]) for o in options),
            key=lambda o: (o.expected_walk_min, -o.best_probability, o.place.place_id),
        )
        ids = [o.place.place_id for o in options]
        # with no platform probabilities (the every-platform walks) there is nothing to be sure of
        serves = [] if ANY_PLATFORM in covered else _nearest_platforms(table, ranked[0].place.place_id, ids)
        probability = sum(covered.get(p, 0.0) for p in serves) / coverage
        # a walk for every platform covers whatever platform is used, named or not
        coverage = 1.0 if every else min(coverage, 1.0)
        return Recommendation(ranked[0], ranked[1:], coverage, serves, probability)

    def recommend_terminal(self, location: str, terminal: str) -> Recommendation | None:
        """Advice for an airport whose reference names terminals, not gates: the terminal as the provider
        writes it ("4", "T4") matched as written or with a ``T`` in front, as the reference files write it."""
        table = self.by_location.get(location)
        if table is None:
            return None
        known = table.platforms()
        for name in (terminal, f"T{terminal}"):
            if name in known:
                return self.recommend(location, {name: 1.0})
        return None


def _expected_walk(table: LocationParking, place_id: str, probs: dict[str, float], total: float) -> float:
    return sum(prob * (table.walk(place_id, p) or 0.0) for p, prob in probs.items()) / total


def _nearest_share(
    table: LocationParking, place_ids: list[str], probs: dict[str, float], total: float
) -> dict[str, float]:
    """Per place, the probability that it is the nearest to the platform used (ties share)."""
    share = dict.fromkeys(place_ids, 0.0)
    for platform, prob in probs.items():
        walks = {pid: table.walk(pid, platform) or 0.0 for pid in place_ids}
        shortest = min(walks.values())
        nearest = [pid for pid, walk in walks.items() if walk == shortest]
        for pid in nearest:
            share[pid] += prob / total / len(nearest)
    return share


def _nearest_platforms(table: LocationParking, place_id: str, place_ids: list[str]) -> list[str]:
    """The platforms named in the reference to which ``place_id`` is the nearest of ``place_ids`` (ties
    count)."""
    served = []
    for platform in sorted(table.platforms() - {ANY_PLATFORM}):
        own = table.walk(place_id, platform)
        walks = [w for pid in place_ids if (w := table.walk(pid, platform)) is not None]
        if own is not None and own <= min(walks):
            served.append(platform)
    return served


def platform_span(platforms: list[str]) -> str:
    """``["5", "6", "7", "8", "11"]`` → ``"platforms 5–8, 11"``; names without a number as they are."""
    numbered = sorted({int(p) for p in platforms if p.isdigit()})
    others = sorted(p for p in set(platforms) if not p.isdigit())
    runs: list[str] = []
    for number in numbered:
        if runs and runs[-1].split("–")[-1] == str(number - 1):
            runs[-1] = f"{runs[-1].split('–')[0]}–{number}"
        else:
            runs.append(str(number))
    names = runs + others
    return ("platform " if len(names) == 1 and "–" not in names[0] else "platforms ") + ", ".join(names)


def expand_platforms(text: str) -> list[str]:
    """``"11-16;27;T4"`` → ``["11", …, "16", "27", "T4"]``; ``"B20-B22"`` → ``["B20", "B21", "B22"]``;
    ``"*"`` (every platform) stays ``["*"]``."""
    out: list[str] = []
    for item in (part.strip() for part in text.split(";")):
        if not item:
            continue
        match = _RANGE.match(item)
        if match:
            prefix, first, last = match.group(1), int(match.group(2)), int(match.group(3))
            if last < first or last - first > 500:
                raise ValueError(f"platform range {item!r} is backwards or too long")
            out += [f"{prefix}{n}" for n in range(first, last + 1)]
        else:
            out.append(item)
    return out


def read_rows(path: Path) -> list[dict[str, str]]:
    """Validated rows of one parking file; the first bad row is an error naming its line."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(line for line in handle if not line.startswith("#"))
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path} lacks the columns {', '.join(missing)} (see docs/parking.md)")
        rows = []
        for number, record in enumerate(reader, start=2):
            row = {k: (v or "").strip() for k, v in record.items() if k}
            problem = _row_problem(row)
            if problem:
                raise InputError(f"{path}: data row {number - 1}: {problem} (see docs/parking.md)")
            rows.append(row)
    return rows


def _row_problem(row: dict[str, str]) -> str | None:
    for name in ("location", "place_id", "place_name", "place_kind", "platforms"):
        if not row[name]:
            return f"{name} is empty"
    if row["status"] not in STATUSES:
        return f"status must be one of {', '.join(STATUSES)}, not {row['status']!r}"
    if row["status"] == "published" and not row["source"]:
        return "a published row must name its source"
    try:
        walk = float(row["walk_min"])
    except ValueError:
        return f"walk_min {row['walk_min']!r} is not a number"
    if not 0 <= walk <= 120:
        return "walk_min must be between 0 and 120"
    try:
        expand_platforms(row["platforms"])
    except ValueError as exc:
        return str(exc)
    return None
