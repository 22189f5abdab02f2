"""``loom_stream run`` operations as a subprocess against the mock cluster owned by the test
(tier E): idle and message-count stops, delivery failures, metrics, health file, log level, and
a Python without Bytewax (criteria §11.75, 77, 78; spec §7.2, §6.9)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from loom_django.streaming.codecs import MsgpackCodec
from loom_django.streaming.testing import create_topics, read_topic, send, start_mock_cluster
from tests.streaming.flows import Order
from tests.streaming.test_cli_end_to_end import ROOT, _start, _wait_for_output
from tests.streaming.test_kafka_mock_cluster import _committed

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster():
    owner, address = start_mock_cluster()
    yield owner, address
    del owner


@pytest.fixture
def topics(cluster):
    """``(bootstrap, suffix)`` with the suffix's input and output topics created."""
    owner, bootstrap = cluster
    suffix = uuid.uuid4().hex[:8]
    create_topics(owner, [f"in_{suffix}", f"out_{suffix}"])
    return bootstrap, suffix


def _ids(bootstrap: str, topic: str, expected: int, timeout_s: float = 10) -> list[str]:
    records = read_topic(bootstrap, topic, expected=expected, timeout_s=timeout_s)
    return [MsgpackCodec().decode(r.value(), Order).payload.order_id for r in records]


def test_idle_timeout_exits_0_once_the_input_is_drained(topics):
    """streaming §11.75: ``--idle-timeout 2`` exits 0 once the input is drained"""
    bootstrap, suffix = topics
    send(bootstrap, f"in_{suffix}", [Order(order_id=f"o{i}") for i in range(20)], key=b"k")
    proc = _start(bootstrap, suffix, "--idle-timeout", "2")
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert sorted(_ids(bootstrap, f"out_{suffix}", 20)) == sorted(f"o{i}" for i in range(20))
    assert sum(_committed(bootstrap, f"g_{suffix}", f"in_{suffix}").values()) == 20


def test_max_messages_exits_0_after_at_least_that_many_completed_and_committed(topics):
    """streaming §11.75: ``--max-messages 100`` exits 0 after ≥ 100 completed and committed"""
    bootstrap, suffix = topics
    send(bootstrap, f"in_{suffix}", [Order(order_id=f"o{i}") for i in range(3000)], key=b"k")
    proc = _start(bootstrap, suffix, "--max-messages", "100")
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    committed = sum(_committed(bootstrap, f"g_{suffix}", f"in_{suffix}").values())
    written = _ids(bootstrap, f"out_{suffix}", 3000, timeout_s=3)  # all there is, in 3 s
    assert 100 <= committed <= len(written)


def test_a_delivery_failure_without_dlq_exits_1_naming_the_topic_and_is_reprocessed(
    topics, tmp_path
):
    """streaming §11.77: exit 1, the failing topic in stderr, the next run processes it again"""
    bootstrap, suffix = topics
    # A short session lets the restart join the group at once (the mock cluster holds a left
    # member until its session times out).
    quick = (
        "kafka:\n  consumer:\n    extra: {session.timeout.ms: 6000, heartbeat.interval.ms: 500}\n"
    )
    rejoin = tmp_path / "rejoin.yaml"
    rejoin.write_text(quick)
    unreachable = tmp_path / "unreachable.yaml"
    unreachable.write_text(quick + "  producer:\n    extra: {message.timeout.ms: 1500}\n")
    send(bootstrap, f"in_{suffix}", [Order(order_id="lost?")], key=b"k")
    failed = _start(
        bootstrap,
        suffix,
        "--config",
        str(unreachable),
        "--set",
        "kafka.producer.brokers=[127.0.0.1:9]",  # nothing listens: delivery times out
        "--idle-timeout",
        "20",
    )
    _, err = failed.communicate(timeout=90)
    assert failed.returncode == 1, err
    assert f"out_{suffix}" in err
    assert "Traceback" not in err
    assert "panicked" not in err  # the worker stopped; Bytewax did not abort it
    assert _committed(bootstrap, f"g_{suffix}", f"in_{suffix}") == {}
    again = _start(bootstrap, suffix, "--config", str(rejoin), "--idle-timeout", "2")
    _, err = again.communicate(timeout=90)
    assert again.returncode == 0, err
    assert _ids(bootstrap, f"out_{suffix}", 1) == ["lost?"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scrape(port: int, timeout_s: float = 30) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
                return resp.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_metrics_port_serves_the_flow_counters(topics):
    """streaming §7.2, §6.9: ``--metrics-port`` serves Prometheus metrics of the running flow"""
    bootstrap, suffix = topics
    send(bootstrap, f"in_{suffix}", [Order(order_id=f"o{i}") for i in range(5)], key=b"k")
    port = _free_port()
    proc = _start(bootstrap, suffix, "--metrics-port", str(port))
    try:
        _wait_for_output(bootstrap, f"out_{suffix}", 5)
        text = _scrape(port)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=40)
    assert f'loom_stream_messages_in_total{{flow="e2e",topic="in_{suffix}"}} 5.0' in text
    assert f'streaming_kafka_produced_total{{status="success",topic="out_{suffix}"}} 5.0' in text


def test_health_file_is_fresh_while_running_and_removed_after_a_stop(topics, tmp_path):
    """streaming §6.9: ``--health-file`` is touched after every poll; gone after the run"""
    bootstrap, suffix = topics
    health = tmp_path / "alive"
    proc = _start(bootstrap, suffix, "--health-file", str(health))
    try:
        deadline = time.monotonic() + 30
        while not health.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        first = health.stat().st_mtime
        time.sleep(1.0)
        assert health.stat().st_mtime > first  # touched again while idle-polling
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=40)
    assert proc.returncode == 0, err
    assert not health.exists()


def test_log_level_info_logs_the_run_start_and_stop(topics):
    """streaming §7.2: ``--log-level INFO`` logs run start/stop to stderr"""
    bootstrap, suffix = topics
    proc = _start(bootstrap, suffix, "--idle-timeout", "1", "--log-level", "info")
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert "INFO loom_django.streaming: stream e2e: running" in err
    assert "stream e2e: stopped (idle timeout)" in err


_WITHOUT_BYTEWAX = (
    "import sys; sys.modules['bytewax'] = None\n"
    "from django.core.management import execute_from_command_line\n"
    "execute_from_command_line(['manage.py', 'loom_stream', *sys.argv[1:]])\n"
)


def _without_bytewax(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.streaming.e2e_settings"}
    config = ["--set", "kafka.consumer.brokers=[127.0.0.1:9]"]
    config += ["--set", "kafka.producer.brokers=[127.0.0.1:9]"]
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_BYTEWAX, *args, *config],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_bytewax_run_exits_3_naming_the_python_requirement():
    """streaming §11.78: run exits 3 with a message naming the Python ≤ 3.12 requirement"""
    done = _without_bytewax("run", "e2e")
    assert done.returncode == 3, done.stderr
    assert "'bytewax' is not installed" in done.stderr
    assert "Python <= 3.12" in done.stderr


@pytest.mark.parametrize("action", [["check"], ["describe", "e2e"]])
def test_without_bytewax_check_and_describe_still_work(action):
    """streaming §11.78: check and describe work without Bytewax"""
    done = _without_bytewax(*action)
    assert done.returncode == 0, done.stderr
    assert "e2e" in done.stdout


def test_without_bytewax_list_still_works():
    """streaming §11.78: list works without Bytewax"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.streaming.e2e_settings"}
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_BYTEWAX, "list", "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert '"name": "e2e"' in done.stdout
