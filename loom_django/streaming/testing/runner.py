"""``StreamingTestRunner`` (kernel-compatible, spec §8.3): a flow's record path run by Bytewax
between a ``TestingSource`` and a ``TestingSink``; no transport, no encoding, no commits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loom_django.streaming._records import Rec
from loom_django.streaming._runtime import FlowEngine, RawRecord
from loom_django.streaming.errors import DecodeError, ErrorEnvelope, ErrorKind
from loom_django.streaming.flow import StreamFlow
from loom_django.streaming.messages import Message, MessageMeta, message_type_of
from loom_django.streaming.nodes import IntoTopic
from loom_django.streaming.plan import CompiledPlan
from loom_django.streaming.testing._setup import plan_for
from loom_django.streaming.tracker import AckTracker

__all__ = ["StreamingTestRunner"]

_CAPTURE_TOPIC = "loom.test.errors"


class _MessageEngine(FlowEngine):
    """Takes ready ``Message`` items as well as raw records (decoded as usual)."""

    def _decode(self, records: list[Any], out: list[Any]) -> list[Rec]:
        recs: list[Rec] = []
        pending: list[RawRecord] = []
        for item in records:
            if isinstance(item, RawRecord):
                pending.append(item)
                continue
            if pending:
                recs.extend(super()._decode(pending, out))
                pending = []
            message, token = item
            recs.append(Rec(message, token))
        if pending:
            recs.extend(super()._decode(pending, out))
        return recs


class StreamingTestRunner:
    """Feeds payloads, messages or wire records to a flow and collects what it emits.

    Build it with :meth:`from_flow`, :meth:`from_dict` or :meth:`from_yaml`; ``output``
    holds the messages written to any topic except the error routes, ``errors`` the error
    envelopes of the captured kinds (all kinds unless :meth:`capture_errors` narrowed them).
    Encoding, commits and DLQs are not exercised: use ``FlowHarness`` for those.
    """

    def __init__(self, flow: StreamFlow, config: Any = None) -> None:
        self._flow = flow
        self._config = config
        self._kinds: tuple[ErrorKind, ...] = tuple(ErrorKind)
        self._plan: CompiledPlan | None = None
        self._provider: Any = None
        self._items: list[Any] = []
        self.output: list[Message[Any]] = []
        self.errors: list[Any] = []

    @classmethod
    def from_flow(cls, flow: StreamFlow, config: Any = None) -> StreamingTestRunner:
        """A runner for ``flow`` (configuration: ``config``, the project's, or in-memory)."""
        return cls(flow, config)

    @classmethod
    def from_dict(cls, flow: StreamFlow, config: dict[str, Any]) -> StreamingTestRunner:
        """A runner for ``flow`` compiled against the configuration mapping ``config``."""
        return cls(flow, dict(config))

    @classmethod
    def from_yaml(cls, flow: StreamFlow, path: str) -> StreamingTestRunner:
        """A runner for ``flow`` compiled against the YAML file at ``path``."""
        from omegaconf import OmegaConf

        return cls(flow, OmegaConf.load(path))

    # -- input ----------------------------------------------------------------------------

    def with_payloads(self, payloads: Iterable[Any]) -> StreamingTestRunner:
        """Queue payloads as messages ``test-<i>`` on the flow's first source topic."""
        topic = self._compiled().source.topics[0]
        start = len(self._items)
        for i, payload in enumerate(payloads, start):
            meta = MessageMeta(
                message_id=f"test-{i}",
                message_type=message_type_of(type(payload)),
                topic=topic,
                partition=0,
                offset=i,
            )
            self._items.append(Message(payload=payload, meta=meta))
        return self

    def with_messages(self, messages: Iterable[Any]) -> StreamingTestRunner:
        """Queue ``Message`` objects as they are, or wire records (``InMemoryKafka``
        ``Record``s or ``RawRecord``s), which the flow decodes (so WIRE errors are testable)."""
        self._items.extend(messages)
        return self

    def capture_errors(self, *kinds: ErrorKind | str) -> StreamingTestRunner:
        """Collect errors of ``kinds`` in ``errors`` (all kinds when none are given); kinds
        the flow does not route are routed to a capture topic for the run."""
        self._kinds = tuple(ErrorKind(k) for k in kinds) or tuple(ErrorKind)
        self._plan = None
        return self

    def reset(self) -> StreamingTestRunner:
        """Forget queued input and collected output and errors."""
        self._items = []
        self.output = []
        self.errors = []
        return self

    # -- running --------------------------------------------------------------------------

    def _compiled(self) -> CompiledPlan:
        if self._plan is None:
            flow = self._flow
            routes: dict[ErrorKind, IntoTopic[Any]] = dict(flow.errors)
            for kind in self._kinds:
                routes.setdefault(kind, IntoTopic(_CAPTURE_TOPIC))
            flow = StreamFlow(
                flow.name,
                flow.source,
                flow.process,
                flow.output,
                routes,
                unrouted_errors=flow.unrouted_errors,
                description=flow.description,
            )
            self._plan, self._provider = plan_for(flow, self._config)
        return self._plan

    def run(self) -> StreamingTestRunner:
        """Run every queued item through the flow (Bytewax ``run_main`` on this thread).

        Raises:
            StreamCompilationError: the flow does not compile.
        """
        from bytewax import operators as op
        from bytewax.dataflow import Dataflow
        from bytewax.testing import TestingSink, TestingSource, run_main

        plan = self._compiled()
        engine = _MessageEngine(plan, runtime_provider=self._provider)
        tracker = AckTracker()
        items = [self._item(i, item, tracker) for i, item in enumerate(self._items)]
        emitted: list[Any] = []
        flow = Dataflow(f"{plan.name}-test")
        stream: Any = op.input("source", flow, TestingSource(items))
        out = op.flat_map_batch("process", stream, engine.process)
        op.output("sink", out, TestingSink(emitted))
        try:
            run_main(flow)  # type: ignore[no-untyped-call]
        finally:
            engine.close()
        error_topics = {s.topic for k, s in plan.error_routes.items() if k in self._kinds}
        for emit in emitted:
            payload = emit.message.payload
            if isinstance(payload, ErrorEnvelope | DecodeError):
                if emit.sink.topic in error_topics:
                    kind = payload.error.kind if isinstance(payload, DecodeError) else payload.kind
                    if kind in self._kinds:
                        self.errors.append(payload)
                continue
            self.output.append(emit.message)
        return self

    @staticmethod
    def _item(i: int, item: Any, tracker: AckTracker) -> Any:
        if isinstance(item, Message):
            meta = item.meta
            token = tracker.register(meta.topic or "test", meta.partition or 0, i)
            return (item, token)
        if isinstance(item, RawRecord):
            return item
        headers = {k: v for k, v in getattr(item, "headers", ()) if v is not None}
        topic, partition = item.topic, item.partition
        return RawRecord(
            item.value,
            item.key,
            headers,
            topic,
            partition,
            item.offset,
            getattr(item, "timestamp_ms", None),
            tracker.register(topic, partition, item.offset),
        )
