"""When the operator makes a call's platform known: months ahead (published) or only shortly before the
arrival (unpublished: SNCF about 20 minutes before, New York Penn 10–15).

At an unpublished station nothing about the platform is known before ``scheduled_arrival − lead``: neither
the planned platform nor any change report. From then on the platform known is the latest report's, else
the planned one. The same rule hides the platform in training, backtests (where every station can be
treated as unpublished to measure the mode on data that has plans) and serving.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from eta.config import PlatformSettings
from eta.errors import InputError

EVERY_STATION = "*"


@dataclass(frozen=True)
class Publication:
    """Which stations announce the platform late, and how many seconds before the scheduled arrival."""

    default_lead_s: int = 1200
    leads_s: dict[str, int] = field(default_factory=dict)
    everywhere: bool = False

    @classmethod
    def from_settings(cls, settings: PlatformSettings) -> Publication:
        default = settings.announce_lead_min * 60
        leads: dict[str, int] = {}
        everywhere = False
        for item in (part.strip() for part in settings.unpublished_stations):
            if item == EVERY_STATION:
                everywhere = True
                continue
            code, _, minutes = item.partition(":")
            if not code:
                raise InputError(f"unpublished station {item!r} has no location code")
            leads[code] = _minutes(item, minutes) * 60 if minutes else default
        return cls(default, leads, everywhere)

    @classmethod
    def all_stations(cls, lead_s: int = 1200) -> Publication:
        """Every station unpublished with one lead: the backtest's simulation of the mode."""
        return cls(lead_s, {}, True)

    @property
    def any(self) -> bool:
        return self.everywhere or bool(self.leads_s)

    def lead_s(self, locations: pd.Series) -> pd.Series:
        """Seconds before the scheduled arrival at which each location announces; NaN where published."""
        codes = locations.astype(str)
        leads = codes.map(self.leads_s).astype("float64")
        if self.everywhere:
            leads = leads.fillna(float(self.default_lead_s))
        return leads

    def announced_at_one(self, location: str, scheduled_arrival: datetime | None) -> datetime | None:
        """When one call's platform is announced; None where it is published in advance."""
        lead = self.leads_s.get(str(location), self.default_lead_s if self.everywhere else None)
        if lead is None or scheduled_arrival is None:
            return None
        return scheduled_arrival - timedelta(seconds=lead)

    def announced_at(self, calls: pd.DataFrame) -> pd.Series:
        """Per call (``location``, ``scheduled_arrival``): when its platform is announced; NaT where the
        platform is published in advance."""
        lead = pd.to_timedelta(self.lead_s(calls["location"]), unit="s")
        return calls["scheduled_arrival"] - lead


def _minutes(item: str, text: str) -> int:
    try:
        minutes = int(text)
    except ValueError:
        raise InputError(f"unpublished station {item!r}: the lead after ':' must be whole minutes") from None
    if not 1 <= minutes <= 240:
        raise InputError(f"unpublished station {item!r}: the lead must be 1 to 240 minutes")
    return minutes
