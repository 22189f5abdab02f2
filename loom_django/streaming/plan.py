"""Frozen plans: what the compiler produces and the runtime executes (nothing else is read)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loom_django.streaming.errors import ErrorKind
from loom_django.streaming.nodes import PartitionPolicy, RetryPolicy
from loom_django.streaming.settings import ConsumerSettings, ProducerSettings, RuntimeConfig

__all__ = [
    "BranchOp",
    "CollectOp",
    "CompiledPlan",
    "CompiledSink",
    "CompiledSource",
    "DrainOp",
    "ForEachOp",
    "Op",
    "RouterOp",
    "SinkOp",
    "StepOp",
    "WithOp",
    "path_label",
]

Path = tuple[int, ...]


def path_label(path: Path) -> str:
    """``"0.2.1"`` for path ``(0, 2, 1)``; the one path scheme of compiler and runtime."""
    return ".".join(str(i) for i in path)


@dataclass(frozen=True, slots=True)
class CompiledSource:
    """The resolved source: physical topics, payload class, codec, consumer settings, group."""

    ref: str
    topics: tuple[str, ...]
    payload_type: type[Any]
    codec: str
    settings: ConsumerSettings
    group_id: str


@dataclass(frozen=True, slots=True)
class CompiledSink:
    """A resolved Kafka sink: physical topic, codec, producer settings, key policy, DLQ."""

    ref: str
    topic: str
    payload_type: type[Any] | None
    codec: str
    settings: ProducerSettings
    partitioning: PartitionPolicy | None = None
    dlq_topic: str | None = None


@dataclass(frozen=True, slots=True)
class StepOp:
    """A user step (record, batch or expand) or a use-case step."""

    path: Path
    name: str
    kind: str  # "record" | "batch" | "expand" | "use_case"
    step: Any
    retry: RetryPolicy | None
    use_case: Any = None  # the compiled ExecutionPlan of a use-case step


@dataclass(frozen=True, slots=True)
class CollectOp:
    """Groups records of one source partition into batches of ``max_records``."""

    path: Path
    max_records: int


@dataclass(frozen=True, slots=True)
class ForEachOp:
    """Flattens batches into records."""

    path: Path


@dataclass(frozen=True, slots=True)
class DrainOp:
    """Discards and completes."""

    path: Path


@dataclass(frozen=True, slots=True)
class SinkOp:
    """Writes to a Kafka sink."""

    path: Path
    sink: CompiledSink


@dataclass(frozen=True, slots=True)
class WithOp:
    """Runs ``ops`` (record steps, optional final sink) per message with dependencies."""

    path: Path
    name: str
    scope: str
    ops: tuple[Op, ...]
    plain: Mapping[str, Any]
    managers: Mapping[str, Any]
    factories: Mapping[str, Any]
    to_output: bool


@dataclass(frozen=True, slots=True)
class BranchOp:
    """One branch of a router or fork; ``terminal`` branches do not rejoin."""

    label: str
    ops: tuple[Op, ...]
    terminal: bool


@dataclass(frozen=True, slots=True)
class RouterOp:
    """First-match routing; ``fork`` routers complete unmatched messages instead of passing."""

    path: Path
    name: str
    selector: Any
    keyed: Mapping[Any, int]
    predicates: tuple[tuple[Any, int], ...]
    default: int | None
    branches: tuple[BranchOp, ...]
    fork: bool


Op = StepOp | CollectOp | ForEachOp | DrainOp | SinkOp | WithOp | RouterOp


@dataclass(frozen=True, slots=True)
class CompiledPlan:
    """Everything needed to run one flow; built once by :func:`compile_flow`."""

    name: str
    description: str
    source: CompiledSource
    ops: tuple[Op, ...]
    output: CompiledSink | None
    error_routes: Mapping[ErrorKind, CompiledSink]
    unrouted_errors: str
    runtime: RuntimeConfig
    sinks: Mapping[str, CompiledSink]
    use_cases: Mapping[str, Any]
    payload_types: Mapping[str, Any]
    shapes: tuple[tuple[str, str, str, str], ...]  # (path, node, in shape, out shape)
    warnings: tuple[str, ...] = field(default=())

    @property
    def producer_sinks(self) -> tuple[CompiledSink, ...]:
        """Every distinct Kafka sink of the plan (outputs, branch sinks, error routes)."""
        seen: dict[str, CompiledSink] = {}
        for sink in (*self.sinks.values(), *self.error_routes.values()):
            seen.setdefault(sink.topic, sink)
        if self.output is not None:
            seen.setdefault(self.output.topic, self.output)
        return tuple(seen.values())
