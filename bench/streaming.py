"""Streaming door throughput (spec §9.2 W1, targets §9.3 P1-P4) on librdkafka's in-process
mock cluster, every variant in the same run.

Workload W1: pre-filled topic, 4 partitions, 64 keys, msgpack envelopes; decode → pure record
step → encode → produce. Variants, each on its own identically pre-filled topic with a fresh
group, in round-robin order:

* ``B0``: hand-written confluent-kafka loop (consume(500) → decode → transform → encode →
  produce → flush → sync commit per batch);
* ``B1``: the same logic as a plain Bytewax flow (group ``DynamicSource`` → map decode → map
  transform → map encode → producer sink flushing per batch), writing a bare envelope;
* ``B1-wire``: B1 writing the record ours writes (new trace id per hop, causation id, event
  time kept, lineage and content-type headers, Kafka timestamp; spec §3.1);
* ``ours``: ``FromTopic`` → ``RecordStep`` → ``IntoTopic`` through ``StreamingRunner``,
  ``commit_mode=after_sink``, ``poll_timeout_ms=100``, 1 worker;
* ``ours-auto`` (P3), ``ours-poll1000`` (P2), ``ours-2w`` (P4): one setting changed;
* ``ours-lean``: ``IntoTopic(lineage_headers=False)`` (the envelope alone carries the
  lineage), the record B1 writes plus the new trace and causation ids;
* ``ours-gc700``: ``streaming.runtime.gc_threshold: null`` (Python's collector threshold).

Issue 9's gate names a use case: "decode → use case without DB → encode". ``B1-uc`` and
``ours-uc`` replace the pure transform with ``PriceOrderUseCase`` (an ``Input`` command, no
repository call, ``read_only``) run by the engine over an in-memory runtime:

* ``B1-uc``: the B1 flow whose transform map calls the use case through the runtime's
  synchronous entry (``runtime.invoke_sync``), writing B1's bare envelope;
* ``B1-uc-wire``: the same, writing the record ours writes (as ``B1-wire``);
* ``ours-uc``: ``FromTopic`` → ``InvokeUseCase(PriceOrderUseCase, mode="inline")`` →
  ``IntoTopic``; ``ours-uc-lean`` with ``IntoTopic(lineage_headers=False)``.

Timing starts at the first consumed record (the ~3 s group join is excluded) and stops when
the last record was written (and, for ours, completed). Prints msgs/s per variant (median of
``--rounds``), the ratios and the P1-P4 verdicts.

    python bench/streaming.py [--records 30000] [--rounds 3] [--variants ours,B1,...]

Caveats: the mock cluster runs in this process and shares the CPU with the clients, so
absolute figures are lower than against a real broker; the machine has 2 shared cores;
compare ratios only. The mock cluster stops serving a partition after ~20 k records, so keep
``--records`` at or below 60,000.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from random import getrandbits
from typing import Any, NamedTuple

import msgspec
from confluent_kafka import Consumer, Producer

from loom_django.core.command import Command
from loom_django.core.model import BaseModel, ColumnField
from loom_django.core.use_case import Input, UseCase
from loom_django.streaming import (
    FromTopic,
    IntoTopic,
    InvokeUseCase,
    Process,
    RecordStep,
    StreamFlow,
)
from loom_django.streaming.codecs import (
    MessageDescriptor,
    MessageEnvelope,
    MessageMetadata,
)
from loom_django.streaming.compiler import compile_flow
from loom_django.streaming.runner import StreamingRunner
from loom_django.streaming.settings import PRODUCER_DEFAULTS
from loom_django.streaming.testing import create_topics, envelope_bytes, start_mock_cluster
from loom_django.testing import build_test_runtime


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


class BenchOrder(BaseModel):
    """The use case's model (its repository is never called)."""

    __tablename__ = "bench_stream_orders"

    id: int = ColumnField(primary_key=True, autoincrement=True)


class PriceCommand(Command, frozen=True):
    order_id: str
    customer: str
    amount: int
    currency: str = "EUR"


class PriceOrderUseCase(UseCase[BenchOrder, Priced]):
    """W1's transform as a use case that touches no database."""

    read_only = True

    async def execute(self, cmd: PriceCommand = Input()) -> Priced:
        return Priced(order_id=cmd.order_id, customer=cmd.customer, total_cents=cmd.amount * 100)


_RUNTIME: list[Any] = []


def use_case_runtime() -> Any:
    """One in-memory loom runtime (no Django, no database) for the ``-uc`` variants."""
    if not _RUNTIME:
        _RUNTIME.append(
            build_test_runtime(
                models=[BenchOrder], use_cases=[PriceOrderUseCase], transactional=False
            )
        )
    return _RUNTIME[0]


def price_by_use_case(order: Order) -> Priced:
    """B1-uc's transform: the use case through the runtime's synchronous entry."""
    result: Priced = use_case_runtime().invoke_sync(
        PriceOrderUseCase, payload=msgspec.to_builtins(order)
    )
    return result


class Run(NamedTuple):
    """One measured run: msgs/s, and the process CPU it took per message (every thread: the
    Kafka clients, the in-process mock cluster and Python), which moves less than wall time
    when the shared machine is busy."""

    rate: float
    cpu_us: float

    @classmethod
    def between(cls, n: int, start: tuple[float, float], end: tuple[float, float]) -> Run:
        """The run of ``n`` messages between two :func:`_now` marks."""
        return cls(n / (end[0] - start[0]), (end[1] - start[1]) / n * 1e6)


def _now() -> tuple[float, float]:
    """``(wall, process CPU)`` seconds now."""
    return time.perf_counter(), time.process_time()


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


def run_b0(bootstrap: str, topic: str, n: int) -> Run:
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
    started: tuple[float, float] | None = None
    while done < n:
        batch = consumer.consume(500, 0.1)
        if not batch:
            continue
        if started is None:
            started = _now()
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
    ended = _now()
    consumer.close()
    assert started is not None
    return Run.between(n, started, ended)


def run_b1(
    bootstrap: str,
    topic: str,
    n: int,
    *,
    wire: bool = False,
    logic: Callable[[Order], Priced] = transform,
) -> Run:
    """Plain Bytewax: group DynamicSource (consume(500)) → map decode → map ``logic`` → map
    encode → producer sink flushing per batch. ``wire``: write ours' record (§3.1)."""
    from bytewax import operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.inputs import DynamicSource, StatelessSourcePartition
    from bytewax.outputs import DynamicSink, StatelessSinkPartition
    from bytewax.run import cli_main

    marks: dict[str, tuple[float, float]] = {}
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
                marks["start"] = _now()
            counts["in"] += len(batch)
            if wire:
                return [
                    (
                        (m.key(), f"{m.topic()}:{m.partition()}:{m.offset()}", m.timestamp()[1]),
                        m.value(),
                    )
                    for m in batch
                ]
            return [(m.key(), m.value()) for m in batch]

    class Source(DynamicSource[Any]):
        def build(self, step_id: str, worker_index: int, worker_count: int) -> Part:
            return Part()

    class SinkPart(StatelessSinkPartition[Any]):
        def __init__(self) -> None:
            self.producer = Producer({"bootstrap.servers": bootstrap, **SAME_PRODUCER})

        def write_batch(self, items: list[Any]) -> None:
            for key, value, headers, ts in items:
                self.producer.produce(f"{topic}-out", value, key, headers=headers, timestamp=ts)
            self.producer.flush(30)
            counts["out"] += len(items)
            if counts["out"] >= n and "end" not in marks:
                marks["end"] = _now()

    class Sink(DynamicSink[Any]):
        def build(self, step_id: str, worker_index: int, worker_count: int) -> SinkPart:
            return SinkPart()

    decoder = msgspec.msgpack.Decoder(MessageEnvelope[Order])
    encoder = msgspec.msgpack.Encoder()

    def encode(pair: tuple[Any, tuple[Any, Priced]]) -> tuple[Any, bytes, Any, int]:
        key, (env, priced) = pair
        out = MessageEnvelope(
            meta=MessageMetadata(
                descriptor=MessageDescriptor(message_type="bench.priced"),
                parent_trace_id=env.meta.trace_id,
            ),
            payload=priced,
        )
        return key, encoder.encode(out), None, 0

    descriptor = MessageDescriptor(message_type="bench.priced")
    content_type = ("content-type", descriptor.content_type.encode())

    def encode_wire(pair: tuple[Any, tuple[Any, Priced]]) -> tuple[Any, bytes, Any, int]:
        (key, coords, ts), (env, priced) = pair
        meta = env.meta
        trace_id = f"{getrandbits(128):032x}"
        parent = meta.trace_id or f"{getrandbits(128):032x}"
        produced = meta.produced_at_ms or ts
        out = MessageEnvelope(
            meta=MessageMetadata(
                descriptor=descriptor,
                trace_id=trace_id,
                parent_trace_id=parent,
                correlation_id=meta.correlation_id,
                causation_id=coords,
                produced_at_ms=produced,
            ),
            payload=priced,
        )
        headers = [
            ("x-trace-id", trace_id.encode()),
            ("x-parent-trace-id", parent.encode()),
            ("x-causation-id", coords.encode()),
            content_type,
        ]
        return key, encoder.encode(out), headers, produced

    flow = Dataflow("b1")
    raw = op.input("in", flow, Source())
    decoded = op.map("decode", raw, lambda kv: (kv[0], decoder.decode(kv[1])))
    priced = op.map("transform", decoded, lambda kv: (kv[0], (kv[1], logic(kv[1].payload))))
    encoded = op.map("encode", priced, encode_wire if wire else encode)
    op.output("out", encoded, Sink())
    cli_main(flow, workers_per_process=1)
    return Run.between(n, marks["start"], marks["end"])


def run_ours(
    bootstrap: str,
    topic: str,
    n: int,
    *,
    commit_mode: str = "after_sink",
    poll_timeout_ms: int = 100,
    workers: int = 1,
    lineage_headers: bool = True,
    gc_threshold: int | None = 50_000,
    use_case: bool = False,
) -> Run:
    """Our flow: FromTopic → Price (RecordStep) → IntoTopic through ``StreamingRunner``;
    ``use_case``: ``InvokeUseCase(PriceOrderUseCase)`` instead of ``Price``."""
    sink = IntoTopic(f"{topic}-out", payload=Priced, lineage_headers=lineage_headers)
    step: Any = InvokeUseCase(PriceOrderUseCase, mode="inline") if use_case else Price
    flow = StreamFlow(
        name=f"bench-{uuid.uuid4().hex[:8]}",
        source=FromTopic(topic, payload=Order),
        process=Process(step, sink),
    )
    config = {
        "kafka": {
            "consumer": {
                "brokers": [bootstrap],
                "poll_timeout_ms": poll_timeout_ms,
                "extra": QUIET,
            },
            "producer": {"brokers": [bootstrap], "extra": QUIET},
        },
        "streaming": {"runtime": {"commit_mode": commit_mode, "gc_threshold": gc_threshold}},
    }
    if not use_case:
        plan = compile_flow(flow, config=config)
        runner = StreamingRunner(plan, brokers=bootstrap, max_messages=n, workers=workers)
        return timed_run(runner, n)
    runtime = use_case_runtime()
    plan = compile_flow(flow, config=config, compiler=runtime.compiler)
    runner = StreamingRunner(
        plan, runtime_provider=lambda: runtime, brokers=bootstrap, max_messages=n, workers=workers
    )
    # No Django here: the use case touches no database, so there are no connections to tend.
    runner.engine.manages_connections = False
    runner.control.close_connections = False
    return timed_run(runner, n)


def run_latency(bootstrap: str, topic: str, rate: int = 1000, seconds: float = 5.0) -> list[float]:
    """P8: end-to-end latency (ms) of W1 at an offered load of ``rate`` msg/s: each input's
    envelope carries its send time; the sample is taken when its output record is delivered
    (after the sink's flush). Sending starts once the flow is assigned its partitions."""
    from loom_django.streaming import _bytewax

    n = int(rate * seconds)
    flow = StreamFlow(
        name=f"lat-{uuid.uuid4().hex[:8]}",
        source=FromTopic(topic, payload=Order),
        process=Process(Price, IntoTopic(f"{topic}-out", payload=Priced)),
    )
    config = {
        "kafka": {
            # The mock broker holds a fetch for fetch.wait.max.ms (500 ms by default) even
            # when records arrive meanwhile, which a real broker does not: p99 would be ~500 ms.
            "consumer": {"brokers": [bootstrap], "extra": {**QUIET, "fetch.wait.max.ms": 5}},
            "producer": {"brokers": [bootstrap], "extra": QUIET},
        }
    }
    runner = StreamingRunner(compile_flow(flow, config=config), brokers=bootstrap, max_messages=n)
    assigned = threading.Event()
    samples: list[float] = []
    on_assign = _bytewax._SourcePartition._on_assign
    write_batch = _bytewax._SinkPartition.write_batch

    def noted_assign(self: Any, consumer: Any, partitions: list[Any]) -> None:
        on_assign(self, consumer, partitions)
        assigned.set()

    def timed_write(self: Any, items: list[Any]) -> None:
        write_batch(self, items)
        now = time.time_ns() / 1e6
        samples.extend(now - emit.message.meta.produced_at_ms for emit in items)

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, **QUIET})
    create_topics(producer, [topic, f"{topic}-out"])

    def send() -> None:
        assigned.wait(60)
        time.sleep(1.0)  # let the group settle
        start = time.perf_counter()
        for i in range(n):
            due = start + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            order = Order(order_id=f"o{i}", customer=f"c{i % 64}", amount=i % 1000)
            value = envelope_bytes(order, produced_at_ms=time.time_ns() // 1_000_000)
            producer.produce(topic, value, f"k{i % 64}".encode())
            producer.poll(0)
        producer.flush(30)

    _bytewax._SourcePartition._on_assign = noted_assign  # type: ignore[method-assign]
    _bytewax._SinkPartition.write_batch = timed_write  # type: ignore[method-assign]
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        runner.run()
    finally:
        _bytewax._SourcePartition._on_assign = on_assign  # type: ignore[method-assign]
        _bytewax._SinkPartition.write_batch = write_batch  # type: ignore[method-assign]
    sender.join(30)
    return samples


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


VARIANTS: dict[str, Callable[[str, str, int], Run]] = {
    "B0": run_b0,
    "B1": run_b1,
    "B1-wire": partial(run_b1, wire=True),
    "ours": run_ours,
    "ours-auto": partial(run_ours, commit_mode="auto"),
    "ours-poll1000": partial(run_ours, poll_timeout_ms=1000),
    "ours-2w": partial(run_ours, workers=2),
    "ours-lean": partial(run_ours, lineage_headers=False),
    "ours-gc700": partial(run_ours, gc_threshold=None),
    "B1-uc": partial(run_b1, logic=price_by_use_case),
    "B1-uc-wire": partial(run_b1, wire=True, logic=price_by_use_case),
    "ours-uc": partial(run_ours, use_case=True),
    "ours-uc-lean": partial(run_ours, use_case=True, lineage_headers=False),
}

TARGETS = (
    ("P1", "ours", "B1", 0.30, "W1 >= 0.30 x B1"),
    ("P2", "ours-poll1000", "ours", 0.9, "W1 at poll 1000 ms >= 0.9 x W1 at 100 ms"),
    ("P3", "ours", "ours-auto", 0.9, "W1 after_sink >= 0.9 x W1 auto"),
    ("P4", "ours-2w", "ours", 0.9, "W1 with 2 workers >= 0.9 x 1 worker"),
    ("gate", "ours", "B1", 0.9, "issue 9: ours >= 0.9 x plain Bytewax"),
    ("gate-wire", "ours", "B1-wire", 0.9, "ours >= 0.9 x Bytewax writing the same record"),
    ("gate-lean", "ours-lean", "B1", 0.9, "lineage_headers=False >= 0.9 x plain Bytewax"),
    ("gc", "ours", "ours-gc700", 1.0, "gc_threshold 50,000 vs Python's 700"),
    ("gate-uc", "ours-uc", "B1-uc", 0.9, "issue 9: use case flow >= 0.9 x plain Bytewax"),
    (
        "gate-uc-lean",
        "ours-uc-lean",
        "B1-uc",
        0.9,
        "use case flow, lineage_headers=False >= 0.9 x plain Bytewax",
    ),
    (
        "gate-uc-wire",
        "ours-uc",
        "B1-uc-wire",
        0.9,
        "use case flow >= 0.9 x Bytewax writing the same record",
    ),
)


def measure(
    records: int,
    rounds: int,
    names: list[str],
    cpu: dict[str, list[float]] | None = None,
) -> dict[str, list[float]]:
    """msgs/s of each variant in ``names``, ``rounds`` times, round-robin on one cluster;
    ``cpu`` (when given) receives each run's process CPU µs per message."""
    owner, bootstrap = start_mock_cluster()
    results: dict[str, list[float]] = {name: [] for name in names}
    for round_no in range(rounds):
        for name in names:
            topic = f"w1-{round_no}-{name.lower()}-{uuid.uuid4().hex[:6]}"
            prefill(bootstrap, topic, records)
            run = VARIANTS[name](bootstrap, topic, records)
            results[name].append(run.rate)
            if cpu is not None:
                cpu.setdefault(name, []).append(run.cpu_us)
            print(
                f"round {round_no + 1} {name:<14} {run.rate:>10,.0f} msg/s "
                f"{run.cpu_us:>6.2f} CPU µs/msg",
                flush=True,
            )
    del owner
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--latency", action="store_true", help="also measure P8 at 1 k msg/s")
    args = parser.parse_args()
    names = [name for name in args.variants.split(",") if name]
    cpu: dict[str, list[float]] = {}
    results = measure(args.records, args.rounds, names, cpu)
    medians = {name: statistics.median(rates) for name, rates in results.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    print(f"\nW1 transform, {args.records:,} records, median of {args.rounds} round(s):")
    for name, rate in medians.items():
        low, high = min(results[name]), max(results[name])
        print(
            f"  {name:<14} {rate:>10,.0f} msg/s  (range {low:,.0f}-{high:,.0f})  "
            f"{cpu_medians[name]:.2f} CPU µs/msg"
        )
    print("  ratio: msgs/s, and CPU per message inverted (the less CPU, the higher)")
    for target, num, den, bound, text in TARGETS:
        if num in medians and den in medians:
            ratio = medians[num] / medians[den]
            by_cpu = cpu_medians[den] / cpu_medians[num]
            verdict = "met" if ratio >= bound else "NOT met"
            print(
                f"  {target:<9} {num}/{den} = {ratio:.2f}x, by CPU {by_cpu:.2f}x  "
                f"({text}: {verdict})"
            )
    if args.latency:
        owner, bootstrap = start_mock_cluster()
        samples = run_latency(bootstrap, f"lat-{uuid.uuid4().hex[:6]}")
        del owner
        p50, p99 = _percentile(samples, 0.50), _percentile(samples, 0.99)
        verdict = "met" if p99 <= 50 else "NOT met"
        print(
            f"  P8        W1 at 1 k msg/s: p50 {p50:.1f} ms, p99 {p99:.1f} ms over "
            f"{len(samples):,} records (p99 <= 50 ms: {verdict})"
        )


def timed_run(runner: StreamingRunner, n: int) -> Run:
    """Run ``runner``; measured from the first decoded batch to the n-th completion."""
    marks: dict[str, tuple[float, float]] = {}
    process = runner.engine.process

    def timed(records: list[Any]) -> list[Any]:
        if records and "start" not in marks:
            marks["start"] = _now()
        return process(records)

    runner.engine.process = timed  # type: ignore[method-assign]
    from loom_django.streaming import _bytewax

    write_batch = _bytewax._SinkPartition.write_batch

    def timed_write(self: Any, items: list[Any]) -> None:
        write_batch(self, items)
        if "end" not in marks and runner.tracker.completed_total >= n:
            marks["end"] = _now()

    _bytewax._SinkPartition.write_batch = timed_write  # type: ignore[method-assign]
    try:
        runner.run()
    finally:
        _bytewax._SinkPartition.write_batch = write_batch  # type: ignore[method-assign]
    return Run.between(n, marks["start"], marks["end"])


if __name__ == "__main__":
    main()
