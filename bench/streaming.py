"""Streaming door throughput: our flow vs a hand-written confluent-kafka loop (B0) and the same
logic as a plain Bytewax flow (B1), on librdkafka's in-process mock cluster, in the same run.

Workload W1 (spec §9.2): pre-filled topic, 4 partitions, 64 keys, msgpack envelopes;
decode → pure record step → encode → produce; commit after sink. Each variant reads its own
identically pre-filled topic with a fresh group. Timing starts at the first consumed record
(so the ~3 s group join is excluded) and stops when the last record was written (B1) or
completed and written (B0, ours). Prints msgs/s per variant (median of ``--rounds``) and
the ratios ours/B1 and ours/B0.

    python bench/streaming.py [--records 30000] [--rounds 3]

Caveats: the mock cluster runs in this process and shares its CPU with the client, so
absolute figures are lower than against a real broker; compare ratios only.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from typing import Any

import msgspec
from confluent_kafka import Consumer, Producer

from loom_django.streaming import FromTopic, IntoTopic, Process, RecordStep, StreamFlow
from loom_django.streaming.codecs import (
    MessageDescriptor,
    MessageEnvelope,
    MessageMetadata,
)
from loom_django.streaming.compiler import compile_flow
from loom_django.streaming.runner import StreamingRunner
from loom_django.streaming.settings import PRODUCER_DEFAULTS
from loom_django.streaming.testing import envelope_bytes, start_mock_cluster


class Order(msgspec.Struct, frozen=True):
    order_id: str
    customer: str
    amount: int
    currency: str = "EUR"


class Priced(msgspec.Struct, frozen=True):
    order_id: str
    customer: str
    total_cents: int


def transform(order: Order) -> Priced:
    return Priced(order_id=order.order_id, customer=order.customer, total_cents=order.amount * 100)


class Price(RecordStep[Order, Priced]):
    def execute(self, message: Any) -> Priced:
        return transform(message.payload)


QUIET = {"log_level": 0}
SAME_PRODUCER = {**PRODUCER_DEFAULTS, **QUIET}
"""Baselines produce with the settings our sinks default to (idempotent, acks=all, ...)."""


def prefill(bootstrap: str, topic: str, n: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **QUIET})
    delivered = [0]

    def on_delivery(err: Any, msg: Any) -> None:
        if err is None:
            delivered[0] += 1

    for i in range(n):
        key = f"k{i % 64}".encode()
        value = envelope_bytes(Order(order_id=f"o{i}", customer=f"c{i % 64}", amount=i % 1000))
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)
    if delivered[0] != n:
        raise RuntimeError(f"pre-fill delivered {delivered[0]} of {n}")


def run_b0(bootstrap: str, topic: str, n: int) -> float:
    """Hand-written loop: consume(500) → decode → transform → encode → produce → flush → commit."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"b0-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **QUIET,
        }
    )
    producer = Producer({"bootstrap.servers": bootstrap, **SAME_PRODUCER})
    decoder = msgspec.msgpack.Decoder(MessageEnvelope[Order])
    encoder = msgspec.msgpack.Encoder()
    consumer.subscribe([topic])
    done = 0
    started = 0.0
    while done < n:
        batch = consumer.consume(500, 0.1)
        if not batch:
            continue
        if not started:
            started = time.perf_counter()
        for msg in batch:
            env = decoder.decode(msg.value())
            out = MessageEnvelope(
                meta=MessageMetadata(
                    descriptor=MessageDescriptor(message_type="bench.priced"),
                    parent_trace_id=env.meta.trace_id,
                ),
                payload=transform(env.payload),
            )
            producer.produce(f"{topic}-out", encoder.encode(out), msg.key())
        producer.flush(30)
        consumer.commit(asynchronous=False)
        done += len(batch)
    elapsed = time.perf_counter() - started
    consumer.close()
    return n / elapsed


def run_b1(bootstrap: str, topic: str, n: int) -> float:
    """Plain Bytewax: group DynamicSource (consume(500)) → map decode → map transform → map
    encode → producer sink flushing per batch."""
    from bytewax import operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.inputs import DynamicSource, StatelessSourcePartition
    from bytewax.outputs import DynamicSink, StatelessSinkPartition
    from bytewax.run import cli_main

    marks: dict[str, float] = {}
    counts = {"in": 0, "out": 0}

    class Part(StatelessSourcePartition[Any]):
        def __init__(self) -> None:
            self.consumer = Consumer(
                {
                    "bootstrap.servers": bootstrap,
                    "group.id": f"b1-{uuid.uuid4().hex}",
                    "auto.offset.reset": "earliest",
                    **QUIET,
                }
            )
            self.consumer.subscribe([topic])

        def next_batch(self) -> list[Any]:
            if counts["in"] >= n:
                self.consumer.close()
                raise StopIteration
            batch = self.consumer.consume(500, 0.1)
            if batch and "start" not in marks:
                marks["start"] = time.perf_counter()
            counts["in"] += len(batch)
            return [(m.key(), m.value()) for m in batch]

    class Source(DynamicSource[Any]):
        def build(self, step_id: str, worker_index: int, worker_count: int) -> Part:
            return Part()

    class SinkPart(StatelessSinkPartition[Any]):
        def __init__(self) -> None:
            self.producer = Producer({"bootstrap.servers": bootstrap, **SAME_PRODUCER})

        def write_batch(self, items: list[Any]) -> None:
            for key, value in items:
                self.producer.produce(f"{topic}-out", value, key)
            self.producer.flush(30)
            counts["out"] += len(items)
            if counts["out"] >= n:
                marks["end"] = time.perf_counter()

    class Sink(DynamicSink[Any]):
        def build(self, step_id: str, worker_index: int, worker_count: int) -> SinkPart:
            return SinkPart()

    decoder = msgspec.msgpack.Decoder(MessageEnvelope[Order])
    encoder = msgspec.msgpack.Encoder()

    def encode(pair: tuple[bytes, tuple[Any, Priced]]) -> tuple[bytes, bytes]:
        key, (env, priced) = pair
        out = MessageEnvelope(
            meta=MessageMetadata(
                descriptor=MessageDescriptor(message_type="bench.priced"),
                parent_trace_id=env.meta.trace_id,
            ),
            payload=priced,
        )
        return key, encoder.encode(out)

    flow = Dataflow("b1")
    raw = op.input("in", flow, Source())
    decoded = op.map("decode", raw, lambda kv: (kv[0], decoder.decode(kv[1])))
    priced = op.map("transform", decoded, lambda kv: (kv[0], (kv[1], transform(kv[1].payload))))
    encoded = op.map("encode", priced, encode)
    op.output("out", encoded, Sink())
    cli_main(flow, workers_per_process=1)
    return n / (marks["end"] - marks["start"])


def run_ours(bootstrap: str, topic: str, n: int) -> float:
    """Our flow: FromTopic → Price (RecordStep) → IntoTopic, commit after sink."""
    flow = StreamFlow(
        name=f"bench-{uuid.uuid4().hex[:8]}",
        source=FromTopic(topic, payload=Order),
        process=Process(Price, IntoTopic(f"{topic}-out", payload=Priced)),
    )
    config = {
        "kafka": {
            "consumer": {"brokers": [bootstrap], "extra": QUIET},
            "producer": {"brokers": [bootstrap], "extra": QUIET},
        }
    }
    plan = compile_flow(flow, config=config)
    runner = StreamingRunner(plan, brokers=bootstrap, max_messages=n)
    marks: dict[str, float] = {}
    process = runner.engine.process

    def timed(records: list[Any]) -> list[Any]:
        if records and "start" not in marks:
            marks["start"] = time.perf_counter()
        return process(records)

    runner.engine.process = timed  # type: ignore[method-assign]

    from loom_django.streaming import _bytewax

    write_batch = _bytewax._SinkPartition.write_batch

    def timed_write(self: Any, items: list[Any]) -> None:
        write_batch(self, items)
        if "end" not in marks and runner.tracker.completed_total >= n:
            marks["end"] = time.perf_counter()

    _bytewax._SinkPartition.write_batch = timed_write  # type: ignore[method-assign]
    try:
        runner.run()
    finally:
        _bytewax._SinkPartition.write_batch = write_batch  # type: ignore[method-assign]
    return n / (marks["end"] - marks["start"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    owner, bootstrap = start_mock_cluster()
    results: dict[str, list[float]] = {"B0 confluent loop": [], "B1 plain Bytewax": [], "ours": []}
    runners = {"B0 confluent loop": run_b0, "B1 plain Bytewax": run_b1, "ours": run_ours}
    for round_no in range(args.rounds):
        for name, fn in runners.items():
            topic = f"w1-{round_no}-{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}"
            prefill(bootstrap, topic, args.records)
            rate = fn(bootstrap, topic, args.records)
            results[name].append(rate)
            print(f"round {round_no + 1} {name:<18} {rate:>10,.0f} msg/s", flush=True)
    medians = {name: statistics.median(rates) for name, rates in results.items()}
    print(f"\nW1 transform, {args.records:,} records, median of {args.rounds} round(s):")
    for name, rate in medians.items():
        print(f"  {name:<18} {rate:>10,.0f} msg/s")
    print(f"  ours / B1 = {medians['ours'] / medians['B1 plain Bytewax']:.2f}x")
    print(f"  ours / B0 = {medians['ours'] / medians['B0 confluent loop']:.2f}x")
    del owner


if __name__ == "__main__":
    main()
