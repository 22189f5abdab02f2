"""Prometheus metrics of ETL runs and the Pushgateway push (spec §6.2, §6.3)."""

from __future__ import annotations

import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from loom_django.etl.runner import ETLRunner
from tests.etl.pipelines import BooksPipeline, DayParams, FailingPipeline

prometheus_client = pytest.importorskip("prometheus_client")
pytestmark = pytest.mark.django_db
DAY = DayParams(run_date=date(2026, 3, 30))


def _observer(**kwargs):  # type: ignore[no-untyped-def]
    from loom_django.etl.prometheus import PrometheusObserver

    return PrometheusObserver(prometheus_client.CollectorRegistry(), **kwargs)


def test_rows_durations_and_errors_are_recorded():
    metrics = _observer()
    ETLRunner(observers=[metrics]).run(BooksPipeline, DAY)
    with pytest.raises(RuntimeError):
        ETLRunner(observers=[metrics]).run(FailingPipeline, DAY)
    sample = metrics.registry.get_sample_value
    labels = {"pipeline": "tests.BooksPipeline", "step": "LoadBooks", "target": "testapp.book"}
    assert sample("etl_rows_written_total", labels) == 1
    assert sample("lifecycle_duration_seconds_count", {"scope": "step", "name": "LoadBooks"}) == 1
    assert sample("lifecycle_errors_total", {"scope": "step", "name": "CopyBooks"}) == 1
    assert sample("lifecycle_errors_total", {"scope": "pipeline", "name": "tests.FailingPipeline"})


def test_flush_pushes_to_the_pushgateway_once_per_run():
    pushed: list[tuple[str, str, bytes]] = []

    class Gateway(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            pushed.append(("PUT", self.path, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"127.0.0.1:{server.server_address[1]}"
        ETLRunner(observers=[_observer(pushgateway_url=url)]).run(BooksPipeline, DAY)
    finally:
        server.shutdown()
    assert [(m, p) for m, p, _ in pushed] == [("PUT", "/metrics/job/loom_etl")]
    assert b"etl_rows_written_total" in pushed[0][2]


def test_the_command_records_metrics_when_enabled_in_the_config():
    import io

    from django.core.management import call_command

    call_command(
        "loom_etl",
        "run",
        "tests.etl.pipelines.BooksPipeline",
        "-p",
        "run_date=2026-03-30",
        "--progress",
        "none",
        "--set",
        "observability.prometheus.enabled=true",
        stdout=io.StringIO(),
    )
    labels = {"pipeline": "tests.BooksPipeline", "step": "LoadBooks", "target": "testapp.book"}
    assert prometheus_client.REGISTRY.get_sample_value("etl_rows_written_total", labels) >= 1
