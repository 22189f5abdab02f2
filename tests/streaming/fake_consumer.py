"""A stand-in for confluent's ``Consumer`` (same calls the source makes), to drive the source
partition through backpressure, rebalances and commit failures without a broker."""

from __future__ import annotations

import confluent_kafka as ck


class FakeRecord:
    def __init__(self, topic, partition, offset, value):
        self._coords = (topic, partition, offset)
        self._value = value

    def error(self):
        return None

    def topic(self):
        return self._coords[0]

    def partition(self):
        return self._coords[1]

    def offset(self):
        return self._coords[2]

    def headers(self):
        return None

    def timestamp(self):
        return ck.TIMESTAMP_CREATE_TIME, 10

    def value(self):
        return self._value

    def key(self):
        return None


class FakeConsumer:
    """Records queued with :meth:`add`; rebalances driven with :meth:`assign`/:meth:`revoke`."""

    instances: list[FakeConsumer] = []

    def __init__(self, config):
        self.config = config
        self.queue: list[FakeRecord] = []
        self.commits: list[tuple[dict, bool]] = []
        self.failing_commits = 0
        self.paused = False
        self.closed = False
        self.owned: set[tuple[str, int]] = set()
        self.stored: dict[tuple[str, int], int] = {}  # the group's committed offsets
        FakeConsumer.instances.append(self)

    def subscribe(self, topics, on_assign, on_revoke, on_lost):
        self._callbacks = (on_assign, on_revoke)

    def add(self, topic, partition, offsets, value):
        self.queue.extend(FakeRecord(topic, partition, o, value) for o in offsets)

    def assign(self, *tps):
        self.owned.update(tps)
        self._callbacks[0](self, [ck.TopicPartition(t, p) for t, p in tps])

    def revoke(self, *tps):
        self._callbacks[1](self, [ck.TopicPartition(t, p) for t, p in tps])
        self.owned.difference_update(tps)

    def consume(self, num_messages, timeout):
        if self.paused:
            return []
        batch, self.queue = self.queue[:num_messages], self.queue[num_messages:]
        return batch

    def assignment(self):
        return [ck.TopicPartition(t, p) for t, p in sorted(self.owned)]

    def pause(self, partitions):
        self.paused = True

    def resume(self, partitions):
        self.paused = False

    def commit(self, offsets, asynchronous):
        if self.failing_commits:
            self.failing_commits -= 1
            raise ck.KafkaException(ck.KafkaError(ck.KafkaError._TRANSPORT, "broker down"))
        committed = {(tp.topic, tp.partition): tp.offset for tp in offsets}
        self.commits.append((committed, asynchronous))
        self.stored.update(committed)

    def committed(self, partitions, timeout=None):
        return [
            ck.TopicPartition(
                tp.topic, tp.partition, self.stored.get((tp.topic, tp.partition), -1001)
            )
            for tp in partitions
        ]

    def poll(self, timeout):
        return None

    def close(self):
        self.closed = True
