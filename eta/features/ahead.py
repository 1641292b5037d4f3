"""What the other trains reported in the last hour at the stops still ahead of this one, as known at t.

A disruption between a train and its target (a slow section, a blocked platform, a signal fault) shows first
in the reports of the trains that passed there just before, whatever their line or direction. For each query,
the stops still ahead are those after the service's latest report (from its origin where it has reported
nothing yet) up to the target, at most :data:`MAX_STOPS` of them, the ones nearest the target. At each, the
reports of the last :data:`~eta.features.reports.RECENT_WINDOW` before t give the mean delay and the mean
delay gained over the reporting train's last hop; per query:

- ``ahead_gain_sum_s``, ``ahead_gain_mean_s``, ``ahead_gain_max_s``: the stops' mean gains summed, averaged
  and the largest (NaN where no stop ahead had a report);
- ``ahead_delay_mean_s``, ``ahead_delay_max_s``: the stops' mean delays, averaged and the largest;
- ``ahead_count``: how many reports that took in all.

Only reports observed by t enter (:func:`eta.features.reports.recent_delays`); the stops come from the
timetable. The service's own reports cannot enter: it has not reached the stops ahead by t.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eta.features.reports import recent_delays

MAX_STOPS = 12
# Queries expanded into (query, stop ahead) rows at once: bounds the memory used.
CHUNK = 200_000
FEATURES = [
    "ahead_gain_sum_s",
    "ahead_gain_mean_s",
    "ahead_gain_max_s",
    "ahead_delay_mean_s",
    "ahead_delay_max_s",
    "ahead_count",
]


def compute(
    calls: pd.DataFrame, ctx: pd.DataFrame, latest: pd.DataFrame, reports: pd.DataFrame, chunk: int = CHUNK
) -> pd.DataFrame:
    """This module's features per query in ``ctx`` (indexed by qid, with service_id, sequence and t)."""
    location_of = calls.set_index(["service_id", "sequence"])["location"]
    parts = [
        _for_queries(ctx.iloc[i : i + chunk], latest.iloc[i : i + chunk], location_of, reports)
        for i in range(0, len(ctx), chunk)
    ]
    if not parts:
        return pd.DataFrame(columns=FEATURES, index=ctx.index, dtype="float64")
    return pd.concat(parts)[FEATURES]


def stops_ahead(ctx: pd.DataFrame, latest: pd.DataFrame, location_of: pd.Series) -> pd.DataFrame:
    """One row per (query, stop still ahead): the query's row number ``owner``, the ``location`` and ``t``."""
    target = ctx["sequence"].to_numpy(dtype="int64")
    reported = latest["report_sequence"].to_numpy(dtype="float64")
    first = np.where(np.isnan(reported), 0, np.nan_to_num(reported) + 1).astype("int64")
    first = np.maximum(first, target - MAX_STOPS + 1)
    n = np.clip(target - first + 1, 0, None)
    owner = np.repeat(np.arange(len(ctx)), n)
    step = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    keys = pd.MultiIndex.from_arrays(
        [np.repeat(ctx["service_id"].to_numpy(dtype="int64"), n), np.repeat(first, n) + step]
    )
    rows = pd.DataFrame(
        {
            "owner": owner,
            "location": location_of.reindex(keys).to_numpy(),
            "t": ctx["t"].array.take(owner),  # as datetimes: to_numpy() made a Timestamp object of each
        }
    )
    return rows[rows["location"].notna()].reset_index(drop=True)


def _for_queries(
    ctx: pd.DataFrame, latest: pd.DataFrame, location_of: pd.Series, reports: pd.DataFrame
) -> pd.DataFrame:
    rows = stops_ahead(ctx, latest, location_of)
    probes = rows.assign(qid=np.arange(len(rows)))[["qid", "location", "t"]]
    gains = recent_delays(probes, reports, "location", "location", value="gain_s")
    delays = recent_delays(probes, reports, "location", "location")
    rows["gain_s"] = gains["mean"].reindex(probes["qid"]).to_numpy()
    rows["count"] = gains["count"].reindex(probes["qid"]).to_numpy()
    rows["delay_s"] = delays["mean"].reindex(probes["qid"]).to_numpy()
    by_query = rows.groupby("owner")
    per_query = pd.DataFrame(
        {
            "ahead_gain_sum_s": by_query["gain_s"].sum(min_count=1),
            "ahead_gain_mean_s": by_query["gain_s"].mean(),
            "ahead_gain_max_s": by_query["gain_s"].max(),
            "ahead_delay_mean_s": by_query["delay_s"].mean(),
            "ahead_delay_max_s": by_query["delay_s"].max(),
            "ahead_count": by_query["count"].sum(),
        }
    )
    out = per_query.reindex(np.arange(len(ctx)))
    out["ahead_count"] = out["ahead_count"].fillna(0.0)
    out.index = ctx.index
    return out
