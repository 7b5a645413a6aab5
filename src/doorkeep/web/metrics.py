"""`GET /metrics`: what doorkeep is doing, in the Prometheus text format (the `metrics`
extra, prometheus-client).

Served by the core API (web/cdi/core_api.py), so it is guarded like it: an API key, or
`doorkeep serve --core-port` for a keyless loopback listener (docs/deployment.md).

Nothing here is on a request's path: the event counts come from a subscriber of the
event stream (one increment per event, never per verification), and everything else
is read when Prometheus scrapes — the core's lock-free latency histograms
(core/telemetry.py), the database statement count and pool use, the email and SMS
queues, the revocation feed. See docs/operations.md for every metric.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from doorkeep.core.events import Event, Events
from doorkeep.core.revocation import RevocationFeed
from doorkeep.core.telemetry import Histogram, Telemetry
from doorkeep.storage import Database

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Queue(Protocol):
    """A delivery channel as metrics see it (EmailDelivery, SmsDelivery)."""

    failures: int
    abandoned: int

    @property
    def background(self) -> Any: ...


def available() -> bool:
    """Whether prometheus-client (the `metrics` extra) is installed."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        return False
    return True


class Metrics:
    """One registry per Doorkeep instance (several may live in one process)."""

    def __init__(
        self,
        events: Events,
        telemetry: Telemetry,
        db: Database,
        revocations: RevocationFeed,
        queues: Mapping[str, Queue],
    ) -> None:
        from prometheus_client import CollectorRegistry, Counter

        self.registry = CollectorRegistry(auto_describe=False)
        self._events = Counter(
            "doorkeep_events",
            "Events of the event stream, by kind, outcome and tenant",
            ["kind", "outcome", "tenant"],
            registry=self.registry,
        )
        self.gauges: dict[str, Callable[[], float]] = {}  # more, from later pieces
        self.registry.register(_Collector(telemetry, db, revocations, queues, self.gauges))
        self.subscription = events.subscribe(self._count)

    def _count(self, event: Event) -> None:
        self._events.labels(str(event.kind), event.outcome, event.tenant_id or "").inc()

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class _Collector:
    """Reads the core's state at scrape time."""

    def __init__(
        self,
        telemetry: Telemetry,
        db: Database,
        revocations: RevocationFeed,
        queues: Mapping[str, Queue],
        gauges: Mapping[str, Callable[[], float]],
    ) -> None:
        self.telemetry = telemetry
        self.db = db
        self.revocations = revocations
        self.queues = queues
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        t = self.telemetry
        yield _histogram("doorkeep_sign_in_seconds", "Password checks of sign-ins", t.sign_in)
        yield _histogram("doorkeep_session_refresh_seconds", "Session refreshes", t.refresh)
        yield _histogram(
            "doorkeep_session_verify_seconds",
            "Session verifications (sampled: one in 16 is timed)",
            t.verify,
        )
        yield CounterMetricFamily(
            "doorkeep_db_statements", "Statements sent to the database", t.statements.value
        )
        in_use, capacity = self.db.pool_status()
        yield GaugeMetricFamily("doorkeep_db_pool_in_use", "Database connections in use", in_use)
        yield GaugeMetricFamily(
            "doorkeep_db_pool_max", "Database connections the pools may open", capacity
        )
        yield from self._queues()
        yield from self._revocations()
        for name, read in self.gauges.items():
            yield GaugeMetricFamily(name, name.replace("_", " "), read())

    def _queues(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        for channel, queue in self.queues.items():
            yield CounterMetricFamily(
                f"doorkeep_{channel}_send_failures",
                f"Failed attempts to send an {channel} (each retry counts)",
                queue.failures,
            )
            yield CounterMetricFamily(
                f"doorkeep_{channel}_abandoned",
                f"Messages by {channel} given up on after the last retry",
                queue.abandoned,
            )
            yield GaugeMetricFamily(
                f"doorkeep_{channel}_queue_depth",
                f"Messages by {channel} waiting to be sent (or retried)",
                queue.background.pending,
            )

    def _revocations(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        feed = self.revocations
        yield GaugeMetricFamily(
            "doorkeep_revoked_sessions",
            "Revoked sessions refused in memory",
            len(feed.revoked.handles),
        )
        yield CounterMetricFamily(
            "doorkeep_revocation_reads", "Reads of the revocation table", feed.stats.reads
        )
        yield CounterMetricFamily(
            "doorkeep_revocation_messages", "Revocation messages received", feed.stats.messages
        )
        up = feed.channel is not None and feed.channel.connected
        yield GaugeMetricFamily(
            "doorkeep_revocation_channel_up", "1 while LISTEN or Redis is connected", int(up)
        )


def _histogram(name: str, documentation: str, histogram: Histogram) -> Metric:
    from prometheus_client.core import HistogramMetricFamily

    snap = histogram.snapshot()
    buckets = [(_bound(b), n) for b, n in zip(snap.bounds, snap.cumulative, strict=False)]
    buckets.append(("+Inf", snap.count))
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=snap.sum)


def _bound(value: float) -> str:
    return repr(float(value))
