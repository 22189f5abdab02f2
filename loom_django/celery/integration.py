"""The Django runtime's Celery hook: pick the JobService, register tasks on every Celery app.

The jobs door (``celery/door.py``) calls :func:`configure_runtime_spec` while the process
runtime is built in ``AppConfig.ready()`` — in web processes and workers alike — and
:func:`use_runtime_provider` once it is built; tasks look the runtime up through that
provider, never by importing ``loom_django.runtime``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from celery import Celery, _state

from loom_django.celery.config import (
    apply_celery_section,
    apply_loom_defaults,
    celery_section,
    check_default_queue,
    select_backend,
)
from loom_django.celery.names import TaskCatalog
from loom_django.celery.service import CeleryJobService
from loom_django.celery.signals import connect_worker_signals
from loom_django.celery.tasks import install_tasks
from loom_django.core.errors import BootstrapError, ConfigError

if TYPE_CHECKING:
    from loom_django.contributions import RuntimeProvider
    from loom_django.core.bootstrap import LoomRuntime, RuntimeSpec
    from loom_django.core.engine.executor import RuntimeExecutor
    from loom_django.core.use_case.factory import UseCaseFactory

__all__ = [
    "configure_runtime_spec",
    "django_catalog",
    "guard_workers",
    "runtime",
    "use_runtime_provider",
]

_log = logging.getLogger("loom_django.jobs")
_catalog: TaskCatalog | None = None
_hooked = False
_provider: RuntimeProvider | None = None


def use_runtime_provider(provider: RuntimeProvider) -> None:
    """Where tasks, the status route and the worker guard get the process runtime."""
    global _provider
    _provider = provider


def runtime() -> LoomRuntime:
    """The process runtime, through the provider the door was given.

    Raises:
        BootstrapError: the runtime failed to build, or the app was never readied.
    """
    if _provider is None:
        raise BootstrapError('The loom runtime is not ready: add "loom_django" to INSTALLED_APPS.')
    return _provider()


def django_catalog() -> TaskCatalog | None:
    """The tasks of the Django runtime (set once the runtime was configured)."""
    return _catalog


def configure_runtime_spec(spec: RuntimeSpec) -> None:
    """Name every job and callback task, choose the JobService, connect Celery.

    ``app.jobs.backend`` ``auto`` (default) selects Celery when a broker URL is configured.

    Raises:
        BootstrapError: duplicate task names or an invalid ``celery`` section (the
            ``ValueError`` is chained).
    """
    global _catalog
    from django.conf import settings

    guard_workers()
    cfg = _loom_config(spec)
    try:
        catalog = TaskCatalog.build(spec.jobs, spec.callbacks)
        found = celery_section(cfg)
        if found is not None:
            check_default_queue(found[0].task_default_queue, found[0].queues)
        backend = select_backend(cfg, settings, warn=bool(spec.jobs))
        if backend == "celery":
            apply_celery_section(cfg, settings)
            apply_loom_defaults(settings)
    except (ValueError, TypeError, ConfigError) as exc:
        raise BootstrapError(f"Bootstrap failed: {exc}") from exc
    _catalog = catalog
    if backend != "celery":
        return
    metrics = spec.metrics

    def make_service(factory: UseCaseFactory, executor: RuntimeExecutor) -> CeleryJobService:
        return CeleryJobService(None, metrics, factory, executor, catalog=catalog)

    spec.job_service = make_service
    _register_everywhere()
    _extend_admin()


def _extend_admin() -> None:
    from django.apps import apps

    if apps.is_installed("django.contrib.admin") and apps.is_installed("django_celery_results"):
        from loom_django.celery.admin import extend_task_result_admin

        extend_task_result_admin()


def guard_workers() -> None:
    """Connect the worker signal handlers; a worker whose runtime failed exits at startup.

    Called before anything can fail while the runtime is built, so a worker never starts
    consuming messages for tasks it could not register.
    """
    connect_worker_signals(startup_check=_runtime_ready)


def _loom_config(spec: RuntimeSpec) -> Any:
    config = getattr(spec.config, "config", None)
    if config is not None:
        return config
    from loom_django.conf import conf

    return conf.loom_config()


def _runtime_ready() -> None:
    if _provider is not None:
        _provider()


def _on_app_finalize(app: Celery) -> None:
    if _catalog is None or getattr(app, "_loom_explicit", False):
        return
    install_tasks(app, _catalog, runtime)


def _register_everywhere() -> None:
    """Like ``shared_task``: every app finalized later, and every app already finalized."""
    global _hooked
    if not _hooked:
        _state.connect_on_app_finalize(_on_app_finalize)
        _hooked = True
    for app in list(_state._get_active_apps()):
        if app.finalized:
            with app._finalize_mutex:
                _on_app_finalize(app)
