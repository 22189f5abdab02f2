"""Payloads and steps shared by the streaming tests."""

from __future__ import annotations

import msgspec

from loom_django.core.errors import RuleViolation
from loom_django.streaming import RecordStep


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
