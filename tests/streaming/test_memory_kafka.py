"""The in-memory Kafka transport on its own (spec §8.2): topics, partitioning, groups,
commits, rebalances, fault injection and inspection, through the client calls the runtime
makes."""

from __future__ import annotations

import threading

import pytest

from loom_django.streaming._murmur2 import murmur2, partition_for
from loom_django.streaming.memory import InMemoryKafka, KafkaError, KafkaException, TopicPartition

pytestmark = pytest.mark.stream_mem


def _consumer(kafka, group="g", topics=("t",), **config):
    consumer = kafka.clients().consumer(
        {"group.id": group, "auto.offset.reset": "earliest", **config}
    )
    calls = []
    consumer.subscribe(
        list(topics),
        on_assign=lambda c, tps: calls.append(
            ("assign", sorted((t.topic, t.partition) for t in tps))
        ),
        on_revoke=lambda c, tps: calls.append(
            ("revoke", sorted((t.topic, t.partition) for t in tps))
        ),
    )
    return consumer, calls


def _values(messages):
    return [m.value() for m in messages if m.error() is None]


def test_murmur2_matches_the_java_client_vectors():
    # Kafka's UtilsTest.testMurmur2 vectors.
    assert murmur2(b"21") == -973932308
    assert murmur2(b"foobar") == -790332482
    assert murmur2(b"a-little-bit-long-string") == -985981536
    assert murmur2(b"a-little-bit-longer-string") == -1486304829
    assert murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971
    assert murmur2(b"abc") == 479470107


def test_a_topic_is_created_on_first_use_with_four_partitions():
    kafka = InMemoryKafka()
    kafka.produce("orders", b"v")
    assert kafka.partitions("orders") == 4
    assert kafka.partitions("new-topic") == 4


def test_a_keyed_record_goes_to_murmur2_of_its_key_modulo_partitions():
    kafka = InMemoryKafka()
    for key in (b"tenant-a", b"tenant-b", b"order-123", "text-key"):
        raw = key.encode() if isinstance(key, str) else key
        assert kafka.produce("t", b"v", key).partition == partition_for(raw, 4)


def test_keyless_records_go_round_robin_and_offsets_start_at_zero():
    kafka = InMemoryKafka()
    placed = [(r.partition, r.offset) for r in (kafka.produce("t", b"v") for _ in range(6))]
    assert placed == [(0, 0), (1, 0), (2, 0), (3, 0), (0, 1), (1, 1)]


def test_records_keep_headers_and_the_given_timestamp_else_now():
    kafka = InMemoryKafka()
    given = kafka.produce("t", b"v", headers={"h": b"1"}, timestamp_ms=10)
    now = kafka.produce("t", b"v", headers=[("a", "x")])
    assert given.headers == (("h", b"1"),)
    assert given.timestamp_ms == 10
    assert now.headers == (("a", b"x"),)
    assert now.timestamp_ms > 1_600_000_000_000


def test_records_lists_a_topic_in_produce_order():
    kafka = InMemoryKafka()
    for i in range(5):
        kafka.produce("t", str(i), key=f"k{i}")
    assert [r.value for r in kafka.records("t")] == [b"0", b"1", b"2", b"3", b"4"]
    assert kafka.records("unknown") == []


def test_a_consumer_reads_its_partitions_in_offset_order():
    kafka = InMemoryKafka(join_delay_s=0)
    for i in range(4):
        kafka.produce("t", str(i).encode(), key=b"same")
    consumer, calls = _consumer(kafka)
    assert _values(consumer.consume(10, 1)) == [b"0", b"1", b"2", b"3"]
    assert calls == [("assign", [("t", 0), ("t", 1), ("t", 2), ("t", 3)])]


def test_consume_returns_at_most_the_requested_count():
    kafka = InMemoryKafka(join_delay_s=0)
    for _ in range(10):
        kafka.produce("t", b"v", key=b"k")
    consumer, _ = _consumer(kafka)
    assert len(consumer.consume(3, 1)) == 3


def test_consume_waits_for_a_record_produced_by_another_thread():
    kafka = InMemoryKafka(join_delay_s=0)
    consumer, _ = _consumer(kafka)
    assert consumer.consume(1, 0) == []
    threading.Timer(0.05, kafka.produce, ("t", b"late")).start()
    assert _values(consumer.consume(1, 5)) == [b"late"]


def test_partition_eof_is_reported_once_per_drained_partition_when_enabled():
    kafka = InMemoryKafka(join_delay_s=0)
    kafka.produce("t", b"v", partition=2)
    consumer, _ = _consumer(kafka, **{"enable.partition.eof": True})
    events = consumer.consume(10, 0) + consumer.consume(10, 0)
    eofs = [m for m in events if m.error() is not None]
    assert sorted(m.partition() for m in eofs) == [0, 1, 2, 3]
    assert all(m.error().code() == KafkaError._PARTITION_EOF for m in eofs)
    assert consumer.consume(10, 0) == []


def test_a_group_splits_partitions_by_range_over_its_live_consumers():
    kafka = InMemoryKafka(join_delay_s=0)
    first, _ = _consumer(kafka)
    second, _ = _consumer(kafka)
    first.consume(1, 0)
    second.consume(1, 0)
    owned = [sorted((t.topic, t.partition) for t in c.assignment()) for c in (first, second)]
    assert owned == [[("t", 0), ("t", 1)], [("t", 2), ("t", 3)]]


def test_a_consumer_leaving_hands_its_partitions_to_the_others():
    kafka = InMemoryKafka(join_delay_s=0)
    first, calls = _consumer(kafka)
    second, _ = _consumer(kafka)
    first.consume(1, 0)
    second.consume(1, 0)
    second.close()
    first.consume(1, 0)
    assert calls[-2:] == [
        ("revoke", [("t", 0), ("t", 1)]),
        ("assign", [("t", i) for i in range(4)]),
    ]


def test_rebalance_revokes_and_reassigns_at_the_next_consume():
    kafka = InMemoryKafka(join_delay_s=0)
    consumer, calls = _consumer(kafka)
    consumer.consume(1, 0)
    kafka.rebalance("g")
    assert len(calls) == 1
    consumer.consume(1, 0)
    assert [c[0] for c in calls] == ["assign", "revoke", "assign"]


def test_a_new_group_waits_for_the_join_delay_before_assigning():
    kafka = InMemoryKafka(join_delay_s=0.2)
    consumer, calls = _consumer(kafka)
    assert consumer.consume(1, 0) == []
    assert calls == []
    consumer.consume(1, 1)
    assert calls and calls[0][0] == "assign"


def test_commits_are_kept_per_group_and_a_new_member_starts_from_them():
    kafka = InMemoryKafka(join_delay_s=0)
    for i in range(3):
        kafka.produce("t", str(i).encode(), key=b"k")
    p = partition_for(b"k", 4)
    consumer, _ = _consumer(kafka, **{"enable.auto.commit": False})
    consumer.consume(1, 1)
    consumer.commit(offsets=[TopicPartition("t", p, 1)], asynchronous=False)
    consumer.close()
    assert kafka.committed("g", "t") == {p: 1}
    assert kafka.committed("other", "t") == {}
    again, _ = _consumer(kafka, **{"enable.auto.commit": False})
    assert _values(again.consume(10, 1)) == [b"1", b"2"]
    assert again.committed([TopicPartition("t", p)])[0].offset == 1


def test_auto_commit_commits_consumed_positions():
    kafka = InMemoryKafka(join_delay_s=0)
    kafka.produce("t", b"v", partition=0)
    consumer, _ = _consumer(kafka)
    consumer.consume(10, 1)
    consumer.close()
    assert kafka.committed("g", "t")[0] == 1


def test_lag_counts_records_not_yet_committed():
    kafka = InMemoryKafka(join_delay_s=0)
    for _ in range(5):
        kafka.produce("t", b"v", partition=1)
    kafka.commit("g", {("t", 1): 2})
    assert kafka.lag("g", "t") == 3


def test_a_paused_partition_is_not_fetched_until_resumed():
    kafka = InMemoryKafka(join_delay_s=0)
    consumer, _ = _consumer(kafka)
    consumer.consume(1, 0)
    consumer.pause(consumer.assignment())
    kafka.produce("t", b"v")
    assert consumer.consume(10, 0) == []
    consumer.resume(consumer.assignment())
    assert _values(consumer.consume(10, 0)) == [b"v"]


def test_producer_stores_records_and_reports_deliveries_on_flush():
    kafka = InMemoryKafka()
    reports = []
    producer = kafka.clients().producer({"on_delivery": lambda err, msg: reports.append(err)})
    producer.produce("out", b"v", b"k", headers=[("h", b"1")], timestamp=42)
    assert len(producer) == 1
    assert producer.flush(1) == 0
    assert reports == [None]
    [record] = kafka.records("out")
    assert (record.key, record.value, record.headers, record.timestamp_ms) == (
        b"k",
        b"v",
        (("h", b"1"),),
        42,
    )


def test_fail_deliveries_fails_the_next_records_of_a_topic_only():
    kafka = InMemoryKafka()
    errors = []
    producer = kafka.clients().producer(
        {
            "on_delivery": lambda err, msg: errors.append((err, msg.topic())),
            "delivery.report.only.error": True,
        }
    )
    kafka.fail_deliveries("out", 2, "broker unavailable")
    for _ in range(3):
        producer.produce("out", b"v")
    producer.produce("other", b"v")
    producer.flush(1)
    assert [(e.str(), t) for e, t in errors] == [("broker unavailable", "out")] * 2
    assert len(kafka.records("out")) == 1
    assert len(kafka.records("other")) == 1


def test_fail_commits_raises_for_the_next_commits_then_recovers():
    kafka = InMemoryKafka(join_delay_s=0)
    consumer, _ = _consumer(kafka, **{"enable.auto.commit": False})
    kafka.fail_commits(1, "coordinator not available")
    with pytest.raises(KafkaException) as info:
        consumer.commit(offsets=[TopicPartition("t", 0, 1)], asynchronous=False)
    assert info.value.args[0].str() == "coordinator not available"
    consumer.commit(offsets=[TopicPartition("t", 0, 1)], asynchronous=False)
    assert kafka.committed("g", "t") == {0: 1}


def test_raise_on_consume_raises_once_at_the_next_consume():
    kafka = InMemoryKafka(join_delay_s=0)
    consumer, _ = _consumer(kafka)
    kafka.raise_on_consume("broker gone")
    with pytest.raises(KafkaException) as info:
        consumer.consume(1, 0)
    assert info.value.args[0].fatal()
    assert consumer.consume(1, 0) == []


def test_tombstone_writes_a_record_without_value():
    kafka = InMemoryKafka()
    record = kafka.tombstone("t", "k")
    assert (record.key, record.value) == (b"k", None)


def test_a_closed_consumer_refuses_to_consume():
    kafka = InMemoryKafka(join_delay_s=0)
    consumer, _ = _consumer(kafka)
    consumer.close()
    with pytest.raises(RuntimeError, match="closed"):
        consumer.consume(1, 0)


def test_bad_input_is_refused_with_a_named_error():
    kafka = InMemoryKafka()
    with pytest.raises(TypeError, match="value"):
        kafka.produce("t", 12)
    with pytest.raises(ValueError, match="no partition 9"):
        kafka.produce("t", b"v", partition=9)
    with pytest.raises(ValueError, match="group.id"):
        kafka.clients().consumer({})
    with pytest.raises(ValueError, match="partitions"):
        InMemoryKafka(partitions=0)


def test_two_threads_producing_and_consuming_lose_nothing():
    kafka = InMemoryKafka(join_delay_s=0)
    consumers = [_consumer(kafka)[0] for _ in range(2)]
    seen: list[bytes] = []
    lock = threading.Lock()

    def produce():
        producer = kafka.clients().producer({})
        for i in range(500):
            producer.produce("t", str(i).encode(), str(i % 7).encode())

    def consume(consumer):
        while True:
            batch = _values(consumer.consume(50, 0.3))
            if not batch:
                return
            with lock:
                seen.extend(batch)

    threads = [threading.Thread(target=produce)] + [
        threading.Thread(target=consume, args=(c,)) for c in consumers
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(seen, key=int) == [str(i).encode() for i in range(500)]
