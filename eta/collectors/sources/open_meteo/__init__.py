"""Open-Meteo: hourly weather forecasts (and the historical archive for backfills)."""

from eta.collectors.kind import Kind
from eta.collectors.sources.open_meteo.settings import OpenMeteoSettings

KINDS = (
    Kind(
        "open-meteo",
        "Open-Meteo",
        "hourly weather forecasts at given places",
        OpenMeteoSettings,
        "eta.collectors.sources.open_meteo.forecast:OpenMeteoAdapter",
    ),
)
