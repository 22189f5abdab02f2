"""Stage selection by process and the run id in history (spec §3.6, §5.2; §12 items 36, 37)."""

from __future__ import annotations

import io
import types
import uuid

import polars as pl
import pytest
from django.core.management import call_command

from loom_django.etl import ETLPipeline, ETLProcess, Format, IntoFile
from loom_django.etl.models import EtlPipelineRun, EtlProcessRun, EtlStepRun
from loom_django.etl.runner import ETLRunner
from tests.etl.test_execution import P, _step

pytestmark = pytest.mark.django_db


def _process(name: str, *steps: type) -> type:
    return types.new_class(name, (ETLProcess[P],), exec_body=lambda d: d.update(steps=list(steps)))


def _run_books(*args: str) -> None:
    call_command(
        "loom_etl",
        "run",
        "tests.etl.pipelines.BooksPipeline",
        "-p",
        "run_date=2026-03-30",
        *args,
        stdout=io.StringIO(),
    )


def test_including_a_process_runs_all_its_steps_and_nothing_else(files_root):
    """etl §12.36: ``include=["ProcAB"]`` keeps every step of ``ProcAB``."""
    a, b, c = (_step(n, IntoFile(f"{n}.csv", format=Format.CSV)) for n in "ABC")
    pipeline = types.new_class(
        "Pipe",
        (ETLPipeline[P],),
        exec_body=lambda d: d.update(processes=[_process("ProcAB", a, b), _process("ProcC", c)]),
    )
    result = ETLRunner().run(pipeline, P(), include=["ProcAB"])
    assert [s.step for s in result.steps] == ["A", "B"]
    assert not (files_root / "C.csv").exists()


def test_a_supplied_run_id_is_on_every_history_row():
    """etl §12.37: ``--run-id`` on the pipeline, process and step rows."""
    run_id = str(uuid.uuid4())
    _run_books("--run-id", run_id, "--progress", "none")
    assert [str(r) for r in EtlPipelineRun.objects.values_list("run_id", flat=True)] == [run_id]
    assert {str(r) for r in EtlProcessRun.objects.values_list("run_id", flat=True)} == {run_id}
    assert {str(r) for r in EtlStepRun.objects.values_list("run_id", flat=True)} == {run_id}


def test_run_ids_default_to_uuid4_strings(files_root):
    """etl §12.37."""
    result = ETLRunner().run(
        types.new_class(
            "Pipe",
            (ETLPipeline[P],),
            exec_body=lambda d: d.update(
                processes=[_process("Only", _step("A", IntoFile("a.csv", format=Format.CSV)))]
            ),
        ),
        P(),
    )
    assert uuid.UUID(result.run_id).version == 4
    assert pl.read_csv(files_root / "a.csv").rows() == [(1,)]


def test_a_run_id_that_is_not_a_uuid_is_a_usage_error():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--run-id"):
        _run_books("--run-id", "abc")
    assert not EtlPipelineRun.objects.exists()
