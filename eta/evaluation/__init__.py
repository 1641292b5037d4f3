"""Backtests against named baselines on held-out time, their metrics, reports and plots."""
