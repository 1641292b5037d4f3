"""What the alerts cycle counts, as the API process's metrics provide it (alerts do not import the API)."""

from __future__ import annotations

from typing import Protocol

from prometheus_client import Counter, Gauge


class AlertMetrics(Protocol):
    """The metrics the alerts cycle updates; :class:`eta.api.metrics.ApiMetrics` has them."""

    @property
    def active_subscriptions(self) -> Gauge: ...

    @property
    def alerts_sent(self) -> Counter: ...

    @property
    def webhook_deliveries(self) -> Counter: ...
