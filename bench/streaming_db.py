"""Stream use cases and ``IntoModel`` against the same database work written by hand, in the
same run (spec §9.2 W2/W3 without the broker: the engine's ``process`` is called directly).

Every variant writes one ``jobs_records`` row per message. B0 is the hand-written form: one
``Model.objects.create`` inside ``transaction.atomic()`` per message. ``inline``,
``bridged`` and ``inline+idempotency`` run ``InvokeUseCase(CreateRecordUseCase, mode=...)``
through ``FlowEngine.process`` in micro-batches (decode of the msgpack envelope, the use
case in its transaction, the output message built but not produced); ``IntoModel`` writes
each micro-batch with one ``bulk_create``. Prints messages/s (median of ``--rounds``) and
the ratio to B0.

    python bench/streaming_db.py [--database-url sqlite://:memory:] [--messages 2000]
                                 [--batch 500] [--rounds 3]

Caveats: a shared 2-core machine; the database runs on it too (loopback PostgreSQL or
SQLite); compare ratios only.
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


def _engine(node: Any) -> Any:
    from loom_django.runtime import get_runtime
    from loom_django.streaming import FromTopic, IntoTopic, Process, StreamFlow, compile_flow
    from loom_django.streaming._runtime import FlowEngine
    from loom_django.streaming.model_sink import IntoModel
    from tests.streaming.flows import kafka_config
    from tests.streaming.usecases import NameRequested

    nodes = (node,) if isinstance(node, IntoModel) else (node, IntoTopic("out"))
    flow = StreamFlow(
        f"bench-{uuid.uuid4().hex[:6]}", FromTopic("in", payload=NameRequested), Process(*nodes)
    )
    return FlowEngine(
        compile_flow(flow, config=kafka_config(), compiler=get_runtime().compiler),
        runtime_provider=get_runtime,
    )


def _variants(batch: int) -> dict[str, Callable[[list[str]], None]]:
    from django.db import transaction

    from loom_django.orm.mapping import django_model_for
    from loom_django.streaming import InvokeUseCase
    from loom_django.streaming.model_sink import IntoModel
    from tests.jobsapp.models import JobRecord
    from tests.jobsapp.use_cases import CreateRecordUseCase
    from tests.streaming.usecases import NameRequested

    model = django_model_for(JobRecord)

    def hand_written(names: list[str]) -> None:
        for name in names:
            with transaction.atomic():
                model.objects.create(name=name)

    def through(node: Any) -> Callable[[list[str]], None]:
        engine = _engine(node)
        offset = [0]

        def run(names: list[str]) -> None:
            for start in range(0, len(names), batch):
                chunk = [NameRequested(name=n) for n in names[start : start + batch]]
                engine.process(_records(chunk, offset[0]))
                offset[0] += len(chunk)

        return run

    def invoke(**options: Any) -> Any:
        return InvokeUseCase(
            CreateRecordUseCase, command=lambda m: {"name": m.payload.name}, **options
        )

    return {
        "B0 hand-written": hand_written,
        "inline": through(invoke(mode="inline")),
        "bridged": through(invoke(mode="bridged")),
        "inline+idempotency": through(invoke(mode="inline", idempotency="message")),
        "IntoModel": through(IntoModel(model)),
    }


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
        results: dict[str, list[float]] = {name: [] for name in variants}
        for round_no in range(args.rounds + 1):  # round 0 warms up
            for name, fn in variants.items():
                names = [f"{name[:3]}-{round_no}-{i}" for i in range(args.messages)]
                start = time.perf_counter()
                fn(names)
                elapsed = time.perf_counter() - start
                if round_no:
                    results[name].append(args.messages / elapsed)
        print(
            f"stream DB work on {connection.vendor}: {args.messages} messages per variant, "
            f"micro-batches of {args.batch}, median of {args.rounds} rounds"
        )
        base = statistics.median(results["B0 hand-written"])
        for name, rates in results.items():
            rate = statistics.median(rates)
            print(f"{name:<22}{rate:>10.0f} msg/s{rate / base:>8.2f}x B0")
    finally:
        creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
