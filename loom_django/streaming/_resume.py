"""Progress a revoke could not commit: when the partition comes back to the same worker, the
records it had already written are not processed again.

A revoke commits each revoked partition's completed prefix; when that commit fails (the group
is already rebalancing, the coordinator moved), Kafka still holds an older offset. If the
partition is assigned back to this worker, the consumer restarts from that older offset and
would write again records whose outputs were already flushed. Instead, this worker skips them
and commits its own offset in the new generation, unless the group committed further in the
meantime (another member owned the partition): then the group's offset stands.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from loom_django.streaming.tracker import AckTracker, TopicPartition

__all__ = ["UnsavedProgress"]

_log = logging.getLogger("loom_django.streaming")


class UnsavedProgress:
    """One worker's completed offsets that a revoke failed to commit, per partition."""

    __slots__ = ("_flow", "_skip", "_unsaved")

    def __init__(self, flow: str) -> None:
        self._flow = flow
        self._unsaved: dict[TopicPartition, int] = {}
        self._skip: dict[TopicPartition, int] = {}
        """Reassigned partitions: records below the offset were written before the revoke."""

    @property
    def skipping(self) -> bool:
        """Whether polled records may still need :meth:`already_written`."""
        return bool(self._skip)

    def revoked(self, tracker: AckTracker, tps: set[TopicPartition]) -> None:
        """Remember what of ``tps`` is completed and still uncommitted (call after the
        revoke's commit, before ``tracker.revoke``)."""
        self._unsaved.update(tracker.to_commit(tps))

    def lost(self, tps: Iterable[TopicPartition]) -> None:
        """Forget ``tps``: the worker lost them without a revoke (its session expired)."""
        for tp in tps:
            self._unsaved.pop(tp, None)
            self._skip.pop(tp, None)

    def assigned(
        self, consumer: Any, partitions: list[Any], tracker: AckTracker, topic_partition: Any
    ) -> None:
        """For each of ``partitions`` with unsaved progress here, skip what it had written
        and commit its offset at the next commit, when the group's offset is behind it."""
        mine = {
            tp: offset
            for p in partitions
            if (offset := self._unsaved.pop(tp := (p.topic, p.partition), None)) is not None
        }
        if not mine:
            return
        try:
            stored = consumer.committed([topic_partition(t, p) for t, p in mine], timeout=5)
        except Exception as exc:  # the group's offset stands: reprocess rather than guess
            _log.warning("stream %s: cannot read committed offsets (%s)", self._flow, exc)
            return
        group = {(c.topic, c.partition): c.offset for c in stored}
        for tp, offset in mine.items():
            if group.get(tp, -1) < offset:
                self._skip[tp] = offset
                tracker.resume(tp, offset)
                _log.info(
                    "stream %s: %s[%d] is back; records before offset %d were written before "
                    "its revoke and are skipped",
                    self._flow,
                    tp[0],
                    tp[1],
                    offset,
                )

    def already_written(self, tp: TopicPartition, offset: int) -> bool:
        """Whether the record at ``offset`` of ``tp`` was written before its revoke."""
        until = self._skip.get(tp)
        if until is None:
            return False
        if offset < until:
            return True
        del self._skip[tp]  # reached the resumed offset: nothing more to skip
        return False
