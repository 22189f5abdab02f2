"""``IntoSink``: the protocol of third-party storage sinks (spec §2.5).

Any object with ``payload``, ``name``, ``router_branch_safe`` and ``build_partition(config,
worker_index, worker_count, bridge=None, session_manager=None)`` is a terminal storage node,
detected structurally. Each worker builds its own :class:`SinkPartition` on first use, from the
``streaming.sinks.<name>`` section; the engine hands it the micro-batch's messages and completes
their ack tokens only once ``write_batch`` returned, so an offset never commits before its row
is written. A ``write_batch`` that raises fails every message of the batch (routed by kind).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "CustomSinkOp",
    "IntoSink",
    "SinkPartition",
    "SinkPartitions",
    "compile_into_sink",
    "is_into_sink",
]

_log = logging.getLogger("loom_django.streaming")


@runtime_checkable
class SinkPartition(Protocol):
    """One worker's writer: ``write_batch`` persists the messages before it returns;
    ``close`` releases the writer and may be called more than once."""

    def write_batch(self, items: Sequence[Any]) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class IntoSink(Protocol):
    """A terminal storage node (spec §2.5).

    Attributes:
        payload: the payload class the sink accepts (``None``: anything); checked against the
            upstream type at compile time.
        name: selects the ``streaming.sinks.<name>`` configuration section (required).
        router_branch_safe: whether the sink may end a ``Router`` branch.
    """

    payload: Any
    name: str
    router_branch_safe: bool

    def build_partition(
        self,
        config: Mapping[str, Any],
        worker_index: int,
        worker_count: int,
        bridge: Any = None,
        session_manager: Any = None,
    ) -> SinkPartition: ...


def is_into_sink(node: object) -> bool:
    """Whether ``node`` (an instance, not a class) follows the :class:`IntoSink` protocol."""
    return (
        not isinstance(node, type)
        and callable(getattr(node, "build_partition", None))
        and hasattr(node, "name")
        and hasattr(node, "payload")
        and hasattr(node, "router_branch_safe")
    )


@dataclass(frozen=True, slots=True)
class CustomSinkOp:
    """A compiled ``IntoSink``: the node and its ``streaming.sinks.<name>`` section."""

    path: tuple[int, ...]
    name: str
    sink: Any
    config: Mapping[str, Any]


def compile_into_sink(
    node: Any,
    path: tuple[int, ...],
    upstream: Any,
    config: Mapping[str, Any],
    *,
    in_branch: bool,
) -> tuple[CustomSinkOp | None, list[str]]:
    """Check ``node`` (name, configuration section, payload class, router safety) against the
    upstream payload class ``upstream`` (``None`` when unknown); the op, or the problems."""
    errors: list[str] = []
    name = node.name
    if not isinstance(name, str) or not name:
        return None, ["IntoSink needs a non-empty name (it selects streaming.sinks.<name>)"]
    sinks = (config.get("streaming") or {}).get("sinks") or {}
    section = sinks.get(name) if isinstance(sinks, Mapping) else None
    if not isinstance(section, Mapping):
        errors.append(f"no configuration section streaming.sinks.{name}")
        section = {}
    want = node.payload
    if (
        isinstance(want, type)
        and isinstance(upstream, type)
        and upstream is not Any
        and not issubclass(upstream, want)
    ):
        errors.append(
            f"payload {want.__qualname__} does not accept {upstream.__qualname__} "
            f"(got {upstream.__qualname__})"
        )
    if in_branch and not node.router_branch_safe:
        errors.append("is not router_branch_safe: it cannot end a Router branch")
    op = CustomSinkOp(path=path, name=name, sink=node, config=dict(section))
    return (None if errors else op), errors


class SinkPartitions:
    """The partitions of a run's ``IntoSink`` nodes: one per worker thread and sink, built on
    first use, closed together when the run ends."""

    def __init__(self, worker_count: int) -> None:
        self.worker_count = worker_count
        self._local = threading.local()
        self._workers = itertools.count()
        self._all: list[tuple[str, SinkPartition]] = []
        self._lock = threading.Lock()

    def get(self, op: CustomSinkOp, bridge: Any = None) -> SinkPartition:
        """This worker's partition of ``op`` (built now on the first call)."""
        local = self._local
        built: dict[tuple[int, ...], SinkPartition] | None = getattr(local, "parts", None)
        if built is None:
            built = local.parts = {}
            local.index = next(self._workers)
        part = built.get(op.path)
        if part is None:
            part = op.sink.build_partition(
                op.config, local.index, self.worker_count, bridge=bridge, session_manager=None
            )
            built[op.path] = part
            with self._lock:
                self._all.append((op.name, part))
        return part

    def close(self) -> None:
        """Close every partition built (each once; a failing close is logged)."""
        with self._lock:
            parts, self._all = self._all, []
        for name, part in parts:
            try:
                part.close()
            except Exception:
                _log.exception("stream sink %s: close failed", name)
