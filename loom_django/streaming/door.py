"""The streaming door's contract (see ``loom_django.doors``): discover and compile flows at
startup, expose the system checks. Importable without Bytewax or confluent-kafka."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from loom_django.streaming.checks import (
    check_compiled_flows,
    check_duplicate_flows,
    check_flow_warnings,
)

__all__ = ["CHECKS", "EXTRA", "REQUIRES", "ready"]

_log = logging.getLogger("loom_django.streaming")

REQUIRES = ("confluent_kafka",)
"""Packages the door needs; Bytewax is needed only by ``loom_stream run``."""

EXTRA = "stream"
"""The pip extra that installs them."""

CHECKS = (check_duplicate_flows, check_compiled_flows, check_flow_warnings)
"""System checks of the door (``loom_django.E401``-``E403``, ``W401``-``W402``)."""


def ready(provider: Callable[[], Any]) -> None:
    """Compile every discovered flow into the registry; failures are kept for the checks."""
    from django.apps import apps

    from loom_django.conf import conf
    from loom_django.core.errors import ConfigError
    from loom_django.streaming.registry import registry

    if apps.is_installed("django.contrib.admin"):
        from loom_django.streaming.admin import register

        register()
    flows: tuple[Any, ...] = ()
    try:
        runtime = provider()
        discovery = getattr(runtime, "discovery", None)
        flows = tuple(getattr(discovery, "stream_flows", ()) or ())
    except Exception as exc:  # BootstrapError: E100 reports it; flows cannot be found
        _log.debug("streaming door: runtime unavailable (%s)", exc)
    try:
        config = conf.loom_config()
    except ConfigError as exc:
        registry.startup_error = str(exc)
        return
    registry.load(flows, config=config, provider=provider)
