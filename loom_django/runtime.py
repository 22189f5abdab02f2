"""The process-wide runtime: built once in ``AppConfig.ready()`` from Django settings."""

from __future__ import annotations

import logging
import threading
from typing import Any

from loom_django.assembly import build_with_doors, discovered_spec, metrics_adapter
from loom_django.core.bootstrap import LoomRuntime
from loom_django.core.errors import BootstrapError

__all__ = ["build_django_runtime", "get_runtime", "invoke_sync", "reset_runtime"]

_log = logging.getLogger("loom_django.bootstrap")
_lock = threading.Lock()
_runtime: LoomRuntime | None = None
_failure: BootstrapError | None = None


def build_django_runtime() -> LoomRuntime:
    """Discover components, let every installed door fill the spec, compile every plan.

    Raises:
        BootstrapError: discovery, DI or compilation failed (the cause is chained).
    """
    from asgiref.sync import sync_to_async
    from django.apps import apps
    from omegaconf import OmegaConf

    from loom_django.conf import conf, import_di_module
    from loom_django.core.config import to_plain
    from loom_django.core.discovery import discover

    try:
        context = conf.config_context()
        cfg = context.config
        discovery_cfg = to_plain(OmegaConf.select(cfg, "app.discovery", default=None))
        result = discover(
            discovery_cfg or {"mode": "apps"},
            app_modules=[app.name for app in apps.get_app_configs()],
        )
        di_modules = [import_di_module(path) for path in conf.di_modules()]
        metrics = metrics_adapter(cfg)
    except Exception as exc:
        raise BootstrapError(f"Bootstrap failed: {exc}") from exc

    spec = discovered_spec(cfg, result, di_modules=di_modules, metrics=metrics, config=context)
    spec.offload = lambda fn: sync_to_async(fn, thread_sensitive=True)
    return build_with_doors(spec)


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
