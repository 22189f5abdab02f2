"""Prometheus metrics for use cases: an engine MetricsAdapter and the scrape view."""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

from loom_django.core.engine.events import EventKind, RuntimeEvent

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

__all__ = ["PrometheusMetricsAdapter", "lifecycle_instruments", "metrics_view"]

_lock = threading.Lock()
_default_instruments: tuple[Any, Any, Any] | None = None
_lifecycle: weakref.WeakKeyDictionary[Any, tuple[Any, Any]] = weakref.WeakKeyDictionary()


def lifecycle_instruments(registry: Any = None) -> tuple[Any, Any]:
    """``(lifecycle_duration_seconds, lifecycle_errors_total)`` of ``registry`` (default: the
    process-wide one), labelled ``scope`` and ``name`` as in loom-kernel.

    Created once per registry and shared by every door that reports lifecycle scopes (ETL
    pipelines and steps, stream runs and nodes), so the names are never registered twice.
    """
    from prometheus_client import REGISTRY, Counter, Histogram

    registry = REGISTRY if registry is None else registry
    with _lock:
        found = _lifecycle.get(registry)
        if found is None:
            found = _lifecycle[registry] = (
                Histogram(
                    "lifecycle_duration_seconds",
                    "Duration of lifecycle scopes (ETL pipelines and steps, stream nodes).",
                    ["scope", "name"],
                    registry=registry,
                ),
                Counter(
                    "lifecycle_errors_total",
                    "Failed lifecycle scopes.",
                    ["scope", "name"],
                    registry=registry,
                ),
            )
    return found


def _instruments(registry: Any) -> tuple[Any, Any, Any]:
    from prometheus_client import Counter, Histogram

    requests = Counter(
        "loom_usecase_requests_total",
        "Use-case executions by outcome.",
        ["usecase", "status"],
        registry=registry,
    )
    duration = Histogram(
        "loom_usecase_duration_seconds",
        "Duration of successful use-case executions.",
        ["usecase"],
        registry=registry,
    )
    errors = Counter(
        "loom_usecase_errors_total",
        "Failed use-case executions by exception class.",
        ["usecase", "error_kind"],
        registry=registry,
    )
    return requests, duration, errors


class PrometheusMetricsAdapter:
    """Counts executions and records their duration with the kernel's instrument names.

    Instruments on the default registry are created once per process, so building
    several adapters (tests, reloads) never registers duplicates.
    """

    def __init__(self, registry: Any = None) -> None:
        global _default_instruments
        if registry is None:
            with _lock:
                if _default_instruments is None:
                    from prometheus_client import REGISTRY

                    _default_instruments = _instruments(REGISTRY)
                self._requests, self._duration, self._errors = _default_instruments
        else:
            self._requests, self._duration, self._errors = _instruments(registry)

    def on_event(self, event: RuntimeEvent) -> None:
        """Record EXEC_DONE and EXEC_ERROR events; ignore the rest."""
        if event.kind is EventKind.EXEC_DONE:
            self._requests.labels(event.use_case_name, "success").inc()
            self._duration.labels(event.use_case_name).observe((event.duration_ms or 0) / 1000)
        elif event.kind is EventKind.EXEC_ERROR:
            self._requests.labels(event.use_case_name, event.status or "failure").inc()
            kind = type(event.error).__name__ if event.error is not None else "Unknown"
            self._errors.labels(event.use_case_name, kind).inc()


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus scrape endpoint (text exposition format of the default registry)."""
    from django.http import HttpResponse
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
