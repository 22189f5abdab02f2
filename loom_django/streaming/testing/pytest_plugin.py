"""pytest fixtures for testing stream flows (spec §8.3). Enable them with
``pytest_plugins = ["loom_django.streaming.testing.pytest_plugin"]`` in a top-level
``conftest.py`` (or ``-p loom_django.streaming.testing.pytest_plugin``).

* ``in_memory_kafka``: a fresh :class:`~loom_django.streaming.memory.InMemoryKafka`.
* ``flow_harness``: ``flow_harness(flow_or_name, config=None, workers=1)`` builds a
  :class:`~loom_django.streaming.testing.FlowHarness` on that broker.
* ``kafka_mock_cluster`` (session) / ``kafka_bootstrap``: librdkafka's mock cluster and its
  ``host:port`` (needs confluent-kafka).
* ``loom_stream_process``: starts ``manage.py loom_stream run`` against the mock cluster and
  stops whatever is still running at teardown.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "MockCluster",
    "StreamProcess",
    "flow_harness",
    "in_memory_kafka",
    "kafka_bootstrap",
    "kafka_mock_cluster",
    "loom_stream_process",
]


@dataclass(frozen=True)
class MockCluster:
    """A running librdkafka mock cluster; it lives as long as ``owner`` is referenced."""

    owner: Any
    bootstrap: str


class StreamProcess:
    """A ``manage.py loom_stream run`` subprocess (text pipes)."""

    def __init__(self, popen: subprocess.Popen[str]) -> None:
        self.popen = popen
        self.stdout = ""
        self.stderr = ""

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` (e.g. ``signal.SIGTERM``) to the process."""
        self.popen.send_signal(sig)

    def wait(self, timeout: float | None = 60) -> int:
        """Wait for the exit; fills :attr:`stdout`/:attr:`stderr` and returns the exit code.

        Raises:
            subprocess.TimeoutExpired: still running after ``timeout`` seconds.
        """
        out, err = self.popen.communicate(timeout=timeout)
        self.stdout += out or ""
        self.stderr += err or ""
        return self.popen.returncode

    def stop(self) -> None:
        """Kill the process if it still runs (teardown)."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.wait(timeout=30)


@pytest.fixture
def in_memory_kafka() -> Any:
    """A fresh in-memory Kafka for one test."""
    from loom_django.streaming.memory import InMemoryKafka

    return InMemoryKafka()


@pytest.fixture
def flow_harness(in_memory_kafka: Any) -> Callable[..., Any]:
    """A factory: ``flow_harness(flow_or_name, config=None, workers=1)`` → ``FlowHarness``
    on this test's ``in_memory_kafka``."""
    from loom_django.streaming.testing.harness import FlowHarness

    def make(flow_or_name: Any, *, config: Any = None, workers: int = 1) -> FlowHarness:
        return FlowHarness(flow_or_name, kafka=in_memory_kafka, config=config, workers=workers)

    return make


@pytest.fixture(scope="session")
def kafka_mock_cluster() -> Iterator[MockCluster]:
    """librdkafka's mock cluster for the whole session (one broker, 4-partition topics)."""
    from loom_django.streaming.testing.samples import start_mock_cluster

    owner, bootstrap = start_mock_cluster()
    yield MockCluster(owner, bootstrap)
    del owner


@pytest.fixture
def kafka_bootstrap(kafka_mock_cluster: MockCluster) -> str:
    """The mock cluster's ``host:port``."""
    return kafka_mock_cluster.bootstrap


@pytest.fixture
def loom_stream_process(kafka_bootstrap: str) -> Iterator[Callable[..., StreamProcess]]:
    """A factory: ``loom_stream_process(flow, *args, manage_py=None, env=None)`` starts
    ``loom_stream run <flow> <args>`` with ``KAFKA_BOOTSTRAP`` set to the mock cluster
    (``python -m django`` with the current ``DJANGO_SETTINGS_MODULE`` unless ``manage_py``
    names a project's ``manage.py``); processes still running at teardown are killed."""
    started: list[StreamProcess] = []

    def start(
        flow: str,
        *args: str,
        manage_py: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> StreamProcess:
        entry: Sequence[str] = [str(manage_py)] if manage_py is not None else ["-m", "django"]
        if manage_py is not None and cwd is None:
            cwd = Path(manage_py).resolve().parent
        environment = {**os.environ, "KAFKA_BOOTSTRAP": kafka_bootstrap, **(env or {})}
        popen = subprocess.Popen(
            [sys.executable, *entry, "loom_stream", "run", flow, *args],
            cwd=cwd,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        process = StreamProcess(popen)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
