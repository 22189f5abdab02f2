"""Authoring API constructors and the compile-time checks of spec §2.12 (tier U)."""

from __future__ import annotations

import contextlib

import pytest

from loom_django.streaming import (
    CollectBatch,
    ContextFactory,
    Drain,
    ErrorKind,
    ErrorRoute,
    ExpandStep,
    ForEach,
    Fork,
    FromTopic,
    IntoTopic,
    Process,
    RecordStep,
    ResourceScope,
    Router,
    StreamCompilationError,
    StreamFlow,
    StreamShape,
    With,
    compile_flow,
    payload,
)
from tests.streaming.flows import Order, Validate, kafka_config


class Passthrough(RecordStep[Order, Order]):
    def execute(self, message):
        return message.payload


class Explode(ExpandStep[Order, Order]):
    def execute(self, message):
        return [message.payload]


def _flow(*nodes, output=None, name="f"):
    return StreamFlow(name, FromTopic("in", payload=Order), Process(*nodes), output=output)


def test_empty_process_and_empty_name_raise_value_error():
    """streaming §11.1"""
    with pytest.raises(ValueError):
        Process()
    with pytest.raises(ValueError):
        StreamFlow("", FromTopic("in", payload=Order), Process(Drain()))


def test_error_routes_normalise_and_reject_conflicts():
    """streaming §11.2"""
    t = IntoTopic("e")
    assert set(
        StreamFlow("f", FromTopic("in", payload=Order), Process(Drain()), errors=t).errors
    ) == set(ErrorKind)
    two = StreamFlow(
        "f",
        FromTopic("in", payload=Order),
        Process(Drain()),
        errors=ErrorRoute((ErrorKind.WIRE, ErrorKind.ROUTING), t),
    )
    assert set(two.errors) == {ErrorKind.WIRE, ErrorKind.ROUTING}
    with pytest.raises(ValueError, match="declared more than once"):
        StreamFlow(
            "f",
            FromTopic("in", payload=Order),
            Process(Drain()),
            errors=[
                ErrorRoute((ErrorKind.TASK,), t),
                ErrorRoute((ErrorKind.TASK,), IntoTopic("x")),
            ],
        )
    with pytest.raises(ValueError):
        StreamFlow("f", FromTopic("in", payload=Order), Process(Drain()), errors=[])
    with pytest.raises(TypeError):
        StreamFlow("f", FromTopic("in", payload=Order), Process(Drain()), errors="topic")
    with pytest.raises(TypeError):
        two.errors[ErrorKind.TASK] = t


def test_collect_batch_rejects_invalid_sizes_and_event_time_with_collect():
    """streaming §11.3"""
    with pytest.raises(ValueError):
        CollectBatch(max_records=0, timeout_ms=1)
    with pytest.raises(ValueError):
        CollectBatch(max_records=1, timeout_ms=0)
    with pytest.raises(ValueError):
        CollectBatch(max_records=1, timeout_ms=1, event_time=True)


def test_with_rejects_async_context_manager_naming_it_and_sorts_dependencies():
    """streaming §11.5"""

    @contextlib.asynccontextmanager
    async def acm():
        yield 1

    with pytest.raises(TypeError, match="client"):
        With(process=Process(Passthrough), client=acm())
    factory = ContextFactory(lambda: contextlib.nullcontext(object()))
    node = With(process=Process(Passthrough), pool=factory, n=3)
    assert node.context_factories == {"pool": factory}
    assert node.plain_deps == {"n": 3}
    assert factory.create() is not factory.create()


def test_router_and_fork_constructors_reject_empty_routes():
    """streaming §11.6"""
    for make in (
        lambda: Router.when(()),
        lambda: Router.by(payload.segment, routes={}),
        lambda: Fork.by(payload.segment, {}),
        lambda: Fork.when(()),
    ):
        with pytest.raises(ValueError):
            make()


def test_topic_flow_without_kafka_section_fails_naming_kafka():
    """streaming §11.7"""
    with pytest.raises(StreamCompilationError, match="kafka"):
        compile_flow(_flow(Drain()), config={})


def test_flow_without_terminal_fails_and_drain_ends_with_none_shape():
    """streaming §11.8"""
    with pytest.raises(StreamCompilationError, match="no terminal output"):
        compile_flow(_flow(Passthrough), config=kafka_config())
    plan = compile_flow(_flow(Passthrough, Drain()), config=kafka_config())
    assert plan.shapes[-1][3] == StreamShape.NONE.value


@pytest.mark.parametrize(
    "terminal", [IntoTopic("out"), Drain(), With(process=Process(Passthrough))]
)
def test_terminal_before_another_node_must_be_the_last_node(terminal):
    """streaming §11.9"""
    with pytest.raises(StreamCompilationError, match="must be the last node"):
        compile_flow(_flow(terminal, Drain()), config=kafka_config())


def test_output_with_top_level_fork_fails_naming_fork_and_fork_branch_needs_terminal():
    """streaming §11.10"""
    fork = Fork.by(payload.segment, {"vip": Process(Drain())})
    with pytest.raises(StreamCompilationError, match="Fork"):
        compile_flow(_flow(fork, output=IntoTopic("o")), config=kafka_config())
    bad = Fork.by(payload.segment, {"vip": Process(Passthrough)})
    with pytest.raises(StreamCompilationError, match="fork branch 'vip': no terminal output found"):
        compile_flow(_flow(bad), config=kafka_config())


def test_router_shape_disagreement_and_expand_step_in_branch_fail():
    """streaming §11.11"""
    router = Router.by(
        payload.segment, {"a": Process(Passthrough), "b": Process(CollectBatch(2, 1))}
    )
    with pytest.raises(StreamCompilationError, match="router branches produce different shapes"):
        compile_flow(_flow(router, IntoTopic("o")), config=kafka_config())
    with pytest.raises(StreamCompilationError, match="not supported in Router branches"):
        compile_flow(
            _flow(Router.by(payload.segment, {"a": Process(Explode)}), IntoTopic("o")),
            config=kafka_config(),
        )


def test_batch_scope_with_context_manager_instance_needs_context_factory():
    """streaming §11.13"""
    with pytest.raises(StreamCompilationError, match="ContextFactory"):
        compile_flow(
            _flow(
                With(
                    ResourceScope.BATCH, process=Process(Passthrough), db=contextlib.nullcontext(1)
                )
            ),
            config=kafka_config(),
        )
    compile_flow(
        _flow(
            With(
                ResourceScope.BATCH,
                process=Process(Passthrough),
                db=ContextFactory(lambda: contextlib.nullcontext(1)),
            )
        ),
        config=kafka_config(),
    )


def test_two_defects_are_reported_together():
    """streaming §11.17"""

    class Async(RecordStep[Order, Order]):
        async def execute(self, message):
            return message.payload

    with pytest.raises(StreamCompilationError) as info:
        compile_flow(_flow(Async, Passthrough), config=kafka_config())
    assert len(info.value.errors) == 2
    assert str(info.value).startswith("Compilation failed with 2 error(s)")


def test_collect_batch_then_for_each_compiles():
    """streaming §11.18"""
    compile_flow(
        _flow(CollectBatch(2, 1), ForEach(), Passthrough, IntoTopic("o")), config=kafka_config()
    )


def test_type_walk_names_both_types():
    """streaming §11.19"""
    with pytest.raises(StreamCompilationError, match="Order.*OrderValidated|OrderValidated.*Order"):
        compile_flow(_flow(Validate, IntoTopic("o", payload=Order)), config=kafka_config())
    with pytest.raises(StreamCompilationError, match="does not accept"):
        compile_flow(_flow(Validate, Validate, Drain()), config=kafka_config())
    compile_flow(_flow(Validate, IntoTopic("o")), config=kafka_config())


def test_async_step_resource_and_batch_source_shape_each_fail():
    """streaming §11.20"""

    class Async(RecordStep[Order, Order]):
        async def execute(self, message):
            return message.payload

    class WithResource(Passthrough):
        resource = object()

    for flow in (
        _flow(Async, Drain()),
        _flow(WithResource, Drain()),
        StreamFlow("f", FromTopic("in", payload=Order, shape=StreamShape.BATCH), Process(Drain())),
    ):
        with pytest.raises(StreamCompilationError):
            compile_flow(flow, config=kafka_config())


def test_multi_process_and_recovery_runtime_settings_are_rejected():
    """streaming §11.64"""
    cfg = kafka_config()
    cfg["streaming"] = {
        "runtime": {"process_id": 0, "addresses": ["a:1"], "recovery": {"db_dir": "x"}}
    }
    with pytest.raises(StreamCompilationError, match="recovery"):
        compile_flow(_flow(Drain()), config=cfg)


def test_two_flows_on_the_default_group_get_different_group_ids():
    """streaming §11.25"""
    cfg = kafka_config()
    cfg["kafka"]["consumer"]["group_id"] = "shop"
    a = compile_flow(_flow(Drain(), name="a"), config=cfg)
    b = compile_flow(_flow(Drain(), name="b"), config=cfg)
    assert (a.source.group_id, b.source.group_id) == ("shop.a", "shop.b")
    assert a.source.topics == ("in",)
