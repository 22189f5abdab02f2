"""The values the in-memory transport hands out: stored records, the messages a consumer
returns, topic-partitions and errors, shaped like confluent-kafka's so the runtime reads
them with the same calls."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field

__all__ = [
    "TIMESTAMP_CREATE_TIME",
    "TIMESTAMP_NOT_AVAILABLE",
    "KafkaError",
    "KafkaException",
    "MemoryMessage",
    "Record",
    "TopicPartition",
]

TIMESTAMP_NOT_AVAILABLE = 0
TIMESTAMP_CREATE_TIME = 1
OFFSET_INVALID = -1001


class KafkaError:
    """A transport error with confluent-kafka's accessors (``code``, ``str``, ``fatal``...)."""

    _PARTITION_EOF = -191
    _MSG_TIMED_OUT = -192
    _TRANSPORT = -195
    REBALANCE_IN_PROGRESS = 27

    def __init__(
        self, code: int, reason: builtins.str, *, fatal: bool = False, retriable: bool = False
    ) -> None:
        self._code = code
        self._reason = reason
        self._fatal = fatal
        self._retriable = retriable

    def code(self) -> int:
        """The numeric error code (confluent-kafka's values)."""
        return self._code

    def str(self) -> builtins.str:
        """The human-readable reason."""
        return self._reason

    def fatal(self) -> bool:
        """Whether the client is unusable after this error."""
        return self._fatal

    def retriable(self) -> bool:
        """Whether retrying the same call may succeed."""
        return self._retriable

    def __repr__(self) -> builtins.str:
        return f"KafkaError({self._code}, {self._reason!r})"

    def __str__(self) -> builtins.str:
        return self._reason


class KafkaException(Exception):
    """Raised by the in-memory clients; ``args[0]`` is the :class:`KafkaError`."""


@dataclass(frozen=True, slots=True)
class TopicPartition:
    """``(topic, partition, offset)`` as the client APIs take and return it."""

    topic: str
    partition: int = 0
    offset: int = OFFSET_INVALID


@dataclass(frozen=True, slots=True)
class Record:
    """One record stored in a topic partition (what ``InMemoryKafka.records`` returns)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = field(default=())
    timestamp_ms: int = 0

    def header(self, name: str) -> bytes | None:
        """The last value of header ``name``, or ``None``."""
        found = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found


class MemoryMessage:
    """A consumed record, or a partition-end event, with confluent's ``Message`` accessors."""

    __slots__ = ("_error", "_record", "_tp")

    def __init__(
        self, record: Record | None, tp: tuple[str, int], error: KafkaError | None = None
    ) -> None:
        self._record = record
        self._tp = tp
        self._error = error

    def error(self) -> KafkaError | None:
        """The event's error (partition end), ``None`` for a record."""
        return self._error

    def topic(self) -> str:
        """The record's topic."""
        return self._tp[0]

    def partition(self) -> int:
        """The record's partition."""
        return self._tp[1]

    def offset(self) -> int:
        """The record's offset (``-1`` for an event)."""
        return self._record.offset if self._record is not None else -1

    def key(self) -> bytes | None:
        """The record's key."""
        return self._record.key if self._record is not None else None

    def value(self) -> bytes | None:
        """The record's value (``None`` for a tombstone)."""
        return self._record.value if self._record is not None else None

    def headers(self) -> list[tuple[str, bytes]] | None:
        """The record's headers, ``None`` when it has none (as confluent returns them)."""
        if self._record is None or not self._record.headers:
            return None
        return list(self._record.headers)

    def timestamp(self) -> tuple[int, int]:
        """``(timestamp type, milliseconds)``."""
        if self._record is None:
            return TIMESTAMP_NOT_AVAILABLE, 0
        return TIMESTAMP_CREATE_TIME, self._record.timestamp_ms
