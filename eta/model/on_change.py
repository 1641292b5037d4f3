"""Which freshly computed served predictions change materially from the ones in force.

A sweep re-predicts every call in the serving window; most of them come out as before (the models are
piecewise constant in the shrinking horizon, and nothing new was heard about most trains). Only a
material change is written as a new row, with its explanation; the others confirm the row in force
(``predictions.confirmed_at``). Material, per ``ETA_STORE__CHANGE_*``: another model; the P50 moved by
``change_p50_s`` or more; a served or model P10/P90 bound by ``change_interval_s`` or more; the top
platform, whether it is announced, or any platform's probability by ``change_platform_probability`` or
more; a value that appeared or went away. Train P50s are whole minutes, so the default 60 s writes every
change of the minute shown (measured on the Berlin day: bench/results/prediction_rows.json).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from eta.config import StoreSettings

BOUNDS = ("p10_arrival", "p90_arrival", "model_p10_arrival", "model_p90_arrival")
# The interval bucket is left out: it is derived from the horizon (it moves every band the clock crosses,
# which rewrote every call due within the hour at every sweep) and from news that moves the bounds anyway.
SAME_VALUE = ("model_version", "platform", "platform_announced")


def material(new: pd.DataFrame, in_force: Mapping[int, Any], settings: StoreSettings) -> pd.Series:
    """Per row of ``new`` (columns of ``predictions``), whether it differs materially from the call's
    prediction in force (a row of ``in_force``, keyed by call id; none: it does)."""
    return reasons(new, in_force, settings).any(axis=1)


REASONS = ("first", *SAME_VALUE, "p50_arrival", *BOUNDS, "platform_probs")


def reasons(new: pd.DataFrame, in_force: Mapping[int, Any], settings: StoreSettings) -> pd.DataFrame:
    """Per row of ``new``, which of :data:`REASONS` make it a change (one boolean column each; ``first``:
    no prediction in force) — what bench/prediction_rows.py counts to say what the rows are written for."""
    if new.empty:
        return pd.DataFrame(False, index=new.index, columns=list(REASONS), dtype=bool)
    old = _old_frame(new["call_id"], in_force)
    out = {"first": old["id"].isna().to_numpy()}
    for column in SAME_VALUE:
        out[column] = _differs(new[column], old[column])
    out["p50_arrival"] = _moved(new["p50_arrival"], old["p50_arrival"], settings.change_p50_s)
    for column in BOUNDS:
        out[column] = _moved(new[column], old[column], settings.change_interval_s)
    out["platform_probs"] = _probabilities_moved(new, old, settings.change_platform_probability)
    return pd.DataFrame(out, index=new.index, columns=list(REASONS)).astype(bool)


def _old_frame(call_ids: pd.Series, in_force: Mapping[int, Any]) -> pd.DataFrame:
    columns = ["id", "p50_arrival", *BOUNDS, *SAME_VALUE, "platform_probability", "platform_probs"]
    records = []
    for call_id in call_ids:
        row = in_force.get(int(call_id))
        records.append({c: getattr(row, c) for c in columns} if row is not None else dict.fromkeys(columns))
    return pd.DataFrame.from_records(records, columns=columns)


def _missing(values: pd.Series) -> np.ndarray:
    return pd.isna(values).to_numpy()


def _differs(new: pd.Series, old: pd.Series) -> np.ndarray:
    a, b = new.to_numpy(dtype=object), old.to_numpy(dtype=object)
    gone_a, gone_b = _missing(new), _missing(old)
    equal = np.array([x == y for x, y in zip(a, b, strict=True)], dtype=bool)
    return (gone_a != gone_b) | (~gone_a & ~gone_b & ~equal)


def _moved(new: pd.Series, old: pd.Series, threshold_s: int) -> np.ndarray:
    a = pd.to_datetime(new.reset_index(drop=True), utc=True)
    b = pd.to_datetime(old.reset_index(drop=True), utc=True)
    gone_a, gone_b = _missing(a), _missing(b)
    delta = (a - b).dt.total_seconds().abs().to_numpy()
    return (gone_a != gone_b) | (~gone_a & ~gone_b & (np.nan_to_num(delta) >= max(threshold_s, 1e-9)))


def _probabilities_moved(new: pd.DataFrame, old: pd.DataFrame, threshold: float) -> np.ndarray:
    out = _moved_number(new["platform_probability"], old["platform_probability"], threshold).copy()
    for i, (a, b) in enumerate(zip(new["platform_probs"], old["platform_probs"], strict=True)):
        if out[i]:
            continue
        a, b = (p if isinstance(p, Mapping) else {} for p in (a, b))
        out[i] = any(abs(float(a.get(k, 0.0)) - float(b.get(k, 0.0))) >= threshold for k in {*a, *b})
    return out


def _moved_number(new: pd.Series, old: pd.Series, threshold: float) -> np.ndarray:
    a = pd.to_numeric(new.reset_index(drop=True), errors="coerce").to_numpy(dtype=float)
    b = pd.to_numeric(old.reset_index(drop=True), errors="coerce").to_numpy(dtype=float)
    gone_a, gone_b = np.isnan(a), np.isnan(b)
    delta = np.abs(np.nan_to_num(a) - np.nan_to_num(b))
    return (gone_a != gone_b) | (~gone_a & ~gone_b & (delta >= max(threshold, 1e-12)))
