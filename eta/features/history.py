"""Historical behaviour learnt from the training window only, and joined onto queries as features.

A :class:`History` is fitted on the outcomes of calls scheduled in the training window and saved beside
the model (JSON), so serving uses exactly the aggregates the model was trained with, and a backtest's
test period never leaks into them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eta.features.reports import seconds

MIN_COUNT = 3


@dataclass
class History:
    """Named aggregate tables keyed by a tuple of columns: {name: (key columns, frame indexed by key)}."""

    tables: dict[str, tuple[list[str], pd.DataFrame]] = field(default_factory=dict)

    def add(self, name: str, keys: list[str], frame: pd.DataFrame) -> None:
        self.tables[name] = (keys, frame)

    def lookup(self, name: str, rows: pd.DataFrame, column: str, keys: list[str] | None = None) -> pd.Series:
        """``column`` of table ``name`` for each row (NaN where unknown); ``keys`` renames the row columns.

        A table the history lacks (one saved by an older eta) gives NaN everywhere: models trained then do
        not use the features computed from it.
        """
        if name not in self.tables:
            return pd.Series(np.nan, index=rows.index)
        table_keys, table = self.tables[name]
        row_keys = keys or table_keys
        index = pd.MultiIndex.from_frame(rows[row_keys].astype(str).set_axis(table_keys, axis=1))
        if len(table) == 0:
            return pd.Series(np.nan, index=rows.index)
        values = table[column].reindex(index)
        return pd.Series(values.to_numpy(dtype="float64"), index=rows.index)

    def to_json(self) -> dict[str, Any]:
        return {
            name: {"keys": keys, "columns": list(frame.columns), "rows": _rows(frame)}
            for name, (keys, frame) in self.tables.items()
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> History:
        history = cls()
        for name, table in data.items():
            keys, columns = table["keys"], table["columns"]
            frame = pd.DataFrame(table["rows"], columns=[*keys, *columns])
            for key in keys:
                frame[key] = frame[key].astype(str)
            history.add(name, keys, frame.set_index(keys))
        return history

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), separators=(",", ":")))

    @classmethod
    def load(cls, path: Path) -> History:
        return cls.from_json(json.loads(path.read_text()))


@dataclass(frozen=True)
class FoldHistories:
    """Out-of-fold history for training rows: per fold, its queries (qids) and the history fitted
    without their services (:func:`history_folds`), so one feature pass serves every fold."""

    folds: tuple[tuple[pd.Index, History], ...]


def per_history(
    history: History | FoldHistories,
    index: pd.Index,
    compute: Callable[[pd.Index, History], pd.DataFrame],
) -> pd.DataFrame:
    """``compute(qids, history)`` for the queries in ``index``: once with a single history, else once per
    fold with that fold's own."""
    if isinstance(history, History):
        return compute(index, history)
    parts = [compute(index.intersection(qids), fold) for qids, fold in history.folds]
    return pd.concat(parts).reindex(index)


def _rows(frame: pd.DataFrame) -> list[list[Any]]:
    flat = frame.reset_index()
    out = []
    for row in flat.itertuples(index=False, name=None):
        out.append([None if isinstance(v, float) and np.isnan(v) else _plain(v) for v in row])
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def aggregate(
    outcomes: pd.DataFrame, keys: list[str], value: str, min_count: int = MIN_COUNT
) -> pd.DataFrame:
    """Mean, median, spread (P90−P10) and count of ``value`` per key, for keys seen ``min_count`` times."""
    rows = outcomes.dropna(subset=[value]).copy()
    for key in keys:
        rows[key] = rows[key].astype(str)
    grouped = rows.groupby(keys, sort=True)[value]
    table = pd.DataFrame(
        {
            "mean": grouped.mean(),
            "median": grouped.median(),
            "spread": grouped.quantile(0.9) - grouped.quantile(0.1),
            "count": grouped.size().astype("float64"),
        }
    )
    return table[table["count"] >= min_count].round(1)


def arrival_outcomes(calls: pd.DataFrame, observations: pd.DataFrame) -> pd.DataFrame:
    """Per call with a scheduled arrival: its final arrival and departure delay (seconds), as observed."""
    final = observations.sort_values("observed_at", kind="stable").groupby("call_id")
    arrived = final["actual_arrival"].last()
    departed = final["actual_departure"].last()
    out = calls.set_index("call_id")
    sched_dep = out["scheduled_departure"].fillna(out["planned_at"])
    result = out.assign(
        arrival_delay_s=seconds(arrived.reindex(out.index) - out["scheduled_arrival"]),
        departure_delay_s=seconds(departed.reindex(out.index) - sched_dep),
        actual_arrival=arrived.reindex(out.index),
        actual_departure=departed.reindex(out.index),
    )
    return result.reset_index()


def history_folds(
    calls: pd.DataFrame, queries: pd.DataFrame, n_folds: int
) -> list[tuple[pd.Series, frozenset[int]]]:
    """Out-of-fold splits for training rows: (which queries, which services their history leaves out).

    Folds are whole service dates where the queries span several days (a disrupted day's outcomes never
    explain that same day), else services. Either way a row's own outcome is never in its history.
    """
    services = calls.drop_duplicates("service_id").set_index("service_id")["service_date"].astype(str)
    query_dates = lookup_dates(queries["service_id"], services)
    if query_dates.nunique() >= 2:
        k = min(n_folds, query_dates.nunique())
        service_fold = day_number(pd.Series(services.to_numpy(), index=services.index)) % k
        query_fold = day_number(query_dates) % k
    else:
        k = n_folds
        service_fold = pd.Series(services.index.to_numpy() % k, index=services.index)
        query_fold = queries["service_id"] % k
    return [
        (query_fold == fold, frozenset(service_fold.index[service_fold == fold].tolist()))
        for fold in range(k)
        if (query_fold == fold).any()
    ]


def lookup_dates(service_ids: pd.Series, dates: pd.Series) -> pd.Series:
    return pd.Series(dates.reindex(service_ids.to_numpy()).to_numpy(), index=service_ids.index)


def day_number(dates: pd.Series) -> pd.Series:
    """Service dates as day numbers (days since 1970-01-01), indexed like ``dates``."""
    days = pd.to_datetime(dates.astype(str)).to_numpy().astype("datetime64[D]").astype("int64")
    return pd.Series(days, index=dates.index)
