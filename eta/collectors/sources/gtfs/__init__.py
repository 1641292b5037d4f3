"""GTFS: any operator's static feed with its GTFS-Realtime TripUpdates (default: gtfs.de)."""

from eta.collectors.kind import Kind
from eta.collectors.sources.gtfs.settings import GtfsRtSettings

KINDS = (
    Kind(
        "gtfs-rt",
        "any GTFS-Realtime operator",
        "GTFS static + GTFS-Realtime TripUpdates of one operator's feed",
        GtfsRtSettings,
        "eta.collectors.sources.gtfs.realtime:GtfsRtAdapter",
    ),
)
