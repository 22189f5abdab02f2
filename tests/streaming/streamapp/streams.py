"""Flows run by ``manage.py loom_stream run`` in the end-to-end tests."""

from __future__ import annotations

import time

from loom_django.streaming import (
    FromTopic,
    IntoTopic,
    InvokeUseCase,
    Process,
    RecordStep,
    StreamFlow,
)
from tests.jobsapp.use_cases import CreateRecordUseCase
from tests.streaming.flows import Order


class SlowCopy(RecordStep[Order, Order]):
    """Copies the order; ``amount`` is milliseconds to sleep first (to make a drain slow)."""

    def execute(self, message):
        if message.payload.amount:
            time.sleep(message.payload.amount / 1000)
        return message.payload


e2e = StreamFlow(
    name="e2e",
    source=FromTopic("e2e_in", payload=Order),
    process=Process(SlowCopy, IntoTopic("e2e_out", payload=Order)),
)

e2e_db = StreamFlow(
    name="e2e_db",
    source=FromTopic("e2e_db_in", payload=Order),
    process=Process(
        SlowCopy,
        InvokeUseCase(
            CreateRecordUseCase,
            command=lambda message: {"name": message.payload.order_id},
            result=lambda value, message: message.payload,
            idempotency="message",
        ),
        IntoTopic("e2e_db_out", payload=Order),
    ),
)
"""Each order becomes a ``JobRecord`` row exactly once (the inbox), then is copied out."""

STREAM_FLOWS = [e2e, e2e_db]
