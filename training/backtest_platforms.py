"""Platforms backtest behind the README's figures: the Berlin IRIS week, train on the first four days
(2025-09-02 12:00 local … 09-05), test on the rest (09-06 … 09-08). Needs ``eta import iris-archive``.

Run: ``python -m training.backtest_platforms``, the same as
``eta backtest --mode train --task platform … --report reports/platforms.json``.
"""

from training._entry import run

if __name__ == "__main__":
    run(
        [
            "backtest",
            "--mode",
            "train",
            "--task",
            "platform",
            "--train-from",
            "2025-09-02",
            "--train-until",
            "2025-09-05",
            "--test-from",
            "2025-09-06",
            "--test-until",
            "2025-09-08",
            "--report",
            "reports/platforms.json",
        ]
    )
