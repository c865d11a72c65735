"""Prometheus metrics, one registry per Bot so several bots in one process don't collide.

Under gunicorn every worker counts for itself, and a scrape reaches one worker at
random. ``gunicorn.conf.py`` therefore turns on prometheus_client's multiprocess
mode (``PROMETHEUS_MULTIPROC_DIR``, which prometheus_client reads from the
environment when it is imported): each worker writes its values to files in that
directory, and the scrape adds up every worker's. The pending count and the inbox's
backlog are read from the database at scrape time either way.
"""

from __future__ import annotations

import time
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from bot.delivery.transport import SendError, SendResult, Transport


class _DatabaseGauge:
    """A gauge counted in the database when scraped (the same for every worker), e.g. ``bot_pending_reminders``."""

    def __init__(self, name: str, documentation: str, count: Callable[[], int]) -> None:
        self._name = name
        self._documentation = documentation
        self._count = count

    def collect(self):  # type: ignore[no-untyped-def]
        yield GaugeMetricFamily(self._name, self._documentation, value=self._count())


def _multiprocess_mode() -> bool:
    # prometheus_client chose its value class when it was imported, from PROMETHEUS_MULTIPROC_DIR;
    # ask it rather than the environment, so the scrape always matches where the values are.
    return prometheus_values.ValueClass is not prometheus_values.MutexValue


class Metrics:
    """The bot's counters and histograms, and the scrape output."""

    def __init__(self) -> None:
        self.multiprocess = _multiprocess_mode()
        self.registry = CollectorRegistry(auto_describe=True)
        self._database_gauges: list[_DatabaseGauge] = []
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
        self.parser_errors = Counter("bot_parser_errors", "Inbound SMS the parser failed on: a bug, logged at ERROR",
                                     registry=self.registry)

    def track_pending(self, count_pending: Callable[[], int]) -> None:
        """Read the pending count from the database at scrape time."""
        self._track(_DatabaseGauge("bot_pending_reminders", "Reminders scheduled or being sent", count_pending))

    def track_inbox_backlog(self, count_waiting: Callable[[], int]) -> None:
        """Read the inbox's backlog (inbound SMS stored, not handled yet) from the database at scrape time."""
        self._track(_DatabaseGauge("bot_inbox_backlog", "Inbound SMS stored by a webhook and not handled yet",
                                   count_waiting))

    def _track(self, gauge: _DatabaseGauge) -> None:
        self._database_gauges.append(gauge)
        self.registry.register(gauge)

    def exposition(self) -> bytes:
        """Return the Prometheus text for a scrape: this process's values, or every worker's added up."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        try:
            MultiProcessCollector(registry)  # every worker's files in PROMETHEUS_MULTIPROC_DIR
        except ValueError:  # the variable is empty or names no directory: this process's values only
            return generate_latest(self.registry)
        for gauge in self._database_gauges:
            registry.register(gauge)
        return generate_latest(registry)


class MeteredTransport:
    """Wrap a transport to time every call and count errors by status."""

    def __init__(self, inner: Transport, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    @property
    def ready(self) -> bool:
        return self.inner.ready

    def __getattr__(self, name: str) -> object:
        # What some transports have beside send (find_sent: bot.delivery.transport.FindsEarlierSends)
        # passes through, so the dispatcher sees the wrapped transport's capabilities.
        return getattr(self.inner, name)

    def send(self, *, from_number: str, to: str, text: str, idempotency_key: str) -> SendResult:
        started = time.perf_counter()
        try:
            return self.inner.send(from_number=from_number, to=to, text=text, idempotency_key=idempotency_key)
        except SendError as error:
            self.metrics.provider_errors.labels(status=str(error.status or "network")).inc()
            raise
        finally:
            self.metrics.provider_latency.observe(time.perf_counter() - started)
