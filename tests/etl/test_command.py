"""``manage.py loom_etl``: outcomes and exit codes (spec §9.9, §12 items 72-75)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.testapp.models import Book

pytestmark = pytest.mark.django_db
OK = "tests.etl.pipelines.BooksPipeline"


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("loom_etl", *args, stdout=out)
    return out.getvalue()


def _exit(*args: str) -> int:
    with pytest.raises(CommandError) as info:
        _run(*args)
    return info.value.returncode


def test_run_writes_rows_and_exits_zero():
    out = _run("run", OK, "-p", "run_date=2026-03-30", "-p", "pages=7", "--progress", "plain")
    assert "success" in out
    assert list(Book.objects.values_list("title", "pages")) == [("2026-03-30", 7)]


def test_unknown_pipeline_exits_2():
    assert _exit("run", "nope.Nothing", "-p", "run_date=2026-03-30") == 2


def test_bad_params_exit_2_listing_valid_fields():
    with pytest.raises(CommandError) as info:
        _run("run", OK, "-p", "run_date=yesterday")
    assert info.value.returncode == 2 and "run_date" in str(info.value)
    assert _exit("run", OK, "-p", "run_date=2026-03-30", "-p", "nope=1") == 2
    assert _exit("run", OK) == 2


def test_unknown_backend_exits_3():
    assert _exit("run", OK, "-p", "run_date=2026-03-30", "--backend", "flink") == 3


def test_failing_step_exits_1_and_names_the_step():
    with pytest.raises(CommandError) as info:
        _run(
            "run",
            "tests.etl.pipelines.FailingPipeline",
            "-p",
            "run_date=2026-03-30",
            "--progress",
            "none",
        )
    assert info.value.returncode == 1 and "CopyBooks" in str(info.value)


def test_plan_writes_nothing_and_its_json_is_stable():
    first = _run("plan", OK, "-p", "run_date=2026-03-30", "--format", "json")
    second = _run("plan", OK, "-p", "run_date=2026-03-30", "--format", "json")
    assert first == second
    assert json.loads(first)["processes"][0]["steps"][0]["target"]["mode"] == "append"
    assert Book.objects.count() == 0


def test_missing_table_exits_3_before_anything_runs():
    """etl §12.24: pre-flight in ``plan`` and ``run`` exits 3 before any read or write."""
    for action in ("plan", "run"):
        with pytest.raises(CommandError) as info:
            _run(action, "tests.etl.pipelines.GhostPipeline", "-p", "run_date=2026-03-30")
        assert info.value.returncode == 3 and "migrate" in str(info.value)
    assert Book.objects.count() == 0


def test_list_json_gives_each_params_schema():
    """etl §12.71: sorted by name; ``params`` is ``msgspec.json.schema`` of the type."""
    import msgspec

    from loom_django.etl.registry import registry
    from tests.etl.pipelines import BooksPipeline, DayParams

    saved = dict(registry.pipelines)
    registry.pipelines.update({"z.books": BooksPipeline, "a.books": BooksPipeline})
    try:
        entries = json.loads(_run("list", "--format", "json"))
    finally:
        registry.pipelines.clear()
        registry.pipelines.update(saved)
    names = [e["name"] for e in entries]
    assert names == sorted(names) and {"a.books", "z.books"} <= set(names)
    assert entries[names.index("a.books")]["params"] == msgspec.json.schema(DayParams)


def test_progress_auto_without_a_tty_prints_plain_lines():
    out = _run("run", OK, "-p", "run_date=2026-03-30")
    assert "step LoadBooks success" in out


def test_dry_run_prints_the_plan_and_writes_nothing():
    out = _run("run", OK, "-p", "run_date=2026-03-30", "--dry-run")
    assert "LoadBooks" in out and Book.objects.count() == 0


def test_json_params_give_collections():
    from loom_django.etl import ETLParams
    from loom_django.etl.command import parse_params

    class Countries(ETLParams):
        countries: tuple[str, ...] = ()

    assert parse_params(Countries, ['countries:=["ES","FR"]'], None).countries == ("ES", "FR")


def test_unknown_include_name_exits_2():
    assert _exit("run", OK, "-p", "run_date=2026-03-30", "--include", "Nope") == 2


def test_plan_shows_implicit_replace_and_redacts_secret_params():
    out = _run(
        "plan",
        "tests.etl.pipelines.ReplacePipeline",
        "-p",
        "run_date=2026-03-30",
        "-p",
        "token=hunter2",
    )
    assert "replace (implicit)" in out and "W_IMPLICIT_REPLACE" in out
    assert "hunter2" not in out and "token=***" in out


def test_history_row_redacts_secret_params():
    from loom_django.etl.models import EtlPipelineRun

    _run(
        "run",
        "tests.etl.pipelines.ReplacePipeline",
        "-p",
        "run_date=2026-03-30",
        "-p",
        "token=hunter2",
        "--progress",
        "none",
    )
    assert EtlPipelineRun.objects.get().params["token"] == "***"


def test_plan_executes_no_write_statement_and_records_no_history():
    """etl §12.72."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from loom_django.etl.models import EtlPipelineRun

    with CaptureQueriesContext(connection) as queries:
        out = _run("plan", "tests.etl.pipelines.FailingPipeline", "-p", "run_date=2026-03-30")
    assert "CopyBooks" in out
    writes = ("INSERT", "UPDATE", "DELETE")
    assert not [q for q in queries.captured_queries if q["sql"].lstrip().startswith(writes)]
    assert not EtlPipelineRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_reject_threshold_exits_4_with_the_run_id(runtime):
    """etl §12.75 (code 4) and §12.80: ``max_rejects=0`` with one bad row."""
    from loom_django.etl.models import EtlPipelineRun

    with pytest.raises(CommandError) as info:
        _run(
            "run",
            "tests.etl.run_pipelines.RejectingPipeline",
            "-p",
            "run_date=2026-03-30",
            "--progress",
            "none",
        )
    run = EtlPipelineRun.objects.get()
    assert info.value.returncode == 4 and str(run.run_id) in str(info.value)
    assert run.status == "failed" and run.failed_step == "FeedProducts"


@pytest.mark.parametrize("bad", ["../../etc", "", "..", "a/b"])
def test_a_correlation_id_that_is_not_one_directory_name_is_refused_before_the_run(bad):
    """etl §9.9: a bad ``--correlation-id`` is a usage error naming it; nothing is written."""
    with pytest.raises(CommandError) as info:
        _run("run", OK, "-p", "run_date=2026-03-30", "--correlation-id", bad)
    assert f"invalid correlation id {bad!r}" in str(info.value)
    assert not Book.objects.exists()
