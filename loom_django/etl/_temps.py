"""Where intermediates (``IntoTemp``) live, and when they go away.

RUN scope: ``<root>/runs/<run_id>/``, removed at the end of every run. CORRELATION scope:
``<root>/correlations/<correlation_id>/<name>/``, kept across failed attempts so a retry can
read them, removed after a successful last attempt. ``<root>`` is ``etl.storage.temp.root``
or ``<system temp>/loom_etl``.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from loom_django.etl.config import EtlConfig
from loom_django.etl.plan import PipelinePlan, iter_all_steps
from loom_django.etl.targets import CheckpointScope, IntoTemp

__all__ = [
    "check_correlation",
    "cleanup_correlation",
    "correlation_dir",
    "correlation_temps",
    "finish_temps",
    "run_dir",
    "stored_temps",
    "temp_path",
]

_log = logging.getLogger("loom_django.etl.runner")


def _root(config: EtlConfig) -> Path:
    root = config.storage.temp.root
    return Path(root) if root else Path(tempfile.gettempdir()) / "loom_etl"


def run_dir(config: EtlConfig, run_id: str) -> Path:
    """The RUN-scope directory of one run (created)."""
    path = _root(config) / "runs" / run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_correlation_id(correlation_id: str) -> str:
    """``correlation_id`` if it can name one directory (no separator, not ``.``/``..``)."""
    if not correlation_id or "/" in correlation_id or correlation_id in (".", ".."):
        raise ValueError(f"invalid correlation id {correlation_id!r}")
    return correlation_id


def correlation_dir(config: EtlConfig, correlation_id: str) -> Path:
    """The CORRELATION-scope directory of one correlation id (not created)."""
    return _root(config) / "correlations" / check_correlation_id(correlation_id)


def correlation_temps(plan: PipelinePlan) -> set[str]:
    """Names of the CORRELATION-scope temps the pipeline writes."""
    return {
        spec.name
        for step in iter_all_steps(plan)
        if isinstance(spec := step.target_binding.spec, IntoTemp)
        and spec.scope is CheckpointScope.CORRELATION
    }


def check_correlation(plan: PipelinePlan, correlation_id: str | None) -> None:
    """Raises ``ValueError`` when a CORRELATION-scope temp has no correlation id to live under."""
    if correlation_id is None and correlation_temps(plan):
        raise ValueError(
            f"{plan.pipeline_type.__qualname__} writes CORRELATION-scope temps "
            f"{sorted(correlation_temps(plan))}: run it with a correlation_id"
        )


def stored_temps(directory: Path | None) -> dict[str, list[Path]]:
    """The parts an earlier attempt left under a correlation directory, by temp name."""
    if directory is None or not directory.is_dir():
        return {}
    return {
        d.name: sorted(p for p in d.iterdir() if p.suffix != ".writing")
        for d in sorted(directory.iterdir())
        if d.is_dir()
    }


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def temp_path(run: Any, spec: IntoTemp, suffix: str) -> Path:
    """A fresh path for the next part of ``spec.name``. The first write of a name in a run
    drops the parts an earlier attempt left, so a retry never reads stale rows twice."""
    with run.lock:
        if spec.name not in run.written_temps:
            run.written_temps.add(spec.name)
            for old in run.temps.pop(spec.name, []):
                _remove(old)
        base: Path
        if spec.scope is CheckpointScope.CORRELATION:
            base = run.correlation_dir / spec.name
        else:
            base = run.temp_dir
        base.mkdir(parents=True, exist_ok=True)
    return base / f"{spec.name}-{uuid.uuid4().hex}{suffix}"


def cleanup_correlation(config: EtlConfig, correlation_id: str) -> bool:
    """Remove a correlation's intermediates; ``True`` if there were any."""
    path = correlation_dir(config, correlation_id)
    existed = path.exists()
    shutil.rmtree(path, ignore_errors=True)
    return existed


def finish_temps(run: Any, *, success: bool) -> None:
    """End-of-run cleanup; failures are logged, never raised."""
    shutil.rmtree(run.temp_dir, ignore_errors=True)
    if run.correlation_dir is None or not run.last_attempt:
        return
    if success:
        try:
            shutil.rmtree(run.correlation_dir)
        except FileNotFoundError:
            pass
        except OSError:
            _log.warning("could not remove %s", run.correlation_dir, exc_info=True)
    elif run.correlation_dir.exists():
        _log.warning(
            "the last attempt of correlation %s failed; its intermediates stay in %s: call "
            "ETLRunner.cleanup_correlation(%r) once they are no longer needed",
            run.correlation_id,
            run.correlation_dir,
            run.correlation_id,
        )
