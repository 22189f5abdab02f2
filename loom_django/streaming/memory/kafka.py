"""``InMemoryKafka``: the in-memory broker behind the transport seam, and the process-wide
instance that ``kafka.transport: memory`` uses."""

from __future__ import annotations

import threading

from loom_django.streaming.memory.broker import Broker
from loom_django.streaming.memory.clients import MemoryConsumer, MemoryProducer
from loom_django.streaming.memory.records import (
    TIMESTAMP_NOT_AVAILABLE,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from loom_django.streaming.transport import KafkaClients

__all__ = ["InMemoryKafka", "default_kafka"]


class InMemoryKafka(Broker):
    """A Kafka stand-in for tests: the runtime's source and sink run on it unchanged.

    Args:
        partitions: partitions of a topic created on first use (4, like the mock cluster).
        join_delay_s: a new group hands out its first assignment only after no consumer
            joined for this long, so workers starting together split the partitions at once
            (Kafka's ``group.initial.rebalance.delay.ms``, shortened).
    """

    def clients(self) -> KafkaClients:
        """The transport seam's view of this broker (what the runtime builds clients from)."""
        return KafkaClients(
            name="memory",
            consumer=lambda config: MemoryConsumer(self, config),
            producer=lambda config: MemoryProducer(self, config),
            topic_partition=TopicPartition,
            exception=KafkaException,
            partition_eof=KafkaError._PARTITION_EOF,
            rebalance_in_progress=KafkaError.REBALANCE_IN_PROGRESS,
            timestamp_not_available=TIMESTAMP_NOT_AVAILABLE,
        )


_default: InMemoryKafka | None = None
_default_lock = threading.Lock()


def default_kafka() -> InMemoryKafka:
    """The process-wide broker used when the configuration says ``kafka.transport: memory``
    and no harness injected one."""
    global _default
    with _default_lock:
        if _default is None:
            _default = InMemoryKafka()
        return _default
