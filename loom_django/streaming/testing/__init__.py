"""Test helpers (spec §8): ``FlowHarness`` and ``InMemoryKafka`` (the M tier, no broker and no
librdkafka), ``StreamingTestRunner`` (kernel-compatible, transport-less), and for the K tier
librdkafka's in-process mock cluster with helpers to produce and read sample records.

The pytest fixtures live in ``loom_django.streaming.testing.pytest_plugin``.
"""

from __future__ import annotations

from loom_django.streaming.memory import InMemoryKafka
from loom_django.streaming.testing.harness import FlowHarness, FlowHarnessTimeout
from loom_django.streaming.testing.runner import StreamingTestRunner
from loom_django.streaming.testing.samples import (
    create_topics,
    envelope_bytes,
    read_topic,
    send,
    start_mock_cluster,
)

__all__ = [
    "FlowHarness",
    "FlowHarnessTimeout",
    "InMemoryKafka",
    "StreamingTestRunner",
    "create_topics",
    "envelope_bytes",
    "read_topic",
    "send",
    "start_mock_cluster",
]
