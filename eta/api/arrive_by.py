"""'Will I make it?': the probability of arriving by a given time, from a prediction's quantiles."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from eta.api import schemas
from eta.model.distribution import probability_at_most


def with_arrive_by(trip: schemas.Trip, by: datetime | None) -> schemas.Trip:
    """``trip`` with each predicted call's probability of arriving by ``by`` (unchanged without it)."""
    if by is None:
        return trip
    for call in trip.calls:
        predicted = call.predicted
        if predicted is None or not predicted.quantiles:
            continue
        offsets = np.array([(q.arrival - predicted.p50).total_seconds() for q in predicted.quantiles])
        chance = probability_at_most(offsets, (by - predicted.p50).total_seconds())
        predicted.arrive_by_probability = round(chance, 3)
    return trip
