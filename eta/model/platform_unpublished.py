"""Platform model for stations that announce the platform only shortly before arrival (unpublished mode).

The same shape as :mod:`eta.model.platform` (xgboost scores each candidate platform, a softmax per query
with a temperature fitted on the most recent share of the training window) over the features of
:mod:`eta.features.unpublished`, which never see the call's planned platform. It is trained as if every
station announced its platforms ``lead`` before the scheduled arrival, at times between three hours and
that lead before the arrival; the lead is kept in the model's metadata.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from eta.config import Settings
from eta.features import unpublished
from eta.features.frames import Frames
from eta.features.history import History, history_folds
from eta.features.publication import Publication
from eta.features.queries import QUERY_COLUMNS, horizon_time
from eta.features.reports import delay_reports
from eta.model.arrival import HISTORY_FOLDS, TrainingError, calibration_split
from eta.model.artefact import Artefact
from eta.model.calibration import fit_temperature, grouped_log_loss, grouped_softmax
from eta.model.platform import fit_ranking_booster, summarise

log = logging.getLogger(__name__)

TASK = "platform_unpublished"
PLATFORM_COLUMNS = ("platform", "platform_probability", "platform_announced", "platform_probs")
# Training queries: the report's horizons plus one at a random time this far at most before the arrival.
RANDOM_SPAN = timedelta(hours=3)


@dataclass
class UnpublishedPlatformPredictor:
    artefact: Artefact
    publication: Publication

    def probabilities(self, pairs: pd.DataFrame) -> pd.Series:
        """Calibrated probability of each (query, candidate) row; they sum to 1 per query."""
        if pairs.empty:
            return pd.Series(dtype="float64")
        margins = scores(self.artefact.booster, pairs, self.artefact.features)
        temperature = float(self.artefact.meta["temperature"])
        return pd.Series(grouped_softmax(margins / temperature, pairs["qid"].to_numpy()), index=pairs.index)

    def pairs(self, frames: Frames, queries: pd.DataFrame, **cached: Any) -> pd.DataFrame:
        """The (query, candidate) features with each candidate's probability."""
        pairs = unpublished.compute_features(
            frames,
            queries,
            self.artefact.history,
            self.artefact.meta["vocabularies"],
            self.publication,
            **cached,
        )
        return pairs.assign(probability=self.probabilities(pairs))

    def predict_queries(self, frames: Frames, queries: pd.DataFrame) -> pd.DataFrame:
        """Per query: the most probable platform, its probability, not announced, all probabilities."""
        pairs = self.pairs(frames, queries)
        return summarise(pairs.assign(is_announced=0.0))


def serve_unannounced(
    frames: Frames,
    queries: pd.DataFrame,
    rows: pd.DataFrame,
    artefact: Artefact | None,
    publication: Publication,
) -> pd.DataFrame:
    """``rows`` (prediction columns by qid) where the queries at stations that had not announced the
    platform by t get the unpublished model's platform columns, or none without that model: a plan is
    never served at such a station before its announcement."""
    q = queries.set_index("qid")
    calls = frames.calls.set_index("call_id")[["location", "scheduled_arrival"]]
    due = calls.reindex(q["call_id"].to_numpy()).set_axis(q.index)
    announced_at = publication.announced_at(due)
    hidden = announced_at.notna() & (q["t"] <= announced_at)
    if not hidden.any():
        return rows
    predicted = pd.DataFrame(index=q.index[hidden], columns=list(PLATFORM_COLUMNS), dtype="object")
    if artefact is not None:
        predictor = UnpublishedPlatformPredictor(artefact, publication)
        predicted = predictor.predict_queries(frames, queries[queries["qid"].isin(predicted.index)])
    rows = rows.copy()
    mask = hidden.reindex(rows.index).fillna(False).astype(bool)
    for column in PLATFORM_COLUMNS:
        current = rows[column] if column in rows else pd.Series(None, index=rows.index, dtype="object")
        rows[column] = predicted[column].reindex(rows.index).astype("object").where(mask, current)
    return rows


def queries_for(
    frames: Frames,
    targets: pd.DataFrame,
    horizons: tuple[str, ...],
    lead_s: int,
    seed: int | None = None,
) -> pd.DataFrame:
    """A query per target and horizon, plus (with ``seed``) one at a random time between
    :data:`RANDOM_SPAN` and ``lead_s`` before the scheduled arrival."""
    parts = [targets.assign(t=horizon_time(frames, targets, h), horizon=h) for h in horizons]
    if seed is not None:
        rng = np.random.default_rng(seed)
        span = RANDOM_SPAN.total_seconds() - lead_s
        offsets = pd.to_timedelta(lead_s + rng.uniform(0, max(span, 0.0), len(targets)), unit="s")
        parts.append(targets.assign(t=targets["scheduled_arrival"] - offsets, horizon="random"))
    queries = pd.concat(parts, ignore_index=True).dropna(subset=["t"])
    queries["t"] = pd.to_datetime(queries["t"], utc=True).astype("datetime64[us, UTC]")
    queries["qid"] = range(len(queries))
    return queries[[*QUERY_COLUMNS, "final_platform"]]


def labelled(pairs: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    """``pairs`` with ``label`` (1 on the platform the call ended at), only queries with it among the
    candidates."""
    final = queries.set_index("qid")["final_platform"].astype(str)
    pairs = pairs.assign(label=(pairs["candidate"] == pairs["qid"].map(final)).astype("float64"))
    return pairs[pairs.groupby("qid")["label"].transform("max") > 0]


def scores(booster: xgb.Booster, pairs: pd.DataFrame, features: list[str]) -> np.ndarray:
    matrix = xgb.DMatrix(pairs[features], enable_categorical=True, missing=np.nan)
    return np.asarray(booster.predict(matrix, output_margin=True), dtype="float64")


def train(
    frames: Frames,
    start: datetime,
    end: datetime,
    settings: Settings,
    lead_s: int | None = None,
    seed: int = 0,
) -> Artefact:
    """Train on arrivals scheduled in [start, end) as if every station announced ``lead_s`` ahead
    (default: ``ETA_PLATFORMS__ANNOUNCE_LEAD_MIN``); the temperature is fitted on the window's most recent
    share."""
    lead_s = lead_s or settings.platforms.announce_lead_min * 60
    publication = Publication.all_stations(lead_s)
    split = calibration_split(start, end, settings)
    cached = {
        "reports": delay_reports(frames.calls, frames.observations),
        "keys": unpublished.call_keys(frames.calls),
    }
    vocabularies = unpublished.vocabularies_for(frames)
    booster, params, n_train = fit_booster(
        frames, start, split, settings, vocabularies, publication, cached, seed
    )
    history = unpublished.fit_history(frames, start, split, keys=cached["keys"])
    targets = unpublished.platform_targets(frames, split, end)
    queries = queries_for(frames, targets, unpublished.HORIZONS, lead_s)
    calib = labelled(
        unpublished.compute_features(frames, queries, history, vocabularies, publication, **cached), queries
    )
    if calib.empty:
        raise TrainingError(f"no unpublished-platform calibration queries between {split} and {end}")
    margins = scores(booster, calib, list(unpublished.FEATURES))
    groups, labels = calib["qid"].to_numpy(), calib["label"].to_numpy()
    temperature = fit_temperature(margins, groups, labels)
    calibrated = grouped_softmax(margins / temperature, groups)
    top = calib.assign(p=calibrated).sort_values(["qid", "p"], ascending=[True, False]).drop_duplicates("qid")
    meta = {
        "mode": "train",
        "task": TASK,
        "features": list(unpublished.FEATURES),
        "vocabularies": vocabularies,
        "announce_lead_s": lead_s,
        "train_from": start.isoformat(),
        "train_until": end.isoformat(),
        "calibration_from": split.isoformat(),
        "n_train": n_train,
        "n_calibration": int(calib["qid"].nunique()),
        "temperature": temperature,
        "params": params,
        "n_rounds": settings.model.n_rounds,
        "created_at": datetime.now(UTC).isoformat(),
        "metrics": {
            "log_loss": round(grouped_log_loss(margins / temperature, groups, labels), 4),
            "top1": round(float(top["label"].mean()), 4),
            "nan_predictions": int(np.isnan(calibrated).sum()),
        },
    }
    final_history = unpublished.fit_history(frames, start, end, keys=cached["keys"])
    return Artefact(booster=booster, history=final_history, meta=meta)


def fit_booster(
    frames: Frames,
    start: datetime,
    end: datetime,
    settings: Settings,
    vocabularies: dict[str, list[str]],
    publication: Publication,
    cached: dict[str, Any],
    seed: int = 0,
) -> tuple[xgb.Booster, dict[str, Any], int]:
    """The booster trained on arrivals scheduled in [start, end), its parameters and its query count.

    Each training query's history leaves out its own service day (see history_folds): with a few days of
    data, a train's history would otherwise hold the very platform to predict.
    """
    targets = unpublished.platform_targets(frames, start, end)
    queries = queries_for(frames, targets, unpublished.HORIZONS, publication.default_lead_s, seed)
    parts = []
    for in_fold, left_out in history_folds(frames.calls, queries, HISTORY_FOLDS):
        history: History = unpublished.fit_history(frames, start, end, left_out, keys=cached["keys"])
        fold = queries[in_fold]
        pairs = unpublished.compute_features(frames, fold, history, vocabularies, publication, **cached)
        parts.append(labelled(pairs, fold))
    pairs = sample_hard(pd.concat(parts, ignore_index=True), settings.model.platform_train_rows, seed)
    if pairs["qid"].nunique() < 100:
        raise TrainingError(
            f"only {pairs['qid'].nunique()} unpublished-platform training queries between {start} and {end}"
        )
    return fit_ranking_booster(pairs, unpublished.FEATURES, settings, seed)


def sample_hard(pairs: pd.DataFrame, budget: int, seed: int) -> pd.DataFrame:
    """At most ``budget`` queries' pairs: every query the ``history`` baseline gets wrong and a random share
    of the rest, weighted back to their true frequency (``weight``). The baseline is right for most
    arrivals; sampling uniformly would leave the model few of the cases it must learn to tell apart."""
    on_history = pairs["is_history"] == 1
    hard = ~(pairs["label"].where(on_history, 0.0).groupby(pairs["qid"]).max() > 0)
    calm = hard.index[~hard.to_numpy()]
    room = max(budget - int(hard.sum()), budget // 10)
    weight = pd.Series(1.0, index=hard.index)
    if len(calm) > room:
        rng = np.random.default_rng(seed)
        dropped = rng.choice(len(calm), size=len(calm) - room, replace=False)
        weight = weight.drop(calm[dropped])
        weight[weight.index.isin(calm)] = len(calm) / room
    pairs = pairs[pairs["qid"].isin(weight.index)]
    return pairs.assign(weight=pairs["qid"].map(weight).to_numpy())
