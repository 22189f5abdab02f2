"""The Celery task ``loom_django.etl.tasks.run_pipeline`` (spec §9.12)."""

from __future__ import annotations

import pytest

from loom_django.etl.models import EtlPipelineRun
from tests.testapp.models import Book

pytest.importorskip("celery")
pytestmark = pytest.mark.django_db


def test_run_pipeline_runs_a_pipeline_and_records_a_celery_run():
    from loom_django.etl.tasks import run_pipeline

    out = run_pipeline.apply(
        args=("tests.etl.pipelines.BooksPipeline", {"run_date": "2026-03-30", "pages": 4})
    ).get()
    assert out["status"] == "success" and out["rows_written"] == 1
    assert list(Book.objects.values_list("title", "pages")) == [("2026-03-30", 4)]
    run = EtlPipelineRun.objects.get()
    assert (run.trigger, run.attempt, run.last_attempt) == ("celery", 1, True)
    assert str(run.run_id) == out["run_id"]


def test_retries_count_attempts_and_mark_the_last_one(monkeypatch):
    from loom_django.etl.tasks import run_pipeline

    monkeypatch.setattr(run_pipeline, "max_retries", 1)
    result = run_pipeline.apply(
        args=("tests.etl.pipelines.FailingPipeline", {"run_date": "2026-03-30"}),
        kwargs={"correlation_id": "nightly-1"},
    )
    with pytest.raises(RuntimeError, match="copy failed"):
        result.get()
    runs = EtlPipelineRun.objects.order_by("attempt")
    assert [(r.attempt, r.last_attempt, r.status) for r in runs] == [
        (1, False, "failed"),
        (2, True, "failed"),
    ]
    assert {r.correlation_id for r in runs} == {"nightly-1"}


def test_an_unknown_pipeline_fails_without_retrying():
    from loom_django.etl.tasks import run_pipeline

    with pytest.raises(KeyError):
        run_pipeline.apply(args=("nope.Nothing", {})).get()
    assert not EtlPipelineRun.objects.exists()


def test_the_task_hands_its_correlation_to_the_run(monkeypatch, tmp_path):
    """etl §12.38 with §9.12: CORRELATION temps of a retried task survive its attempts."""
    import msgspec

    from loom_django.etl.config import StorageConfig, TempConfig
    from loom_django.etl.registry import registry
    from loom_django.etl.tasks import run_pipeline

    storage = StorageConfig(temp=TempConfig(root=str(tmp_path)))
    monkeypatch.setattr(
        registry, "config", msgspec.structs.replace(registry.config, storage=storage)
    )
    monkeypatch.setattr(run_pipeline, "max_retries", 1)
    result = run_pipeline.apply(
        args=("tests.etl.pipelines.RetryPipeline", {"run_date": "2026-03-30", "fail": True}),
        kwargs={"correlation_id": "nightly-2"},
    )
    with pytest.raises(RuntimeError, match="load failed"):
        result.get()
    assert list((tmp_path / "correlations" / "nightly-2").rglob("*.arrow"))
