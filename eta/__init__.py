"""eta: predicts when a flight or a train will really arrive, and at which platform or gate."""

__version__ = "0.1.0"
