"""``CollectBatch`` at runtime: batches of one partition in offset order, partial batches
emitted at the end of the micro-batch (spec §2.8)."""

from __future__ import annotations

from loom_django.streaming import (
    CollectBatch,
    ContextFactory,
    FromTopic,
    Process,
    RecordStep,
    ResourceScope,
    StreamFlow,
    With,
)
from loom_django.streaming._runtime import RawRecord
from loom_django.streaming.testing import envelope_bytes
from tests.streaming.flows import Order, Run


class BatchLog(list):
    """A BATCH-scoped dependency: each batch appends the coordinates it saw as one entry."""

    def __enter__(self):
        self.append([])
        return self

    def __exit__(self, *exc):
        return None


class Record(RecordStep[Order, Order]):
    def execute(self, message, batch_log):
        batch_log[-1].append((message.meta.partition, message.meta.offset))
        return message.payload


def _run():
    log = BatchLog()
    scope = With(
        ResourceScope.BATCH, process=Process(Record), batch_log=ContextFactory(lambda: log)
    )
    flow = StreamFlow("b", FromTopic("in", payload=Order), Process(CollectBatch(2, 1), scope))
    return Run(flow), log


def test_a_single_pending_record_is_emitted_as_a_partial_batch():
    """streaming §11.43"""
    run, batches = _run()
    run.feed(Order(order_id="only"))
    assert batches == [[(0, 0)]]
    assert run.committed() == {("in", 0): 1}


def test_batches_hold_one_partition_each_in_offset_order():
    """streaming §11.43"""
    run, batches = _run()
    coords = [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2)]
    run.engine.process(
        [
            RawRecord(
                envelope_bytes(Order(order_id=f"{p}-{o}")),
                None,
                {},
                "in",
                p,
                o,
                None,
                run.tracker.register("in", p, o),
            )
            for p, o in coords
        ]
    )
    assert batches == [[(0, 0), (0, 1)], [(0, 2)], [(1, 0), (1, 1)]]
    assert run.committed() == {("in", 0): 3, ("in", 1): 2}
