"""Platform features as known at t, one row per (query, candidate platform).

For a call and a time t: the planned platform, what had been announced by t (the latest change report,
else the plan), the delay known at t and hence when the train is expected, how many other trains are
scheduled at the planned (and at each candidate) platform around that time (conflicts push trains to
another platform), this train's and this station's platform history from the training window, and
category, line and time of day. Candidates are the platforms the station used in the training window, plus
the call's planned and announced platforms.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from eta._time import utc_micros
from eta.features.common import categorical, local_time_parts, query_context, scheduled_nearby, vocabulary
from eta.features.frames import Frames
from eta.features.history import History
from eta.features.reports import delay_reports, latest_estimate, latest_report, seconds

CONFLICT_WINDOW = timedelta(minutes=5)
# Platform changes come in clusters (a blocked track moves every train planned there for a while): 69 % of
# the IRIS week's changed calls have another change at the same station and planned platform within 2 h.
MOVED_WINDOW = timedelta(hours=2)
MAX_CANDIDATES = 8
QUERY_FEATURES = [
    "time_to_arrival_s",
    "delay_s",
    "delay_known",
    "announced_changed",
    "announcement_age_s",
    "n_changes_so_far",
    "planned_conflicts",
    "planned_gap_s",
    "hist_change_rate",
    "hist_train_change_rate",
    "hist_train_count",
    "scheduled_nearby_30min",
    "station_moved",
    "hour",
    "weekday",
    "category",
]
PAIR_FEATURES = [
    "is_planned",
    "is_announced",
    "transition_share",
    "station_share",
    "train_share",
    "line_share",
    "platform_distance",
    "same_platform_group",
    "candidate_conflicts",
]
# Other calls at the station moved off this candidate (out) or onto it (in) by t: see moves_nearby.
MOVE_FEATURES = ["moved_out", "moved_in"]
FEATURES = QUERY_FEATURES + PAIR_FEATURES + MOVE_FEATURES


def platform_number(platform: pd.Series) -> pd.Series:
    """The leading number of a platform name ("11 A-C" → 11, "5a" → 5), NaN where there is none."""
    names = platform.astype("string")
    # a station has a few dozen platform names, the candidate pairs hundreds of thousands of rows
    distinct = pd.Series(names.dropna().unique(), dtype="string")
    numbers = pd.to_numeric(distinct.str.extract(r"^(\d+)")[0], errors="coerce")
    return names.map(dict(zip(distinct, numbers, strict=True))).astype("Int64")


def final_platforms(frames: Frames) -> pd.Series:
    """Per call, the platform finally announced: the last change report's platform, else the plan."""
    return final_platform_of(frames.observations, frames.calls.set_index("call_id")["planned_platform"])


def final_platform_of(observations: pd.DataFrame, planned: pd.Series) -> pd.Series:
    """Per call of ``planned`` (indexed by call id): the last report's platform, else the planned one.

    ``observations`` needs ``call_id``, ``observed_at`` and ``platform``. The latest report is the full
    state: no platform there means a change was withdrawn, so the plan holds again. With a ``source``
    column, only sources that gave the call a platform at least once count (others report times only).
    """
    obs = observations
    if "source" in obs.columns:
        speaks = obs.dropna(subset=["platform"])[["call_id", "source"]].drop_duplicates()
        obs = obs.merge(speaks, on=["call_id", "source"])
    obs = obs.sort_values("observed_at", kind="stable")
    last_any = obs.drop_duplicates("call_id", keep="last").set_index("call_id")["platform"]
    reported = planned.index.isin(last_any.index)
    final = last_any.reindex(planned.index).fillna(planned.where(~reported))
    withdrawn = last_any.reindex(planned.index).isna() & reported
    final = final.where(~withdrawn, planned)
    return final.astype("string")


def cancelled_calls(frames: Frames) -> pd.Index:
    obs = frames.observations.sort_values("observed_at", kind="stable")
    last = obs.drop_duplicates("call_id", keep="last").set_index("call_id")["cancelled"]
    return last[last.fillna(False).astype(bool)].index


def platform_targets(frames: Frames, start: datetime, end: datetime) -> pd.DataFrame:
    """Rail calls with a scheduled arrival in [start, end) and a planned platform, not cancelled."""
    calls = frames.calls
    mask = (
        calls["scheduled_arrival"].notna()
        & (calls["scheduled_arrival"] >= pd.Timestamp(start))
        & (calls["scheduled_arrival"] < pd.Timestamp(end))
        & calls["planned_platform"].notna()
        & (calls["planned_platform"].astype(str).str.strip() != "")
        & (calls["operator"].astype(str) != "Bus")
        & ~calls["call_id"].isin(cancelled_calls(frames))
    )
    targets = calls.loc[mask, ["call_id", "service_id", "sequence", "scheduled_arrival"]].copy()
    targets["final_platform"] = targets["call_id"].map(final_platforms(frames))
    return targets.reset_index(drop=True)


def announced_as_of(frames: Frames, queries: pd.DataFrame) -> pd.DataFrame:
    """Per query: the platform announced by t (latest change report's platform, else planned), how many
    platform changes had been reported by then, and when the latest report came."""
    obs = frames.observations[["call_id", "observed_at", "platform"]].sort_values(
        ["call_id", "observed_at"], kind="stable"
    )
    planned = frames.calls.set_index("call_id")["planned_platform"]
    changed = obs["platform"].notna() & (obs["platform"] != obs["call_id"].map(planned))
    obs = obs.assign(n_changes=changed.groupby(obs["call_id"]).cumsum().astype("float64"))
    left = queries[["qid", "call_id", "t"]].sort_values("t", kind="stable")
    joined = pd.merge_asof(
        left,
        obs.sort_values("observed_at", kind="stable"),
        left_on="t",
        right_on="observed_at",
        by="call_id",
        direction="backward",
    ).set_index("qid")
    plan = joined["call_id"].map(planned)
    announced = joined["platform"].where(joined["platform"].notna(), plan)
    return pd.DataFrame(
        {
            "announced": announced.astype("string"),
            "planned": plan.astype("string"),
            "n_changes_so_far": joined["n_changes"].fillna(0.0),
            "announcement_age_s": seconds(joined["t"] - joined["observed_at"]),
        }
    )


def fit_history(
    frames: Frames, start: datetime, end: datetime, exclude_services: frozenset[int] = frozenset()
) -> History:
    """Platform usage and change rates over arrivals scheduled in [start, end), leaving out
    ``exclude_services``."""
    targets = platform_targets(frames, start, end)
    calls = frames.calls.set_index("call_id")
    t = targets.join(calls[["location", "operator", "number", "line", "planned_platform"]], on="call_id")
    t = t[~t["service_id"].isin(exclude_services)]
    t["line_key"] = t["line"].fillna(t["operator"]).astype(str)
    t["changed"] = (t["final_platform"] != t["planned_platform"]).astype("float64")
    t = t.dropna(subset=["final_platform"])
    history = History()
    history.add("change_rate", ["location", "operator"], _mean(t, ["location", "operator"], "changed"))
    history.add(
        "train_change",
        ["operator", "number", "location"],
        _mean(t, ["operator", "number", "location"], "changed"),
    )
    history.add(
        "transition",
        ["location", "planned_platform", "final_platform"],
        platform_shares(t, ["location", "planned_platform"], "final_platform"),
    )
    history.add("station", ["location", "final_platform"], platform_shares(t, ["location"], "final_platform"))
    history.add(
        "train",
        ["operator", "number", "location", "final_platform"],
        platform_shares(t, ["operator", "number", "location"], "final_platform"),
    )
    history.add(
        "line",
        ["line_key", "location", "final_platform"],
        platform_shares(t, ["line_key", "location"], "final_platform"),
    )
    return history


def _mean(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    rows = frame.assign(**{k: frame[k].astype(str) for k in keys})
    grouped = rows.groupby(keys)[value]
    return pd.DataFrame({"mean": grouped.mean().round(4), "count": grouped.size().astype("float64")})


def platform_shares(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Per key and ``value`` (a platform): its share of the key's rows and how many rows, as strings."""
    rows = frame.assign(**{k: frame[k].astype(str) for k in [*keys, value]})
    counts = rows.groupby([*keys, value]).size().astype("float64")
    totals = counts.groupby(level=list(range(len(keys)))).transform("sum")
    return pd.DataFrame({"share": (counts / totals).round(4), "count": counts})


def station_platforms(history: History) -> pd.DataFrame:
    """(location, platform, share) of every platform a station used in the training window."""
    _, table = history.tables["station"]
    return table.reset_index().rename(columns={"final_platform": "platform"})[
        ["location", "platform", "share"]
    ]


def compute_features(
    frames: Frames,
    queries: pd.DataFrame,
    history: History,
    vocabularies: dict[str, list[str]],
    reports: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (query, candidate) with columns qid, candidate and :data:`FEATURES`."""
    reports = delay_reports(frames.calls, frames.observations) if reports is None else reports
    ctx = query_context(frames, queries)
    ctx["line_key"] = ctx["line"].fillna(ctx["operator"]).astype(str)
    q = pd.DataFrame(index=ctx.index)
    q["time_to_arrival_s"] = seconds(ctx["scheduled_arrival"] - ctx["t"])
    estimate = latest_estimate(queries, frames.observations, "estimated_arrival").reindex(ctx.index)
    latest = latest_report(queries, reports).reindex(ctx.index)
    operator_delay = seconds(estimate["estimated_arrival"] - ctx["scheduled_arrival"])
    q["delay_s"] = operator_delay.fillna(latest["delay_s"])
    q["delay_known"] = q["delay_s"].notna().astype("float64")
    expected = ctx["scheduled_arrival"] + pd.to_timedelta(q["delay_s"].fillna(0.0), unit="s")
    announced = announced_as_of(frames, queries).reindex(ctx.index)
    q["announced_changed"] = (announced["announced"] != announced["planned"]).astype("float64")
    q["announcement_age_s"] = announced["announcement_age_s"]
    q["n_changes_so_far"] = announced["n_changes_so_far"]
    slots = frames.calls.assign(
        slot=frames.calls["location"].astype(str) + "|" + frames.calls["planned_platform"].astype(str)
    )
    own_slot = ctx["location"].astype(str) + "|" + announced["planned"].astype(str)
    self_counted = (q["delay_s"].fillna(0.0).abs() <= CONFLICT_WINDOW.total_seconds()).astype("float64")
    q["planned_conflicts"] = (
        scheduled_nearby(slots, "scheduled_arrival", "slot", own_slot, expected, CONFLICT_WINDOW)
        - self_counted
    )
    q["planned_gap_s"] = _nearest_other_gap(slots, own_slot, expected, ctx["scheduled_arrival"])
    q["hist_change_rate"] = history.lookup("change_rate", ctx, "mean", ["location", "operator"])
    train_key = ["operator", "number", "location"]
    q["hist_train_change_rate"] = history.lookup("train_change", ctx, "mean", train_key)
    q["hist_train_count"] = history.lookup("train_change", ctx, "count", train_key).fillna(0.0)
    q["scheduled_nearby_30min"] = scheduled_nearby(
        frames.calls,
        "scheduled_arrival",
        "location",
        ctx["location"],
        ctx["scheduled_arrival"],
        timedelta(minutes=30),
    )
    local = local_time_parts(ctx["scheduled_arrival"], ctx["location_tz"])
    q["hour"] = local["hour"]
    q["weekday"] = local["weekday"]
    q["category"] = categorical(ctx["operator"], vocabularies.get("category", []))
    pairs = _candidates(ctx, announced, history)
    moves = moves_nearby(frames, ctx)
    q["station_moved"] = moves.groupby("qid").size().reindex(q.index).fillna(0.0).astype("float64")
    out = _pair_features(pairs, ctx, q, announced, expected, slots, history)
    for column, side in (("moved_out", "planned"), ("moved_in", "moved_to")):
        counts = moves.groupby(["qid", side]).size()
        index = pd.MultiIndex.from_arrays([out["qid"], out["candidate"]])
        out[column] = counts.reindex(index).fillna(0).to_numpy(dtype="float64")
    return out[["qid", "candidate", *FEATURES]]


def first_moves(frames: Frames) -> pd.DataFrame:
    """Per call, the first report moving it off its planned platform: when, and where to."""
    obs = frames.observations[["call_id", "observed_at", "platform"]]
    planned = frames.calls.set_index("call_id")["planned_platform"].astype("string")
    obs = obs[obs["platform"].notna() & (obs["platform"].astype("string") != obs["call_id"].map(planned))]
    first = obs.sort_values("observed_at", kind="stable").drop_duplicates("call_id")
    calls = frames.calls.set_index("call_id")[["location", "scheduled_arrival"]]
    first = first.join(calls, on="call_id").dropna(subset=["scheduled_arrival"])
    return pd.DataFrame(
        {
            "call_id": first["call_id"].to_numpy(),
            "location": first["location"].astype(str).to_numpy(),
            "moved_at": utc_micros(first["observed_at"]),
            "scheduled": utc_micros(first["scheduled_arrival"]),
            "planned": first["call_id"].map(planned).astype(str).to_numpy(),
            "moved_to": first["platform"].astype(str).to_numpy(),
        }
    )


def moves_nearby(frames: Frames, ctx: pd.DataFrame) -> pd.DataFrame:
    """(qid, planned, moved_to) of every other call at the query's station, scheduled within
    :data:`MOVED_WINDOW` of its scheduled arrival, that had been moved off its planned platform by t."""
    moves = first_moves(frames)
    half = int(MOVED_WINDOW.total_seconds() * 1_000_000)
    t = utc_micros(ctx["t"])
    scheduled = utc_micros(ctx["scheduled_arrival"])
    own = ctx["call_id"].to_numpy()
    qids = ctx.index.to_numpy()
    parts = []
    by_location = moves.groupby("location").indices
    locations = ctx["location"].astype(str).to_numpy()
    for loc, positions in pd.Series(range(len(locations))).groupby(locations).indices.items():
        rows = by_location.get(str(loc))
        if rows is None:
            continue
        ev = moves.iloc[rows]
        for chunk in np.array_split(positions, max(1, len(positions) * len(rows) // 2_000_000 + 1)):
            hit = (
                (ev["moved_at"].to_numpy()[None, :] <= t[chunk, None])
                & (np.abs(ev["scheduled"].to_numpy()[None, :] - scheduled[chunk, None]) <= half)
                & (ev["call_id"].to_numpy()[None, :] != own[chunk, None])
            )
            qi, ei = np.nonzero(hit)
            parts.append(
                pd.DataFrame(
                    {
                        "qid": qids[chunk][qi],
                        "planned": ev["planned"].to_numpy()[ei],
                        "moved_to": ev["moved_to"].to_numpy()[ei],
                    }
                )
            )
    if not parts:
        return pd.DataFrame({"qid": pd.Series(dtype="int64"), "planned": [], "moved_to": []})
    return pd.concat(parts, ignore_index=True)


def _nearest_other_gap(
    slots: pd.DataFrame, own_slot: pd.Series, expected: pd.Series, own_scheduled: pd.Series
) -> pd.Series:
    """Seconds between the expected arrival and the nearest other train scheduled at the same platform."""
    planned = slots[["slot", "scheduled_arrival"]].dropna()
    by_slot = {
        str(k): np.sort(g.to_numpy(dtype="datetime64[us]").astype("int64"))
        for k, g in planned.groupby("slot")["scheduled_arrival"]
    }
    out = np.full(len(expected), np.nan)
    exp = expected.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]").astype("int64")
    own = (
        own_scheduled.dt.tz_convert("UTC")
        .dt.tz_localize(None)
        .to_numpy(dtype="datetime64[us]")
        .astype("int64")
    )
    keys = own_slot.astype(str).to_numpy()
    for key, positions in pd.Series(range(len(keys))).groupby(keys).indices.items():
        arr = by_slot.get(str(key))
        if arr is None or len(arr) < 2:
            continue
        for i in positions:
            others = arr[arr != own[i]]
            if len(others):
                out[i] = np.min(np.abs(others - exp[i])) / 1e6
    return pd.Series(out, index=expected.index)


def _candidates(ctx: pd.DataFrame, announced: pd.DataFrame, history: History) -> pd.DataFrame:
    """(qid, candidate) pairs: the station's platforms by prior share, plus planned and announced."""
    station = station_platforms(history)
    station = station.sort_values(["location", "share"], ascending=[True, False])
    station = station.groupby("location").head(MAX_CANDIDATES)
    base = ctx[["location"]].reset_index()
    base["location"] = base["location"].astype(str)
    from_station = base.merge(station, on="location", how="inner")[["qid", "platform"]]
    own = pd.concat(
        [
            announced["planned"].rename("platform").reset_index(),
            announced["announced"].rename("platform").reset_index(),
        ]
    )
    pairs = pd.concat([from_station, own], ignore_index=True).dropna()
    pairs["platform"] = pairs["platform"].astype(str)
    return pairs.drop_duplicates().rename(columns={"platform": "candidate"}).reset_index(drop=True)


def _pair_features(
    pairs: pd.DataFrame,
    ctx: pd.DataFrame,
    q: pd.DataFrame,
    announced: pd.DataFrame,
    expected: pd.Series,
    slots: pd.DataFrame,
    history: History,
) -> pd.DataFrame:
    keys = ctx[["location", "operator", "number", "line_key"]].astype(str)
    p = pairs.join(keys, on="qid").join(announced[["planned", "announced"]], on="qid")
    p["is_planned"] = (p["candidate"] == p["planned"].astype(str)).astype("float64")
    p["is_announced"] = (p["candidate"] == p["announced"].astype(str)).astype("float64")
    p["transition_share"] = history.lookup(
        "transition",
        p.assign(planned=p["planned"].astype(str)),
        "share",
        ["location", "planned", "candidate"],
    ).fillna(0.0)
    p["station_share"] = history.lookup("station", p, "share", ["location", "candidate"]).fillna(0.0)
    p["train_share"] = history.lookup(
        "train", p, "share", ["operator", "number", "location", "candidate"]
    ).fillna(0.0)
    p["line_share"] = history.lookup("line", p, "share", ["line_key", "location", "candidate"]).fillna(0.0)
    p["platform_distance"] = (platform_number(p["candidate"]) - platform_number(p["planned"])).abs()
    p["same_platform_group"] = (
        (platform_number(p["candidate"]) - 1) // 2 == (platform_number(p["planned"]) - 1) // 2
    ).astype("float64")
    slot = p["location"] + "|" + p["candidate"]
    exp = pd.Series(expected.reindex(p["qid"]).to_numpy(), index=p.index)
    conflicts = scheduled_nearby(slots, "scheduled_arrival", "slot", slot, exp, CONFLICT_WINDOW)
    own = p["is_planned"] * p["qid"].map(
        (q["delay_s"].fillna(0.0).abs() <= CONFLICT_WINDOW.total_seconds()).astype("float64")
    )
    p["candidate_conflicts"] = conflicts - own
    out = p[["qid", "candidate", *PAIR_FEATURES]].join(q[QUERY_FEATURES], on="qid")
    out["category"] = pd.Categorical(out["category"], categories=q["category"].cat.categories)
    return out.reset_index(drop=True)


def vocabularies_for(frames: Frames) -> dict[str, list[str]]:
    return {"category": vocabulary(frames.calls["operator"])}
