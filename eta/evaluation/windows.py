"""Backtest and training windows: they live in :mod:`eta.windows` (the model trains on them too, and the
model layer does not import evaluation); imported here as well for the evaluation code that names them."""

from eta.windows import Window, check_disjoint, parse_instant, window

__all__ = ["Window", "check_disjoint", "parse_instant", "window"]
