"""Payloads and steps shared by the streaming tests."""

from __future__ import annotations

import msgspec

from loom_django.core.errors import RuleViolation
from loom_django.streaming import RecordStep, compile_flow
from loom_django.streaming._runtime import FlowEngine, RawRecord
from loom_django.streaming.testing import envelope_bytes
from loom_django.streaming.tracker import AckTracker


class Order(msgspec.Struct, frozen=True):
    order_id: str
    amount: int = 0
    segment: str = "standard"


class OrderValidated(msgspec.Struct, frozen=True):
    order_id: str
    amount: int


class Validate(RecordStep[Order, OrderValidated]):
    def execute(self, message):
        p = message.payload
        if p.amount < 0:
            raise RuleViolation("amount", "must be positive")
        if p.amount == 13:
            raise ValueError("boom")
        return OrderValidated(order_id=p.order_id, amount=p.amount)


def kafka_config(**extra):
    return {
        "kafka": {
            "consumer": {"brokers": ["localhost:9092"], "extra": {"log_level": 0}},
            "producer": {"brokers": ["localhost:9092"], "extra": {"log_level": 0}},
            **extra,
        },
        "streaming": {"runtime": {"commit_interval_ms": 200}},
    }


class Run:
    """Feeds records to a compiled flow, settles emits like a successful sink."""

    def __init__(self, flow, config=None):
        self.plan = compile_flow(flow, config=config or kafka_config())
        self.engine = FlowEngine(self.plan)
        self.tracker = AckTracker()
        self.offset = 0

    def feed(self, *items, partition=0, key=None, settle=True, keys=None):
        records = []
        for item in items:
            value = (
                item
                if isinstance(item, bytes)
                else envelope_bytes(item, trace_id="trace-1", correlation_id="corr-1")
            )
            records.append(
                RawRecord(
                    value,
                    keys[len(records)] if keys else key,
                    {"h": b"1"},
                    "in",
                    partition,
                    self.offset,
                    10,
                    self.tracker.register("in", partition, self.offset),
                )
            )
            self.offset += 1
        emits = self.engine.process(records)
        if settle:
            for emit in emits:
                emit.token.done()
        return emits

    def committed(self):
        return self.tracker.to_commit()


def by_topic(emits):
    out = {}
    for e in emits:
        out.setdefault(e.sink.topic, []).append(e.message.payload)
    return out
