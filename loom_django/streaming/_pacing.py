"""Keeping a worker inside ``max.poll.interval.ms`` (spec §5.4, §6.6): the retry-time budget of
one message and the adaptive ``consume`` size after a slow micro-batch.

librdkafka drops a consumer from its group when two ``consume`` calls of a worker are further
apart than ``max.poll.interval.ms``; everything a micro-batch does (retries included) happens
between two calls, so both limits are half of it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULT_MAX_POLL_INTERVAL_MS", "BatchPacer", "max_poll_interval_s"]

_log = logging.getLogger("loom_django.streaming")

DEFAULT_MAX_POLL_INTERVAL_MS = 300_000
"""librdkafka's default ``max.poll.interval.ms``."""


def max_poll_interval_s(extra: Mapping[str, Any]) -> float:
    """``max.poll.interval.ms`` of a consumer's ``extra`` settings, in seconds (librdkafka's
    default when unset or not a positive number)."""
    value = extra.get("max.poll.interval.ms", DEFAULT_MAX_POLL_INTERVAL_MS)
    try:
        ms = float(value)
    except (TypeError, ValueError):
        return DEFAULT_MAX_POLL_INTERVAL_MS / 1000.0
    return (ms if ms > 0 else DEFAULT_MAX_POLL_INTERVAL_MS) / 1000.0


class BatchPacer:
    """The ``consume`` size of one worker: halved (floor 1) after a micro-batch that took longer
    than ``max.poll.interval.ms / 2``, doubled back (up to ``max_records``) after one that took
    less than a quarter of it.

    Args:
        flow: the flow name, for the warning.
        worker: the worker index, for the warning.
        max_records: the configured ``max_poll_records``.
        max_poll_interval_s: the consumer's ``max.poll.interval.ms`` in seconds.
    """

    __slots__ = ("_fast", "_flow", "_slow", "_worker", "max_records", "size")

    def __init__(
        self, flow: str, worker: int, max_records: int, max_poll_interval_s: float
    ) -> None:
        self._flow = flow
        self._worker = worker
        self.max_records = max_records
        self.size = max_records
        self._slow = max_poll_interval_s / 2
        self._fast = max_poll_interval_s / 4

    def batch_took(self, seconds: float, records: int) -> int:
        """Note that the last micro-batch of ``records`` took ``seconds`` from its ``consume``
        to the next; returns the size of the next ``consume``."""
        if seconds > self._slow:
            smaller = max(1, self.size // 2)
            _log.warning(
                "stream %s w%d: a micro-batch of %d record(s) took %.1fs, more than half of "
                "max.poll.interval.ms (%.1fs); consuming %d record(s) at a time",
                self._flow,
                self._worker,
                records,
                seconds,
                self._slow * 2,
                smaller,
            )
            self.size = smaller
        elif seconds < self._fast and self.size < self.max_records:
            self.size = min(self.max_records, self.size * 2)
        return self.size
