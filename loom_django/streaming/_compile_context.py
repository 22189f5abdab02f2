"""What every part of the flow compiler shares: the configuration as a plain dict, the
context that collects problems while a flow is walked, and small naming and shape helpers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from loom_django.streaming.binding import ConfigBinding
from loom_django.streaming.flow import StreamFlow
from loom_django.streaming.model_sink import IntoModel
from loom_django.streaming.nodes import IntoTopic, RetryPolicy
from loom_django.streaming.plan import CompiledSink
from loom_django.streaming.settings import KafkaSettings
from loom_django.streaming.sinks import is_into_sink
from loom_django.streaming.steps import Step, StreamShape

__all__ = [
    "CompileContext",
    "expect_shape",
    "is_concrete",
    "node_label",
    "plain_config",
    "reason_of",
]


def plain_config(config: Any) -> dict[str, Any]:
    """``config`` (a mapping, an OmegaConf config, a ``ConfigContext`` or ``None``) as a dict."""
    if config is None:
        return {}
    raw = getattr(config, "raw", None) or getattr(config, "_config", None)
    if raw is not None and not isinstance(config, Mapping):
        config = raw
    try:
        from omegaconf import DictConfig, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a core dependency
        DictConfig = ()  # type: ignore[assignment,misc]
    if isinstance(config, DictConfig):
        plain: Any = OmegaConf.to_container(config, resolve=True)
        return dict(plain) if isinstance(plain, dict) else {}
    return dict(config)


@dataclass
class CompileContext:
    """One flow's compilation: its settings, and everything found so far (problems,
    warnings, sinks, use cases, payload types, shapes)."""

    flow: StreamFlow
    kafka: KafkaSettings | None
    compiler: Any
    config: Mapping[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sinks: dict[str, CompiledSink] = field(default_factory=dict)
    use_cases: dict[str, Any] = field(default_factory=dict)
    types: dict[str, Any] = field(default_factory=dict)
    shapes: list[tuple[str, str, str, str]] = field(default_factory=list)
    has_terminal: bool = False
    in_async: bool = False
    retry: RetryPolicy | None = None  # of the enclosing With, else the flow's default
    db_lanes: int | None = None  # streaming.runtime.db_lanes
    model_sinks: list[str] = field(default_factory=list)  # IntoModel paths (model_sink.py)

    def error(self, node: str, problem: str) -> None:
        self.errors.append(f"{self.flow.name}.{node}: {problem}")


def reason_of(exc: Exception) -> str:
    """The message of a settings lookup failure (a KeyError's str() adds quotes around it)."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc)


def expect_shape(
    shape: StreamShape, allowed: tuple[StreamShape, ...], label: str, ctx: CompileContext
) -> None:
    """Report a shape mismatch at ``label`` unless ``shape`` is one of ``allowed``."""
    if shape not in allowed:
        want = " or ".join(s.value for s in allowed)
        ctx.error(label, f"shape mismatch: expected {want} but got {shape.value} before {label}")


def node_label(node: object) -> str:
    """How compile errors name a node: a step's name, ``IntoTopic(<ref>)``, a sink's name."""
    if isinstance(node, ConfigBinding):
        return node.target.__qualname__
    if isinstance(node, Step):
        return type(node).step_name()
    if isinstance(node, IntoTopic):
        return f"IntoTopic({node.name})"
    if isinstance(node, IntoModel):
        return node.name
    if is_into_sink(node):
        return str(getattr(node, "name", "") or type(node).__name__)
    return type(node).__name__


def is_concrete(tp: Any) -> bool:
    """Whether ``tp`` is a class the compiler can check (not ``Any`` nor a type variable)."""
    return isinstance(tp, type) and tp is not Any and not isinstance(tp, TypeVar)
