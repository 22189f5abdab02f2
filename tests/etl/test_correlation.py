"""CORRELATION-scope intermediates across attempts of one logical job (spec §5.4,
§12 item 38)."""

from __future__ import annotations

import types
from datetime import date
from typing import Any

import polars as pl
import pytest

from loom_django.etl import (
    CheckpointScope,
    ETLParams,
    ETLPipeline,
    ETLProcess,
    ETLStep,
    Format,
    FromTemp,
    IntoFile,
    IntoTemp,
)
from loom_django.etl.config import EtlConfig, StorageConfig, TempConfig
from loom_django.etl.runner import ETLRunner

pytestmark = pytest.mark.django_db

SHARED = IntoTemp("shared", scope=CheckpointScope.CORRELATION)


class P(ETLParams):
    run_date: date = date(2026, 3, 30)


def _step(name: str, target: Any, body: Any, **sources: Any) -> type[Any]:
    def execute(self: Any, params: P, **frames: pl.LazyFrame) -> pl.LazyFrame:
        return body(**frames)

    return types.new_class(
        name, (ETLStep[P],), exec_body=lambda d: d.update(target=target, execute=execute, **sources)
    )


def _pipe(*steps: Any) -> type[Any]:
    proc = types.new_class(
        "Proc", (ETLProcess[P],), exec_body=lambda d: d.update(steps=list(steps))
    )
    return types.new_class(
        "Pipe", (ETLPipeline[P],), exec_body=lambda d: d.update(processes=[proc])
    )


@pytest.fixture
def runner(tmp_path: Any, files_root: Any) -> ETLRunner:
    root = str(tmp_path / "temps")
    return ETLRunner(EtlConfig(storage=StorageConfig(temp=TempConfig(root=root))))


def _fail(shared: pl.LazyFrame) -> pl.LazyFrame:
    raise RuntimeError("downstream failed")


WRITE = _step("Write", SHARED, lambda: pl.LazyFrame({"a": [1, 2]}))
READ_FAILS = _step("Read", IntoFile("out.csv", format=Format.CSV), _fail, shared=FromTemp("shared"))
READ = _step(
    "Read", IntoFile("out.csv", format=Format.CSV), lambda shared: shared, shared=FromTemp("shared")
)


def _stored(tmp_path: Any, cid: str) -> list[str]:
    directory = tmp_path / "temps" / "correlations" / cid
    return sorted(p.name for p in directory.rglob("*.arrow")) if directory.exists() else []


def test_correlation_temps_survive_a_failed_attempt(runner, tmp_path):
    """etl §12.38"""
    with pytest.raises(RuntimeError):
        runner.run(_pipe(WRITE, READ_FAILS), P(), correlation_id="job-1", last_attempt=False)
    assert len(_stored(tmp_path, "job-1")) == 1


def test_a_retry_reads_what_the_failed_attempt_left(runner, tmp_path, files_root):
    with pytest.raises(RuntimeError):
        runner.run(_pipe(WRITE, READ_FAILS), P(), correlation_id="job-2", last_attempt=False)
    runner.run(_pipe(WRITE, READ), P(), correlation_id="job-2", attempt=2, include=["Read"])
    assert pl.read_csv(files_root / "out.csv")["a"].to_list() == [1, 2]


def test_a_rewritten_correlation_temp_replaces_the_earlier_attempts_rows(
    runner, tmp_path, files_root
):
    with pytest.raises(RuntimeError):
        runner.run(_pipe(WRITE, READ_FAILS), P(), correlation_id="job-3", last_attempt=False)
    runner.run(_pipe(WRITE, READ), P(), correlation_id="job-3", attempt=2, last_attempt=False)
    assert pl.read_csv(files_root / "out.csv")["a"].to_list() == [1, 2]


def test_correlation_temps_go_after_a_successful_last_attempt(runner, tmp_path):
    """etl §12.38"""
    runner.run(_pipe(WRITE, READ), P(), correlation_id="job-4", last_attempt=False)
    assert len(_stored(tmp_path, "job-4")) == 1
    runner.run(_pipe(WRITE, READ), P(), correlation_id="job-4", attempt=2, last_attempt=True)
    assert not (tmp_path / "temps" / "correlations" / "job-4").exists()


def test_a_failed_last_attempt_keeps_them_and_says_how_to_clean_up(runner, tmp_path, caplog):
    with pytest.raises(RuntimeError):
        runner.run(_pipe(WRITE, READ_FAILS), P(), correlation_id="job-5")
    assert len(_stored(tmp_path, "job-5")) == 1
    assert any("cleanup_correlation('job-5')" in r.getMessage() for r in caplog.records)
    assert runner.cleanup_correlation("job-5") is True
    assert _stored(tmp_path, "job-5") == []


def test_correlation_scope_without_a_correlation_id_raises_value_error(runner, tmp_path):
    """etl §12.38"""
    with pytest.raises(ValueError, match="run it with a correlation_id"):
        runner.run(_pipe(WRITE, READ), P())
    assert not (tmp_path / "temps" / "correlations").exists()


RETRY = "tests.etl.pipelines.RetryPipeline"


def _command(*args: str) -> int:
    """Run ``loom_etl`` and return its exit code (0 on success)."""
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    try:
        call_command("loom_etl", *args, stdout=io.StringIO())
    except CommandError as exc:
        return exc.returncode
    return 0


def _attempt(root: str, *extra: str) -> int:
    return _command(
        "run", RETRY, "-p", "run_date=2026-03-30", "--set", f"storage.temp.root={root}", *extra
    )


def test_launch_passes_the_correlation_and_attempt_to_the_run(runner, tmp_path):
    """etl §12.38: ``launch`` (the command's and Celery's path) keeps CORRELATION temps of a
    failed attempt that is not the last."""
    from loom_django.etl.launch import Launch, launch

    how = Launch(correlation_id="job-6", attempt=1, last_attempt=False, history=False, lock=False)
    with pytest.raises(RuntimeError):
        launch(runner, _pipe(WRITE, READ_FAILS), "retry", P(), how)
    assert len(_stored(tmp_path, "job-6")) == 1


def test_command_keeps_temps_of_a_failed_attempt_that_is_not_the_last(tmp_path):
    """etl §12.38: ``run --correlation-id ID --not-last-attempt``."""
    root = str(tmp_path / "temps")
    code = _attempt(root, "-p", "fail=true", "--correlation-id", "job-7", "--not-last-attempt")
    assert code == 1
    assert len(_stored(tmp_path, "job-7")) == 1


def test_command_retry_resumes_from_the_kept_temp_and_then_removes_it(tmp_path):
    """etl §12.38: ``--attempt 2 --include LoadStaged`` reads what attempt 1 left; a successful
    last attempt deletes the correlation's temps."""
    from tests.testapp.models import Book

    root = str(tmp_path / "temps")
    _attempt(root, "-p", "fail=true", "--correlation-id", "job-8", "--not-last-attempt")
    code = _attempt(root, "--correlation-id", "job-8", "--attempt", "2", "--include", "LoadStaged")
    assert code == 0
    assert list(Book.objects.values_list("title", flat=True)) == ["2026-03-30"]
    assert not (tmp_path / "temps" / "correlations" / "job-8").exists()


def test_command_history_records_the_attempt_and_correlation(tmp_path):
    """etl §12.38 with §9.10: the history row carries the attempt and correlation id."""
    from loom_django.etl.models import EtlPipelineRun

    root = str(tmp_path / "temps")
    _attempt(root, "-p", "fail=true", "--correlation-id", "job-9", "--not-last-attempt")
    row = EtlPipelineRun.objects.get()
    assert (row.correlation_id, row.attempt, row.status) == ("job-9", 1, "failed")


def test_cleanup_correlation_command_removes_a_failed_jobs_temps(tmp_path):
    """etl §12.38: ``loom_etl cleanup-correlation ID`` after a failed last attempt."""
    root = str(tmp_path / "temps")
    _attempt(root, "-p", "fail=true", "--correlation-id", "job-10")
    assert len(_stored(tmp_path, "job-10")) == 1
    assert _command("cleanup-correlation", "job-10", "--set", f"storage.temp.root={root}") == 0
    assert not (tmp_path / "temps" / "correlations" / "job-10").exists()


def test_cleanup_correlation_with_an_invalid_id_exits_2(tmp_path):
    """etl §12.75: a bad id is a usage error."""
    assert _command("cleanup-correlation", "..", "--set", f"storage.temp.root={tmp_path}") == 2
