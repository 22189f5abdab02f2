"""The K/E-tier fixtures of ``loom_django.streaming.testing.pytest_plugin`` against
librdkafka's mock cluster, and the in-memory partitioner's parity with librdkafka's."""

from __future__ import annotations

import uuid

import pytest

from loom_django.streaming._murmur2 import partition_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_in_memory_keyed_partitions_match_librdkafkas_murmur2(kafka_bootstrap):
    from confluent_kafka import Producer

    topic = f"parity-{uuid.uuid4().hex[:8]}"
    placed: dict[bytes, int] = {}
    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap, "partitioner": "murmur2", "log_level": 0}
    )
    keys = [f"key-{i}".encode() for i in range(40)]
    for key in keys:
        producer.produce(
            topic, b"v", key, on_delivery=lambda err, m: placed.__setitem__(m.key(), m.partition())
        )
    producer.flush(30)
    assert len(placed) == len(keys)
    assert placed == {key: partition_for(key, 4) for key in keys}


def test_loom_stream_process_reports_exit_code_and_stderr(loom_stream_process):
    process = loom_stream_process(
        "no_such_flow", env={"DJANGO_SETTINGS_MODULE": "tests.streaming.e2e_settings"}
    )
    assert process.wait(timeout=60) == 2
    assert "no_such_flow" in process.stderr
