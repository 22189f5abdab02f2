"""The in-memory Kafka transport for tests (spec §8.2): no broker, no librdkafka.

Select it with ``kafka: {transport: memory}`` or inject one into
:class:`~loom_django.streaming.testing.FlowHarness`.
"""

from loom_django.streaming.memory.clients import MemoryConsumer, MemoryProducer
from loom_django.streaming.memory.kafka import InMemoryKafka, default_kafka
from loom_django.streaming.memory.records import (
    KafkaError,
    KafkaException,
    MemoryMessage,
    Record,
    TopicPartition,
)

__all__ = [
    "InMemoryKafka",
    "KafkaError",
    "KafkaException",
    "MemoryConsumer",
    "MemoryMessage",
    "MemoryProducer",
    "Record",
    "TopicPartition",
    "default_kafka",
]
