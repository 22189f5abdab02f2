"""The Prometheus metrics adapter (spec/core.md §8) and its wiring from the loom config."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

import loom_django
from loom_django.core.engine import EventKind, RuntimeEvent
from loom_django.prometheus import PrometheusMetricsAdapter
from loom_django.runtime import reset_runtime, setup_runtime


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_exec_done_counts_success_and_observes_duration():
    registry = CollectorRegistry()
    adapter = PrometheusMetricsAdapter(registry)
    adapter.on_event(
        RuntimeEvent(EventKind.EXEC_DONE, "Greet", duration_ms=250.0, status="success")
    )
    assert sample(registry, "loom_usecase_requests_total", usecase="Greet", status="success") == 1
    assert sample(registry, "loom_usecase_duration_seconds_sum", usecase="Greet") == 0.25


def test_exec_error_counts_status_and_error_kind():
    registry = CollectorRegistry()
    adapter = PrometheusMetricsAdapter(registry)
    adapter.on_event(
        RuntimeEvent(EventKind.EXEC_ERROR, "Greet", status="failure", error=KeyError("x"))
    )
    assert sample(registry, "loom_usecase_requests_total", usecase="Greet", status="failure") == 1
    assert (
        sample(registry, "loom_usecase_errors_total", usecase="Greet", error_kind="KeyError") == 1
    )


def test_default_registry_instruments_are_created_once():
    PrometheusMetricsAdapter()
    PrometheusMetricsAdapter()


@pytest.fixture
def metrics_enabled(settings):
    settings.LOOM = {
        "CONFIG": {
            "app": {
                "discovery": {
                    "mode": "modules",
                    "modules": {"include": ["tests.app.good_use_cases"]},
                }
            },
            "metrics": {"enabled": True},
        }
    }
    setup_runtime()
    yield
    reset_runtime()


def test_metrics_enabled_in_config_records_executions(metrics_enabled, db):
    from prometheus_client import REGISTRY

    before = sample(
        REGISTRY, "loom_usecase_requests_total", usecase="GreetUseCase", status="success"
    )
    loom_django.invoke_sync("tests.greet", payload={"name": "ada"})
    after = sample(
        REGISTRY, "loom_usecase_requests_total", usecase="GreetUseCase", status="success"
    )
    assert after == before + 1


def test_metrics_view_serves_the_exposition_format(rf):
    from loom_django.prometheus import metrics_view

    PrometheusMetricsAdapter().on_event(
        RuntimeEvent(EventKind.EXEC_DONE, "Scraped", duration_ms=1.0, status="success")
    )
    response = metrics_view(rf.get("/metrics"))
    assert response.status_code == 200
    assert b'loom_usecase_requests_total{status="success",usecase="Scraped"}' in response.content
