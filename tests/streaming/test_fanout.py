"""Fan-out and shape nodes: Broadcast, Explode + Router, ExpandRoutes, BatchExpandStep, a
BatchStep in a Router branch, and the structural rules around them (spec §2.8, §2.10)."""

from __future__ import annotations

from typing import ClassVar

import msgspec
import pytest

from loom_django.streaming import (
    BatchExpandStep,
    BatchStep,
    Broadcast,
    BroadcastRoute,
    CollectBatch,
    Drain,
    ExpandRoutes,
    Explode,
    Fork,
    FromMultiTypeTopic,
    FromTopic,
    IntoTopic,
    Process,
    RecordStep,
    Router,
    StreamCompilationError,
    StreamFlow,
    WindowStrategy,
    WithAsync,
    compile_flow,
    payload,
)
from tests.streaming.flows import Order, Run, by_topic, kafka_config


class StoreEvent(msgspec.Struct, frozen=True):
    store_id: str
    languages: tuple[str, ...] = ()


class Store(msgspec.Struct, frozen=True):
    store_id: str


class Language(msgspec.Struct, frozen=True):
    code: str


class Label(msgspec.Struct, frozen=True):
    text: str


class StoreEventExpander:
    outputs: ClassVar[tuple[type, ...]] = (Store, Language)

    @classmethod
    def expand(cls, event):
        return {
            Store: [Store(store_id=event.store_id)],
            Language: [Language(code=c) for c in event.languages],
        }


class ByType:
    def select(self, message):
        return type(message.payload)


class StoreLabel(RecordStep[Store, Label]):
    def execute(self, message):
        return Label(text=f"store:{message.payload.store_id}")


class LanguageLabel(RecordStep[Language, Label]):
    def execute(self, message):
        return Label(text=f"language:{message.payload.code}")


class Upper(RecordStep[Order, Order]):
    def execute(self, message):
        return Order(order_id=message.payload.order_id.upper())


def _flow(*nodes, output=None, source=None, errors=None):
    return StreamFlow(
        "f",
        source or FromTopic("in", payload=Order),
        Process(*nodes),
        output=output,
        errors=errors,
    )


def _compile(flow):
    return compile_flow(flow, config=kafka_config())


def test_empty_fan_out_constructors_raise_value_error():
    """streaming §11.6"""
    with pytest.raises(ValueError):
        Broadcast()
    with pytest.raises(ValueError):
        FromMultiTypeTopic("t", payloads=(Order,))
    with pytest.raises(ValueError):
        ExpandRoutes(expander=StoreEventExpander, routes={})


@pytest.mark.parametrize(
    "terminal",
    [
        Fork.by(payload.segment, {"a": Process(Drain())}),
        Broadcast(BroadcastRoute(Process(Drain()))),
        ExpandRoutes(expander=StoreEventExpander, routes={Store: Process(Drain())}),
        WithAsync(process=Process(Upper)),
    ],
    ids=["Fork", "Broadcast", "ExpandRoutes", "WithAsync"],
)
def test_terminal_fan_out_nodes_must_be_the_last_node(terminal):
    """streaming §11.9"""
    with pytest.raises(StreamCompilationError, match="must be the last node"):
        _compile(_flow(terminal, Drain()))


def test_output_with_top_level_broadcast_fails_naming_broadcast():
    """streaming §11.10"""
    broadcast = Broadcast(BroadcastRoute(Process(Drain())))
    with pytest.raises(StreamCompilationError, match="top-level Broadcast"):
        _compile(_flow(broadcast, output=IntoTopic("o")))


@pytest.mark.parametrize(
    ("rest", "name"), [((), "nothing"), ((Drain(),), "Drain")], ids=["nothing", "Drain"]
)
def test_explode_must_be_followed_by_a_router(rest, name):
    """streaming §11.12"""
    flow = _flow(Explode(StoreEventExpander), *rest, source=FromTopic("in", payload=StoreEvent))
    with pytest.raises(
        StreamCompilationError, match=rf"followed directly by a Router \(got {name}\)"
    ):
        _compile(flow)


def test_explode_outputs_need_a_route_or_a_default():
    """streaming §2.10 (improvement: every Explode output class is routed)"""
    router = Router.by(ByType(), {Store: Process(StoreLabel)})
    flow = _flow(
        Explode(StoreEventExpander),
        router,
        IntoTopic("out"),
        source=FromTopic("in", payload=StoreEvent),
    )
    with pytest.raises(StreamCompilationError, match="output Language has no route"):
        _compile(flow)


@pytest.mark.parametrize("window", [WindowStrategy.TUMBLING, WindowStrategy.SESSION])
@pytest.mark.parametrize("where", ["top", "Fork", "Router", "Broadcast"])
def test_non_collect_windows_fail_at_every_depth(window, where):
    """streaming §11.15"""
    batch = CollectBatch(2, 1, window=window)
    inner = Process(batch, BatchToRecords, IntoTopic("o"))
    nodes = {
        "top": (batch, BatchToRecords, IntoTopic("o")),
        "Fork": (Fork.by(payload.segment, {"a": inner}),),
        "Router": (Router.by(payload.segment, {"a": Process(batch, BatchToRecords)}), Drain()),
        "Broadcast": (Broadcast(BroadcastRoute(inner)),),
    }[where]
    with pytest.raises(StreamCompilationError, match=window.value):
        _compile(_flow(*nodes))


class BatchToRecords(BatchExpandStep[Order, Order]):
    def execute(self, messages):
        return [m.payload for m in messages]


def test_collect_batch_then_batch_expand_step_then_record_step_compiles():
    """streaming §11.18"""
    plan = _compile(_flow(CollectBatch(2, 1), BatchToRecords, Upper, IntoTopic("o")))
    assert [s[3] for s in plan.shapes] == ["batch", "record", "record", "none"]


def test_batch_expand_commits_the_batch_after_every_produced_record_is_written():
    """streaming §5.2 (1:N from a batch)"""
    run = Run(_flow(CollectBatch(3, 1), BatchToRecords, IntoTopic("o")))
    emits = run.feed(*[Order(order_id=str(i)) for i in range(3)], settle=False)
    assert len(emits) == 3
    for emit in emits[:2]:
        emit.token.done()
    assert run.committed() == {}
    emits[2].token.done()
    assert run.committed() == {("in", 0): 3}


def test_batch_step_in_a_router_branch_runs_as_a_singleton_batch():
    """streaming §11.36"""

    class UpperBatch(BatchStep[Order, Order]):
        def execute(self, messages):
            assert len(messages) == 1
            return [Order(order_id=m.payload.order_id.upper()) for m in messages]

    router = Router.by(payload.segment, {"standard": Process(UpperBatch)})
    run = Run(_flow(router, output=IntoTopic("out")))
    assert by_topic(run.feed(Order(order_id="ord-1")))["out"] == [Order(order_id="ORD-1")]


def test_broadcast_writes_every_message_to_every_route_and_commits_after_both():
    """streaming §11.41"""
    broadcast = Broadcast(
        BroadcastRoute(Process(Upper), output=IntoTopic("a")),
        BroadcastRoute(Process(IntoTopic("b"))),
    )
    run = Run(_flow(broadcast))
    emits = run.feed(*[Order(order_id=f"o{i}") for i in range(3)], settle=False)
    topics = by_topic(emits)
    assert [p.order_id for p in topics["a"]] == ["O0", "O1", "O2"]
    assert [p.order_id for p in topics["b"]] == ["o0", "o1", "o2"]
    for emit in emits:
        if emit.sink.topic == "a":
            emit.token.done()
    assert run.committed() == {}  # the second route's writes have not succeeded
    for emit in emits:
        if emit.sink.topic == "b":
            emit.token.done()
    assert run.committed() == {("in", 0): 3}


def test_broadcast_discard_route_completes_when_its_process_finishes():
    """streaming §2.10 (improvement: a route without output does not stall commits)"""
    broadcast = Broadcast(BroadcastRoute(Process(Upper)), BroadcastRoute(Process(Drain())))
    run = Run(_flow(broadcast))
    assert run.feed(Order(order_id="x")) == []
    assert run.committed() == {("in", 0): 1}


def test_explode_and_router_by_type_emit_every_row_in_order():
    """streaming §11.42"""
    router = Router.by(ByType(), {Store: Process(StoreLabel), Language: Process(LanguageLabel)})
    flow = _flow(
        Explode(StoreEventExpander),
        router,
        IntoTopic("out", payload=Label),
        source=FromTopic("in", payload=StoreEvent),
    )
    run = Run(flow)
    emits = run.feed(StoreEvent(store_id="store-1", languages=("en", "es")), settle=False)
    assert [e.message.payload.text for e in emits] == [
        "store:store-1",
        "language:en",
        "language:es",
    ]
    emits[0].token.done()
    emits[1].token.done()
    assert run.committed() == {}
    emits[2].token.done()
    assert run.committed() == {("in", 0): 1}


def test_expand_routes_sends_each_row_class_to_its_process_and_commits_after_all():
    """streaming §2.10 ExpandRoutes"""
    node = ExpandRoutes(
        expander=StoreEventExpander,
        routes={
            Store: Process(StoreLabel, IntoTopic("stores")),
            Language: Process(IntoTopic("langs")),
        },
    )
    run = Run(_flow(node, source=FromTopic("in", payload=StoreEvent)))
    emits = run.feed(StoreEvent(store_id="s", languages=("en", "fr")), settle=False)
    topics = by_topic(emits)
    assert topics["stores"] == [Label(text="store:s")]
    assert [lang.code for lang in topics["langs"]] == ["en", "fr"]
    for emit in emits[:-1]:
        emit.token.done()
    assert run.committed() == {}
    emits[-1].token.done()
    assert run.committed() == {("in", 0): 1}


def test_expand_routes_without_default_drops_unrouted_rows_and_commits():
    """streaming §5.2 (no row left pending)"""
    node = ExpandRoutes(expander=StoreEventExpander, routes={Store: Process(Drain())})
    run = Run(_flow(node, source=FromTopic("in", payload=StoreEvent)))
    assert run.feed(StoreEvent(store_id="s", languages=("en",))) == []
    assert run.committed() == {("in", 0): 1}


def test_expander_failure_is_a_task_error_for_that_event():
    """streaming §5.3"""

    class Broken:
        outputs: ClassVar[tuple[type, ...]] = (Store,)

        @classmethod
        def expand(cls, event):
            raise ValueError("cannot expand")

    node = ExpandRoutes(expander=Broken, routes={Store: Process(Drain())})
    run = Run(_flow(node, source=FromTopic("in", payload=StoreEvent), errors=IntoTopic("e")))
    [envelope] = by_topic(run.feed(StoreEvent(store_id="s")))["e"]
    assert envelope.reason == "cannot expand"
    assert run.committed() == {("in", 0): 1}


def test_a_failing_fork_predicate_is_a_routing_error_not_a_crash():
    """streaming §2.10 (improvement: Fork predicate errors become ROUTING envelopes)"""
    from loom_django.streaming import ErrorKind, msg

    fork = Fork.by(msg.payload.missing, {"a": Process(Drain())})
    run = Run(_flow(fork, errors=IntoTopic("e")))
    [envelope] = by_topic(run.feed(Order(order_id="x")))["e"]
    assert envelope.kind is ErrorKind.ROUTING
    assert run.committed() == {("in", 0): 1}
