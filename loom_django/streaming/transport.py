"""The Kafka transport seam: which client library builds the runtime's consumers and
producers, chosen once per run (``kafka.transport``: ``confluent`` or ``memory``, spec §8.2).

The source and sink ask this seam for a client once per partition build and then call the
client directly, so the record path pays nothing for the choice. The ``memory`` transport
never imports confluent-kafka (librdkafka).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loom_django.extras import require

__all__ = ["KafkaClients", "confluent_clients"]


@dataclass(frozen=True, slots=True)
class KafkaClients:
    """The client surface the Bytewax source and sink use (confluent-kafka's names).

    Attributes:
        name: ``confluent`` or ``memory`` (for logs).
        consumer: builds a consumer from a librdkafka-style config dict.
        producer: builds a producer from a librdkafka-style config dict.
        topic_partition: ``TopicPartition(topic, partition, offset)``.
        exception: the exception a client raises (``args[0]`` is the error).
        partition_eof: error code of a "partition read to its end" event.
        rebalance_in_progress: error code of a commit refused during a rebalance.
        timestamp_not_available: timestamp type of a record without a timestamp.
    """

    name: str
    consumer: Callable[[dict[str, Any]], Any]
    producer: Callable[[dict[str, Any]], Any]
    topic_partition: Callable[..., Any]
    exception: type[Exception]
    partition_eof: int
    rebalance_in_progress: int
    timestamp_not_available: int


def confluent_clients() -> KafkaClients:
    """confluent-kafka's ``Consumer``/``Producer`` (looked up now, so a test may replace them).

    Raises:
        MissingDependency: confluent-kafka is not installed (extra ``stream``).
    """
    ck = require("confluent_kafka", extra="stream")
    return KafkaClients(
        name="confluent",
        consumer=ck.Consumer,
        producer=ck.Producer,
        topic_partition=ck.TopicPartition,
        exception=ck.KafkaException,
        partition_eof=ck.KafkaError._PARTITION_EOF,
        rebalance_in_progress=ck.KafkaError.REBALANCE_IN_PROGRESS,
        timestamp_not_available=ck.TIMESTAMP_NOT_AVAILABLE,
    )
