"""Prometheus metrics: HTTP requests, worker jobs and gauges read from the database.

Each app gets its own ``CollectorRegistry`` (tests build several apps in one process, and
the global default registry refuses a metric name registered twice). Worker jobs are
counted per process in module state, because ``record_job`` is called by the worker,
which knows no app; every app's registry reads that state at scrape time. This module
imports no web framework: the worker imports it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

# Requests that match no route share one label, so made-up paths (ids, scanners) cannot
# create a new time series each.
UNMATCHED = "<unmatched>"
# Methods outside this set share one label for the same reason.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class _JobTotals:
    runs: int = 0
    items: int = 0
    seconds: float = 0.0


_jobs: dict[str, _JobTotals] = {}
_jobs_lock = threading.Lock()  # the worker may run on another thread than the scrape


def record_job(name: str, done: int, seconds: float) -> None:
    """Count one run of worker job ``name`` that handled ``done`` items in ``seconds``."""
    with _jobs_lock:
        totals = _jobs.setdefault(name, _JobTotals())
        totals.runs += 1
        totals.items += done
        totals.seconds += seconds


class JobCollector(Collector):
    """This process's worker job counters; ``known`` jobs are exported at 0 before they
    first run, so a rate() over them has a starting point."""

    def __init__(self, known: Sequence[str] = ()) -> None:
        self.known = tuple(known)

    def collect(self) -> Iterable[Metric]:
        with _jobs_lock:
            snapshot = {name: _JobTotals(t.runs, t.items, t.seconds) for name, t in _jobs.items()}
        for name in self.known:
            snapshot.setdefault(name, _JobTotals())
        runs = CounterMetricFamily("dayledger_worker_job_runs", "Worker job runs in this process "
                                   "(one per job per worker round, also when nothing was due).", labels=["job"])
        items = CounterMetricFamily("dayledger_worker_job_items", "Items worker jobs handled in this process "
                                    "(channels expired, idempotency keys purged).", labels=["job"])
        seconds = CounterMetricFamily("dayledger_worker_job_seconds", "Time worker job runs took in this process.",
                                      labels=["job"])
        for name in sorted(snapshot):
            totals = snapshot[name]
            runs.add_metric([name], totals.runs)
            items.add_metric([name], totals.items)
            seconds.add_metric([name], totals.seconds)
        yield from (runs, items, seconds)


@dataclass
class DatabaseGauges:
    """Values read from the database at scrape time, so every process reports the same."""
    ledger_entries: dict[str, int] = field(default_factory=dict)
    outbox_events: int = 0
    expiry_due: int = 0
    expiry_lag_seconds: float = 0.0


class DatabaseCollector(Collector):
    """Exports the last ``DatabaseGauges`` the scrape handler stored; when the database
    did not answer, only ``dayledger_metrics_database_up 0``."""

    def __init__(self) -> None:
        self.gauges: DatabaseGauges | None = None

    def collect(self) -> Iterable[Metric]:
        gauges = self.gauges
        up = GaugeMetricFamily("dayledger_metrics_database_up",
                               "1 if the database answered this scrape's queries, 0 if not (the database "
                               "gauges are then left out).")
        up.add_metric([], 1 if gauges else 0)
        yield up
        if gauges is None:
            return
        entries = GaugeMetricFamily("dayledger_ledger_entries", "Ledger entries in the database, by type.",
                                    labels=["type"])
        for kind in sorted(gauges.ledger_entries):
            entries.add_metric([kind], gauges.ledger_entries[kind])
        yield entries
        yield GaugeMetricFamily("dayledger_outbox_events",
                                "Rows in the events outbox. Event delivery (webhooks) does not exist yet, so "
                                "nothing is ever delivered and this is every event written so far.",
                                value=gauges.outbox_events)
        yield GaugeMetricFamily("dayledger_expiry_due_channels",
                                "Running trial/live channels whose time has passed and that the worker has "
                                "not expired yet.", value=gauges.expiry_due)
        yield GaugeMetricFamily("dayledger_expiry_lag_seconds",
                                "Now minus the activeTill of the channel that has waited longest for expiry; "
                                "0 when none is due.", value=gauges.expiry_lag_seconds)


class GroupCommitCollector(Collector):
    """Group commit (db.GroupCommit) of this process: transactions and the requests they
    carried; members / transactions is the mean group size."""

    def __init__(self, counts: Callable[[], tuple[int, int] | None]) -> None:
        self.counts = counts

    def collect(self) -> Iterable[Metric]:
        counts = self.counts()
        if counts is None:  # group commit is off
            return
        yield CounterMetricFamily("dayledger_group_commit_transactions", "Transactions committed by group commit.",
                                  value=counts[0])
        yield CounterMetricFamily("dayledger_group_commit_members", "Requests carried by those transactions.",
                                  value=counts[1])


class Metrics:
    """One app's registry: request counter and latency histogram, worker jobs, database
    gauges, group commit."""

    def __init__(self, job_names: Sequence[str] = (),
                 group_commit: Callable[[], tuple[int, int] | None] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("dayledger_http_requests", "HTTP requests answered, by route template, "
                                f"method and status ({UNMATCHED} for paths matching no route).",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("dayledger_http_request_duration_seconds",
                                 "Time from receiving a request to the end of its response body.",
                                 ["route", "method"], buckets=LATENCY_BUCKETS, registry=self.registry)
        # (route, method, status) -> the two children: labels() costs more than the
        # increments themselves, and this runs on every request.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.database = DatabaseCollector()
        self.registry.register(JobCollector(job_names))
        self.registry.register(self.database)
        if group_commit is not None:
            self.registry.register(GroupCommitCollector(group_commit))

    def observe_request(self, route: str | None, method: str, status: int, seconds: float) -> None:
        route = route or UNMATCHED
        method = method if method in KNOWN_METHODS else "other"
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(route, method, str(status)),
                                              self.latency.labels(route, method))
        children[0].inc()
        children[1].observe(seconds)

    def render(self, gauges: DatabaseGauges | None, accept: str | None) -> tuple[bytes, str]:
        """The exposition for ``accept`` (Prometheus text or OpenMetrics) and its content
        type. Storing ``gauges`` and rendering happen without an await in between, so
        concurrent scrapes cannot mix their values."""
        self.database.gauges = gauges
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type
