"""Prometheus metrics of ETL runs: a lifecycle observer, pushed to a Pushgateway at flush.

Instruments (extra ``loom-django[prometheus]``): ``lifecycle_duration_seconds{scope,name}``
and ``lifecycle_errors_total{scope,name}`` (the reference's names), plus
``etl_rows_written_total`` and ``etl_rows_rejected_total`` labelled ``pipeline``, ``step``
and ``target``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from loom_django.extras import require

if TYPE_CHECKING:
    from loom_django.etl.runner import Event

__all__ = ["PrometheusObserver"]

PUSH_JOB = "loom_etl"

_lock = threading.Lock()
_default: tuple[Any, Any, Any, Any] | None = None


def _instruments(registry: Any) -> tuple[Any, Any, Any, Any]:
    from prometheus_client import Counter

    from loom_django.prometheus import lifecycle_instruments

    return (
        *lifecycle_instruments(registry),  # shared with the streaming door
        Counter(
            "etl_rows_written_total",
            "Rows written by ETL steps.",
            ["pipeline", "step", "target"],
            registry=registry,
        ),
        Counter(
            "etl_rows_rejected_total",
            "Rows rejected by ETL steps.",
            ["pipeline", "step", "target"],
            registry=registry,
        ),
    )


class PrometheusObserver:
    """Records every finished scope; ``flush()`` pushes to ``pushgateway_url`` when set.

    Without a ``registry``, a Pushgateway observer gets a fresh registry (a batch run pushes
    only its own samples) and a scraped process shares the default one (instruments are
    created once per process).

    Raises:
        MissingDependency: prometheus-client is not installed.
    """

    def __init__(self, registry: Any = None, *, pushgateway_url: str | None = None) -> None:
        global _default
        require("prometheus_client", extra="prometheus")
        from prometheus_client import CollectorRegistry

        self.pushgateway_url = pushgateway_url
        if registry is None and pushgateway_url:
            registry = CollectorRegistry()
        if registry is None:
            from prometheus_client import REGISTRY

            with _lock:
                if _default is None:
                    _default = _instruments(REGISTRY)
                instruments = _default
            self.registry = REGISTRY
        else:
            instruments = _instruments(registry)
            self.registry = registry
        self._duration, self._errors, self._written, self._rejected = instruments
        self._pipelines: dict[str, str] = {}

    def on_event(self, event: Event) -> None:
        """Observe durations, errors and step row counts of finished scopes."""
        if event.scope == "pipeline" and event.kind == "start":
            self._pipelines[event.run_id] = event.name
            return
        if event.kind != "end":
            return
        self._duration.labels(event.scope, event.name).observe((event.duration_ms or 0) / 1000)
        if event.status != "success":
            self._errors.labels(event.scope, event.name).inc()
        if event.scope == "step":
            labels = (self._pipelines.get(event.run_id, ""), event.name, event.target or "")
            self._written.labels(*labels).inc(event.rows_written or 0)
            self._rejected.labels(*labels).inc(event.rows_rejected or 0)
        if event.scope == "pipeline":
            self._pipelines.pop(event.run_id, None)

    def flush(self) -> None:
        """Push this observer's registry to the Pushgateway (job ``loom_etl``), if any."""
        if self.pushgateway_url:
            from prometheus_client import push_to_gateway

            push_to_gateway(self.pushgateway_url, job=PUSH_JOB, registry=self.registry)
