"""``StreamingRunner``: runs one compiled flow with Bytewax until it is asked to stop."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from loom_django.extras import require
from loom_django.streaming._runtime import FlowEngine, StreamMetrics
from loom_django.streaming.health import HealthFile
from loom_django.streaming.observe import Observation, Scope, StreamObserver, instrument
from loom_django.streaming.plan import CompiledPlan
from loom_django.streaming.tracker import AckTracker

if TYPE_CHECKING:
    from loom_django.streaming.metrics import MetricsObserver, RunMetrics
    from loom_django.streaming.transport import KafkaClients

__all__ = ["StreamingRunner"]

_log = logging.getLogger("loom_django.streaming")


class StreamingRunner:
    """Builds the Bytewax dataflow of ``plan`` and runs it in the calling thread.

    Args:
        plan: the compiled flow.
        runtime_provider: returns the loom runtime (needed when the flow calls use cases).
        workers: Bytewax worker threads (default ``streaming.runtime.workers_per_process``).
        max_messages: stop once this many source records completed.
        idle_timeout_s: stop after this long without records and with nothing in flight.
        brokers: bootstrap servers overriding the configured ones (e.g. the mock cluster).
        observers: receive the run's lifecycle events (``observe.LifecycleEvent``).
        metrics_registry: export Prometheus metrics to this registry.
        prometheus: export Prometheus metrics to the process-wide registry.
        health_file: touched after every successful poll; removed when the run ends.
        pushgateway_url: push the run's metrics there when it ends (turns metrics on).
        tracing: OpenTelemetry spans per message hop and ``traceparent`` headers
            (``tracing.HopTracer``; the ``otel`` extra).
        clients: the Kafka transport (default: what ``kafka.transport`` names; a test
            harness injects an ``InMemoryKafka``'s clients).
    """

    def __init__(
        self,
        plan: CompiledPlan,
        *,
        runtime_provider: Callable[[], Any] | None = None,
        workers: int | None = None,
        max_messages: int | None = None,
        idle_timeout_s: float | None = None,
        brokers: str | None = None,
        observers: Sequence[StreamObserver] = (),
        metrics_registry: Any = None,
        prometheus: bool = False,
        health_file: str | os.PathLike[str] | None = None,
        pushgateway_url: str | None = None,
        tracing: Any = None,
        clients: KafkaClients | None = None,
    ) -> None:
        from loom_django.streaming._bytewax import StopControl

        self.plan = plan
        self.metrics = StreamMetrics()
        self.tracker = AckTracker()
        self.control = StopControl(max_messages=max_messages, idle_timeout_s=idle_timeout_s)
        self.engine = FlowEngine(plan, runtime_provider=runtime_provider, metrics=self.metrics)
        self.workers = workers or plan.runtime.workers_per_process
        self.engine.sink_partitions.worker_count = self.workers
        self.brokers = brokers
        self.clients = clients
        self.health = HealthFile(health_file) if health_file is not None else None
        self.control.health = self.health
        self.run_metrics: RunMetrics | None = None
        self.pushgateway_url = pushgateway_url
        self._registry = metrics_registry
        if prometheus or metrics_registry is not None or pushgateway_url:
            observers = (*observers, self._enable_metrics(metrics_registry))
        self.observation = Observation(plan.name, observers)
        if self.observation:
            self.metrics.observe = self.observation
        instrument(self.engine, self.observation)
        self.tracing = tracing
        if tracing is not None:
            tracing.instrument(self.engine)
            self.metrics.tracing = tracing

    def _enable_metrics(self, registry: Any) -> MetricsObserver:
        """Export this run's metrics through the registry's stream collector."""
        from loom_django.streaming.codecs import codec_for
        from loom_django.streaming.metrics import (
            MetricsObserver,
            RunMetrics,
            Timings,
            collector,
            instrument_decode,
            instrument_usecases,
        )

        timings = Timings()
        self.metrics.timing = timings
        run = RunMetrics(
            flow=self.plan.name,
            metrics=self.metrics,
            tracker=self.tracker,
            timings=timings,
            source_content_type=codec_for(self.plan.source.codec).content_type,
        )
        self.run_metrics = run
        collector(registry).attach(run)
        instrument_decode(self.engine, run)
        if self.plan.use_cases:
            instrument_usecases(self.engine, run)
        return MetricsObserver(run, registry)

    def request_stop(self, reason: str = "stop requested") -> None:
        """Stop polling, drain in-flight records, commit and close (any thread, signals too)."""
        self.control.request(reason)

    def run(self, *, calling_thread: bool = False) -> None:
        """Run until stopped.

        Args:
            calling_thread: run the single worker on this thread (Bytewax ``run_main``), so
                a test's database connection is the flow's; needs ``workers == 1``.

        Raises:
            MissingDependency: Bytewax is not installed (Python ≥ 3.13 has no wheels).
            Exception: whatever stopped the dataflow (e.g. ``KafkaDeliveryError``), once
                every worker stopped and closed its clients (``StopControl.fail``).
        """
        require("bytewax", extra="stream")
        from bytewax.run import cli_main
        from bytewax.testing import run_main

        from loom_django.streaming._bytewax import build_dataflow

        if calling_thread and self.workers != 1:
            raise ValueError(f"calling_thread=True runs one worker, not {self.workers}")
        flow = build_dataflow(
            self.plan,
            self.engine,
            self.tracker,
            self.control,
            brokers=self.brokers,
            clients=self.clients,
        )
        _log.info(
            "stream %s: running (%d worker(s), group %s, topics %s)",
            self.plan.name,
            self.workers,
            self.plan.source.group_id,
            ",".join(self.plan.source.topics),
        )
        observation = self.observation
        # Django, the plan and the clients are built: move them out of the collector's
        # generations so the per-record garbage of the run does not rescan them (given back
        # to the collector when the run ends, for processes that go on, e.g. tests). A record
        # leaves a few dozen short-lived objects: a higher first-generation threshold runs
        # the collector less often over them (streaming.runtime.gc_threshold).
        gc.freeze()
        thresholds = gc.get_threshold()
        if self.plan.runtime.gc_threshold is not None:
            gc.set_threshold(self.plan.runtime.gc_threshold, *thresholds[1:])
        try:
            with observation.span(Scope.POLL_CYCLE, node_count=len(self.plan.ops)):
                try:
                    with observation.span(Scope.FLOW):
                        if calling_thread:
                            run_main(flow)  # type: ignore[no-untyped-call]
                        else:
                            cli_main(flow, workers_per_process=self.workers)  # type: ignore[no-untyped-call]
                        if self.control.failure is not None:
                            raise self.control.failure
                finally:
                    self.engine.close()
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            if self.health is not None:
                self.health.remove()
            if self.tracing is not None:
                self.tracing.close()
            self._push()
        _log.info("stream %s: stopped (%s)", self.plan.name, self.control.reason or "end")

    def _push(self) -> None:
        """Push the metrics to the Pushgateway, if one is configured (a failure is logged)."""
        if not self.pushgateway_url:
            return
        from loom_django.streaming.metrics import push

        try:
            push(self.pushgateway_url, self.plan.name, registry=self._registry)
        except Exception as exc:
            _log.warning(
                "stream %s: pushing metrics to %s failed: %s",
                self.plan.name,
                self.pushgateway_url,
                exc,
            )
