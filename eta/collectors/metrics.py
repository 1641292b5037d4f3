"""Prometheus metrics of the collectors. Labels are ``collector`` and ``kind`` only (low cardinality)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram


class CollectorMetrics:
    """One set of metrics per registry (tests pass their own registry)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.fetches = Counter(
            "eta_collector_fetches",
            "Fetch attempts by outcome (ok or error kind).",
            ["collector", "kind"],
            registry=registry,
        )
        self.rows = Counter(
            "eta_collector_rows",
            "Rows written to the store, by table.",
            ["collector", "kind"],
            registry=registry,
        )
        self.errors = Counter(
            "eta_collector_errors",
            "Errors by kind (fetch, payload and store).",
            ["collector", "kind"],
            registry=registry,
        )
        self.quarantined = Counter(
            "eta_collector_quarantined",
            "Payloads quarantined, by error kind.",
            ["collector", "kind"],
            registry=registry,
        )
        self.runs = Counter(
            "eta_collector_runs",
            "Collection runs by outcome (ok, failed, skipped).",
            ["collector", "kind"],
            registry=registry,
        )
        self.duration = Histogram(
            "eta_collector_run_duration_seconds",
            "Wall time of one collection run.",
            ["collector"],
            registry=registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )
        self.last_success = Gauge(
            "eta_collector_last_success_timestamp_seconds",
            "When the last run succeeded (Unix time).",
            ["collector"],
            registry=registry,
        )
        self.lag = Gauge(
            "eta_collector_lag_seconds",
            "Age of the newest data written, at the end of the last run.",
            ["collector"],
            registry=registry,
        )
        self.primed = Gauge(
            "eta_collector_primed",
            "1 once the collector has had its first good run.",
            ["collector"],
            registry=registry,
        )
        self.circuit_open = Gauge(
            "eta_collector_circuit_open",
            "1 while the collector's circuit is open.",
            ["collector"],
            registry=registry,
        )

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 when never set), for tests and the CLI summary."""
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found


_default: CollectorMetrics | None = None


def default_metrics() -> CollectorMetrics:
    """The process-wide metrics on the default registry (created once)."""
    global _default
    if _default is None:
        _default = CollectorMetrics()
    return _default
