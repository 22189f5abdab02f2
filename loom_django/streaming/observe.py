"""Lifecycle events of a running flow (spec §6.9): ``POLL_CYCLE`` around the whole run, ``FLOW``
around the dataflow, ``NODE`` start/end per node execution (one micro-batch through one node),
``NODE`` error per failed message, a ``WRITE`` span per storage flush (``IntoModel``, an
``IntoSink``) and ``TRANSPORT`` events per micro-batch (``kafka_consume``, ``kafka_decode``,
``kafka_encode``, ``kafka_produce``).

Observers see :class:`LifecycleEvent` objects; one that raises is logged and never changes the
run. Nothing here runs unless an observer is attached: :func:`instrument` swaps the engine's node
dispatch for an observed one only then, so an unobserved flow pays nothing.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from loom_django.streaming.plan import (
    BroadcastOp,
    CollectOp,
    DrainOp,
    ForEachOp,
    Op,
    RouterOp,
    SinkOp,
    WithOp,
    path_label,
)

if TYPE_CHECKING:
    from loom_django.streaming._runtime import FlowEngine

__all__ = [
    "LifecycleEvent",
    "Observation",
    "Phase",
    "Scope",
    "StreamObserver",
    "instrument",
    "node_types",
]

_log = logging.getLogger("loom_django.streaming")


class Scope(StrEnum):
    """What an event is about (the kernel's scopes)."""

    POLL_CYCLE = "poll_cycle"
    FLOW = "flow"
    NODE = "node"
    WRITE = "write"
    TRANSPORT = "transport"


class Phase(StrEnum):
    """Where in its scope an event happened."""

    START = "start"
    END = "end"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """One lifecycle event.

    ``node_idx`` is the node's index in its process, ``path`` its full position (``"0.2.1"``),
    ``node_type`` the declared node (``WithAsync``, ``Router``, a step's name, …). ``items`` is
    the number of items a node execution received (or a TRANSPORT event handled);
    ``message_id`` is set on NODE errors. ``name`` names a WRITE sink or a TRANSPORT event
    (``kafka_consume``, ``kafka_decode``, ``kafka_encode``, ``kafka_produce``).
    """

    scope: Scope
    phase: Phase
    flow: str
    run_id: str
    node_idx: int | None = None
    node_type: str | None = None
    path: str | None = None
    items: int | None = None
    node_count: int | None = None
    duration_ms: float | None = None
    message_id: str | None = None
    error: str | None = None
    name: str | None = None


class StreamObserver(Protocol):
    """Receives every lifecycle event of a run."""

    def on_event(self, event: LifecycleEvent) -> None: ...


class Observation:
    """The observers of one run and the run's id; :meth:`emit` isolates their failures."""

    def __init__(self, flow: str, observers: Iterable[StreamObserver]) -> None:
        self.flow = flow
        self.run_id = uuid.uuid4().hex
        self.observers: tuple[StreamObserver, ...] = tuple(observers)

    def __bool__(self) -> bool:
        return bool(self.observers)

    def emit(self, event: LifecycleEvent) -> None:
        """Deliver ``event`` to every observer; a raising observer is logged and skipped."""
        for observer in self.observers:
            try:
                observer.on_event(event)
            except Exception:
                _log.warning(
                    "stream %s: observer %r failed on %s %s",
                    self.flow,
                    observer,
                    event.scope.value,
                    event.phase.value,
                    exc_info=True,
                )

    def transport(self, name: str, items: int, seconds: float, error: str | None = None) -> None:
        """A finished TRANSPORT event (END, or ERROR with ``error``) of ``items`` records."""
        self.emit(
            LifecycleEvent(
                Scope.TRANSPORT,
                Phase.END if error is None else Phase.ERROR,
                self.flow,
                self.run_id,
                items=items,
                duration_ms=seconds * 1000,
                error=error,
                name=name,
            )
        )

    @contextmanager
    def span(self, scope: Scope, **fields: Any) -> Iterator[None]:
        """START, then END (or ERROR with the exception's reason) around the block."""
        if not self.observers:
            yield
            return
        self.emit(LifecycleEvent(scope, Phase.START, self.flow, self.run_id, **fields))
        start = time.perf_counter()
        try:
            yield
        except BaseException as exc:
            self.emit(
                LifecycleEvent(
                    scope,
                    Phase.ERROR,
                    self.flow,
                    self.run_id,
                    duration_ms=(time.perf_counter() - start) * 1000,
                    error=str(exc) or type(exc).__name__,
                    **fields,
                )
            )
            raise
        self.emit(
            LifecycleEvent(
                scope,
                Phase.END,
                self.flow,
                self.run_id,
                duration_ms=(time.perf_counter() - start) * 1000,
                **fields,
            )
        )


_OP_TYPES: dict[type[Any], str] = {
    CollectOp: "CollectBatch",
    ForEachOp: "ForEach",
    DrainOp: "Drain",
    SinkOp: "IntoTopic",
}


def _node_type(op: Op) -> str:
    return _OP_TYPES.get(type(op)) or str(getattr(op, "name", type(op).__name__))


def node_types(ops: Sequence[Op]) -> dict[int, tuple[int, str, str]]:
    """``id(op) -> (node_idx, node_type, path)`` for every op of ``ops``, nested ones too."""
    found: dict[int, tuple[int, str, str]] = {}

    def visit(items: Sequence[Op]) -> None:
        for op in items:
            found[id(op)] = (op.path[-1], _node_type(op), path_label(op.path))
            if isinstance(op, WithOp):
                visit(op.ops)
            elif isinstance(op, RouterOp | BroadcastOp):
                for branch in op.branches if isinstance(op, RouterOp) else op.routes:
                    visit(branch.ops)
            elif hasattr(op, "branches"):
                for branch in op.branches:
                    visit(branch.ops)

    visit(ops)
    return found


def instrument(engine: FlowEngine, observation: Observation) -> None:
    """Emit NODE events from ``engine`` (start/end around each node execution, an error event
    for each message a node fails), a WRITE span around each storage sink's write and a
    ``kafka_decode`` TRANSPORT event per decoded micro-batch. Does nothing when
    ``observation`` has no observers."""
    if not observation:
        return
    index = node_types(engine.plan.ops)
    by_name = {name: (idx, path) for idx, name, path in reversed(list(index.values()))}
    flow, run_id, emit = observation.flow, observation.run_id, observation.emit
    run_op: Callable[[Op, list[Any], list[Any]], list[Any]] = engine._op
    fail: Callable[[Any, Any, list[Any]], None] = engine._fail
    decode: Callable[[list[Any], list[Any]], list[Any]] = engine._decode
    storage = _storage_ops()

    def observed_decode(records: list[Any], out: list[Any]) -> list[Any]:
        start = time.perf_counter()
        result = decode(records, out)
        if records:
            observation.transport("kafka_decode", len(records), time.perf_counter() - start)
        return result

    def write(op: Op, items: list[Any], out: list[Any]) -> list[Any]:
        if not isinstance(op, storage):
            return run_op(op, items, out)
        name = str(getattr(op, "name", ""))
        with observation.span(Scope.WRITE, name=name, items=len(items)):
            return run_op(op, items, out)

    def observed_op(op: Op, items: list[Any], out: list[Any]) -> list[Any]:
        idx, node_type, path = index.get(id(op)) or (op.path[-1], _node_type(op), "")
        fields: dict[str, Any] = {
            "node_idx": idx,
            "node_type": node_type,
            "path": path,
            "items": len(items),
        }
        emit(LifecycleEvent(Scope.NODE, Phase.START, flow, run_id, **fields))
        start = time.perf_counter()
        try:
            result = write(op, items, out)
        except BaseException as exc:
            emit(
                LifecycleEvent(
                    Scope.NODE, Phase.ERROR, flow, run_id, error=str(exc) or repr(exc), **fields
                )
            )
            raise
        duration = (time.perf_counter() - start) * 1000
        emit(LifecycleEvent(Scope.NODE, Phase.END, flow, run_id, duration_ms=duration, **fields))
        return result

    def observed_fail(failure: Any, rec: Any, out: list[Any]) -> None:
        idx, path = by_name.get(failure.node, (None, None))
        emit(
            LifecycleEvent(
                Scope.NODE,
                Phase.ERROR,
                flow,
                run_id,
                node_idx=idx,
                node_type=failure.node,
                path=path,
                items=1,
                message_id=rec.message.meta.message_id,
                error=str(failure.exc) or type(failure.exc).__name__,
            )
        )
        fail(failure, rec, out)

    engine._op = observed_op  # type: ignore[method-assign]
    engine._fail = observed_fail  # type: ignore[method-assign]
    engine._decode = observed_decode  # type: ignore[method-assign]


def _storage_ops() -> tuple[type[Any], ...]:
    """The op classes of storage sinks (a WRITE span each)."""
    from loom_django.streaming.model_sink import ModelSinkOp
    from loom_django.streaming.sinks import CustomSinkOp

    return (ModelSinkOp, CustomSinkOp)
