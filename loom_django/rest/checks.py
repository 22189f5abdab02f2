"""The REST door's system checks (``loom_django.E5xx``); each only reads or compiles."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured

from loom_django.core.errors import BootstrapError, ConfigError, InterfaceCompilationError

__all__ = ["E500", "check_interfaces"]

E500 = "loom_django.E500"
"""A ``RestInterface`` (or ``app.rest``) does not compile."""


def check_interfaces(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``loom_django.E500``: every discovered interface compiles into routes.

    Reports the error ``get_api()`` met while ``urls.py`` was imported, or compiles the
    interfaces itself when the API was not built yet. A runtime that failed to start is
    ``loom_django.E100``'s to report.
    """
    from loom_django.rest.compiler import compile_interfaces
    from loom_django.rest.config import load_rest_config
    from loom_django.rest.ninja.api import api_failure, runtime_provider

    failure = api_failure()
    if failure is None:
        try:
            runtime = runtime_provider()()
            cfg = load_rest_config()
            compile_interfaces(
                runtime.discovery.interfaces,
                runtime=runtime,
                defaults=cfg.defaults.to_defaults(),
                handler_mode=cfg.handler_mode,
                auto_delete_status=cfg.auto_delete_status,
            )
        except (BootstrapError, ImproperlyConfigured):
            return []
        except (InterfaceCompilationError, ConfigError) as exc:
            failure = exc
    if failure is None or isinstance(failure, BootstrapError):
        return []
    return [
        Error(
            str(failure),
            hint="Fix the interface or the app.rest setting named above; no route is served.",
            obj=type(failure).__name__,
            id=E500,
        )
    ]
