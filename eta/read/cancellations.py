"""Which event of a call a cancellation concerns: its arrival, or its departure.

A report's ``cancelled`` is the arrival's cancellation (for a call without an arrival, its departure's), and
``departure_cancelled`` the departure's where the source cancels it apart (DB IRIS, NS InfoPlus: a train
that ends early arrives at its last stop and does not leave it; one that starts late leaves a stop it did not
arrive at). NULL there means "as ``cancelled``": sources that cancel a whole call (GTFS-RT skipped stops,
flights), and reports stored before migration 0023.

Arrivals (boards, trips' status, passage, the sweep and the arrival model's targets, the GTFS-RT feed) read
``cancelled``; departures (connections, the departure model's view) read :func:`departure`, row by row
before the latest word is taken: a report that names the departure's state apart overrides an earlier whole
cancellation, and a later whole one overrides it.
"""

from __future__ import annotations

import pandas as pd


def departure_of(cancelled: bool | None, departure_cancelled: bool | None) -> bool | None:
    """One report's word on the departure: its own, else the whole call's (None: it says nothing)."""
    return cancelled if departure_cancelled is None else departure_cancelled


def departure(observations: pd.DataFrame) -> pd.Series:
    """Per observation row, the departure's cancellation: ``departure_cancelled``, else ``cancelled``
    (nullable boolean; NA where the row says nothing of either)."""
    own = observations["cancelled"].astype("boolean")
    if "departure_cancelled" not in observations:
        return own
    return observations["departure_cancelled"].astype("boolean").fillna(own)
