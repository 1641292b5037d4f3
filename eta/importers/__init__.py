"""Importers of real historical data into the store (each also a ``eta import`` subcommand)."""
