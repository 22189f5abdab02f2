"""What observing a flow costs: W1 (decode → record step → encode → produce, commit after sink)
run unobserved, with a lifecycle observer attached, and with Prometheus metrics on, in the same
run on librdkafka's in-process mock cluster. Prints msgs/s per variant (median of ``--rounds``,
variants interleaved per round) and the ratios observed / unobserved.

    python bench/streaming_observability.py [--records 30000] [--rounds 3]

The observer variant counts every event (the cheapest possible observer), so its ratio is the
cost of the NODE instrumentation itself; the metrics variant adds the node histogram, the shared
``lifecycle_*`` instruments and per-batch decode/encode timing. Caveat: the mock cluster shares
this process's CPU, so absolute figures are lower than against a real broker; compare ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from streaming import QUIET, Order, Price, Priced, prefill, timed_run

from loom_django.streaming import FromTopic, IntoTopic, Process, StreamFlow
from loom_django.streaming.compiler import compile_flow
from loom_django.streaming.runner import StreamingRunner
from loom_django.streaming.testing import start_mock_cluster


class CountingObserver:
    """Counts lifecycle events."""

    def __init__(self) -> None:
        self.events = 0

    def on_event(self, event: Any) -> None:
        self.events += 1


def run_variant(bootstrap: str, topic: str, n: int, variant: str) -> float:
    """msgs/s of W1 from the first consumed record to the last completed write."""
    flow = StreamFlow(
        name=f"obs-{uuid.uuid4().hex[:8]}",
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
    options: dict[str, Any] = {}
    if variant == "observer":
        options["observers"] = [CountingObserver()]
    elif variant == "metrics":
        from prometheus_client import CollectorRegistry

        options["metrics_registry"] = CollectorRegistry()
    runner = StreamingRunner(plan, brokers=bootstrap, max_messages=n, **options)
    return timed_run(runner, n)


VARIANTS = ("unobserved", "observer", "metrics")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    owner, bootstrap = start_mock_cluster()
    results: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for round_no in range(args.rounds):
        order = VARIANTS if round_no % 2 == 0 else tuple(reversed(VARIANTS))
        for name in order:
            topic = f"obs-{round_no}-{name}-{uuid.uuid4().hex[:6]}"
            prefill(bootstrap, topic, args.records)
            rate = run_variant(bootstrap, topic, args.records, name)
            results[name].append(rate)
            print(f"round {round_no + 1} {name:<11} {rate:>10,.0f} msg/s", flush=True)
    medians = {name: statistics.median(rates) for name, rates in results.items()}
    print(f"\nW1 transform, {args.records:,} records, median of {args.rounds} round(s):")
    for name, rate in medians.items():
        print(f"  {name:<11} {rate:>10,.0f} msg/s")
    base = medians["unobserved"]
    print(f"  observer / unobserved = {medians['observer'] / base:.2f}x")
    print(f"  metrics  / unobserved = {medians['metrics'] / base:.2f}x")
    del owner


if __name__ == "__main__":
    main()
