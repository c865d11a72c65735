"""Prometheus metrics, one registry per Bot so several bots in one process don't collide.

With gunicorn each worker has its own counters; scrape each worker, or see the
README for prometheus_client's multiprocess mode.
"""

from __future__ import annotations

import time
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bot.transport import SendError, SendResult, Transport


class Metrics:
    """The bot's counters, histograms and gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.inbound = Counter("bot_inbound_messages", "Inbound SMS by command and outcome",
                               ["command", "outcome"], registry=self.registry)
        self.created = Counter("bot_reminders_created", "Reminders created, by source", ["source"],
                               registry=self.registry)
        self.sent = Counter("bot_messages_sent", "Messages handed to the provider, by kind", ["kind"],
                            registry=self.registry)
        self.failed = Counter("bot_messages_failed", "Messages that finally failed, by kind", ["kind"],
                              registry=self.registry)
        self.lateness = Histogram(
            "bot_dispatch_lateness_seconds", "Send time minus due time of reminders",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600), registry=self.registry)
        self.provider_latency = Histogram(
            "bot_telnyx_request_seconds", "Latency of calls to the Telnyx Messaging API",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=self.registry)
        self.provider_errors = Counter("bot_telnyx_errors", "Failed calls to Telnyx by HTTP status",
                                       ["status"], registry=self.registry)
        self.pending = Gauge("bot_pending_reminders", "Reminders scheduled or being sent",
                             registry=self.registry)

    def track_pending(self, count_pending: Callable[[], int]) -> None:
        """Read the pending count from the database at scrape time."""
        self.pending.set_function(count_pending)


class MeteredTransport:
    """Wrap a transport to time every call and count errors by status."""

    def __init__(self, inner: Transport, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    @property
    def ready(self) -> bool:
        return self.inner.ready

    def send(self, *, from_number: str, to: str, text: str, idempotency_key: str) -> SendResult:
        started = time.perf_counter()
        try:
            return self.inner.send(from_number=from_number, to=to, text=text, idempotency_key=idempotency_key)
        except SendError as error:
            self.metrics.provider_errors.labels(status=str(error.status or "network")).inc()
            raise
        finally:
            self.metrics.provider_latency.observe(time.perf_counter() - started)
