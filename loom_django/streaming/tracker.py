"""Ack tokens and the commit watermark: an offset commits only after everything derived from
its record reached a completion point, and only as part of a contiguous prefix (spec §5.2)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec

__all__ = ["AckToken", "AckTracker", "Completion", "GroupToken", "TopicPartition", "complete_all"]

TopicPartition = tuple[str, int]


class AckToken(msgspec.Struct, eq=False):
    """The completion counter of one polled record; reaches zero exactly once.

    A struct, not a plain class: one is built per polled record, and msgspec builds it in C.
    """

    _tracker: AckTracker
    tp: TopicPartition
    offset: int
    _state: _PartitionState  # its partition's state when it was polled
    pending: int = 1

    @property
    def stale(self) -> bool:
        """Its partition was revoked since the record was polled: the new owner (maybe this
        worker again) redelivers the record, so nothing derived from it may be written."""
        return self._tracker._parts.get(self.tp) is not self._state

    def fork(self, n: int) -> None:
        """The record now has ``n`` derived items instead of one (``n == 0`` completes it)."""
        if n == 0:
            self.done()
            return
        with self._tracker._lock:
            self.pending += n - 1

    def done(self) -> None:
        """One derived item reached a completion point."""
        tracker = self._tracker
        with tracker._lock:
            self.pending -= 1
            if self.pending == 0:
                tracker._complete(self)
            elif self.pending < 0:
                raise RuntimeError(f"ack token {self.tp}:{self.offset} completed twice")


class GroupToken:
    """Completion shared by the items a whole batch produced (``BatchExpandStep``): when the
    last of them completes, every input token of the batch completes."""

    __slots__ = ("_lock", "_tokens", "pending")

    def __init__(self, tokens: list[AckToken | GroupToken], items: int) -> None:
        self._lock = threading.Lock()
        self._tokens = tokens
        self.pending = items
        if items == 0:
            self._release()

    def _release(self) -> None:
        for token in self._tokens:
            token.done()

    @property
    def stale(self) -> bool:
        """Every record of the batch was revoked since it was polled (see ``AckToken``)."""
        return all(token.stale for token in self._tokens)

    def fork(self, n: int) -> None:
        """One derived item became ``n`` (``n == 0`` completes it)."""
        if n == 0:
            self.done()
            return
        with self._lock:
            self.pending += n - 1

    def done(self) -> None:
        """One derived item reached a completion point."""
        with self._lock:
            self.pending -= 1
            last = self.pending == 0
        if last:
            self._release()


Completion = AckToken | GroupToken
"""What an in-flight item completes when it is written or discarded."""


@dataclass
class _PartitionState:
    order: deque[int] = field(default_factory=deque)
    completed: set[int] = field(default_factory=set)
    committable: int | None = None
    committed: int | None = None


class AckTracker:
    """Process-wide, thread-safe registry of in-flight offsets per topic partition."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: dict[TopicPartition, _PartitionState] = {}
        self._inflight = 0
        self.completed_total = 0
        self._last_committed: dict[TopicPartition, int] = {}  # kept after revoke (metrics)
        self.stale_inflight = 0
        """Records of revoked partitions still in flight here: their outputs are dropped."""

    def register(self, topic: str, partition: int, offset: int) -> AckToken:
        """A token for a polled record; its offset is in flight until the token completes."""
        tp = (topic, partition)
        with self._lock:
            state = self._parts.get(tp)
            if state is None:
                state = self._parts[tp] = _PartitionState()
            state.order.append(offset)
            self._inflight += 1
        return AckToken(self, tp, offset, state)

    def register_many(self, coordinates: list[tuple[str, int, int]]) -> list[AckToken]:
        """Tokens for a polled batch of ``(topic, partition, offset)``, under one lock."""
        tokens: list[AckToken] = []
        append = tokens.append
        parts = self._parts
        with self._lock:
            last_tp: TopicPartition | None = None
            order: deque[int] | None = None
            state: _PartitionState | None = None
            for topic, partition, offset in coordinates:
                tp = (topic, partition)
                if tp != last_tp or state is None or order is None:
                    state = parts.get(tp)
                    if state is None:
                        state = parts[tp] = _PartitionState()
                    order = state.order
                    last_tp = tp
                order.append(offset)
                append(AckToken(self, tp, offset, state))
            self._inflight += len(tokens)
        return tokens

    def done_many(self, tokens: list[AckToken]) -> None:
        """``token.done()`` for each of ``tokens`` (of this tracker), under one lock."""
        parts = self._parts
        with self._lock:
            completed = 0
            for token in tokens:
                pending = token.pending = token.pending - 1
                if pending == 0:
                    state = token._state
                    order = state.order
                    # In order, of a partition still owned, nothing completed ahead of it:
                    # _complete's common case, without its call.
                    if (
                        order
                        and order[0] == token.offset
                        and not state.completed
                        and parts.get(token.tp) is state
                    ):
                        order.popleft()
                        state.committable = token.offset + 1
                        completed += 1
                    else:
                        self._complete(token)
                elif pending < 0:
                    raise RuntimeError(f"ack token {token.tp}:{token.offset} completed twice")
            self._inflight -= completed
            self.completed_total += completed

    def _complete(self, token: AckToken) -> None:
        self._inflight -= 1
        self.completed_total += 1
        state = token._state
        if self._parts.get(token.tp) is not state:  # revoked since polled: redelivered
            self.stale_inflight -= 1
            return
        offset = token.offset
        order = state.order
        if order and order[0] == offset:  # in order: the common case
            order.popleft()
            head = offset
            completed = state.completed
            if completed:
                while order and order[0] in completed:
                    head = order.popleft()
                    completed.discard(head)
            state.committable = head + 1
            return
        state.completed.add(offset)

    def inflight(self) -> int:
        """Records registered and not yet completed (all partitions)."""
        return self._inflight

    def inflight_of(self, tps: Iterable[TopicPartition]) -> int:
        """Records registered and not yet completed in ``tps`` (revoked partitions count 0)."""
        with self._lock:
            return sum(
                len(state.order) - len(state.completed)
                for tp in tps
                if (state := self._parts.get(tp)) is not None
            )

    def to_commit(self, owned: set[TopicPartition] | None = None) -> dict[TopicPartition, int]:
        """Committable offsets that advanced since the last :meth:`mark_committed`."""
        with self._lock:
            return {
                tp: s.committable
                for tp, s in self._parts.items()
                if s.committable is not None
                and s.committable != s.committed
                and (owned is None or tp in owned)
            }

    def mark_committed(self, offsets: dict[TopicPartition, int]) -> None:
        """Record that ``offsets`` were committed."""
        with self._lock:
            self._last_committed.update(offsets)
            for tp, offset in offsets.items():
                state = self._parts.get(tp)
                if state is not None:
                    state.committed = offset

    def committed_offsets(self) -> dict[TopicPartition, int]:
        """The last offset committed per partition by this process (revoked ones too)."""
        with self._lock:
            return dict(self._last_committed)

    def resume(self, tp: TopicPartition, offset: int) -> None:
        """Start ``tp`` (assigned again, nothing registered yet) at ``offset``: everything
        before it was written, so ``offset`` is committable now."""
        with self._lock:
            state = self._parts.get(tp)
            if state is None:
                state = self._parts[tp] = _PartitionState()
            if not state.order and (state.committable is None or state.committable < offset):
                state.committable = offset

    def revoke(self, tps: set[TopicPartition]) -> None:
        """Forget ``tps``: later completions of records polled before never commit, even
        when a partition comes back to this worker (its records are polled again)."""
        with self._lock:
            for tp in tps:
                state = self._parts.pop(tp, None)
                if state is not None:
                    self.stale_inflight += len(state.order) - len(state.completed)


def complete_all(tokens: list[Completion]) -> None:
    """Complete each of ``tokens`` once; ack tokens of one tracker under a single lock."""
    plain: list[AckToken] = []
    tracker: AckTracker | None = None
    for token in tokens:
        if type(token) is AckToken and (tracker is None or token._tracker is tracker):
            tracker = token._tracker
            plain.append(token)
        else:
            token.done()
    if tracker is not None:
        tracker.done_many(plain)
