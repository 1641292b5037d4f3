"""NS (Nederlandse Spoorwegen): InfoPlus messages pushed over ZeroMQ by NDOV Loket."""

from eta.collectors.kind import Kind
from eta.collectors.sources.ns.settings import NsInfoPlusSettings

KINDS = (
    Kind(
        "ns-infoplus",
        "NS via NDOV Loket",
        "NS InfoPlus RIT/DVS/DAS XML, pushed over ZeroMQ",
        NsInfoPlusSettings,
        "eta.collectors.sources.ns.infoplus:NsInfoPlusAdapter",
        push=True,
    ),
)
