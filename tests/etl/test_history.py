"""Run history rows, the run lock and history pruning (spec §9.10, §12 items 35, 76-78)."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from loom_django.etl.history import acquire_lock
from loom_django.etl.models import EtlLock, EtlPipelineRun, EtlStepRun

pytestmark = pytest.mark.django_db
OK = "tests.etl.pipelines.BooksPipeline"
FAILING = "tests.etl.pipelines.FailingPipeline"


def _call(*args: str) -> str:
    out = io.StringIO()
    call_command("loom_etl", *args, stdout=out)
    return out.getvalue()


def test_successful_run_records_pipeline_and_step_rows():
    _call("run", OK, "-p", "run_date=2026-03-30", "--progress", "none")
    run = EtlPipelineRun.objects.get()
    assert run.status == "success" and run.rows_written == 1 and run.duration_ms is not None
    assert run.params == {"run_date": "2026-03-30", "pages": 1}
    step = EtlStepRun.objects.get()
    assert (step.step, step.status, step.rows_written) == ("LoadBooks", "success", 1)
    assert not EtlLock.objects.exists()


def test_failed_run_records_failed_step_and_error():
    with pytest.raises(CommandError):
        _call("run", FAILING, "-p", "run_date=2026-03-30", "--progress", "none")
    run = EtlPipelineRun.objects.get()
    assert run.status == "failed" and run.failed_step == "CopyBooks"
    assert run.error_type == "RuntimeError" and "copy failed" in run.error_message
    assert "Traceback" in run.traceback


def test_no_history_records_nothing():
    _call("run", OK, "-p", "run_date=2026-03-30", "--progress", "none", "--no-history")
    assert not EtlPipelineRun.objects.exists()


def test_held_lock_exits_5_and_no_lock_runs_anyway():
    acquire_lock(OK, str(uuid.uuid4()), database="default", stale_after=3600)
    with pytest.raises(CommandError) as info:
        _call("run", OK, "-p", "run_date=2026-03-30", "--progress", "none")
    assert info.value.returncode == 5
    _call("run", OK, "-p", "run_date=2026-03-30", "--progress", "none", "--no-lock")


def test_stale_lock_is_taken_over():
    old = datetime.now(UTC) - timedelta(hours=2)
    EtlLock.objects.create(key=OK, run_id=uuid.uuid4(), acquired_at=old, heartbeat_at=old)
    _call("run", OK, "-p", "run_date=2026-03-30", "--progress", "none")
    assert not EtlLock.objects.exists()


def test_prune_deletes_old_runs_with_their_steps_and_reaps_stale_running_rows():
    _call("run", OK, "-p", "run_date=2026-03-30", "--progress", "none")
    old = datetime.now(UTC) - timedelta(days=40)
    EtlPipelineRun.objects.update(started_at=old)
    stale = EtlPipelineRun.objects.create(
        run_id=uuid.uuid4(),
        pipeline="x",
        pipeline_class="x",
        backend="polars",
        status="running",
        started_at=datetime.now(UTC),
        heartbeat_at=old,
    )
    _call("history", "prune", "--older-than", "30", "--reap-stale")
    assert list(EtlPipelineRun.objects.values_list("run_id", "status")) == [
        (stale.run_id, "abandoned")
    ]
    assert not EtlStepRun.objects.exists()


def test_history_list_and_show():
    _call("run", OK, "-p", "run_date=2026-03-30", "--progress", "none")
    run = EtlPipelineRun.objects.get()
    assert str(run.run_id) in _call("history")
    assert "LoadBooks success" in _call("history", "show", str(run.run_id))


def test_a_failing_history_database_does_not_fail_the_run(caplog):
    from loom_django.etl import ETLParams  # noqa: F401
    from loom_django.etl.history import HistoryObserver
    from loom_django.etl.runner import ETLRunner
    from tests.etl.pipelines import BooksPipeline, DayParams

    broken = HistoryObserver(BooksPipeline, backend="polars", database="no-such-alias")
    result = ETLRunner(observers=[broken]).run(
        BooksPipeline, DayParams(run_date=datetime(2026, 3, 30).date())
    )
    assert result.status == "success"
    assert any("observer" in r.message for r in caplog.records if r.levelname == "WARNING")


def test_sigint_exits_130_with_history_interrupted_and_the_lock_released():
    with pytest.raises(SystemExit) as info:
        _call("run", "tests.etl.pipelines.InterruptedPipeline", "-p", "run_date=2026-03-30")
    assert info.value.code == 130
    assert EtlPipelineRun.objects.get().status == "interrupted"
    assert not EtlLock.objects.exists()


def test_an_unreachable_lock_database_exits_3_and_no_lock_still_runs():
    """etl §9.9: the lock cannot be taken → a one-line configuration error, never a traceback."""
    with pytest.raises(CommandError) as info:
        _call("run", OK, "-p", "run_date=2026-03-30", "--set", "history.database=nope")
    assert info.value.returncode == 3 and "--no-lock" in str(info.value)
    out = _call(
        "run",
        OK,
        "-p",
        "run_date=2026-03-30",
        "--set",
        "history.database=nope",
        "--no-lock",
        "--progress",
        "none",
    )
    assert "success" in out  # the history observer failed, the run did not


def test_history_list_since_and_show_as_json():
    """etl §9.10: ``--since`` filters by start; ``show --format json`` lists the steps."""
    import json

    _call("run", OK, "-p", "run_date=2026-03-30", "--progress", "none")
    run = EtlPipelineRun.objects.get()
    EtlPipelineRun.objects.update(started_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert json.loads(_call("history", "--since", "2026-02-01", "--format", "json")) == []
    listed = json.loads(_call("history", "--since", "2025-12-31", "--format", "json"))
    assert [r["run_id"] for r in listed] == [str(run.run_id)]
    shown = json.loads(_call("history", "show", str(run.run_id), "--format", "json"))
    assert shown["status"] == "success" and shown["steps"][0]["step"] == "LoadBooks"
    with pytest.raises(CommandError, match="--since") as info:
        _call("history", "--since", "yesterday")
    assert info.value.returncode == 2
    with pytest.raises(CommandError, match="no run") as info:
        _call("history", "show", "not-a-uuid")
    assert info.value.returncode == 2


def test_a_run_inside_an_outer_transaction_warns_that_history_rolls_back(caplog):
    """etl §9.10: pytest-django wraps this test in ``atomic`` on the history alias."""
    _call("run", OK, "-p", "run_date=2026-03-30", "--progress", "none")
    assert any("roll back" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


def test_verbosity_0_prints_nothing_and_3_prints_the_plan_first():
    """etl §9.9 verbosity."""
    out = io.StringIO()
    call_command("loom_etl", "run", OK, "-p", "run_date=2026-03-30", verbosity=0, stdout=out)
    assert out.getvalue() == ""
    out = io.StringIO()
    call_command(
        "loom_etl",
        "run",
        OK,
        "-p",
        "run_date=2026-03-30",
        "--progress",
        "none",
        verbosity=3,
        stdout=out,
    )
    lines = out.getvalue().splitlines()
    assert "(BooksPipeline)" in lines[0] and "success" in lines[-1]
