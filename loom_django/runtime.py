"""The process-wide runtime: built once in ``AppConfig.ready()`` from Django settings."""

from __future__ import annotations

import logging
import threading
from typing import Any

from loom_django.core.bootstrap import LoomRuntime, RuntimeSpec, build_runtime
from loom_django.core.errors import BootstrapError
from loom_django.doors import installed_doors

__all__ = ["build_django_runtime", "get_runtime", "invoke_sync", "reset_runtime"]

_log = logging.getLogger("loom_django.bootstrap")
_lock = threading.Lock()
_runtime: LoomRuntime | None = None
_failure: BootstrapError | None = None


def build_django_runtime() -> LoomRuntime:
    """Discover components, bind the Django door's repositories and compile every plan.

    Raises:
        BootstrapError: discovery, DI or compilation failed (the cause is chained).
    """
    from asgiref.sync import sync_to_async
    from django.apps import apps
    from omegaconf import OmegaConf

    from loom_django.conf import conf, import_di_module
    from loom_django.core.config import metrics_settings, to_plain
    from loom_django.core.discovery import discover
    from loom_django.core.job.job import JobConfig, apply_job_config
    from loom_django.core.model.hooks import mapped_models

    doors = installed_doors()
    try:
        cfg = conf.loom_config()
        discovery_cfg = to_plain(OmegaConf.select(cfg, "app.discovery", default=None))
        result = discover(
            discovery_cfg or {"mode": "apps"},
            app_modules=[app.name for app in apps.get_app_configs()],
        )
        di_modules = [import_di_module(path) for path in conf.di_modules()]
    except Exception as exc:
        raise BootstrapError(f"Bootstrap failed: {exc}") from exc

    for job in result.jobs:
        overrides = to_plain(OmegaConf.select(cfg, f"jobs.{job.__name__}", default=None))
        if overrides:
            apply_job_config(job, JobConfig(**overrides))

    metrics = None
    if metrics_settings(cfg).enabled:
        from loom_django.prometheus import PrometheusMetricsAdapter

        metrics = PrometheusMetricsAdapter()

    spec = RuntimeSpec(
        models=[*mapped_models(), *result.models],
        use_cases=result.use_cases,
        jobs=result.jobs,
        callbacks=result.callbacks,
        di_modules=di_modules,
        offload=lambda fn: sync_to_async(fn, thread_sensitive=True),
        config=conf.config_context(),
        metrics=metrics,
        discovery=result,
    )
    for door in doors:
        door.configure_runtime_spec(spec)
    return build_runtime(spec)


def setup_runtime() -> BootstrapError | None:
    """Build the runtime now; remember a failure for system checks and ``get_runtime``."""
    global _runtime, _failure
    with _lock:
        try:
            _runtime = build_django_runtime()
            _failure = None
        except BootstrapError as exc:
            _runtime = None
            _failure = exc
            _log.error("%s", exc)
        return _failure


def bootstrap_failure() -> BootstrapError | None:
    """The error that stopped the runtime from being built, if any."""
    return _failure


def get_runtime() -> LoomRuntime:
    """The runtime of this process (container, compiler, factory, executor, registry, app).

    Raises:
        BootstrapError: startup failed; ``manage.py check`` shows why.
    """
    if _runtime is None:
        if _failure is not None:
            raise _failure
        setup_runtime()
        if _runtime is None:
            assert _failure is not None
            raise _failure
    return _runtime


def reset_runtime(runtime: LoomRuntime | None = None) -> None:
    """Replace the process runtime (tests); ``None`` rebuilds it lazily on next use."""
    global _runtime, _failure
    with _lock:
        _runtime = runtime
        _failure = None


def invoke_sync(
    use_case: type[Any] | str,
    *,
    params: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
) -> Any:
    """Run a use case (class or key) from synchronous code: commands, signals, admin actions.

    Raises:
        RuntimeError: called while an event loop is running in this thread.
    """
    return get_runtime().invoke_sync(use_case, params=params, payload=payload)
