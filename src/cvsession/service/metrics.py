"""In-process metrics: Prometheus counters and histograms of this server process.

Product figures (sessions, resumes, sync outcomes) are events in the database and exact across
processes (cvsession.service.analytics); what lives here is per process by nature — how long a
committed change took to reach each connection, push-to-ack times — plus the sync counters as
the process saw them, for alerting. Each `Metrics` has its own registry, so several apps in one
process (tests) never share series. Prometheus scrapes every process and sums them.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Seconds; Prometheus convention. Fine below 100 ms, where cross-device sync should be.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
RESERVOIR = 10_000  # newest samples kept for exact percentiles in the summary


class Latency:
    """A Prometheus histogram plus the newest samples, for percentiles and a plot."""

    def __init__(self, histogram: Histogram, labels: tuple[str, ...] = ()) -> None:
        self._child = histogram.labels(*labels) if labels else histogram
        self._samples: deque[float] = deque(maxlen=RESERVOIR)
        self._counts = [0] * (len(LATENCY_BUCKETS) + 1)  # per bucket, not cumulative; +Inf last
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self._child.observe(seconds)
        with self._lock:
            self._samples.append(seconds)
            self._counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1

    def summary(self) -> dict[str, Any]:
        """{count, p50Ms, p95Ms, p99Ms, histogram: {boundsMs, counts}} since the process began.

        Percentiles are over the newest RESERVOIR samples; `counts[i]` is the number of samples
        at most `boundsMs[i]` and above the previous bound (the last one is above every bound).
        """
        with self._lock:
            ordered = sorted(self._samples)
            counts = list(self._counts)
        return {
            "count": sum(counts),
            "p50Ms": _ms(percentile(ordered, 0.50)),
            "p95Ms": _ms(percentile(ordered, 0.95)),
            "p99Ms": _ms(percentile(ordered, 0.99)),
            "histogram": {"boundsMs": [b * 1000 for b in LATENCY_BUCKETS], "counts": counts},
        }


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list; None when it is empty."""
    if not ordered:
        return None
    rank = math.ceil(round(q * len(ordered), 9))
    return ordered[min(len(ordered), max(1, rank)) - 1]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


class _ScrapeGauges(Collector):
    """Gauges computed at scrape time by `source` (e.g. from the database)."""

    def __init__(self, source: Callable[[], Iterable[tuple[str, str, str, dict[str, float]]]]):
        self.source = source

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []  # nothing to read at registration; names are checked by the tests

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, doc, label, values in self.source():
            family = GaugeMetricFamily(name, doc, labels=[label])
            for key, value in sorted(values.items()):
                family.add_metric([key], value)
            yield family


class Metrics:
    """The process's registry and the instruments the service and the hub update."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.pushes = Counter("cvsession_sync_pushes", "Pushes received.", registry=r)
        self.attempts = Counter(
            "cvsession_sync_attempts", "Mutations received in pushes (replays excluded).",
            registry=r,
        )  # fmt: skip
        self.successes = Counter("cvsession_sync_successes", "Mutations applied.", registry=r)
        self.duplicates = Counter(
            "cvsession_sync_duplicates", "Replayed mutations acknowledged without effect.",
            registry=r,
        )  # fmt: skip
        self.conflicts = Counter(
            "cvsession_sync_conflicts", "Conflict records created by pushes.", registry=r
        )
        self.rejected = Counter(
            "cvsession_sync_rejected", "Mutations refused with a domain error.", registry=r
        )
        self.gaps = Counter("cvsession_sync_gaps", "Pushes stopped at a mutation gap.", registry=r)
        self.failures = Counter(
            "cvsession_sync_push_failures", "Pushes that failed and were undone.", registry=r
        )
        self.replayed = Counter(
            "cvsession_sync_offline_replayed", "Mutations applied after being offline.", registry=r
        )
        propagation = Histogram(
            "cvsession_sync_propagation_seconds",
            "From a change's commit to its patch being sent on a connection.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        push_ack = Histogram(
            "cvsession_sync_push_ack_seconds",
            "From a push being received to its acknowledgement being sent.",
            ["transport"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.propagation = Latency(propagation)
        self.push_ack = {t: Latency(push_ack, (t,)) for t in ("ws", "http")}

    def count_push(self, tally: dict[str, int]) -> None:
        """Add one committed push's tally (see `analytics.push_tally`)."""
        self.pushes.inc()
        for counter, key in (
            (self.attempts, "attempts"),
            (self.successes, "applied"),
            (self.duplicates, "duplicates"),
            (self.conflicts, "conflicts"),
            (self.rejected, "rejected"),
            (self.gaps, "gap"),
            (self.replayed, "replayed"),
        ):
            if tally.get(key):
                counter.inc(tally[key])

    def add_scrape_gauges(
        self, source: Callable[[], Iterable[tuple[str, str, str, dict[str, float]]]]
    ) -> None:
        """Register gauges that `source` computes at each scrape: (name, help, label, values)."""
        self.registry.register(_ScrapeGauges(source))
