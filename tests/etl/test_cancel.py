"""Cancellation: SIGINT, ``--timeout``, ``--fail-fast``, and the live history row
(spec §5.3, §9.9, §9.10; §12 items 75, 76)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from loom_django.etl import runner as runner_module
from loom_django.etl.cancel import Cancellation
from loom_django.etl.errors import RunInterrupted
from loom_django.etl.models import EtlLock, EtlPipelineRun, EtlStepRun
from tests.testapp.models import Book

pytestmark = pytest.mark.django_db
DATE = ("-p", "run_date=2026-03-30", "--progress", "none")


def _call(*args: str) -> str:
    out = io.StringIO()
    call_command("loom_etl", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def temp_dirs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every RUN-scope directory the runner creates."""
    made: list[Path] = []
    real = runner_module.run_dir

    def spy(*args: Any, **kwargs: Any) -> Path:
        path = real(*args, **kwargs)
        made.append(path)
        return path

    monkeypatch.setattr(runner_module, "run_dir", spy)
    return made


def test_sigint_finishes_the_step_starts_no_other_and_exits_130(temp_dirs):
    """etl §12.75: SIGINT → exit 130, history ``interrupted``, RUN temps removed."""
    with pytest.raises(SystemExit) as info:
        _call("run", "tests.etl.run_pipelines.SignalledPipeline", *DATE)
    assert info.value.code == 130
    run = EtlPipelineRun.objects.get()
    assert run.status == "interrupted" and run.error_type == "RunInterrupted"
    assert list(EtlStepRun.objects.values_list("step", "status")) == [("SignalSelf", "success")]
    assert Book.objects.count() == 0
    assert temp_dirs and not any(p.exists() for p in temp_dirs)
    assert not EtlLock.objects.exists()


def test_timeout_stops_before_the_next_step_and_exits_1():
    """etl §5.3: ``--timeout`` takes the cancellation path (status ``interrupted``)."""
    with pytest.raises(CommandError) as info:
        _call("run", "tests.etl.run_pipelines.SlowPipeline", *DATE, "--timeout", "0.2")
    assert info.value.returncode == 1 and "timed out after 0.2s" in str(info.value)
    assert EtlPipelineRun.objects.get().status == "interrupted"
    assert Book.objects.count() == 0


def test_a_negative_timeout_is_a_usage_error():
    with pytest.raises(CommandError) as info:
        _call("run", "tests.etl.pipelines.BooksPipeline", *DATE, "--timeout", "-1")
    assert "--timeout" in str(info.value)


def test_cancellation_runs_its_callbacks_once_and_check_raises():
    cancel, calls = Cancellation(), []
    cancel.callbacks.append(lambda: calls.append(1))
    cancel.check()
    cancel.cancel("first", 2)
    cancel.cancel("second", 15)
    assert calls == [1] and (cancel.signum, cancel.reason) == (2, "first")
    with pytest.raises(RunInterrupted, match="first"):
        cancel.check()


@pytest.mark.django_db(transaction=True)
def test_the_running_row_is_visible_from_another_connection_during_the_run():
    """etl §12.76: the pipeline row is ``running`` while the first step executes."""
    from tests.etl import run_pipelines

    run_pipelines.SEEN.clear()
    _call("run", "tests.etl.run_pipelines.ObservedPipeline", *DATE)
    assert run_pipelines.SEEN == [("Observe", "running")]
    assert EtlPipelineRun.objects.get().status == "success"


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_refreshes_the_run_row_and_the_lock():
    """etl §9.10: ``heartbeat_at`` moves forward while a run holds its lock."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from loom_django.etl.history import Heartbeat

    old = datetime.now(UTC) - timedelta(hours=1)
    run_id = uuid.uuid4()
    EtlPipelineRun.objects.create(
        run_id=run_id,
        pipeline="p",
        pipeline_class="p",
        backend="polars",
        status="running",
        started_at=old,
        heartbeat_at=old,
    )
    EtlLock.objects.create(key="p", run_id=run_id, acquired_at=old, heartbeat_at=old)
    with Heartbeat(str(run_id), "p", database="default", every=0.05):
        import time

        time.sleep(0.3)
    assert EtlPipelineRun.objects.get().heartbeat_at > old + timedelta(minutes=59)
    assert EtlLock.objects.get().heartbeat_at > old + timedelta(minutes=59)


def test_fail_fast_skips_parallel_members_not_yet_started(files_root):
    """etl §5.3: with one worker, the members after a failing one never start."""
    from loom_django.etl import EtlConfig, Format, IntoFile
    from loom_django.etl.runner import ETLRunner
    from tests.etl.test_execution import P, _pipe, _step

    def boom():
        raise RuntimeError("first")

    group = [
        _step("F", IntoFile("f.csv", format=Format.CSV), boom),
        _step("G", IntoFile("g.csv", format=Format.CSV)),
        _step("H", IntoFile("h.csv", format=Format.CSV)),
    ]
    config = EtlConfig(files_root=str(files_root), max_workers=1)
    with pytest.raises(RuntimeError, match="first"):
        ETLRunner(config, fail_fast=True).run(_pipe(group), P())
    assert not (files_root / "g.csv").exists() and not (files_root / "h.csv").exists()
    with pytest.raises(RuntimeError, match="first"):
        ETLRunner(config).run(_pipe(group), P())
    assert (files_root / "g.csv").exists() and (files_root / "h.csv").exists()


def test_sigterm_takes_the_same_path_and_exits_143():
    """etl §9.9: SIGTERM → 143, history ``interrupted``."""
    with pytest.raises(SystemExit) as info:
        _call("run", "tests.etl.run_pipelines.TerminatedPipeline", *DATE)
    assert info.value.code == 143
    assert EtlPipelineRun.objects.get().status == "interrupted"
    assert Book.objects.count() == 0
