"""System checks of the streaming door (ids ``loom_django.E401``-``E403``, ``W401``-``W402``).

Each check reads the registry filled at startup; none has side effects.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from loom_django.streaming.registry import registry

__all__ = [
    "E401",
    "E402",
    "E403",
    "W401",
    "W402",
    "check_compiled_flows",
    "check_duplicate_flows",
    "check_flow_warnings",
]

E401 = "loom_django.E401"
"""Two registered flows share a name."""
E402 = "loom_django.E402"
"""A registered flow does not compile."""
E403 = "loom_django.E403"
"""Flows are registered but the loom runtime failed to start."""
W401 = "loom_django.W401"
"""A flow has error kinds without a route, or another non-fatal compile finding."""
W402 = "loom_django.W402"
"""``DEBUG=True`` in a project with stream flows (every query is kept in memory)."""


def check_duplicate_flows(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``E401`` per duplicated flow name, listing both modules."""
    return [
        Error(
            f"stream flow {name!r} is declared twice ({first} and {second})",
            hint="Give every StreamFlow a unique name; it is the consumer group suffix.",
            id=E401,
        )
        for name, first, second in registry.duplicates
    ]


def check_compiled_flows(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``E402`` per flow that failed to compile; ``E403`` when the runtime did not start."""
    out: list[CheckMessage] = []
    if registry.startup_error and registry.all():
        out.append(
            Error(
                f"stream flows cannot use use cases: {registry.startup_error}",
                hint="Fix the loom bootstrap error reported by loom_django.E100.",
                id=E403,
            )
        )
    for entry in registry.all():
        if entry.errors:
            out.append(
                Error(
                    f"stream flow {entry.flow.name!r} does not compile",
                    hint="; ".join(entry.errors),
                    obj=entry.module,
                    id=E402,
                )
            )
    return out


def check_flow_warnings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``W401`` per compile warning (e.g. unrouted error kinds); ``W402`` for ``DEBUG``."""
    out: list[CheckMessage] = []
    for entry in registry.all():
        for warning in entry.plan.warnings if entry.plan is not None else ():
            out.append(
                Warning(
                    f"stream flow {entry.flow.name!r}: {warning}",
                    hint="Add errors=[ErrorRoute(...)] so failed messages are kept, "
                    "or accept that they are logged and dropped.",
                    id=W401,
                )
            )
    if registry.all() and getattr(settings, "DEBUG", False):
        out.append(
            Warning(
                "DEBUG=True keeps every query of a long-running stream worker in memory",
                hint="Run loom_stream with DEBUG=False in production.",
                id=W402,
            )
        )
    return out
