"""Shared by the test runners: the configuration and compiled plan of a flow under test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loom_django.streaming.compiler import compile_flow, plain_config
from loom_django.streaming.flow import StreamFlow
from loom_django.streaming.plan import CompiledPlan

__all__ = ["memory_config", "plan_for"]


def memory_config() -> dict[str, Any]:
    """The smallest configuration a flow compiles against: default consumer and producer
    blocks on the in-memory transport."""
    return {
        "kafka": {
            "transport": "memory",
            "consumer": {"brokers": ["memory"]},
            "producer": {"brokers": ["memory"]},
        }
    }


def _project_config() -> Any:
    """The loom configuration Django loaded at startup, if the streaming door ran."""
    from loom_django.streaming.registry import registry

    return registry.config


def plan_for(
    flow_or_name: StreamFlow | str, config: Any
) -> tuple[CompiledPlan, Callable[[], Any] | None]:
    """``(plan, runtime provider)`` of a flow object or a registered flow name.

    A flow object compiles against ``config``, else the project's configuration (when it has
    a ``kafka`` section), else :func:`memory_config`; a name without ``config`` uses the plan
    compiled at startup.

    Raises:
        KeyError: no registered flow has that name.
        StreamCompilationError: the flow does not compile.
        TypeError: ``flow_or_name`` is neither a ``StreamFlow`` nor a string.
    """
    from loom_django.streaming.errors import StreamCompilationError
    from loom_django.streaming.registry import registry

    provider = registry.provider
    if isinstance(flow_or_name, str):
        entry = registry.entry(flow_or_name)
        if config is None:
            if entry.plan is None:
                raise StreamCompilationError(entry.errors)
            return entry.plan, provider
        flow = entry.flow
    elif isinstance(flow_or_name, StreamFlow):
        flow = flow_or_name
    else:
        raise TypeError(f"expected a StreamFlow or a flow name, not {type(flow_or_name).__name__}")
    if config is None:
        project = plain_config(_project_config())
        config = project if project.get("kafka") else memory_config()
    compiler = None
    if provider is not None:
        try:
            compiler = provider().compiler
        except Exception:  # no loom runtime (e.g. Django not set up): plain flows still run
            provider = None
    return compile_flow(flow, config=config, compiler=compiler), provider
