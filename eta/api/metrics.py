"""Prometheus metrics of the API process (one registry per app; labels of bounded cardinality only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from eta.api.readiness import Snapshot
    from eta.store.sizes import Size


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "eta_http_requests",
            "HTTP requests by route template, method and status class.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "eta_http_request_duration_seconds",
            "Time to answer a request, by route template.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "eta_rate_limited_requests", "Requests refused with 429 by a rate limit.", registry=self.registry
        )
        self.cache_hits = Counter(
            "eta_answer_cache_hits", "Trip and board answers served from the cache.", registry=self.registry
        )
        self.ready = Gauge("eta_ready", "1 when /readyz answers 200.", registry=self.registry)
        self.champions_verified = Gauge(
            "eta_champion_models_verified",
            "Champion models whose file and hash were verified (what /readyz lists).",
            registry=self.registry,
        )
        self.webhook_deliveries = Counter(
            "eta_webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, retry, failed, gone, refused).",
            ["outcome"],
            registry=self.registry,
        )
        self.alerts_sent = Counter(
            "eta_alerts_queued",
            "Alert notifications queued, by event type.",
            ["event"],
            registry=self.registry,
        )
        self.active_subscriptions = Gauge(
            "eta_active_subscriptions", "Alert subscriptions not yet expired.", registry=self.registry
        )

        self.store_rows = Gauge(
            "eta_store_rows", "Rows per table of the store.", ["table"], registry=self.registry
        )
        self.store_bytes = Gauge(
            "eta_store_bytes",
            "Bytes per table of the store, its indexes included (SQLite: dbstat pages; PostgreSQL: "
            "pg_total_relation_size).",
            ["table"],
            registry=self.registry,
        )

    def record_store_sizes(self, sizes: dict[str, Size]) -> None:
        """Rows and bytes per table, measured by :func:`eta.store.sizes.table_sizes`."""
        for table, size in sizes.items():
            self.store_rows.labels(table=table).set(size.rows)
            self.store_bytes.labels(table=table).set(size.bytes)

    def record_readiness(self, snapshot: Snapshot) -> None:
        """The gauges of the latest readiness check, set whenever /metrics or /readyz is asked."""
        self.ready.set(1 if snapshot.ready else 0)
        self.champions_verified.set(len(snapshot.champions))
