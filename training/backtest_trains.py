"""Trains backtest behind the README's figures: DB runs, train Mar–Apr 2026, test May 2026.

Run: ``python -m training.backtest_trains``, the same as
``eta backtest --mode train --task arrival … --report reports/trains.json``.
"""

from training._entry import run

if __name__ == "__main__":
    run(
        [
            "backtest",
            "--mode",
            "train",
            "--task",
            "arrival",
            "--train-from",
            "2026-03-01",
            "--train-until",
            "2026-04-30",
            "--test-from",
            "2026-05-01",
            "--test-until",
            "2026-05-31",
            "--report",
            "reports/trains.json",
        ]
    )
