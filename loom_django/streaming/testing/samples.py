"""Sample records for stream tests: loom envelopes as bytes, and librdkafka's in-process mock
cluster with helpers to produce to it and read a topic back (the K tier)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from loom_django.extras import require
from loom_django.streaming.codecs import (
    MessageDescriptor,
    MessageEnvelope,
    MessageMetadata,
    codec_for,
)
from loom_django.streaming.messages import message_type_of

__all__ = ["create_topics", "envelope_bytes", "read_topic", "send", "start_mock_cluster"]


def start_mock_cluster(brokers: int = 1) -> tuple[Any, str]:
    """Start librdkafka's mock cluster; returns ``(owner, "host:port")``.

    Keep ``owner`` referenced: the cluster lives inside it. Topics auto-create with 4
    partitions on first use.
    """
    confluent = require("confluent_kafka", extra="stream")
    owner = confluent.Producer({"test.mock.num.brokers": brokers, "log_level": 0})
    meta = owner.list_topics(timeout=10)
    bootstrap = ",".join(f"{b.host}:{b.port}" for b in meta.brokers.values())
    return owner, bootstrap


def create_topics(client: Any, topics: list[str] | tuple[str, ...]) -> None:
    """Make sure ``topics`` exist: a metadata request auto-creates them (4 partitions) on the
    mock cluster, so a consumer that subscribes first is assigned at once."""
    for topic in topics:
        client.list_topics(topic, timeout=10)


def envelope_bytes(payload: Any, *, codec: str = "msgpack", **meta: Any) -> bytes:
    """``payload`` wrapped in a loom envelope and encoded with ``codec``."""
    cls = type(payload)
    envelope = MessageEnvelope(
        meta=MessageMetadata(
            descriptor=MessageDescriptor(message_type=message_type_of(cls)), **meta
        ),
        payload=payload,
    )
    return codec_for(codec).encode(envelope)


def send(
    bootstrap: str,
    topic: str,
    payloads: Iterable[Any],
    *,
    key: bytes | str | None = None,
    codec: str = "msgpack",
) -> int:
    """Produce each payload (as an envelope, or raw ``bytes``) to ``topic``; returns the count."""
    confluent = require("confluent_kafka", extra="stream")
    producer = confluent.Producer({"bootstrap.servers": bootstrap, "log_level": 0})
    delivered = [0]

    def on_delivery(err: Any, msg: Any) -> None:
        if err is None:
            delivered[0] += 1

    sent = 0
    for item in payloads:
        value = item if isinstance(item, bytes) else envelope_bytes(item, codec=codec)
        producer.produce(topic, value, key, on_delivery=on_delivery)
        sent += 1
    producer.flush(30)
    if delivered[0] != sent:
        raise RuntimeError(f"only {delivered[0]} of {sent} records delivered to {topic}")
    return sent


def read_topic(bootstrap: str, topic: str, *, expected: int, timeout_s: float = 20.0) -> list[Any]:
    """Up to ``expected`` raw confluent messages of ``topic``, read from the beginning of every
    partition (assigned, no group join), within ``timeout_s``."""
    confluent = require("confluent_kafka", extra="stream")
    consumer = confluent.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    deadline = time.monotonic() + timeout_s
    partitions: list[int] = []
    while not partitions and time.monotonic() < deadline:
        meta = consumer.list_topics(topic, timeout=5).topics.get(topic)
        if meta is not None and meta.error is None:
            partitions = sorted(meta.partitions)
        else:
            time.sleep(0.2)
    consumer.assign(
        [confluent.TopicPartition(topic, p, confluent.OFFSET_BEGINNING) for p in partitions]
    )
    out: list[Any] = []
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.2):
                if msg.error() is None:
                    out.append(msg)
    finally:
        consumer.close()
    return out
