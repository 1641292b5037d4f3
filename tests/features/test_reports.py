"""The sort-based rolling window of eta/features/reports.py against pandas' groupby-rolling."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from eta.features.reports import rolling_mean_count


def test_rolling_mean_and_count_equal_pandas_groupby_rolling_with_ties_and_gaps() -> None:
    rng = np.random.default_rng(7)
    n = 5000
    rows = pd.DataFrame(
        {
            "key": rng.integers(0, 40, n),
            # whole minutes over three days: many rows share a time, and windows start exactly on rows
            "at": pd.to_datetime(rng.integers(0, 3 * 24 * 60, n) * 60, unit="s", utc=True),
            "value": rng.integers(-300, 3600, n).astype("float64"),
        }
    ).sort_values(["key", "at"], kind="stable", ignore_index=True)
    window = timedelta(minutes=60)
    expected = rows.groupby("key", sort=True).rolling(window, on="at")["value"].agg(["mean", "count"])
    mean, count = rolling_mean_count(
        pd.factorize(rows["key"])[0], rows["at"].to_numpy("datetime64[ns]"), rows["value"].to_numpy(), window
    )
    np.testing.assert_allclose(mean, expected["mean"].to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(count, expected["count"].to_numpy())
    assert count.max() > 5  # windows hold several rows, not just their own
