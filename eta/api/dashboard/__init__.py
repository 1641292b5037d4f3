"""The operator dashboard: one HTML page with server-rendered SVG plots (no scripts, no network)."""
