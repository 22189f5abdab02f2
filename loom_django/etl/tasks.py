"""The Celery task that runs a registered pipeline: ``loom_django.etl.tasks.run_pipeline``.

Built with Celery's own ``shared_task`` (extra ``loom-django[celery]``), so it binds to
whichever Celery app the project configures and the ETL door never imports the Celery door.
History rows get ``trigger="celery"``; ``attempt`` is ``retries + 1`` and ``last_attempt`` is
``retries >= max_retries``. The task retries itself only when ``max_retries`` (default 0) is
raised, e.g. with ``CELERY_TASK_ANNOTATIONS``.
"""

from __future__ import annotations

from typing import Any

from loom_django.extras import require

require("celery", extra="celery")

from celery import shared_task  # noqa: E402

from loom_django.etl.errors import ETLCompilationError, InvalidStageError  # noqa: E402

__all__ = ["run_pipeline"]

_NOT_RETRIED = (ETLCompilationError, InvalidStageError, LookupError, TypeError)


def _run_pipeline(
    self: Any,
    name: str,
    params: dict[str, Any] | None = None,
    include: list[str] | None = None,
    correlation_id: str | None = None,
    backend: str | None = None,
) -> dict[str, Any]:
    """Run pipeline ``name`` with ``params`` (a mapping converted to its params type).

    Returns the run's id, status, duration and row counts.

    Raises:
        KeyError: no pipeline is registered as ``name``.
        Exception: the run's failure, after the retries ``max_retries`` allows.
    """
    from loom_django.etl.launch import Launch, launch
    from loom_django.etl.registry import registry
    from loom_django.etl.runner import ETLRunner

    pipeline = registry.get(name)
    config = registry.config
    runner = ETLRunner(
        config,
        runtime=registry.runtime,
        compiler=registry.compiler,
        backend=backend or config.engine,
    )
    retries = self.request.retries or 0
    limit = self.max_retries
    how = Launch(
        include=tuple(include or ()),
        trigger="celery",
        attempt=retries + 1,
        last_attempt=limit is not None and retries >= limit,
        correlation_id=correlation_id,
    )
    try:
        result = launch(runner, pipeline, name, params or {}, how)
    except _NOT_RETRIED:
        raise
    except Exception as exc:
        if how.last_attempt:
            raise
        raise self.retry(exc=exc, countdown=0) from exc
    return {
        "run_id": result.run_id,
        "status": result.status,
        "duration_ms": result.duration_ms,
        "rows_written": result.rows_written,
        "rows_rejected": result.rejected,
    }


run_pipeline = shared_task(bind=True, name="loom_django.etl.tasks.run_pipeline", max_retries=0)(
    _run_pipeline
)
