"""What flows through the engine: the polled record, the in-flight record (a message and
the completion its outputs owe), the run's counters and each worker's state, and the small
functions every layer of the engine uses on in-flight records."""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import msgspec

from loom_django.streaming.messages import Message
from loom_django.streaming.tracker import AckToken, Completion

__all__ = [
    "RawRecord",
    "Rec",
    "StreamMetrics",
    "UnroutedErrorStop",
    "WorkerState",
    "complete_recs",
    "flatten",
    "wrap",
]


class RawRecord(msgspec.Struct):
    """One polled Kafka record and its ack token (a struct: msgspec builds it in C)."""

    value: bytes | None
    key: bytes | None
    headers: dict[str, bytes]
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    token: AckToken


@dataclass
class StreamMetrics:
    """Counters of one run (also exported to Prometheus when it is enabled)."""

    messages_in: Counter[str] = field(default_factory=Counter)
    messages_out: Counter[str] = field(default_factory=Counter)
    errors: Counter[tuple[str, bool]] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    filtered: Counter[str] = field(default_factory=Counter)
    unmatched: Counter[str] = field(default_factory=Counter)
    dlq: Counter[str] = field(default_factory=Counter)
    commits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    timing: Any = None  # metrics.Timings when Prometheus metrics are on (encode durations)
    observe: Any = None  # observe.Observation when observers are attached (TRANSPORT events)
    tracing: Any = None  # tracing.HopTracer when OpenTelemetry is on (produce spans)


class UnroutedErrorStop(RuntimeError):
    """An error had no route and the flow says ``unrouted_errors="fail"``."""


class Rec(msgspec.Struct):
    """A message in flight and the completion its outputs owe to its source offsets."""

    message: Message[Any]
    token: Completion


class WorkerState(threading.local):
    """One worker thread's ``With`` dependencies (and their exit stack) and use cases."""

    stack: ExitStack | None = None
    deps: dict[tuple[int, ...], dict[str, Any]]
    instances: dict[type[Any], Any]

    def __init__(self) -> None:
        self.deps = {}
        self.instances = {}


def flatten(items: list[Any]) -> list[Rec]:
    """The records of ``items`` (records, or batches of records)."""
    return [rec for item in items for rec in (item if isinstance(item, list) else (item,))]


def complete_recs(recs: list[Rec]) -> list[Any]:
    """Complete every record of ``recs`` (nothing more derives from them); returns ``[]``."""
    for rec in recs:
        rec.token.done()
    return []


def wrap(value: Any, rec: Rec) -> Rec:
    """What a step returned for ``rec``, in flight with ``rec``'s completion."""
    if isinstance(value, Message):
        return Rec(value, rec.token)
    return Rec(Message(payload=value, meta=rec.message.meta), rec.token)
