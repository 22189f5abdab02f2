"""Stream use cases and ``IntoModel`` against the same database work written by hand, in the
same run (spec §9.2 W2-W5 without the broker: the engine's ``process`` is called directly).

Every DB variant writes one ``jobs_records`` row per message. B0 is the hand-written form: one
``Model.objects.create`` inside ``transaction.atomic()`` per message. The others run
``InvokeUseCase(CreateRecordUseCase, ...)`` through ``FlowEngine.process`` (decode of the
msgpack envelope, the use case in its transaction, the output message built but not
produced):

* W2 ``inline``: micro-batches of ``--batch``; one transaction per message.
* W3 ``bridged, per message``: ``mode="bridged"`` fed one message per micro-batch, so every
  execution pays its own ``async_to_sync`` (the per-message bridge of spec §7.3).
* W4 ``bridged, batched``: ``CollectBatch(--batch, 50)`` + ``With(InvokeUseCase(mode=
  "bridged"), IntoTopic)``: one ``async_to_sync`` per batch, one transaction per message.
* ``inline, transaction=batch``: one transaction per micro-batch.
* ``inline+idempotency`` and ``IntoModel`` (one ``bulk_create`` per micro-batch).

W5 (no database): ``WithAsync(max_concurrency=50)`` over a step awaiting
``anyio.sleep(0.005)``, micro-batches of ``--batch``; the bound is 50 / 5 ms = 10 k msg/s.

Prints messages/s (median of ``--rounds``, with the range), the ratio to B0, and the P6/P7
verdicts (P6: W3 >= 1,000 exec/s on its one lane and >= 0.1 x B0, W4 >= 2 x W3; P7: W5 >=
6 k msg/s).

    python bench/streaming_db.py [--database-url sqlite://:memory:] [--messages 2000]
                                 [--batch 500] [--rounds 3]

Caveats: a shared 2-core machine; the database runs on it too (loopback PostgreSQL or
SQLite); compare ratios within one run only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _configure(url: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()


def _records(payloads: list[Any], offset: int) -> list[Any]:
    from loom_django.streaming._runtime import RawRecord
    from loom_django.streaming.testing import envelope_bytes
    from loom_django.streaming.tracker import AckTracker

    tracker = AckTracker()
    return [
        RawRecord(
            envelope_bytes(p),
            None,
            {},
            "in",
            0,
            offset + i,
            None,
            tracker.register("in", 0, offset + i),
        )
        for i, p in enumerate(payloads)
    ]


def _engine(*nodes: Any) -> Any:
    from loom_django.runtime import get_runtime
    from loom_django.streaming import FromTopic, IntoTopic, Process, StreamFlow, compile_flow
    from loom_django.streaming._runtime import FlowEngine
    from loom_django.streaming.model_sink import IntoModel
    from loom_django.streaming.nodes import With
    from tests.streaming.flows import kafka_config
    from tests.streaming.usecases import NameRequested

    if not isinstance(nodes[-1], IntoModel | With):
        nodes = (*nodes, IntoTopic("out"))
    flow = StreamFlow(
        f"bench-{uuid.uuid4().hex[:6]}", FromTopic("in", payload=NameRequested), Process(*nodes)
    )
    return FlowEngine(
        compile_flow(flow, config=kafka_config(), compiler=get_runtime().compiler),
        runtime_provider=get_runtime,
    )


_ENGINES: list[Any] = []


def _feeder(engine: Any, batch: int) -> Callable[[list[str]], None]:
    """Feeds names to ``engine`` in micro-batches of ``batch`` messages."""
    from tests.streaming.usecases import NameRequested

    _ENGINES.append(engine)  # closed at the end (the async bridge's thread)

    offset = [0]

    def run(names: list[str]) -> None:
        for start in range(0, len(names), batch):
            chunk = [NameRequested(name=n) for n in names[start : start + batch]]
            engine.process(_records(chunk, offset[0]))
            offset[0] += len(chunk)

    return run


def _variants(batch: int) -> dict[str, Callable[[list[str]], None]]:
    from django.db import transaction

    from loom_django.orm.mapping import django_model_for
    from loom_django.streaming import CollectBatch, IntoTopic, InvokeUseCase, Process, With
    from loom_django.streaming.model_sink import IntoModel
    from tests.jobsapp.models import JobRecord
    from tests.jobsapp.use_cases import CreateRecordUseCase

    model = django_model_for(JobRecord)

    def hand_written(names: list[str]) -> None:
        for name in names:
            with transaction.atomic():
                model.objects.create(name=name)

    def invoke(**options: Any) -> Any:
        return InvokeUseCase(
            CreateRecordUseCase, command=lambda m: {"name": m.payload.name}, **options
        )

    w4 = (
        CollectBatch(max_records=batch, timeout_ms=50),
        With(process=Process(invoke(mode="bridged"), IntoTopic("out"))),
    )
    return {
        "B0 hand-written": hand_written,
        "W2 inline": _feeder(_engine(invoke(mode="inline")), batch),
        "W3 bridged, per message": _feeder(_engine(invoke(mode="bridged")), 1),
        "W4 bridged, batched": _feeder(_engine(*w4), batch),
        "inline, transaction=batch": _feeder(
            _engine(invoke(mode="inline", transaction="batch")), batch
        ),
        "inline+idempotency": _feeder(_engine(invoke(mode="inline", idempotency="message")), batch),
        "IntoModel": _feeder(_engine(IntoModel(model)), batch),
    }


def _w5(batch: int) -> Callable[[list[str]], None]:
    """W5: 50 concurrent tasks each awaiting 5 ms, no database."""
    import anyio

    from loom_django.streaming import IntoTopic, Message, Process, RecordStep, WithAsync
    from tests.streaming.usecases import NameRequested

    class Wait5ms(RecordStep[NameRequested, NameRequested]):
        async def execute(self, message: Message[NameRequested]) -> NameRequested:
            await anyio.sleep(0.005)
            return message.payload

    node = WithAsync(max_concurrency=50, process=Process(Wait5ms(), IntoTopic("out")))
    return _feeder(_engine(node), batch)


def _rounds(
    variants: dict[str, Callable[[list[str]], None]], messages: int, rounds: int
) -> dict[str, list[float]]:
    """msg/s per variant and round, variants interleaved within each round (round 0 warms
    up and is dropped)."""
    results: dict[str, list[float]] = {name: [] for name in variants}
    for round_no in range(rounds + 1):
        for name, fn in variants.items():
            names = [f"{name[:3]}-{round_no}-{i}" for i in range(messages)]
            start = time.perf_counter()
            fn(names)
            elapsed = time.perf_counter() - start
            if round_no:
                results[name].append(messages / elapsed)
    return results


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="sqlite://:memory:")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    _configure(args.database_url)
    import logging

    from django.db import connection

    logging.disable(logging.WARNING)
    creation = connection.creation
    old_name = connection.settings_dict["NAME"]
    creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        variants = _variants(args.batch)
        variants["W5 WithAsync, 50 x 5 ms"] = _w5(args.batch)
        results = _rounds(variants, args.messages, args.rounds)
        print(
            f"stream DB work on {connection.vendor}: {args.messages} messages per variant, "
            f"micro-batches of {args.batch}, median (min-max) of {args.rounds} rounds"
        )
        base = statistics.median(results["B0 hand-written"])
        rate = {name: statistics.median(rates) for name, rates in results.items()}
        for name, rates in results.items():
            spread = f"({min(rates):.0f}-{max(rates):.0f})"
            print(f"{name:<28}{rate[name]:>9.0f} msg/s {spread:<15}{rate[name] / base:>7.2f}x B0")
        w3, w4 = rate["W3 bridged, per message"], rate["W4 bridged, batched"]
        w5 = rate["W5 WithAsync, 50 x 5 ms"]
        print(f"P6 W3 >= 1,000 exec/s per lane: {w3:.0f} ({_verdict(w3 >= 1000)})")
        print(f"P6 W3 >= 0.1 x B0: {w3 / base:.2f}x ({_verdict(w3 >= 0.1 * base)})")
        print(f"P6 W4 >= 2 x W3: {w4 / w3:.2f}x ({_verdict(w4 >= 2 * w3)})")
        print(f"P7 W5 >= 6,000 msg/s: {w5:.0f} ({_verdict(w5 >= 6000)})")
    finally:
        for engine in _ENGINES:
            engine.close()
        creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
