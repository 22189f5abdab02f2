"""``loom_etl history [list|show RUN_ID|prune]``: read and tidy the run history."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from loom_django.etl._cli import EXIT_USAGE, registry_or_exit

__all__ = ["do_history"]


def _run_doc(run: Any) -> dict[str, Any]:
    return {
        "run_id": str(run.run_id),
        "pipeline": run.pipeline,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "duration_ms": run.duration_ms,
        "rows_written": run.rows_written,
        "rows_rejected": run.rows_rejected,
        "error_type": run.error_type,
        "failed_step": run.failed_step,
    }


def _since(text: str) -> datetime:
    from django.utils import timezone

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--since expects an ISO date or datetime, got {text!r}", returncode=EXIT_USAGE
        ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    return moment


def _show(out: Any, db: str, run_id: str | None, fmt: str) -> None:
    from loom_django.etl.models import EtlPipelineRun, EtlStepRun

    if not run_id:
        raise CommandError("history show needs a RUN_ID", returncode=EXIT_USAGE)
    try:
        run = EtlPipelineRun.objects.using(db).get(run_id=run_id)
    except (EtlPipelineRun.DoesNotExist, ValidationError, ValueError):
        raise CommandError(f"no run {run_id!r} in history", returncode=EXIT_USAGE) from None
    steps = list(EtlStepRun.objects.using(db).filter(run=run).order_by("started_at"))
    if fmt == "json":
        doc = _run_doc(run)
        doc["steps"] = [
            {
                "step": s.step,
                "status": s.status,
                "duration_ms": s.duration_ms,
                "rows_written": s.rows_written,
                "rows_rejected": s.rows_rejected,
                "error_type": s.error_type,
                "error_message": s.error_message,
            }
            for s in steps
        ]
        out.write(json.dumps(doc, sort_keys=True))
        return
    out.write(
        f"{run.pipeline} {run.run_id} {run.status} {run.duration_ms or 0:.0f}ms "
        f"rows={run.rows_written} rejected={run.rows_rejected} {run.error_type}"
    )
    for s in steps:
        out.write(
            f"  {s.step} {s.status} {s.duration_ms or 0:.0f}ms "
            f"rows={s.rows_written} {s.error_type} {s.error_message}"
        )


def do_history(out: Any, options: dict[str, Any]) -> None:
    """``history [list|show RUN_ID|prune]``."""
    from loom_django.etl import history
    from loom_django.etl.models import EtlPipelineRun

    config = registry_or_exit().config
    db = config.history.database
    what = options["what"]
    if what == "prune":
        days = options["older_than"] or config.history.retention_days
        removed = history.prune(days, database=db)
        reaped = (
            history.reap_stale(config.lock.stale_after_seconds, database=db)
            if options["reap_stale"]
            else 0
        )
        out.write(f"pruned {removed} run(s); marked {reaped} stale run(s) abandoned")
        return
    if what == "show":
        _show(out, db, options["run_id"], options["format"])
        return
    runs = EtlPipelineRun.objects.using(db).order_by("-started_at")
    if options["pipeline"]:
        runs = runs.filter(pipeline=options["pipeline"])
    if options["status"]:
        runs = runs.filter(status=options["status"])
    if options.get("since"):
        runs = runs.filter(started_at__gte=_since(options["since"]))
    rows = list(runs[: options["limit"]])
    if options["format"] == "json":
        out.write(json.dumps([_run_doc(r) for r in rows], sort_keys=True))
        return
    for r in rows:
        out.write(
            f"{r.started_at:%Y-%m-%dT%H:%M:%SZ} {r.pipeline} {r.status} {r.run_id} "
            f"rows={r.rows_written}"
        )
