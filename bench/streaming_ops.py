"""Streaming operations targets (spec §9.3): P9 graceful stop, P10 memory over a long run, and
the instruction cost of the record path (tracing off or on, or a use case instead of a step).

    python bench/streaming_ops.py p9 [--rounds 3] [--record-ms 2] [--max-poll-records 100]
    python bench/streaming_ops.py p10 [--messages 1000000] [--topics 16]
    python bench/streaming_ops.py instructions [--batches 20] [--variants off,traced,uc]

* ``p9``: ``manage.py loom_stream run e2e`` (the end-to-end test flow: a step sleeping
  ``--record-ms`` per record) as a subprocess on librdkafka's mock cluster, SIGTERM once it has
  written records, time until the process exited. Target: ≤ ``poll_timeout_ms`` (100 ms) +
  slowest micro-batch (``max_poll_records * record_ms``) + 2 s.
* ``p10``: W1 (decode → record step → encode → produce, commit after sink) over ``--messages``
  records through ``StreamingRunner``, RSS sampled every 0.5 s. The mock cluster runs in a
  child process (its stored records must not count) and serves a partition only up to about
  20 k records, so the input is spread over ``--topics`` topics of 4 partitions. Target: RSS
  growth ≤ 50 MB after warm-up (the first 5 % of the records).
* ``instructions``: callgrind's instruction count per record of ``FlowEngine.process`` plus the
  sink's ``write_batch`` (a producer that does nothing), ``batches`` and ``2 * batches`` batches
  of 500 in separate processes, the difference divided per record, so start-up cancels out.
  ``off`` is the default flow; ``traced`` has OpenTelemetry spans on (the SDK with no exporter);
  ``uc`` runs W1's transform as ``InvokeUseCase(PriceOrderUseCase, mode="inline")`` (no DB).
  Run ``off`` on two checkouts to see what a change costs an untraced flow.

Caveats: the machine is shared; p9 and p10 are wall-clock and RSS figures of one machine,
instruction counts do not move with load.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

QUIET = {"log_level": 0}
BATCH = 500


# -- P9: graceful stop -----------------------------------------------------------------------


def stop_time(
    bootstrap: str, owner: Any, *, record_ms: int = 2, max_poll_records: int = 100
) -> tuple[float, int, str]:
    """Seconds from SIGTERM to the exit of a ``loom_stream run`` busy with records of
    ``record_ms`` each; returns ``(seconds, exit code, stderr)``."""
    from loom_django.streaming.testing import create_topics, read_topic, send
    from tests.streaming.flows import Order

    suffix = uuid.uuid4().hex[:8]
    create_topics(owner, [f"in_{suffix}", f"out_{suffix}"])
    orders = [Order(order_id=f"o{i}", amount=record_ms) for i in range(20 * max_poll_records)]
    send(bootstrap, f"in_{suffix}", orders, key=b"k")
    settings = {
        "kafka.consumer.brokers": f"[{bootstrap}]",
        "kafka.producer.brokers": f"[{bootstrap}]",
        "kafka.consumer.extra.log_level": "0",
        "kafka.producer.extra.log_level": "0",
        "kafka.consumer.max_poll_records": str(max_poll_records),
        "kafka.consumers.e2e_in.topics": f"[in_{suffix}]",
        "kafka.producers.e2e_out.topic": f"out_{suffix}",
        "streaming.flows.e2e.group_id": f"g_{suffix}",
    }
    args = [sys.executable, "-m", "django", "loom_stream", "run", "e2e"]
    for key, value in settings.items():
        args += ["--set", f"{key}={value}"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.streaming.e2e_settings"}
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while len(
            read_topic(bootstrap, f"out_{suffix}", expected=max_poll_records, timeout_s=2)
        ) < (max_poll_records):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"the flow wrote nothing: {proc.communicate()[1][-2000:]}")
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        return time.monotonic() - start, proc.returncode, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def p9_bound(record_ms: int, max_poll_records: int, poll_timeout_ms: int = 100) -> float:
    """The P9 target in seconds: poll timeout + slowest micro-batch + 2 s."""
    return poll_timeout_ms / 1000 + max_poll_records * record_ms / 1000 + 2.0


def main_p9(args: argparse.Namespace) -> None:
    from loom_django.streaming.testing import start_mock_cluster

    owner, bootstrap = start_mock_cluster()
    bound = p9_bound(args.record_ms, args.max_poll_records)
    times = []
    for _ in range(args.rounds):
        seconds, code, err = stop_time(
            bootstrap, owner, record_ms=args.record_ms, max_poll_records=args.max_poll_records
        )
        if code != 0:
            raise SystemExit(f"exit {code}: {err[-2000:]}")
        times.append(seconds)
        print(f"SIGTERM -> exit {seconds:.2f}s (exit 0)")
    print(
        f"P9: median {statistics.median(times):.2f}s, max {max(times):.2f}s, target "
        f"<= {bound:.2f}s -> {'pass' if max(times) <= bound else 'FAIL'}"
    )


# -- P10: memory over a long run -------------------------------------------------------------


def _cluster_child(messages: int, topics: list[str]) -> None:
    """Child process: start the mock cluster, pre-fill ``topics`` round-robin, print the
    bootstrap address, live until stdin closes."""
    from streaming import prefill

    from loom_django.streaming.testing import create_topics, start_mock_cluster

    owner, bootstrap = start_mock_cluster()
    create_topics(owner, topics)
    share, rest = divmod(messages, len(topics))
    for index, topic in enumerate(topics):
        prefill(bootstrap, topic, share + (1 if index < rest else 0))
    print(f"ready {bootstrap}", flush=True)
    sys.stdin.read()


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main_p10(args: argparse.Namespace) -> None:
    from streaming import Order, Price, Priced

    from loom_django.streaming import FromTopic, IntoTopic, Process, StreamFlow
    from loom_django.streaming.compiler import compile_flow
    from loom_django.streaming.runner import StreamingRunner

    suffix = uuid.uuid4().hex[:6]
    topics = [f"p10-{suffix}-{i}" for i in range(args.topics)]
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, __file__, "_cluster", str(args.messages), *topics],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline().split()
    if not line or line[0] != "ready":
        raise SystemExit("the cluster process did not start")
    bootstrap = line[1]
    print(f"pre-filled {args.messages} records in {time.monotonic() - started:.0f}s")
    flow = StreamFlow(
        name=f"p10-{suffix}",
        source=FromTopic("p10", payload=Order),
        process=Process(Price, IntoTopic(f"p10-{suffix}-out", payload=Priced)),
    )
    config = {
        "kafka": {
            "consumer": {"brokers": [bootstrap], "extra": QUIET},
            "consumers": {"p10": {"topics": topics}},
            "producer": {"brokers": [bootstrap], "extra": QUIET},
        }
    }
    plan = compile_flow(flow, config=config)
    runner = StreamingRunner(plan, brokers=bootstrap, max_messages=args.messages)
    samples: list[tuple[float, int, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            samples.append((time.monotonic(), runner.tracker.completed_total, _rss_mb()))

    before = _rss_mb()
    threading.Thread(target=sample, daemon=True).start()
    run_start = time.monotonic()
    try:
        runner.run()
    finally:
        done.set()
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=60)
    seconds = time.monotonic() - run_start
    warm_at = args.messages * 0.05
    warm = next((rss for _, n, rss in samples if n >= warm_at), before)
    end = samples[-1][2] if samples else _rss_mb()
    peak = max((rss for *_, rss in samples), default=end)
    completed = runner.tracker.completed_total
    print(f"completed {completed} records in {seconds:.1f}s ({completed / seconds:,.0f} msg/s)")
    for fraction in (0.05, 0.25, 0.5, 0.75, 1.0):
        rss = next((r for _, n, r in samples if n >= args.messages * fraction), end)
        print(f"  RSS at {fraction:>4.0%}: {rss:7.1f} MB")
    growth = end - warm
    print(
        f"P10: RSS before run {before:.1f} MB, after warm-up {warm:.1f} MB, end {end:.1f} MB, "
        f"peak {peak:.1f} MB; growth after warm-up {growth:+.1f} MB (target <= 50 MB) -> "
        f"{'pass' if growth <= 50 else 'FAIL'}"
    )


# -- instruction cost of the record path -----------------------------------------------------


class _NullProducer:
    def produce(self, *args: Any, **kwargs: Any) -> None:
        pass

    def flush(self, timeout: float = 0) -> int:
        return 0

    def poll(self, timeout: float = 0) -> int:
        return 0


def _record_path(variant: str, batches: int) -> None:
    """Run ``batches`` micro-batches of W1 through the engine and the sink (no broker)."""
    from streaming import Order, Price, Priced, PriceOrderUseCase, use_case_runtime

    from loom_django.streaming import FromTopic, IntoTopic, InvokeUseCase, Process, StreamFlow
    from loom_django.streaming._bytewax import _SinkPartition
    from loom_django.streaming._runtime import FlowEngine, RawRecord
    from loom_django.streaming.compiler import compile_flow
    from loom_django.streaming.testing import envelope_bytes
    from loom_django.streaming.tracker import AckTracker
    from loom_django.streaming.transport import KafkaClients

    with_use_case = variant == "uc"
    step: Any = InvokeUseCase(PriceOrderUseCase, mode="inline") if with_use_case else Price
    flow = StreamFlow(
        name="instr",
        source=FromTopic("in", payload=Order),
        process=Process(step, IntoTopic("out", payload=Priced)),
    )
    config = {
        "kafka": {
            "consumer": {"brokers": ["x:1"], "extra": QUIET},
            "producer": {"brokers": ["x:1"], "extra": QUIET},
        }
    }
    if with_use_case:
        runtime = use_case_runtime()
        plan = compile_flow(flow, config=config, compiler=runtime.compiler)
        engine = FlowEngine(plan, runtime_provider=lambda: runtime)
        engine.manages_connections = False  # no Django: the use case touches no database
    else:
        plan = compile_flow(flow, config=config)
        engine = FlowEngine(plan)
    if variant == "traced":
        from opentelemetry.sdk.trace import TracerProvider

        from loom_django.streaming.tracing import HopTracer

        tracing = HopTracer("instr", tracer_provider=TracerProvider())
        tracing.instrument(engine)
        engine.metrics.tracing = tracing
    clients = KafkaClients(
        name="null",
        consumer=lambda config: None,
        producer=lambda config: _NullProducer(),
        topic_partition=lambda *a: a,
        exception=Exception,
        partition_eof=0,
        rebalance_in_progress=0,
        timestamp_not_available=0,
    )
    sink = _SinkPartition(plan, engine.metrics, None, clients)
    tracker = AckTracker()
    values = [
        envelope_bytes(Order(order_id=f"o{i}", customer=f"c{i % 64}", amount=i))
        for i in range(BATCH)
    ]
    offset = 0
    for _ in range(batches):
        records = []
        for value in values:
            records.append(
                RawRecord(value, b"k", {}, "in", 0, offset, None, tracker.register("in", 0, offset))
            )
            offset += 1
        sink.write_batch(engine.process(records))


def _instructions(variant: str, batches: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "_path",
        variant,
        str(batches),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    match = re.search(r"Collected : (\d+)", done.stderr)
    if match is None:
        raise RuntimeError(f"no callgrind total in: {done.stderr[-500:]}")
    return int(match.group(1))


def main_instructions(args: argparse.Namespace) -> None:
    for variant in args.variants.split(","):
        one = _instructions(variant, args.batches)
        two = _instructions(variant, 2 * args.batches)
        per_record = (two - one) / (args.batches * BATCH)
        print(f"{variant:>7}: {per_record:,.0f} instructions per record")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_cluster":
        _cluster_child(int(sys.argv[2]), sys.argv[3:])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_path":
        _record_path(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p9 = sub.add_parser("p9")
    p9.add_argument("--rounds", type=int, default=3)
    p9.add_argument("--record-ms", type=int, default=2)
    p9.add_argument("--max-poll-records", type=int, default=100)
    p10 = sub.add_parser("p10")
    p10.add_argument("--messages", type=int, default=1_000_000)
    p10.add_argument("--topics", type=int, default=16)
    instructions = sub.add_parser("instructions")
    instructions.add_argument("--batches", type=int, default=20)
    instructions.add_argument("--variants", default="off,traced")
    args = parser.parse_args()
    if args.what == "p9":
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.streaming.e2e_settings")
        django.setup()
        main_p9(args)
    elif args.what == "p10":
        main_p10(args)
    else:
        main_instructions(args)


if __name__ == "__main__":
    main()
