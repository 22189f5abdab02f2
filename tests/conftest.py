"""Suite-wide pytest hooks: service markers skip (or fail on CI) when their service is absent."""

from __future__ import annotations

import os
import socket

import pytest

# The streaming test fixtures users get (in_memory_kafka, flow_harness, kafka_mock_cluster...).
pytest_plugins = ["loom_django.streaming.testing.pytest_plugin"]

_SERVICE_PORTS = {"redis": 6379, "rabbitmq": 5672}


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``postgres`` tests run only in the PostgreSQL lane; redis/rabbitmq need their port.

    On CI (``CI`` set) a missing Redis or RabbitMQ is a failure, never a silent skip.
    """
    if not config.pluginmanager.has_plugin("django"):
        return
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    skip_pg = pytest.mark.skip(reason="PostgreSQL lane only (set DATABASE_URL=postgres://...)")
    down = {
        name: port
        for name, port in _SERVICE_PORTS.items()
        if any(item.get_closest_marker(name) for item in items) and not _port_open(port)
    }
    if down and os.environ.get("CI"):
        raise pytest.UsageError(f"Services required by the tests are down: {sorted(down)}")
    for item in items:
        if item.get_closest_marker("postgres") and not on_postgres:
            item.add_marker(skip_pg)
        for name, port in down.items():
            if item.get_closest_marker(name):
                item.add_marker(pytest.mark.skip(reason=f"{name} is not listening on :{port}"))
