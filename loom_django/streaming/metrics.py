"""Prometheus metrics of running flows (spec §6.9; extra ``loom-django[prometheus]``).

Counters are read from each run's :class:`~loom_django.streaming._runtime.StreamMetrics` and
:class:`~loom_django.streaming.tracker.AckTracker` when Prometheus scrapes, so the record path
never touches a Prometheus object. Durations are observed once per micro-batch (divided per
message). One collector per registry serves every run of the process, so no metric name is
registered twice; the kernel's ``lifecycle_*`` instruments are the process-wide ones shared with
the ETL door (:func:`loom_django.prometheus.lifecycle_instruments`).
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loom_django.extras import require
from loom_django.streaming.observe import LifecycleEvent, Phase, Scope

if TYPE_CHECKING:
    from loom_django.streaming._runtime import FlowEngine, StreamMetrics
    from loom_django.streaming.tracker import AckTracker

__all__ = [
    "BUCKETS",
    "PUSH_JOB",
    "Histogram",
    "MetricsObserver",
    "RunMetrics",
    "Timings",
    "collector",
    "push",
    "serve",
]

PUSH_JOB = "loom_stream"
"""The Pushgateway job of stream runs (grouped by ``flow``)."""

BUCKETS = (1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
"""Upper bounds (seconds) of the duration histograms; ``+Inf`` is implicit."""


class Histogram:
    """Bucket counts fed ``n`` observations at a time (a micro-batch divided per message)."""

    __slots__ = ("counts", "lock", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0
        self.lock = threading.Lock()

    def observe_n(self, value: float, n: int) -> None:
        """Record ``n`` observations of ``value`` seconds."""
        if n <= 0:
            return
        with self.lock:
            self.counts[bisect_left(BUCKETS, value)] += n
            self.total += value * n

    def cumulative(self) -> tuple[list[tuple[str, float]], float]:
        """``([(le, cumulative count), …, ("+Inf", count)], sum)`` for an exposition."""
        with self.lock:
            counts, total = list(self.counts), self.total
        rows: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*map(str, BUCKETS), "+Inf"), counts, strict=True):
            running += count
            rows.append((bound, running))
        return rows, total


@dataclass
class Timings:
    """What one run measures only when metrics are on: decode and encode durations per content
    type, node durations per node, use-case durations per ``(use case, status)``, rebalances by
    type, consumer lag per partition, the partitions each worker owns (for in-flight counts
    per worker; each set is the source partition's own, mutated in place) and the time
    messages wait for a ``WithAsync`` DB lane."""

    decode: dict[str, Histogram] = field(default_factory=dict)
    encode: dict[str, Histogram] = field(default_factory=dict)
    node: dict[str, Histogram] = field(default_factory=dict)
    usecase: dict[tuple[str, str], Histogram] = field(default_factory=dict)
    rebalances: Counter[str] = field(default_factory=Counter)
    lag: dict[tuple[str, int], int] = field(default_factory=dict)
    owned: dict[int, set[tuple[str, int]]] = field(default_factory=dict)
    lane_wait: Histogram = field(default_factory=Histogram)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def worker_owns(self, worker: int, partitions: set[tuple[str, int]]) -> None:
        """Worker ``worker`` reads ``partitions`` (a set it keeps up to date)."""
        with self.lock:
            self.owned[worker] = partitions

    def owned_by_worker(self) -> dict[int, frozenset[tuple[str, int]]]:
        """A snapshot of the partitions of each worker."""
        with self.lock:
            owned = dict(self.owned)
        return {worker: _snapshot(parts) for worker, parts in owned.items()}

    def rebalanced(self, kind: str) -> None:
        """A rebalance callback ran (``assign``, ``revoke`` or ``lost``)."""
        with self.lock:
            self.rebalances[kind] += 1

    def statistics(self, raw: str) -> None:
        """Read ``consumer_lag`` per partition from a librdkafka statistics JSON document."""
        try:
            topics = json.loads(raw).get("topics") or {}
        except ValueError:
            return
        lags: dict[tuple[str, int], int] = {}
        for topic, info in topics.items():
            for partition, stats in (info.get("partitions") or {}).items():
                lag = stats.get("consumer_lag", -1)
                if int(partition) >= 0 and lag is not None and lag >= 0:
                    lags[(topic, int(partition))] = int(lag)
        with self.lock:
            self.lag.update(lags)

    def histogram(self, table: dict[Any, Histogram], label: Any) -> Histogram:
        """The histogram of ``label`` in ``table``, created on first use."""
        hist = table.get(label)
        if hist is None:
            with self.lock:
                hist = table.setdefault(label, Histogram())
        return hist

    def encoded(self, content_type: str, seconds: float, n: int) -> None:
        """``n`` records were encoded in ``seconds`` (called by the producer sink)."""
        self.histogram(self.encode, content_type).observe_n(seconds / max(n, 1), n)


@dataclass(eq=False)
class RunMetrics:
    """What the collector reads for one run."""

    flow: str
    metrics: StreamMetrics
    tracker: AckTracker
    timings: Timings
    source_content_type: str


def _snapshot(parts: set[tuple[str, int]]) -> frozenset[tuple[str, int]]:
    """A copy of a set another thread may be changing (a rebalance), retried on a race."""
    for _ in range(10):
        try:
            return frozenset(parts)
        except RuntimeError:  # "Set changed size during iteration"
            continue
    return frozenset()


class MetricsObserver:
    """Feeds NODE and POLL_CYCLE events into the node histogram and the shared ``lifecycle_*``
    instruments."""

    def __init__(self, run: RunMetrics, registry: Any) -> None:
        from loom_django.prometheus import lifecycle_instruments

        self._run = run
        self._duration, self._errors = lifecycle_instruments(registry)

    def on_event(self, event: LifecycleEvent) -> None:
        """Observe finished node executions and runs; count errors."""
        name = event.name or event.node_type or event.flow
        scope = event.scope.value
        if event.phase is Phase.END:
            seconds = (event.duration_ms or 0.0) / 1000
            if event.scope is Scope.NODE:
                items = event.items or 1
                timings = self._run.timings
                timings.histogram(timings.node, name).observe_n(seconds / items, items)
            self._duration.labels(scope, name).observe(seconds)
        elif event.phase is Phase.ERROR:
            self._errors.labels(scope, name).inc()


def instrument_decode(engine: FlowEngine, run: RunMetrics) -> None:
    """Time the engine's decode of each micro-batch into ``decode[content type]``."""
    decode: Callable[[list[Any], list[Any]], list[Any]] = engine._decode
    hist = run.timings.histogram(run.timings.decode, run.source_content_type)

    def timed(records: list[Any], out: list[Any]) -> list[Any]:
        start = time.perf_counter()
        result = decode(records, out)
        if records:
            hist.observe_n((time.perf_counter() - start) / len(records), len(records))
        return result

    engine._decode = timed  # type: ignore[method-assign]


def instrument_usecases(engine: FlowEngine, run: RunMetrics) -> None:
    """Time each use-case execution of ``engine`` into ``usecase[(use case, status)]``
    (``status``: ``success`` or ``error``), whichever thread or lane runs it."""
    invoke: Callable[[Any, Any], Any] = engine._invoke
    timings = run.timings

    def timed(op: Any, rec: Any) -> Any:
        label = getattr(op.step.use_case, "__name__", op.name)
        start = time.perf_counter()
        try:
            result = invoke(op, rec)
        except BaseException:
            timings.histogram(timings.usecase, (label, "error")).observe_n(
                time.perf_counter() - start, 1
            )
            raise
        timings.histogram(timings.usecase, (label, "success")).observe_n(
            time.perf_counter() - start, 1
        )
        return result

    engine._invoke = timed  # type: ignore[method-assign]


# -- the collector -------------------------------------------------------------------------


def _counter(name: str, doc: str, labels: list[str]) -> Any:
    from prometheus_client.core import CounterMetricFamily

    return CounterMetricFamily(name, doc, labels=labels)


def _gauge(name: str, doc: str, labels: list[str]) -> Any:
    from prometheus_client.core import GaugeMetricFamily

    return GaugeMetricFamily(name, doc, labels=labels)


def _histogram(name: str, doc: str, labels: list[str]) -> Any:
    from prometheus_client.core import HistogramMetricFamily

    return HistogramMetricFamily(name, doc, labels=labels)


_FAMILIES: tuple[tuple[str, Callable[[str, str, list[str]], Any], str, list[str]], ...] = (
    ("loom_stream_messages_in", _counter, "Records polled from the source.", ["flow", "topic"]),
    ("loom_stream_messages_out", _counter, "Records written to sinks.", ["flow", "topic"]),
    ("loom_stream_errors", _counter, "Error envelopes by kind.", ["flow", "kind", "routed"]),
    ("loom_stream_retries", _counter, "In-place retries of a step.", ["flow", "node"]),
    ("loom_stream_filtered", _counter, "Messages a step filtered (None).", ["flow", "node"]),
    ("loom_stream_unmatched", _counter, "Fork messages with no branch.", ["flow", "node"]),
    ("loom_stream_dlq", _counter, "Records sent to a delivery DLQ.", ["flow", "topic"]),
    (
        "loom_stream_committed_offset",
        _gauge,
        "Last offset committed per partition.",
        ["flow", "topic", "partition"],
    ),
    ("loom_stream_inflight_messages", _gauge, "Records polled, not completed.", ["flow", "worker"]),
    ("loom_stream_node_seconds", _histogram, "Node time per message.", ["flow", "node"]),
    (
        "loom_stream_usecase_seconds",
        _histogram,
        "Use-case execution time.",
        ["flow", "use_case", "status"],
    ),
    ("loom_stream_rebalances", _counter, "Rebalance callbacks by type.", ["flow", "type"]),
    (
        "loom_stream_db_lane_wait_seconds",
        _histogram,
        "Time a message waited for a free DB lane (WithAsync use cases).",
        ["flow"],
    ),
    (
        "loom_stream_consumer_lag",
        _gauge,
        "Consumer lag per partition (librdkafka statistics).",
        ["flow", "topic", "partition"],
    ),
    ("streaming_kafka_consumed", _counter, "Records consumed (kernel name).", ["topic", "status"]),
    ("streaming_kafka_produced", _counter, "Records produced (kernel name).", ["topic", "status"]),
    (
        "streaming_kafka_encode_duration_seconds",
        _histogram,
        "Encode time per record (kernel name).",
        ["content_type"],
    ),
    (
        "streaming_kafka_decode_duration_seconds",
        _histogram,
        "Decode time per record (kernel name).",
        ["content_type"],
    ),
)


class StreamCollector:
    """A Prometheus collector over every attached run of this process (weakly held)."""

    def __init__(self) -> None:
        self._runs: list[weakref.ref[RunMetrics]] = []
        self._lock = threading.Lock()

    def attach(self, run: RunMetrics) -> None:
        """Export ``run`` until it is garbage collected."""
        with self._lock:
            self._runs = [r for r in self._runs if r() is not None]
            self._runs.append(weakref.ref(run))

    def runs(self) -> list[RunMetrics]:
        """The live attached runs."""
        with self._lock:
            return [run for ref in self._runs if (run := ref()) is not None]

    def describe(self) -> Iterator[Any]:
        """Every family this collector exports (so a duplicate name fails at registration)."""
        for name, make, doc, labels in _FAMILIES:
            yield make(name, doc, labels)

    def collect(self) -> Iterator[Any]:
        """Samples summed over the live runs (label sets of two runs of one flow add up)."""
        values: dict[str, Counter[tuple[str, ...]]] = {name: Counter() for name, *_ in _FAMILIES}
        hists: dict[str, dict[tuple[str, ...], list[Histogram]]] = {}
        for run in self.runs():
            _sample(run, values, hists)
        for name, make, doc, labels in _FAMILIES:
            family = make(name, doc, labels)
            if make is _histogram:
                for label_values, parts in sorted(hists.get(name, {}).items()):
                    buckets, total = _merge(parts)
                    family.add_metric(list(label_values), buckets, total)
            else:
                for label_values, value in sorted(values[name].items()):
                    family.add_metric(list(label_values), value)
            yield family


def _sample(
    run: RunMetrics,
    values: dict[str, Counter[tuple[str, ...]]],
    hists: dict[str, dict[tuple[str, ...], list[Histogram]]],
) -> None:
    flow, m = run.flow, run.metrics
    with m.lock:
        messages_in, messages_out = dict(m.messages_in), dict(m.messages_out)
        errors, dlq = dict(m.errors), dict(m.dlq)
        per_node = {
            "loom_stream_retries": dict(m.retries),
            "loom_stream_filtered": dict(m.filtered),
            "loom_stream_unmatched": dict(m.unmatched),
        }
    for topic, n in messages_in.items():
        values["loom_stream_messages_in"][(flow, topic)] += n
        values["streaming_kafka_consumed"][(topic, "success")] += n
    for topic, n in messages_out.items():
        values["loom_stream_messages_out"][(flow, topic)] += n
        values["streaming_kafka_produced"][(topic, "success")] += n
    for (kind, routed), n in errors.items():
        values["loom_stream_errors"][(flow, kind, "true" if routed else "false")] += n
    for topic, n in dlq.items():
        values["loom_stream_dlq"][(flow, topic)] += n
        values["streaming_kafka_produced"][(topic, "dlq")] += n
    for name, counts in per_node.items():
        for node, n in counts.items():
            values[name][(flow, node)] += n
    for (topic, partition), offset in run.tracker.committed_offsets().items():
        values["loom_stream_committed_offset"][(flow, topic, str(partition))] = offset
    timings = run.timings
    for worker, parts in timings.owned_by_worker().items():
        inflight = run.tracker.inflight_of(parts)
        values["loom_stream_inflight_messages"][(flow, str(worker))] += inflight
    with timings.lock:
        rebalances, lags = dict(timings.rebalances), dict(timings.lag)
    for kind, n in rebalances.items():
        values["loom_stream_rebalances"][(flow, kind)] += n
    for (topic, partition), lag in lags.items():
        values["loom_stream_consumer_lag"][(flow, topic, str(partition))] = lag
    for table, name, prefix in (
        (timings.node, "loom_stream_node_seconds", (flow,)),
        (timings.decode, "streaming_kafka_decode_duration_seconds", ()),
        (timings.encode, "streaming_kafka_encode_duration_seconds", ()),
    ):
        for label, hist in list(table.items()):
            hists.setdefault(name, {}).setdefault((*prefix, label), []).append(hist)
    for (use_case, status), hist in list(timings.usecase.items()):
        key = (flow, use_case, status)
        hists.setdefault("loom_stream_usecase_seconds", {}).setdefault(key, []).append(hist)
    hists.setdefault("loom_stream_db_lane_wait_seconds", {}).setdefault((flow,), []).append(
        timings.lane_wait
    )


def _merge(parts: list[Histogram]) -> tuple[list[tuple[str, float]], float]:
    rows, total = parts[0].cumulative()
    for hist in parts[1:]:
        more, extra = hist.cumulative()
        rows = [(le, a + b) for (le, a), (_, b) in zip(rows, more, strict=True)]
        total += extra
    return rows, total


_collectors: weakref.WeakKeyDictionary[Any, StreamCollector] = weakref.WeakKeyDictionary()
_collectors_lock = threading.Lock()


def collector(registry: Any = None) -> StreamCollector:
    """The one stream collector of ``registry`` (default: the process-wide registry).

    Raises:
        MissingDependency: prometheus-client is not installed.
    """
    require("prometheus_client", extra="prometheus")
    if registry is None:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    with _collectors_lock:
        found = _collectors.get(registry)
        if found is None:
            found = _collectors[registry] = StreamCollector()
            registry.register(found)
    return found


def serve(port: int, *, addr: str = "127.0.0.1", registry: Any = None) -> None:
    """Start Prometheus's scrape server on ``addr:port`` (a daemon thread).

    Raises:
        MissingDependency: prometheus-client is not installed.
        OSError: the port cannot be bound.
    """
    require("prometheus_client", extra="prometheus")
    from prometheus_client import REGISTRY, start_http_server

    start_http_server(port, addr=addr, registry=registry if registry is not None else REGISTRY)


def push(url: str, flow: str, *, registry: Any = None, timeout_s: float = 10.0) -> None:
    """Push ``registry`` (default: the process-wide one) to the Pushgateway at ``url`` as job
    ``loom_stream``, grouping key ``flow`` (replacing that flow's previous push).

    Raises:
        MissingDependency: prometheus-client is not installed.
        OSError: the Pushgateway cannot be reached or refused the push.
    """
    require("prometheus_client", extra="prometheus")
    from prometheus_client import REGISTRY, push_to_gateway

    push_to_gateway(
        url,
        job=PUSH_JOB,
        registry=registry if registry is not None else REGISTRY,
        grouping_key={"flow": flow},
        timeout=timeout_s,
    )
