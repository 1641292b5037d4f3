"""The training and test windows a benchmark's command line takes (dates, inclusive)."""

from __future__ import annotations

import argparse

# BayesianBahn's protocol: train on March to the Easter Monday, test on the rest of April and May
PROTOCOL = ("2026-03-01", "2026-04-06", "2026-04-07", "2026-05-31")
# a validation split inside the protocol's training window, where its calibration choices are made
VALIDATION = ("2026-03-01", "2026-03-23", "2026-03-24", "2026-04-02")


def add_window_arguments(
    parser: argparse.ArgumentParser, defaults: tuple[str, str, str, str] = PROTOCOL
) -> None:
    """``--train-from``, ``--train-until``, ``--test-from`` and ``--test-until``, with these defaults."""
    for name, default in zip(("train-from", "train-until", "test-from", "test-until"), defaults, strict=True):
        parser.add_argument(f"--{name}", default=default)
