"""The OpenSky Network: ADS-B arrivals and departures by airport."""

from eta.collectors.kind import Kind
from eta.collectors.sources.opensky.settings import OpenSkySettings

KINDS = (
    Kind(
        "opensky",
        "OpenSky Network",
        "OpenSky arrivals and departures (ADS-B, runway side)",
        OpenSkySettings,
        "eta.collectors.sources.opensky.flights:OpenSkyAdapter",
    ),
)
