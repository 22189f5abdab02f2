"""Real ``celery worker`` subprocesses for the integration tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import Celery

ROOT = Path(__file__).resolve().parents[2]
QUEUES = "default,notifications,analytics,erp"


@dataclass
class Broker:
    """Where a run's workers and dispatchers meet: a URL and transport options.

    On Redis a ``global_keyprefix`` unique to the run keeps concurrent runs apart; on
    RabbitMQ the queue names are unique instead.
    """

    url: str
    transport_options: dict[str, Any] = field(default_factory=dict)
    default_queue: str = "default"

    def env(self) -> dict[str, str]:
        return {
            "LOOM_WORKER_BROKER_URL": self.url,
            "LOOM_WORKER_DEFAULT_QUEUE": self.default_queue,
            "LOOM_WORKER_TRANSPORT_OPTIONS": json.dumps(self.transport_options),
        }

    def app(self) -> Celery:
        """A dispatching app configured like the workers (results in the Django DB)."""
        app = Celery(f"dispatch-{uuid.uuid4().hex[:6]}", set_as_current=False)
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app.conf.update(
            broker_url=self.url,
            broker_transport_options=dict(self.transport_options),
            result_backend="django-db",
            result_extended=True,
            task_track_started=True,
            task_always_eager=False,
            task_default_queue=self.default_queue,
        )
        return app


@dataclass
class Worker:
    """One running worker process; its log is a file."""

    name: str
    process: subprocess.Popen[bytes]
    logfile: Path
    env: Mapping[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return self.logfile.read_text() if self.logfile.exists() else ""

    def children(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in out.stdout.split()]

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes (no warm shutdown, nothing acked)."""
        pids = [self.process.pid, *self.children()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def celery(*args: str, env: Mapping[str, str], timeout: float = 60) -> str:
    """Run the ``celery`` command line against the test project; return its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tests.jobs.celery_app", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"celery {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@contextmanager
def worker(
    tmp_path: Path,
    *,
    db_name: str,
    broker: Broker,
    pool: str = "prefork",
    concurrency: int = 2,
    queues: str = QUEUES,
    extra_env: Mapping[str, str] | None = None,
    ready_timeout: float = 60,
) -> Iterator[Worker]:
    """Start ``celery -A tests.jobs.celery_app worker`` and wait until it consumes."""
    name = f"loomtest-{uuid.uuid4().hex[:8]}"
    logfile = tmp_path / f"{name}.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.jobs.worker_settings",
        "LOOM_WORKER_DB_NAME": db_name,
        "LOOM_WORKER_APP_NAME": name,
        **broker.env(),
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.jobs.celery_app",
            "worker",
            "-l",
            "INFO",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            "-Q",
            queues,
            "-n",
            f"{name}@%h",
            f"--logfile={logfile}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / f"{name}.stderr", "wb"),  # noqa: SIM115
    )
    handle = Worker(name, process, logfile, env)
    deadline = time.monotonic() + ready_timeout
    try:
        while "ready." not in handle.log():
            if process.poll() is not None:
                stderr = (tmp_path / f"{name}.stderr").read_text()
                raise AssertionError(f"worker exited:\n{handle.log()}\n{stderr}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker not ready in {ready_timeout}s:\n{handle.log()}")
            time.sleep(0.1)
        yield handle
    finally:
        handle.stop()
