"""The ``celery`` and ``app.jobs`` config sections, and how they meet Django's settings.

Django's ``CELERY_*`` settings are authoritative: a YAML ``celery:`` section only fills
settings that are not defined (a conflicting value is a warning), and loom supplies the
defaults the job status needs (``django-db`` results, extended results, STARTED state).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec

from loom_django.core.config.section import has_section, raw_section, section, to_plain

__all__ = [
    "LOOM_CELERY_DEFAULTS",
    "NO_BROKER_WARNING",
    "CeleryConfig",
    "CeleryRuntimeConfig",
    "JobsSettings",
    "StatusRouteSettings",
    "apply_celery_section",
    "apply_loom_defaults",
    "broker_configured",
    "celery_section",
    "check_default_queue",
    "jobs_settings",
    "queue_names",
    "select_backend",
]

_log = logging.getLogger("loom_django.jobs")

LOOM_CELERY_DEFAULTS: Mapping[str, Any] = {
    "result_backend": "django-db",
    "result_extended": True,
    "task_track_started": True,
}
"""Celery settings loom fills when the project leaves them undefined."""


class CeleryRuntimeConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``celery.runtime``: accepted for kernel compatibility; jobs run without an event loop."""

    backend: Literal["asyncio", "trio"] = "asyncio"
    use_uvloop: bool = False
    shutdown_timeout_ms: int | None = None


class CeleryConfig(msgspec.Struct, kw_only=True):
    """The kernel's ``celery`` section; unknown keys pass through as Celery settings."""

    broker_url: str | None = None
    result_backend: str = "django-db"
    worker_concurrency: int = 4
    worker_max_tasks_per_child: int = 1000
    worker_prefetch_multiplier: int = 1
    task_always_eager: bool = False
    timezone: str = "UTC"
    enable_utc: bool = True
    task_serializer: str = "json"
    result_serializer: str = "json"
    accept_content: list[str] = msgspec.field(default_factory=lambda: ["json"])
    queues: list[str] = msgspec.field(default_factory=list)
    task_default_queue: str = "default"
    runtime: CeleryRuntimeConfig = msgspec.field(default_factory=CeleryRuntimeConfig)

    def celery_settings(self, explicit: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Lower-case Celery settings; with ``explicit`` only the keys it names.

        Raises:
            ValueError: ``task_default_queue`` is not one of the declared ``queues``.
        """
        check_default_queue(self.task_default_queue, self.queues)
        values = msgspec.structs.asdict(self)
        keys = list(explicit) if explicit is not None else list(values)
        out: dict[str, Any] = {}
        for key in keys:
            if key == "runtime":
                continue
            value = values[key] if key in values else to_plain((explicit or {})[key])
            if key == "queues":
                if value:
                    out["task_queues"] = _kombu_queues(value)
                continue
            out[key] = value
        return out


class StatusRouteSettings(msgspec.Struct, kw_only=True):
    """``app.jobs.status_route``: the ``GET <path>/{job_id}`` route."""

    enabled: bool = True
    path: str = "/jobs"
    auth: Any = None


class JobsSettings(msgspec.Struct, kw_only=True):
    """``app.jobs``: which JobService runs jobs, and the status route."""

    backend: Literal["auto", "celery", "inline"] = "auto"
    status_route: StatusRouteSettings = msgspec.field(default_factory=StatusRouteSettings)


def _kombu_queues(names: Sequence[str]) -> tuple[Any, ...]:
    from kombu import entity

    queue: Any = entity.Queue
    return tuple(queue(name, routing_key=name) for name in names)


def queue_names(queues: Any) -> list[str]:
    """Names of a Celery ``task_queues`` value (Queue objects, names or a name-keyed dict)."""
    if not queues:
        return []
    if isinstance(queues, Mapping):
        return [str(name) for name in queues]
    return [str(getattr(queue, "name", queue)) for queue in queues]


def check_default_queue(default_queue: str, queues: Sequence[str]) -> None:
    """Refuse a default queue that no worker would consume when queues are declared.

    Raises:
        ValueError: ``default_queue`` is not among the non-empty ``queues``.
    """
    if queues and default_queue not in queues:
        raise ValueError(
            f"task_default_queue={default_queue!r} is not declared in queues={list(queues)!r}. "
            "Callbacks would be silently routed to an unconsumed queue. Add it to queues or "
            "set task_default_queue to one of them."
        )


def jobs_settings(cfg: Any) -> JobsSettings:
    """``app.jobs`` of the merged loom config (defaults when absent)."""
    if cfg is None or not has_section(cfg, "app.jobs"):
        return JobsSettings()
    result: JobsSettings = section(cfg, "app.jobs", JobsSettings)
    return result


def celery_section(cfg: Any) -> tuple[CeleryConfig, dict[str, Any]] | None:
    """The typed ``celery`` section and its explicitly written keys, if present."""
    if cfg is None or not has_section(cfg, "celery"):
        return None
    explicit = to_plain(raw_section(cfg, "celery")) or {}
    if not isinstance(explicit, dict):
        return None
    typed: CeleryConfig = section(cfg, "celery", CeleryConfig)
    return typed, explicit


def apply_celery_section(cfg: Any, settings: Any) -> None:
    """Fill undefined ``CELERY_*`` Django settings from YAML, then validate the queues.

    Raises:
        ValueError: the effective default queue is not one of the declared queues.
    """
    found = celery_section(cfg)
    if found is not None:
        typed, explicit = found
        for key, value in typed.celery_settings(explicit).items():
            _fill(settings, key, value, source="the YAML celery section")
    default_queue = getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "default")
    check_default_queue(default_queue, queue_names(getattr(settings, "CELERY_TASK_QUEUES", None)))


def _fill(settings: Any, key: str, value: Any, *, source: str) -> None:
    name = f"CELERY_{key.upper()}"
    if hasattr(settings, name):
        current = getattr(settings, name)
        same = (
            queue_names(current) == queue_names(value) if key == "task_queues" else current == value
        )
        if not same:
            _log.warning(
                "settings.%s=%r wins over %s (%r); remove one of them.",
                name,
                current,
                source,
                value,
            )
        return
    setattr(settings, name, value)


def apply_loom_defaults(settings: Any) -> None:
    """Fill the Celery settings loom relies on (``LOOM_CELERY_DEFAULTS``) when undefined."""
    for key, value in LOOM_CELERY_DEFAULTS.items():
        name = f"CELERY_{key.upper()}"
        if not hasattr(settings, name):
            setattr(settings, name, value)


def broker_configured(cfg: Any, settings: Any) -> bool:
    """Whether a broker URL is set in Django settings or in the YAML ``celery`` section."""
    if getattr(settings, "CELERY_BROKER_URL", None):
        return True
    found = celery_section(cfg)
    return bool(found and found[0].broker_url)


NO_BROKER_WARNING = (
    "No Celery broker configured (CELERY_BROKER_URL) — dispatched jobs run in-process "
    "with InlineJobService after commit. Set CELERY_BROKER_URL in settings.py (e.g. "
    'CELERY_BROKER_URL = "redis://localhost:6379/0"), or silence this with '
    'LOOM = {"CONFIG": {"app": {"jobs": {"backend": "inline"}}}}.'
)
"""Logged when jobs exist, ``app.jobs.backend`` is ``auto`` and no broker is configured."""


def select_backend(
    cfg: Any, settings: Any, *, celery_installed: bool = True, warn: bool = True
) -> str:
    """``celery`` or ``inline`` per ``app.jobs.backend`` (``auto``: Celery iff a broker is set).

    ``warn`` (the project has jobs) logs :data:`NO_BROKER_WARNING` when ``auto`` falls back
    to inline.
    """
    wanted = jobs_settings(cfg).backend
    if wanted != "auto":
        return wanted
    if celery_installed and broker_configured(cfg, settings):
        return "celery"
    if warn:
        _log.warning(NO_BROKER_WARNING)
    return "inline"
