"""The in-memory broker: topics, partitions, consumer groups and committed offsets held in
Python, with fault injection and inspection for tests (spec §8.2).

Thread-safe: one re-entrant lock guards every topic and group (a flow runs a consumer and a
producer per worker thread); consumers wait on its condition for new records.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from typing import Any, Protocol

from loom_django.streaming._murmur2 import partition_for
from loom_django.streaming.memory.records import (
    KafkaError,
    KafkaException,
    Record,
)

__all__ = ["Broker", "GroupMember"]

TP = tuple[str, int]
HeadersIn = Mapping[str, Any] | Iterable[tuple[str, Any]] | None


class GroupMember(Protocol):
    """What the broker reads of a group's consumer to assign it partitions."""

    @property
    def topics(self) -> Sequence[str]:
        """The topics it subscribed to."""
        ...

    @property
    def member_id(self) -> int:
        """Its join order: the range assignor sorts members by it."""
        ...

    @property
    def owned(self) -> Sized:
        """The partitions it holds now."""
        ...

    def settled(self, generation: int) -> bool:
        """Whether the consumer has taken the assignment of ``generation``."""
        ...


@dataclass
class _Group:
    members: list[GroupMember] = field(default_factory=list)
    generation: int = 0
    committed: dict[TP, int] = field(default_factory=dict)
    last_join: float = 0.0
    assigned_once: bool = False


def _as_bytes(value: Any, what: str) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{what} must be bytes, str or None, not {type(value).__name__}")


def _headers(headers: HeadersIn) -> tuple[tuple[str, Any], ...]:
    if not headers:
        return ()
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(k), _as_bytes(v, f"header {k!r}")) for k, v in pairs)


def _error(error: str | KafkaError, code: int) -> KafkaError:
    return error if isinstance(error, KafkaError) else KafkaError(code, str(error))


class Broker:
    """The state of an in-memory Kafka: logs, groups, commits and injected faults; the
    clients (``memory.clients``) act on it and :class:`~loom_django.streaming.memory.InMemoryKafka`
    adds the transport seam.

    Args:
        partitions: partitions of a topic created on first use (4, like the mock cluster).
        join_delay_s: a new group hands out its first assignment only after no consumer
            joined for this long, so workers starting together split the partitions at once
            (Kafka's ``group.initial.rebalance.delay.ms``, shortened).
    """

    def __init__(self, *, partitions: int = 4, join_delay_s: float = 0.05) -> None:
        if partitions < 1:
            raise ValueError(f"partitions must be >= 1 (got {partitions})")
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.default_partitions = partitions
        self.join_delay_s = join_delay_s
        self.deliveries = 0  # records handed to consumers so far (the harness's idle check)
        self._logs: dict[str, list[list[Record]]] = {}
        self._order: dict[str, list[Record]] = {}
        self._round_robin: dict[str, itertools.count[int]] = {}
        self._groups: dict[str, _Group] = {}
        self._delivery_faults: dict[str, list[Any]] = {}
        self._commit_faults: list[Any] = [0, None]
        self._consume_errors: list[BaseException] = []
        self._member_ids = itertools.count()

    # -- topics ---------------------------------------------------------------------

    def create_topic(self, topic: str, partitions: int | None = None) -> None:
        """Create ``topic`` now (with ``partitions``); a no-op when it exists."""
        if not topic:
            raise ValueError("a topic name must not be empty")
        count = partitions or self.default_partitions
        with self.lock:
            if topic not in self._logs:
                self._logs[topic] = [[] for _ in range(count)]
                self._order[topic] = []
                self._round_robin[topic] = itertools.count()

    def partitions(self, topic: str) -> int:
        """The partition count of ``topic`` (created on first use)."""
        with self.lock:
            self.create_topic(topic)
            return len(self._logs[topic])

    def end_offset(self, topic: str, partition: int) -> int:
        """The offset the next record of ``topic``/``partition`` gets."""
        with self.lock:
            self.create_topic(topic)
            return len(self._logs[topic][partition])

    def log(self, tp: TP) -> list[Record]:
        """The stored records of one partition (live list; read it under :attr:`lock`)."""
        self.create_topic(tp[0])
        return self._logs[tp[0]][tp[1]]

    def produce(
        self,
        topic: str,
        value: bytes | str | None,
        key: bytes | str | None = None,
        *,
        headers: HeadersIn = None,
        timestamp_ms: int | None = None,
        partition: int | None = None,
    ) -> Record:
        """Append a record (no fault injection): keyed records go to
        ``murmur2(key) % partitions``, keyless ones round-robin; offsets start at 0."""
        value_b = _as_bytes(value, "value")
        key_b = _as_bytes(key, "key")
        hdrs = _headers(headers)
        with self.lock:
            self.create_topic(topic)
            logs = self._logs[topic]
            if partition is None or partition < 0:
                if key_b is not None:
                    partition = partition_for(key_b, len(logs))
                else:
                    partition = next(self._round_robin[topic]) % len(logs)
            elif partition >= len(logs):
                raise ValueError(f"topic {topic!r} has no partition {partition}")
            log = logs[partition]
            record = Record(
                topic,
                partition,
                len(log),
                key_b,
                value_b,
                hdrs,
                timestamp_ms or time.time_ns() // 1_000_000,
            )
            log.append(record)
            self._order[topic].append(record)
            self.changed.notify_all()
        return record

    def tombstone(self, topic: str, key: bytes | str) -> Record:
        """Append a tombstone (``value=None``) for ``key``."""
        return self.produce(topic, None, key)

    # -- fault injection ------------------------------------------------------------

    def fail_deliveries(
        self, topic: str, count: int = 1, error: str | KafkaError = "broker unavailable"
    ) -> None:
        """The next ``count`` records produced to ``topic`` are not stored; their producers
        report ``error`` to the delivery callback at the next ``poll``/``flush``."""
        with self.lock:
            self._delivery_faults[topic] = [count, _error(error, KafkaError._TRANSPORT)]

    def fail_commits(
        self, count: int = 1, error: str | KafkaError = "coordinator not available"
    ) -> None:
        """The next ``count`` offset commits (any group) raise ``KafkaException(error)``."""
        with self.lock:
            self._commit_faults = [count, _error(error, 15)]

    def raise_on_consume(self, error: BaseException | KafkaError | str) -> None:
        """The next ``consume``/``poll`` of any consumer raises ``error`` (a
        :class:`KafkaError` or text is raised as a fatal ``KafkaException``)."""
        if not isinstance(error, BaseException):
            err = error if isinstance(error, KafkaError) else KafkaError(-150, error, fatal=True)
            error = KafkaException(err)
        with self.lock:
            self._consume_errors.append(error)

    def take_delivery_fault(self, topic: str) -> KafkaError | None:
        """The error of an injected delivery failure for one record of ``topic``, if any."""
        fault = self._delivery_faults.get(topic)
        if not fault or fault[0] <= 0:
            return None
        fault[0] -= 1
        return fault[1]  # type: ignore[no-any-return]

    def raise_injected_consume_error(self) -> None:
        """Raise the pending ``raise_on_consume`` error, once."""
        if self._consume_errors:
            raise self._consume_errors.pop(0)

    # -- groups ---------------------------------------------------------------------

    def group(self, group_id: str) -> _Group:
        """The state of consumer group ``group_id`` (created on first use)."""
        group = self._groups.get(group_id)
        if group is None:
            group = self._groups[group_id] = _Group()
        return group

    def member_id(self) -> int:
        """A new consumer's member id (joining order decides the range assignment)."""
        return next(self._member_ids)

    def join(self, group_id: str, consumer: GroupMember) -> None:
        """``consumer`` joins the group: everyone rebalances at their next consume."""
        with self.lock:
            for topic in consumer.topics:
                self.create_topic(topic)
            group = self.group(group_id)
            group.members.append(consumer)
            group.generation += 1
            group.last_join = time.monotonic()
            self.changed.notify_all()

    def leave(self, group_id: str, consumer: GroupMember) -> None:
        """``consumer`` leaves the group: the others rebalance at their next consume."""
        with self.lock:
            group = self.group(group_id)
            if consumer in group.members:
                group.members.remove(consumer)
                group.generation += 1
                self.changed.notify_all()

    def rebalance(self, group_id: str) -> None:
        """Every member of ``group_id`` is revoked and re-assigned at its next consume."""
        with self.lock:
            self.group(group_id).generation += 1
            self.changed.notify_all()

    def range_assignment(self, group_id: str, consumer: GroupMember) -> list[TP]:
        """``consumer``'s partitions under Kafka's range assignor over the live members."""
        group = self.group(group_id)
        out: list[TP] = []
        for topic in sorted({t for m in group.members for t in m.topics}):
            members = sorted(
                (m for m in group.members if topic in m.topics), key=lambda m: m.member_id
            )
            if consumer not in members:
                continue
            count = len(self._logs[topic])
            share, extra = divmod(count, len(members))
            index = members.index(consumer)
            start = index * share + min(index, extra)
            size = share + (1 if index < extra else 0)
            out.extend((topic, p) for p in range(start, start + size))
        return out

    def commit(self, group_id: str, offsets: Mapping[TP, int]) -> None:
        """Store committed offsets (``KafkaException`` while :meth:`fail_commits` lasts)."""
        with self.lock:
            if self._commit_faults[0] > 0:
                self._commit_faults[0] -= 1
                raise KafkaException(self._commit_faults[1])
            self.group(group_id).committed.update(offsets)

    # -- inspection -----------------------------------------------------------------

    def topics(self) -> list[str]:
        """Every topic created so far."""
        with self.lock:
            return sorted(self._logs)

    def records(self, topic: str) -> list[Record]:
        """Every record of ``topic`` in the order it was produced."""
        with self.lock:
            return list(self._order.get(topic, ()))

    def committed(self, group_id: str, topic: str) -> dict[int, int]:
        """``{partition: committed offset}`` of ``group_id`` on ``topic``."""
        with self.lock:
            group = self._groups.get(group_id)
            if group is None:
                return {}
            return {p: o for (t, p), o in sorted(group.committed.items()) if t == topic}

    def lag(self, group_id: str, topic: str) -> int:
        """Records of ``topic`` not yet committed by ``group_id``, over all partitions."""
        with self.lock:
            committed = self.committed(group_id, topic)
            logs = self._logs.get(topic, [])
            return sum(len(log) - committed.get(p, 0) for p, log in enumerate(logs))

    def drained(self, group_id: str) -> bool:
        """Whether ``group_id`` has members, every partition of their topics is assigned,
        and every member's last consume returned no record with its partitions read to the
        end (what "idle" means to ``FlowHarness.run``)."""
        with self.lock:
            group = self._groups.get(group_id)
            if group is None or not group.members:
                return False
            topics = {t for m in group.members for t in m.topics}
            owned = 0
            for member in group.members:
                if not member.settled(group.generation):
                    return False
                owned += len(member.owned)
            return owned == sum(len(self._logs[t]) for t in topics)
