"""``manage.py loom_stream run`` killed with SIGKILL mid-run and restarted (tier E): no input
is lost on the output topic, and with ``idempotency`` the database holds exactly one row per
input (spec §5.1, §5.8, §8.5)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from loom_django.streaming.codecs import MsgpackCodec
from loom_django.streaming.testing import create_topics, read_topic, send, start_mock_cluster
from tests.streaming.flows import Order

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster():
    owner, address = start_mock_cluster()
    yield owner, address
    del owner


def _env(database: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.streaming.e2e_settings",
        "DATABASE_URL": f"sqlite:///{database}",
    }


def _start(bootstrap: str, suffix: str, database: Path, config: Path, *extra: str):
    args = [
        sys.executable,
        "-m",
        "django",
        "loom_stream",
        "run",
        "e2e_db",
        "--config",
        str(config),
        "--set",
        f"kafka.consumer.brokers=[{bootstrap}]",
        "--set",
        f"kafka.producer.brokers=[{bootstrap}]",
        "--set",
        f"kafka.consumers.e2e_db_in.topics=[in_{suffix}]",
        "--set",
        f"kafka.producers.e2e_db_out.topic=out_{suffix}",
        "--set",
        f"streaming.flows.e2e_db.group_id=g_{suffix}",
        "--set",
        "streaming.runtime.commit_interval_ms=200",
        *extra,
    ]
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=_env(database),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ids(bootstrap: str, topic: str, expected: int, timeout_s: float) -> list[str]:
    out = read_topic(bootstrap, topic, expected=expected, timeout_s=timeout_s)
    return [MsgpackCodec().decode(m.value(), Order).payload.order_id for m in out]


def test_sigkill_then_restart_loses_nothing_and_writes_each_row_once(cluster, tmp_path):
    """streaming §11.76: every input appears in the output at least once; with idempotency
    the DB holds exactly one row per input."""
    owner, bootstrap = cluster
    suffix = uuid.uuid4().hex[:8]
    database = tmp_path / "stream.sqlite3"
    migrate = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--run-syncdb", "--skip-checks", "-v", "0"],
        cwd=ROOT,
        env=_env(database),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr
    config = tmp_path / "kafka.yaml"  # a dead member's partitions move after 6 s, not 45 s
    config.write_text(
        "kafka:\n"
        "  consumer:\n"
        "    max_poll_records: 25\n"  # small micro-batches: outputs appear while it runs
        "    extra: {log_level: 0, session.timeout.ms: 6000, heartbeat.interval.ms: 500}\n"
        "  producer:\n"
        "    extra: {log_level: 0}\n"
    )
    create_topics(owner, [f"in_{suffix}", f"out_{suffix}"])
    total = 1000
    orders = [Order(order_id=f"o{i}", amount=4) for i in range(total)]
    send(bootstrap, f"in_{suffix}", orders, key=b"one-partition")

    proc = _start(bootstrap, suffix, database, config)
    deadline = time.monotonic() + 60
    while len(_ids(bootstrap, f"out_{suffix}", 100, 1)) < 100:
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    before_restart = len(_ids(bootstrap, f"out_{suffix}", total, 5))
    assert before_restart < total  # killed mid-run

    again = _start(bootstrap, suffix, database, config, "--idle-timeout", "4")
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err

    ids = Counter(_ids(bootstrap, f"out_{suffix}", total * 2, 10))
    assert set(ids) == {o.order_id for o in orders}, err  # every input at least once
    with sqlite3.connect(database) as db:
        rows = Counter(name for (name,) in db.execute("SELECT name FROM jobs_records"))
        inbox = db.execute("SELECT COUNT(*) FROM loom_django_stream_inbox").fetchone()[0]
    assert rows == Counter({o.order_id: 1 for o in orders})  # exactly one row per input
    assert inbox == total
