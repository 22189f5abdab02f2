"""The in-memory consumer and producer: confluent-kafka's ``Consumer``/``Producer`` calls
that the runtime makes, served by an :class:`~loom_django.streaming.memory.InMemoryKafka`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from loom_django.streaming.memory.records import (
    OFFSET_INVALID,
    KafkaError,
    MemoryMessage,
    Record,
    TopicPartition,
)

if TYPE_CHECKING:
    from loom_django.streaming.memory.broker import Broker

__all__ = ["MemoryConsumer", "MemoryProducer"]

TP = tuple[str, int]
Callback = Callable[[Any, list[TopicPartition]], None] | None


def _flag(config: dict[str, Any], key: str, default: bool) -> bool:
    value = config.get(key, default)
    return value.lower() in ("true", "1") if isinstance(value, str) else bool(value)


class MemoryConsumer:
    """A group consumer: subscribe, ``consume`` in batches, commit, pause and rebalance.

    Rebalances are eager (like librdkafka's range assignor): every owned partition is revoked,
    then the new assignment is handed out; callbacks run inside ``consume``.
    """

    def __init__(self, broker: Broker, config: dict[str, Any]) -> None:
        group_id = config.get("group.id")
        if not group_id:
            raise ValueError("an in-memory consumer needs a 'group.id'")
        self._broker = broker
        self.group_id = str(group_id)
        self.member_id = broker.member_id()
        self.topics: tuple[str, ...] = ()
        self.owned: list[TP] = []
        self._reset = str(config.get("auto.offset.reset", "latest"))
        self._auto_commit = _flag(config, "enable.auto.commit", True)
        self._eof = _flag(config, "enable.partition.eof", False)
        self._on_assign: Callback = None
        self._on_revoke: Callback = None
        self._generation = -1
        self._positions: dict[TP, int] = {}
        self._paused: set[TP] = set()
        self._eof_sent: set[TP] = set()
        self._quiet = False
        self._rotation = 0
        self._closed = False

    # -- group membership -------------------------------------------------------------

    def subscribe(
        self,
        topics: Sequence[str],
        on_assign: Callback = None,
        on_revoke: Callback = None,
        on_lost: Callback = None,
    ) -> None:
        """Join the group for ``topics`` (created on first use); assignment at next consume."""
        self._check_open()
        if self.topics:
            self._broker.leave(self.group_id, self)
        self.topics = tuple(topics)
        self._on_assign, self._on_revoke = on_assign, on_revoke
        self._broker.join(self.group_id, self)

    def settled(self, generation: int) -> bool:
        """Whether this member has the current assignment, returned no record at its last
        consume and has read every owned partition to its end."""
        if self._generation != generation or not self._quiet:
            return False
        broker = self._broker
        return all(self._positions[tp] >= len(broker.log(tp)) for tp in self.owned)

    def _sync_group(self) -> float:
        """Apply a pending rebalance; returns how long to wait for a first assignment."""
        broker = self._broker
        group = broker.group(self.group_id)
        if self._generation == group.generation or not self.topics:
            return 0.0
        if not group.assigned_once:
            wait = group.last_join + broker.join_delay_s - time.monotonic()
            if wait > 0:
                return wait
            group.assigned_once = True
        self._generation = group.generation
        if self.owned:
            if self._on_revoke is not None:
                self._on_revoke(self, [TopicPartition(t, p) for t, p in self.owned])
            if self._auto_commit:
                self._auto_commit_now()
        self.owned = broker.range_assignment(self.group_id, self)
        committed = group.committed
        self._positions = {
            tp: committed.get(tp, 0 if self._reset == "earliest" else len(broker.log(tp)))
            for tp in self.owned
        }
        self._paused.clear()
        self._eof_sent.clear()
        if self._on_assign is not None:
            self._on_assign(self, [TopicPartition(t, p) for t, p in self.owned])
        return 0.0

    # -- consuming --------------------------------------------------------------------

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[MemoryMessage]:
        """Up to ``num_messages`` records (and partition-end events), returned as soon as
        any is available or after ``timeout`` seconds (``-1``: wait indefinitely).

        Raises:
            RuntimeError: the consumer is closed.
            KafkaException: an error injected with ``raise_on_consume``.
        """
        broker = self._broker
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        with broker.lock:
            self._check_open()
            broker.raise_injected_consume_error()
            if self._auto_commit:
                self._auto_commit_now()
            while True:
                wait = self._sync_group()
                batch = self._fetch(num_messages) if not wait else []
                real = sum(1 for m in batch if m.error() is None)
                remaining = None if deadline is None else deadline - time.monotonic()
                if batch or (remaining is not None and remaining <= 0):
                    self._quiet = real == 0 and not wait
                    broker.deliveries += real
                    return batch
                self._quiet = not wait
                if wait:
                    remaining = wait if remaining is None else min(wait, remaining)
                broker.changed.wait(remaining)

    def poll(self, timeout: float | None = None) -> MemoryMessage | None:
        """One record or event, or ``None`` after ``timeout`` seconds."""
        batch = self.consume(1, -1 if timeout is None else timeout)
        return batch[0] if batch else None

    def _fetch(self, limit: int) -> list[MemoryMessage]:
        out: list[MemoryMessage] = []
        owned = self.owned
        count = len(owned)
        self._rotation += 1
        for i in range(count):
            if len(out) >= limit:
                break
            tp = owned[(self._rotation + i) % count]
            if tp in self._paused:
                continue
            log = self._broker.log(tp)
            position = self._positions[tp]
            if position < len(log):
                taken = log[position : position + limit - len(out)]
                out.extend(MemoryMessage(record, tp) for record in taken)
                self._positions[tp] = position + len(taken)
                self._eof_sent.discard(tp)
            elif self._eof and tp not in self._eof_sent:
                eof = KafkaError(KafkaError._PARTITION_EOF, f"{tp[0]} [{tp[1]}] reached end")
                out.append(MemoryMessage(None, tp, eof))
                self._eof_sent.add(tp)
        return out

    def assignment(self) -> list[TopicPartition]:
        """The partitions this consumer owns."""
        return [TopicPartition(t, p) for t, p in self.owned]

    def pause(self, partitions: Iterable[Any]) -> None:
        """Stop fetching from ``partitions`` (membership and assignment are kept)."""
        self._paused.update((tp.topic, tp.partition) for tp in partitions)

    def resume(self, partitions: Iterable[Any]) -> None:
        """Fetch from ``partitions`` again."""
        self._paused.difference_update((tp.topic, tp.partition) for tp in partitions)

    # -- offsets ------------------------------------------------------------------------

    def commit(
        self,
        message: Any = None,
        offsets: Sequence[Any] | None = None,
        asynchronous: bool = True,
    ) -> list[TopicPartition] | None:
        """Commit ``offsets`` (or the current positions) for the group.

        Raises:
            KafkaException: an injected commit failure.
        """
        self._check_open()
        if offsets is None:
            with self._broker.lock:
                chosen = dict(self._positions)
        else:
            chosen = {(tp.topic, tp.partition): tp.offset for tp in offsets}
        self._broker.commit(self.group_id, chosen)
        if asynchronous:
            return None
        return [TopicPartition(t, p, o) for (t, p), o in chosen.items()]

    def committed(
        self, partitions: Sequence[Any], timeout: float | None = None
    ) -> list[TopicPartition]:
        """The group's committed offset of each partition (``-1001`` when none)."""
        with self._broker.lock:
            stored = self._broker.group(self.group_id).committed
            return [
                TopicPartition(
                    tp.topic, tp.partition, stored.get((tp.topic, tp.partition), OFFSET_INVALID)
                )
                for tp in partitions
            ]

    def position(self, partitions: Sequence[Any]) -> list[TopicPartition]:
        """The next offset this consumer reads from each partition."""
        return [
            TopicPartition(
                tp.topic,
                tp.partition,
                self._positions.get((tp.topic, tp.partition), OFFSET_INVALID),
            )
            for tp in partitions
        ]

    def _auto_commit_now(self) -> None:
        if self._positions:
            self._broker.group(self.group_id).committed.update(self._positions)

    def close(self) -> None:
        """Leave the group (auto-commit mode commits the positions first)."""
        if self._closed:
            return
        with self._broker.lock:
            if self._auto_commit:
                self._auto_commit_now()
            self._closed = True
            self._broker.leave(self.group_id, self)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("Consumer closed")


class MemoryProducer:
    """A producer: records are stored at ``produce``; delivery reports (all, or only the
    failed ones with ``delivery.report.only.error``) are served by ``poll``/``flush``."""

    def __init__(self, broker: Broker, config: dict[str, Any]) -> None:
        self._broker = broker
        self._on_delivery = config.get("on_delivery")
        self._only_errors = _flag(config, "delivery.report.only.error", False)
        self._reports: list[tuple[Callable[..., Any], KafkaError | None, MemoryMessage]] = []

    def produce(
        self,
        topic: str,
        value: bytes | str | None = None,
        key: bytes | str | None = None,
        partition: int = -1,
        on_delivery: Callable[..., Any] | None = None,
        timestamp: int = 0,
        headers: Any = None,
        callback: Callable[..., Any] | None = None,
    ) -> None:
        """Store the record (or fail it, when a delivery failure was injected for ``topic``)."""
        broker = self._broker
        with broker.lock:
            fault = broker.take_delivery_fault(topic)
            if fault is None:
                record = broker.produce(
                    topic,
                    value,
                    key,
                    headers=headers,
                    timestamp_ms=timestamp or None,
                    partition=partition,
                )
            else:
                record = Record(topic, max(partition, 0), -1, None, None)
        report = on_delivery or callback or self._on_delivery
        if report is None or (fault is None and self._only_errors):
            return
        message = MemoryMessage(record, (record.topic, record.partition), fault)
        self._reports.append((report, fault, message))

    def poll(self, timeout: float | None = None) -> int:
        """Serve pending delivery reports; returns how many were served."""
        reports, self._reports = self._reports, []
        for report, err, message in reports:
            report(err, message)
        return len(reports)

    def flush(self, timeout: float | None = None) -> int:
        """Serve every delivery report; returns the records still undelivered (always 0)."""
        self.poll(0)
        return 0

    def __len__(self) -> int:
        return len(self._reports)
