"""aviationweather.gov: METAR reports at airports."""

from eta.collectors.kind import Kind
from eta.collectors.sources.aviationweather.settings import MetarSettings

KINDS = (
    Kind(
        "metar",
        "aviationweather.gov",
        "METAR weather reports at airports",
        MetarSettings,
        "eta.collectors.sources.aviationweather.metar:MetarAdapter",
    ),
)
