"""BayesianBahn's protocol with its blind events' quantiles kept, scored against the connection's earlier
days and the mean of the two (an analysis of a blend, not what eta serves).

    python -m bench.bayesianbahn_mix TRAIN_FROM TRAIN_UNTIL TEST_FROM TEST_UNTIL REPORT.json

runs what ``eta backtest --mode train --protocol bayesianbahn`` runs (same report), then writes
``REPORT.mix.json``: on the blind events, all and by event, the model, ``baselines.connection_history``
and their quantiles averaged at every level with weight 0.5 (fixed in advance, not fitted).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from eta.cli import _engine
from eta.config import get_settings
from eta.evaluation import bayesianbahn
from eta.evaluation import report as output
from eta.windows import window

KEPT = ("n", "crps_min", "mae_p50_min", "coverage_p10_p90")


def mix(rows: pd.DataFrame, history: pd.DataFrame, weight: float = 0.5) -> dict[str, Any]:
    """Scores of the model, the history and ``weight`` · model + (1 − weight) · history, by event."""
    q = bayesianbahn._QCOLS
    both = rows[rows["scenario"] == "blind"].merge(history, on="call_id", suffixes=("", "_h"))
    out: dict[str, Any] = {}
    for name, part in (
        ("all", both),
        ("arrival", both[~both["is_departure"]]),
        ("departure", both[both["is_departure"]]),
    ):
        theirs = part.copy()
        theirs[q] = part[[f"{c}_h" for c in q]].to_numpy()
        mixed = part.copy()
        mixed[q] = weight * part[q].to_numpy() + (1 - weight) * theirs[q].to_numpy()
        out[name] = {
            label: {k: v for k, v in bayesianbahn.score(frame).items() if k in KEPT}
            for label, frame in (("model", part), ("connection_history", theirs), ("mix", mixed))
        }
    return out


def main(train_from: str, train_until: str, test_from: str, test_until: str, report: str) -> None:
    engine = _engine()
    result, rows = bayesianbahn.run(
        engine,
        get_settings(),
        window(train_from, train_until, "training"),
        window(test_from, test_until, "test"),
    )
    path = Path(report)
    output.write_json(result, path)
    print(bayesianbahn.table(result))
    found = bayesianbahn.events(*bayesianbahn.station_calls(engine))
    history = bayesianbahn.connection_history(found, rows[rows["scenario"] == "blind"])
    scores = mix(rows, history) | {"weight": 0.5, "train_window": result["train_window"]}
    path.with_suffix(".mix.json").write_text(json.dumps(scores, indent=1))
    print(json.dumps(scores["all"]))


if __name__ == "__main__":
    main(*sys.argv[1:6])
