"""``manage.py loom_stream run`` as a subprocess against the mock cluster owned by the test
(tier E): SIGTERM drains and commits, a restart reprocesses nothing committed, a second
signal forces exit 4."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from loom_django.streaming.codecs import MsgpackCodec
from loom_django.streaming.testing import create_topics, read_topic, send, start_mock_cluster
from tests.streaming.flows import Order
from tests.streaming.test_kafka_mock_cluster import _committed

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster():
    owner, address = start_mock_cluster()
    yield owner, address
    del owner


def _start(bootstrap: str, suffix: str, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.streaming.e2e_settings"}
    args = [
        sys.executable,
        "-m",
        "django",
        "loom_stream",
        "run",
        "e2e",
        "--set",
        f"kafka.consumer.brokers=[{bootstrap}]",
        "--set",
        f"kafka.producer.brokers=[{bootstrap}]",
        "--set",
        "kafka.consumer.extra.log_level=0",
        "--set",
        "kafka.producer.extra.log_level=0",
        "--set",
        f"kafka.consumers.e2e_in.topics=[in_{suffix}]",
        "--set",
        f"kafka.producers.e2e_out.topic=out_{suffix}",
        "--set",
        f"streaming.flows.e2e.group_id=g_{suffix}",
        "--set",
        "streaming.runtime.commit_interval_ms=200",
        *extra,
    ]
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for_output(bootstrap: str, topic: str, at_least: int, timeout_s: float = 40) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(read_topic(bootstrap, topic, expected=at_least, timeout_s=2)) >= at_least:
            return
    raise AssertionError(f"fewer than {at_least} records on {topic}")


def test_sigterm_drains_exits_0_and_a_restart_reprocesses_nothing_committed(cluster):
    owner, bootstrap = cluster
    suffix = uuid.uuid4().hex[:8]
    create_topics(owner, [f"in_{suffix}", f"out_{suffix}"])
    orders = [Order(order_id=f"o{i}", amount=2) for i in range(1500)]
    send(bootstrap, f"in_{suffix}", orders, key=b"same-key")
    proc = _start(bootstrap, suffix)
    _wait_for_output(bootstrap, f"out_{suffix}", 50)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=40)
    assert proc.returncode == 0, err
    first = read_topic(bootstrap, f"out_{suffix}", expected=1500, timeout_s=5)
    assert 50 <= len(first) < 1500

    committed = _committed(bootstrap, f"g_{suffix}", f"in_{suffix}")
    assert sum(committed.values()) == len(first)  # committed exactly what was written
    again = _start(bootstrap, suffix, "--idle-timeout", "4")
    _, err = again.communicate(timeout=90)
    assert again.returncode == 0, err
    out = read_topic(bootstrap, f"out_{suffix}", expected=1501, timeout_s=10)
    ids = [MsgpackCodec().decode(m.value(), Order).payload.order_id for m in out]
    assert (len(first), len(set(ids))) == (len(first), 1500), err  # nothing lost
    assert len(ids) == 1500  # nothing committed was processed again


def test_second_sigterm_during_drain_exits_4(cluster):
    owner, bootstrap = cluster
    suffix = uuid.uuid4().hex[:8]
    create_topics(owner, [f"in_{suffix}", f"out_{suffix}"])
    send(bootstrap, f"in_{suffix}", [Order(order_id="fast", amount=0)], key=b"k")
    proc = _start(bootstrap, suffix)
    _wait_for_output(bootstrap, f"out_{suffix}", 1)
    send(bootstrap, f"in_{suffix}", [Order(order_id="slow", amount=20_000)], key=b"k")
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 4


def test_unknown_flow_exits_2_and_broken_yaml_exits_3(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.streaming.e2e_settings"}
    base = [sys.executable, "-m", "django", "loom_stream"]
    unknown = subprocess.run(
        [*base, "run", "no_such_flow"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2
    assert "no_such_flow" in unknown.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("kafka: [unclosed\n")
    broken = subprocess.run(
        [*base, "check", "--config", str(bad)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert broken.returncode == 3
    assert "invalid configuration" in broken.stderr
