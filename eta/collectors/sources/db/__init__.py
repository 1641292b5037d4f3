"""Deutsche Bahn: the Timetables API (IRIS) live, and recorded IRIS snapshots."""

from eta.collectors.kind import Kind
from eta.collectors.sources.db.settings import DbIrisSettings

KINDS = (
    Kind(
        "db-iris",
        "Deutsche Bahn",
        "DB Timetables API (IRIS): plans and changes per station",
        DbIrisSettings,
        "eta.collectors.sources.db.iris_collector:DbIrisAdapter",
    ),
)
