"""Frozen plans: what the compiler produces and the runtime executes (nothing else is read)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loom_django.streaming.errors import ErrorKind
from loom_django.streaming.model_sink import ModelSinkOp
from loom_django.streaming.nodes import PartitionPolicy, RetryPolicy
from loom_django.streaming.settings import ConsumerSettings, ProducerSettings, RuntimeConfig
from loom_django.streaming.sinks import CustomSinkOp

__all__ = [
    "AsyncOptions",
    "BranchOp",
    "BroadcastOp",
    "CollectOp",
    "CompiledPlan",
    "CompiledSink",
    "CompiledSource",
    "Dispatch",
    "DrainOp",
    "ExpandRoutesOp",
    "ExplodeOp",
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
class Dispatch:
    """How a multi-type source picks the decode target of a record (spec §2.4).

    ``plain``: payload classes by message type; ``errors``: ``ErrorEnvelope[T]`` by
    ``T``'s message type, for records typed ``loom.streaming.error.{routing,task,business}``;
    ``wire``: ``DecodeError`` for records typed ``loom.streaming.error.wire``.
    """

    plain: Mapping[str, type[Any]]
    errors: Mapping[str, Any]
    wire: type[Any] | None


@dataclass(frozen=True, slots=True)
class CompiledSource:
    """The resolved source: physical topics, payload class, codec, consumer settings, group.

    ``dispatch`` is set for a ``FromMultiTypeTopic``; ``payload_type`` is then the union.
    """

    ref: str
    topics: tuple[str, ...]
    payload_type: Any
    codec: str
    settings: ConsumerSettings
    group_id: str
    dispatch: Dispatch | None = None


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
    lineage_headers: bool = True


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
class AsyncOptions:
    """The concurrency settings of a ``WithAsync`` and its async context managers."""

    max_concurrency: int
    task_timeout_ms: int | None
    preserve_key_order: bool
    ordered_output: bool
    managers: Mapping[str, Any]
    db_lanes: int = 1


@dataclass(frozen=True, slots=True)
class WithOp:
    """Runs ``ops`` (record steps, optional final sink) per message with dependencies;
    concurrently on the async bridge when ``async_opts`` is set (``WithAsync``)."""

    path: Path
    name: str
    scope: str
    ops: tuple[Op, ...]
    plain: Mapping[str, Any]
    managers: Mapping[str, Any]
    factories: Mapping[str, Any]
    to_output: bool
    async_opts: AsyncOptions | None = None


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


@dataclass(frozen=True, slots=True)
class BroadcastOp:
    """Every message to every route; a non-terminal route's results are discarded."""

    path: Path
    name: str
    routes: tuple[BranchOp, ...]


@dataclass(frozen=True, slots=True)
class ExplodeOp:
    """Each payload expanded into rows (one message per row, the ack token shared)."""

    path: Path
    name: str
    expander: Any


@dataclass(frozen=True, slots=True)
class ExpandRoutesOp:
    """Rows of each class to the branch ``keyed[cls]`` (else ``default``, else dropped)."""

    path: Path
    name: str
    expander: Any
    keyed: Mapping[type[Any], int]
    default: int | None
    branches: tuple[BranchOp, ...]


Op = (
    StepOp
    | CollectOp
    | ForEachOp
    | DrainOp
    | SinkOp
    | WithOp
    | RouterOp
    | BroadcastOp
    | ExplodeOp
    | ExpandRoutesOp
    | ModelSinkOp
    | CustomSinkOp
)


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
    model_sinks: tuple[str, ...] = field(default=())  # paths of the IntoModel sinks
    transport: str = "confluent"  # kafka.transport: "confluent" or "memory"

    @property
    def producer_sinks(self) -> tuple[CompiledSink, ...]:
        """Every distinct Kafka sink of the plan (outputs, branch sinks, error routes)."""
        seen: dict[str, CompiledSink] = {}
        for sink in (*self.sinks.values(), *self.error_routes.values()):
            seen.setdefault(sink.topic, sink)
        if self.output is not None:
            seen.setdefault(self.output.topic, self.output)
        return tuple(seen.values())
