"""Flight status APIs behind one interface: FlightAware AeroAPI and AviationStack."""

from eta.collectors.kind import Kind
from eta.collectors.sources.flight_status.settings import FlightStatusSettings

KINDS = (
    Kind(
        "flight-status",
        "FlightAware AeroAPI or AviationStack",
        "flight status: gate and runway times, gates, cancellations",
        FlightStatusSettings,
        "eta.collectors.sources.flight_status.status:FlightStatusAdapter",
    ),
)
