"""Platform features where the platform is not published in advance, one row per (query, candidate).

The call's own planned platform and its change reports are never read: until the announcement
(:mod:`eta.features.publication`) nothing about them is known. What is known at t:

- history from the training window: the platforms this train number, its line in this direction (the
  stations it comes from and goes to next), that line at this time of day, the line in any
  direction and the station ended at, and the ``history`` baseline's platform;
- today: the platforms announced by t for the line's earlier trains in the same direction (the latest,
  the one before, and the latest at the same minute of the hour), for this train number's latest runs
  (mostly yesterday's), and for the station's other trains (a platform closed today, a line moved for
  building work): of the trains announced in the last hours whose usual platform is the candidate, the
  share announced there, and of those whose usual platform is this train's, the share announced on the
  candidate;
- conflicts: the other trains expected at each candidate platform around this train's expected arrival,
  on the platform announced for them where it has been, else on their own history platform;
- the delay known at t, the time of day and the weekday.

Candidates are the platforms the train, its line (in this direction or any) and the station's busiest
platforms used in the training window, the line's latest platforms today and the train's latest runs'.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from eta._time import utc_micros
from eta.features.common import categorical, local_time_parts, query_context, vocabulary
from eta.features.frames import Frames
from eta.features.history import History
from eta.features.platforms import cancelled_calls, final_platforms, platform_number, platform_shares
from eta.features.publication import Publication
from eta.features.reports import delay_reports, latest_estimate, latest_report, seconds

HORIZONS = ("120min", "60min", "30min", "20min")
CONFLICT_WINDOW = timedelta(minutes=5)
LINE_TODAY_WINDOW = timedelta(hours=12)
STATION_TODAY_WINDOW = timedelta(hours=2)
# Building work closes a platform for a day or a shift: where the station's trains of the last hours were
# announced, compared with where they usually arrive. 12 h, chosen on the validation day (train 09-02 … 04,
# validate 09-05) among 2, 3, 6, 12 h and since local midnight (docs/platforms.md).
USUAL_WINDOW = timedelta(hours=12)
STATION_CANDIDATES = 8
# the platforms announced by t that are candidates and features of their own
TODAY_PLATFORMS = ["last_today", "second_today", "slot_today", "prev_run", "prev2_run"]
BAND_HOURS = 4

TRAIN_KEY = ["operator", "number", "location"]
LINEDIR_KEY = ["line_key", "direction", "location"]
BAND_KEY = ["line_key", "direction", "location", "band"]
LINE_KEY = ["line_key", "location"]
STATION_KEY = ["location"]
SHARE_TABLES = {
    "train": TRAIN_KEY,
    "linedir": LINEDIR_KEY,
    "band": BAND_KEY,
    "line": LINE_KEY,
    "station": STATION_KEY,
}
# The ``history`` baseline: this train number's most frequent platform, else its line's, else the station's.
BASELINE_TABLES = ("train", "line", "station")

QUERY_FEATURES = [
    "time_to_arrival_s",
    "delay_s",
    "delay_known",
    "hour",
    "weekday",
    "category",
    "train_count",
    "linedir_count",
    "today_linedir_n",
    "today_linedir_age_s",
    "today_slot_age_s",
    "today_station_n",
    "prev_run_age_s",
    "usual_n",
]
PAIR_FEATURES = [
    "train_share",
    "linedir_share",
    "band_share",
    "line_share",
    "station_share",
    "is_history",
    "is_last_today",
    "is_second_today",
    "is_slot_today",
    "today_linedir_share",
    "today_station_share",
    "conflicts_known",
    "conflicts_likely",
    "history_distance",
    "is_prev_run",
    "is_prev2_run",
    "usual_kept_share",
    "usual_moved_share",
]
FEATURES = QUERY_FEATURES + PAIR_FEATURES


def call_keys(calls: pd.DataFrame) -> pd.DataFrame:
    """Per call (indexed by call_id): the keys its history is kept under, all strings.

    ``direction`` is the stations the service calls at before and after this one (``from:A|to:B``, empty
    at either end): the timetable's order, known in advance. ``band`` is the local hour // 4, ``minute``
    the scheduled minute of the hour (a line's trains at the same minute of each hour share a pattern).
    """
    c = calls.sort_values(["service_id", "sequence"], kind="stable")
    by_service = c.groupby("service_id", sort=False)["location"]
    previous = by_service.shift(1).astype("string").fillna("")
    following = by_service.shift(-1).astype("string").fillna("")
    direction = "from:" + previous + "|to:" + following
    hour = local_time_parts(c["scheduled_arrival"], c["location_tz"])["hour"]
    keys = pd.DataFrame(
        {
            "location": c["location"].astype(str),
            "operator": c["operator"].astype(str),
            "number": c["number"].astype(str),
            "line_key": c["operator"].astype(str) + "|" + c["line"].astype("string").fillna(""),
            "direction": direction.astype(str),
            "band": (hour // BAND_HOURS).fillna(-1).astype(int).astype(str),
            "minute": ((hour % 1) * 60).round().fillna(-1).astype(int).astype(str),
        }
    )
    keys.index = pd.Index(c["call_id"].to_numpy(), name="call_id")
    return keys


def platform_targets(frames: Frames, start: datetime, end: datetime) -> pd.DataFrame:
    """Rail calls scheduled to arrive in [start, end), not cancelled, with the platform they ended at
    (the last report's, else the planned one; the plan is not required)."""
    calls = frames.calls
    mask = (
        calls["scheduled_arrival"].notna()
        & (calls["scheduled_arrival"] >= pd.Timestamp(start))
        & (calls["scheduled_arrival"] < pd.Timestamp(end))
        & (calls["operator"].astype(str) != "Bus")
        & ~calls["call_id"].isin(cancelled_calls(frames))
    )
    targets = calls.loc[mask, ["call_id", "service_id", "sequence", "scheduled_arrival"]].copy()
    targets["final_platform"] = targets["call_id"].map(final_platforms(frames))
    final = targets["final_platform"].astype("string").str.strip()
    targets = targets[final.notna() & (final != "")]
    return targets.reset_index(drop=True)


def fit_history(
    frames: Frames,
    start: datetime,
    end: datetime,
    exclude_services: frozenset[int] = frozenset(),
    keys: pd.DataFrame | None = None,
) -> History:
    """Platform shares per train, line and direction, line and time of day, line, and station, over
    arrivals scheduled in [start, end), leaving out ``exclude_services``."""
    keys = call_keys(frames.calls) if keys is None else keys
    targets = platform_targets(frames, start, end)
    targets = targets[~targets["service_id"].isin(exclude_services)]
    rows = targets.join(keys, on="call_id")
    history = History()
    for name, key in SHARE_TABLES.items():
        history.add(name, [*key, "final_platform"], platform_shares(rows, key, "final_platform"))
    return history


def top_platform(history: History, name: str, rows: pd.DataFrame) -> pd.Series:
    """The platform most often ended at under table ``name``'s key of each row (ties: the lower name)."""
    keys, table = history.tables[name]
    key = keys[:-1]
    flat = table.reset_index().sort_values(["count", "final_platform"], ascending=[False, True])
    top = flat.drop_duplicates(key).set_index(key)["final_platform"]
    if len(key) == 1:
        index: pd.Index = pd.Index(rows[key[0]].astype(str))
    else:
        index = pd.MultiIndex.from_frame(rows[key].astype(str))
    return pd.Series(top.reindex(index).to_numpy(), index=rows.index, dtype="object")


def history_platform(history: History, rows: pd.DataFrame) -> pd.Series:
    """The ``history`` baseline per row: this train number's most frequent platform at the station in the
    training window, else its line's, else the station's most used (missing where the station is new)."""
    out = pd.Series(None, index=rows.index, dtype="object")
    for name in BASELINE_TABLES:
        out = out.fillna(top_platform(history, name, rows))
    return out


def revealed_platforms(frames: Frames, publication: Publication, keys: pd.DataFrame) -> pd.DataFrame:
    """Per call: when its platform became known (µs since the epoch) and which it was then (the latest
    report's, else the planned one), with its keys. Calls at stations that publish in advance count as
    known from the start, on their planned platform."""
    calls = frames.calls.dropna(subset=["scheduled_arrival"])
    at = publication.announced_at(calls)
    known_from = at.fillna(pd.Timestamp("1970-01-01", tz="UTC"))
    left = pd.DataFrame(
        {"call_id": calls["call_id"].to_numpy(), "revealed": utc_micros(known_from)}
    ).sort_values("revealed", kind="stable")
    obs = frames.observations[["call_id", "observed_at", "platform"]].dropna(subset=["observed_at"])
    right = pd.DataFrame(
        {
            "call_id": obs["call_id"].to_numpy(),
            "observed": utc_micros(obs["observed_at"]),
            "reported": obs["platform"],
        }
    ).sort_values("observed", kind="stable")
    joined = pd.merge_asof(
        left, right, left_on="revealed", right_on="observed", by="call_id", direction="backward"
    )
    planned = calls.set_index("call_id")["planned_platform"]
    reported = joined["reported"].astype("string")
    plan = joined["call_id"].map(planned).astype("string")
    # a call published in advance is known on its plan; otherwise the latest report is the full state
    published = joined["call_id"].map(at.isna().set_axis(calls["call_id"].to_numpy()))
    platform = plan.where(published | joined["observed"].isna(), reported.fillna(plan))
    out = joined[["call_id", "revealed"]].assign(platform=platform.astype("string").str.strip())
    out = out[out["platform"].notna() & (out["platform"] != "")]
    return out.join(keys, on="call_id").reset_index(drop=True)


def compute_features(
    frames: Frames,
    queries: pd.DataFrame,
    history: History,
    vocabularies: dict[str, list[str]],
    publication: Publication,
    reports: pd.DataFrame | None = None,
    keys: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (query, candidate) with columns qid, candidate and :data:`FEATURES`."""
    reports = delay_reports(frames.calls, frames.observations) if reports is None else reports
    keys = call_keys(frames.calls) if keys is None else keys
    ctx = query_context(frames, queries)
    ctx = ctx.drop(columns=["location", "operator", "number"]).join(keys, on="call_id")
    ctx["t_us"] = utc_micros(ctx["t"])
    q = pd.DataFrame(index=ctx.index)
    q["time_to_arrival_s"] = seconds(ctx["scheduled_arrival"] - ctx["t"])
    estimate = latest_estimate(queries, frames.observations, "estimated_arrival").reindex(ctx.index)
    latest = latest_report(queries, reports).reindex(ctx.index)
    operator_delay = seconds(estimate["estimated_arrival"] - ctx["scheduled_arrival"])
    q["delay_s"] = operator_delay.fillna(latest["delay_s"])
    q["delay_known"] = q["delay_s"].notna().astype("float64")
    local = local_time_parts(ctx["scheduled_arrival"], ctx["location_tz"])
    q["hour"] = local["hour"]
    q["weekday"] = local["weekday"]
    q["category"] = categorical(ctx["operator"], vocabularies.get("category", []))
    q["train_count"] = _key_count(history, "train", ctx)
    q["linedir_count"] = _key_count(history, "linedir", ctx)
    revealed = revealed_platforms(frames, publication, keys)
    last = _last_revealed(ctx, revealed, LINEDIR_KEY)
    slot = _last_revealed(ctx, revealed, [*LINEDIR_KEY, "minute"])
    q["today_linedir_age_s"] = (ctx["t_us"] - last["revealed"]) / 1e6
    q["today_slot_age_s"] = (ctx["t_us"] - slot["revealed"]) / 1e6
    line_window = int(LINE_TODAY_WINDOW.total_seconds() * 1e6)
    station_window = int(STATION_TODAY_WINDOW.total_seconds() * 1e6)
    linedir = _joined(ctx, LINEDIR_KEY)
    q["today_linedir_n"] = _recent_counts(
        _joined(revealed, LINEDIR_KEY), revealed["revealed"], linedir, ctx["t_us"], line_window
    )
    q["today_station_n"] = _recent_counts(
        revealed["location"], revealed["revealed"], ctx["location"], ctx["t_us"], station_window
    )
    runs = _last_revealed(ctx, revealed, TRAIN_KEY)
    q["prev_run_age_s"] = (ctx["t_us"] - runs["revealed"]) / 1e6
    ctx["history_platform"] = history_platform(history, ctx)
    ctx["last_today"] = last["platform"]
    ctx["second_today"] = last["previous"]
    ctx["slot_today"] = slot["platform"]
    ctx["prev_run"] = runs["platform"]
    ctx["prev2_run"] = runs["previous"]
    usual_window = int(USUAL_WINDOW.total_seconds() * 1e6)
    # each announced call's usual platform, by the same history the query's own baseline comes from
    usual = revealed.assign(usual=history_platform(history, revealed).astype("string")).dropna(
        subset=["usual"]
    )
    on_usual = _joined(usual, ["location", "usual"])
    q["usual_n"] = _recent_counts(
        on_usual,
        usual["revealed"],
        _joined(ctx, ["location", "history_platform"]),
        ctx["t_us"],
        usual_window,
    )
    scheduled = pd.Series(utc_micros(ctx["scheduled_arrival"]), index=ctx.index)
    expected = scheduled + q["delay_s"].fillna(0.0) * 1e6
    pairs = _candidates(ctx, history)
    p = pairs.join(
        ctx[[*BAND_KEY, "operator", "number", "history_platform", *TODAY_PLATFORMS, "t_us"]], on="qid"
    )
    for name in SHARE_TABLES:
        key = [*SHARE_TABLES[name], "candidate"]
        p[f"{name}_share"] = history.lookup(name, p, "share", key).fillna(0.0)
    p["is_history"] = (p["candidate"] == p["history_platform"]).astype("float64")
    for name in TODAY_PLATFORMS:
        p[f"is_{name}"] = (p["candidate"] == p[name]).astype("float64")
    candidate_at = _joined(p, ["location", "candidate"])
    stayed = (usual["usual"] == usual["platform"]).to_numpy()
    kept = _recent_counts(on_usual[stayed], usual["revealed"][stayed], candidate_at, p["t_us"], usual_window)
    usual_there = _recent_counts(on_usual, usual["revealed"], candidate_at, p["t_us"], usual_window)
    p["usual_kept_share"] = kept / usual_there.replace(0.0, np.nan)
    moved = _recent_counts(
        _joined(usual, ["location", "usual", "platform"]),
        usual["revealed"],
        _joined(p, ["location", "history_platform", "candidate"]),
        p["t_us"],
        usual_window,
    )
    p["usual_moved_share"] = moved / p["qid"].map(q["usual_n"]).replace(0.0, np.nan)
    line_counts = _recent_counts(
        _joined(revealed, [*LINEDIR_KEY, "platform"]),
        revealed["revealed"],
        _joined(p, [*LINEDIR_KEY, "candidate"]),
        p["t_us"],
        line_window,
    )
    p["today_linedir_share"] = line_counts / p["qid"].map(q["today_linedir_n"]).replace(0.0, np.nan)
    station_counts = _recent_counts(
        _joined(revealed, ["location", "platform"]),
        revealed["revealed"],
        _joined(p, ["location", "candidate"]),
        p["t_us"],
        station_window,
    )
    p["today_station_share"] = station_counts / p["qid"].map(q["today_station_n"]).replace(0.0, np.nan)
    conflicts = _conflicts(frames, ctx, expected, revealed, history, keys)
    for column, known in (("conflicts_known", True), ("conflicts_likely", False)):
        counts = conflicts[conflicts["known"] == known].groupby(["qid", "platform"]).size()
        index = pd.MultiIndex.from_arrays([p["qid"], p["candidate"]])
        p[column] = counts.reindex(index).fillna(0).to_numpy(dtype="float64")
    p["history_distance"] = (
        (platform_number(p["candidate"]) - platform_number(p["history_platform"].astype("string")))
        .abs()
        .astype("float64")
    )
    out = p[["qid", "candidate", *PAIR_FEATURES]].join(q[QUERY_FEATURES], on="qid")
    out["category"] = pd.Categorical(out["category"], categories=q["category"].cat.categories)
    return out[["qid", "candidate", *FEATURES]].reset_index(drop=True)


def _key_count(history: History, name: str, rows: pd.DataFrame) -> pd.Series:
    """How many training arrivals table ``name`` holds under each row's key (0 where none)."""
    keys, table = history.tables[name]
    totals = table["count"].groupby(level=list(range(len(keys) - 1))).sum()
    key = keys[:-1]
    if len(key) == 1:
        index: pd.Index = pd.Index(rows[key[0]].astype(str))
    else:
        index = pd.MultiIndex.from_frame(rows[key].astype(str))
    return pd.Series(totals.reindex(index).to_numpy(), index=rows.index).fillna(0.0).astype("float64")


def _last_revealed(ctx: pd.DataFrame, revealed: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Per query, the latest call under ``key`` at the station announced before t: when it was announced
    (µs), its platform and the platform of the one announced before it."""
    right = revealed[[*key, "revealed", "platform"]].sort_values("revealed", kind="stable")
    right["previous"] = right.groupby(key, sort=False)["platform"].shift(1)
    left = ctx[[*key, "t_us"]].reset_index().sort_values("t_us", kind="stable")
    joined = pd.merge_asof(
        left,
        right,
        left_on="t_us",
        right_on="revealed",
        by=key,
        direction="backward",
        allow_exact_matches=False,
    )
    return joined.set_index("qid")[["revealed", "platform", "previous"]].reindex(ctx.index)


def _candidates(ctx: pd.DataFrame, history: History) -> pd.DataFrame:
    """(qid, candidate): the platforms of the train, its line (this direction or any) and the station's
    busiest ones in the training window, the line's latest platforms today and the train's latest runs'."""
    parts = []
    base = ctx.reset_index()
    for name in ("train", "linedir", "line"):
        keys, table = history.tables[name]
        flat = table.reset_index()[keys]
        parts.append(base[["qid", *keys[:-1]]].merge(flat, on=keys[:-1])[["qid", "final_platform"]])
    _, station = history.tables["station"]
    busiest = station.reset_index().sort_values(["location", "count"], ascending=[True, False])
    busiest = busiest.groupby("location").head(STATION_CANDIDATES)[["location", "final_platform"]]
    parts.append(base[["qid", "location"]].merge(busiest, on="location")[["qid", "final_platform"]])
    for name in TODAY_PLATFORMS:
        parts.append(base[["qid", name]].rename(columns={name: "final_platform"}))
    pairs = pd.concat(parts, ignore_index=True).dropna()
    pairs["final_platform"] = pairs["final_platform"].astype(str)
    pairs = pairs.drop_duplicates().rename(columns={"final_platform": "candidate"})
    return pairs.sort_values(["qid", "candidate"], kind="stable").reset_index(drop=True)


def _conflicts(
    frames: Frames,
    ctx: pd.DataFrame,
    expected_us: pd.Series,
    revealed: pd.DataFrame,
    history: History,
    keys: pd.DataFrame,
) -> pd.DataFrame:
    """(qid, platform, known) for each other train scheduled at the station within
    :data:`CONFLICT_WINDOW` of the query's expected arrival: on the platform announced for it by t
    (known) or else on its own history platform (likely)."""
    calls = frames.calls.dropna(subset=["scheduled_arrival"])
    others = keys.reindex(calls["call_id"].to_numpy())
    others["sched"] = utc_micros(calls["scheduled_arrival"])
    others["likely"] = history_platform(history, others).astype("string")
    announced = revealed.set_index("call_id")
    others["revealed"] = announced["revealed"].reindex(others.index).to_numpy()
    others["announced"] = announced["platform"].reindex(others.index).to_numpy()
    others = others.reset_index().sort_values(["location", "sched"], kind="stable")
    half = int(CONFLICT_WINDOW.total_seconds() * 1e6)
    parts = []
    by_location = others.groupby("location", sort=False).indices
    query_locations = ctx["location"].to_numpy()
    for location, positions in pd.Series(query_locations).groupby(query_locations).indices.items():
        rows = by_location.get(location)
        if rows is None:
            continue
        block = others.iloc[rows]
        sched = block["sched"].to_numpy()
        at = expected_us.to_numpy()[positions].astype("int64")
        lo = np.searchsorted(sched, at - half, "left")
        hi = np.searchsorted(sched, at + half, "right")
        counts = hi - lo
        query_pos = np.repeat(positions, counts)
        other_pos = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        pair = block.iloc[other_pos]
        own = ctx["call_id"].to_numpy()[query_pos] == pair["call_id"].to_numpy()
        t = ctx["t_us"].to_numpy()[query_pos]
        known = pair["revealed"].to_numpy() < t
        platform = np.where(known, pair["announced"].to_numpy(), pair["likely"].to_numpy())
        parts.append(
            pd.DataFrame({"qid": ctx.index.to_numpy()[query_pos], "platform": platform, "known": known})[~own]
        )
    if not parts:
        return pd.DataFrame({"qid": pd.Series(dtype="int64"), "platform": [], "known": []})
    out = pd.concat(parts, ignore_index=True)
    return out[out["platform"].notna()]


def _joined(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """The columns joined into one string key per row."""
    key = frame[columns[0]].astype(str)
    for column in columns[1:]:
        key = key + "|" + frame[column].astype(str)
    return key


def _recent_counts(
    event_keys: pd.Series, event_us: pd.Series, query_keys: pd.Series, query_us: pd.Series, window_us: int
) -> pd.Series:
    """Per query, how many events of its key fell in [t − window, t)."""
    times = event_us.to_numpy(dtype="int64")
    by_key = {
        key: np.sort(times[positions])
        for key, positions in pd.Series(event_keys.to_numpy()).groupby(event_keys.to_numpy()).indices.items()
    }
    out = np.zeros(len(query_keys), dtype="float64")
    at = query_us.to_numpy(dtype="int64")
    wanted = query_keys.to_numpy()
    for key, positions in pd.Series(wanted).groupby(wanted).indices.items():
        arr = by_key.get(key)
        if arr is None:
            continue
        t = at[positions]
        out[positions] = np.searchsorted(arr, t, "left") - np.searchsorted(arr, t - window_us, "left")
    return pd.Series(out, index=query_keys.index)


def vocabularies_for(frames: Frames) -> dict[str, list[str]]:
    return {"category": vocabulary(frames.calls["operator"])}
