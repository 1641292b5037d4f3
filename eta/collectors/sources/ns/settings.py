"""Settings of the NS InfoPlus collector kind ``ns-infoplus``: a ZeroMQ subscription (NDOV Loket)."""

from __future__ import annotations

from pydantic import Field

from eta.collectors.kind import SourceSettings


class NsInfoPlusSettings(SourceSettings):
    """NS InfoPlus RIT / DVS / DAS messages pushed over ZeroMQ by an NDOV-style publisher."""

    endpoint: str = Field(
        default="tcp://pubsub.besteffort.ndovloket.nl:7664",
        description="ZeroMQ publisher to subscribe to (NDOV Loket's InfoPlus port, or a relay of it).",
    )
    envelopes: list[str] = Field(
        default_factory=lambda: [
            "/RIG/InfoPlusDVSInterface4",
            "/RIG/InfoPlusDASInterface4",
            "/RIG/InfoPlusRITInterface5",
        ],
        description="Envelopes (topics) subscribed to, as JSON: departures, arrivals, whole runs.",
    )
    interval_s: int = Field(
        default=10, ge=1, description="Seconds between two runs; each writes what arrived since as one batch."
    )
    silence_s: int = Field(
        default=900,
        ge=10,
        description="A run with no message for this long fails (error kind timeout; the circuit counts it).",
    )
    max_messages: int = Field(
        default=20_000, ge=1, description="Most messages taken into one run; the rest wait for the next."
    )
    high_water_mark: int = Field(
        default=100_000, ge=1, description="Messages ZeroMQ queues between runs before it drops new ones."
    )
