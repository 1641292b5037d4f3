"""Which stations announce their platforms late, and when (eta/features/publication.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from eta.config import PlatformSettings
from eta.errors import InputError
from eta.features.publication import Publication


def test_stations_take_the_default_lead_or_their_own() -> None:
    publication = Publication.from_settings(
        PlatformSettings(unpublished_stations=["8727100", "8768600:15"], announce_lead_min=25)
    )
    at = pd.Timestamp("2025-09-03 16:00", tz="UTC")
    calls = pd.DataFrame({"location": ["8727100", "8768600", "8011160"], "scheduled_arrival": [at] * 3})
    announced = publication.announced_at(calls)
    assert announced.iloc[0] == at - pd.Timedelta(minutes=25)
    assert announced.iloc[1] == at - pd.Timedelta(minutes=15)
    assert pd.isna(announced.iloc[2]), "a station not listed publishes its platforms in advance"
    assert publication.any


def test_a_star_makes_every_station_unpublished() -> None:
    publication = Publication.from_settings(PlatformSettings(unpublished_stations=["*", "X:5"]))
    leads = publication.lead_s(pd.Series(["X", "Y"]))
    assert leads.tolist() == [300.0, 1200.0]
    assert not Publication.from_settings(PlatformSettings()).any


@pytest.mark.parametrize("item", [":10", "8727100:soon", "8727100:0", "8727100:600"])
def test_a_malformed_station_is_a_clear_error(item: str) -> None:
    with pytest.raises(InputError, match="unpublished station"):
        Publication.from_settings(PlatformSettings(unpublished_stations=[item]))
