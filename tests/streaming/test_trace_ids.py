"""Trace ids of new hops come from a pool: unique, 32 hex digits."""

from __future__ import annotations

import re

from loom_django.streaming._encode import new_trace_id


def test_pooled_trace_ids_are_distinct_128_bit_hex():
    """streaming §11.31: each output record gets a new trace id (here: 2,000 draws, no repeat)."""
    ids = [new_trace_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", trace_id) for trace_id in ids)
