"""The engine's direct path for plans of plain record steps and one sink gives the outcomes of
the general operator path (it is an optimisation, not a behaviour)."""

from __future__ import annotations

from loom_django.streaming import FromTopic, IntoTopic, Process, RecordStep, StreamFlow
from tests.streaming.flows import Order, OrderValidated, Run, Validate


class DropSmall(RecordStep[OrderValidated, OrderValidated]):
    def execute(self, message):
        return None if message.payload.amount < 5 else message.payload


def _flow() -> StreamFlow:
    return StreamFlow(
        "linear",
        FromTopic("in", payload=Order),
        Process(Validate, DropSmall, IntoTopic("out")),
        errors=IntoTopic("errors"),
    )


BATCH = (
    Order(order_id="ok", amount=7),
    Order(order_id="small", amount=2),
    Order(order_id="boom", amount=13),
    Order(order_id="neg", amount=-1),
    Order(order_id="ok2", amount=9),
)


def _outcome(run: Run) -> tuple[list[tuple[str, str]], dict[tuple[str, int], int], dict[str, int]]:
    emits = run.feed(*BATCH)
    written = sorted(
        (e.sink.topic, getattr(e.message.payload, "order_id", None) or e.message.payload.reason)
        for e in emits
    )
    return written, run.committed(), dict(run.engine.metrics.filtered)


def test_linear_path_matches_the_general_path():
    """streaming §11.49, §11.55: same records written, same commits and filter counts."""
    fast = Run(_flow())
    general = Run(_flow())
    general.engine._linear = None
    assert fast.engine._linear is not None
    assert _outcome(fast) == _outcome(general)
