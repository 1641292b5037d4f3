"""Arrival-time and platform models, their files, the registry, serving predictions and retraining."""
