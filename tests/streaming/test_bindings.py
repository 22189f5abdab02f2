"""``Step.from_config`` / ``configure``: steps and context factories built at compile time from
``streaming.bindings`` sections, with typed validation (spec §4.5, criterion §11.16)."""

from __future__ import annotations

import contextlib

import msgspec
import pytest

from loom_django.streaming import (
    ContextFactory,
    Drain,
    FromTopic,
    Process,
    RecordStep,
    StreamCompilationError,
    StreamFlow,
    With,
    compile_flow,
)
from tests.streaming.flows import Order, kafka_config


class Limits(msgspec.Struct, frozen=True):
    rate: float
    burst: int = 1


class Label(RecordStep[Order, Order]):
    def __init__(self, prefix: str, suffix: str = "", limits: Limits | None = None) -> None:
        self.prefix = prefix
        self.suffix = suffix
        self.limits = limits

    def execute(self, message, **deps):
        return message.payload


class Pool(ContextFactory):
    def __init__(self, size: int) -> None:
        super().__init__(lambda: contextlib.nullcontext(size))
        self.size = size


def _config(bindings):
    cfg = kafka_config()
    cfg["streaming"]["bindings"] = bindings
    return cfg


def _compile(*nodes, bindings=None):
    end = () if isinstance(nodes[-1], With) else (Drain(),)
    flow = StreamFlow("b", FromTopic("in", payload=Order), Process(*nodes, *end))
    return compile_flow(flow, config=_config(bindings or {}))


def test_from_config_builds_the_step_with_yaml_values_and_overrides_winning():
    """streaming §11.16: prefix from the override, suffix from YAML"""
    plan = _compile(
        Label.from_config("streaming.bindings.step", prefix="override"),
        bindings={"step": {"prefix": "yaml", "suffix": "-y", "limits": {"rate": 1.5}}},
    )
    step = plan.ops[0].step
    assert (step.prefix, step.suffix, step.limits) == ("override", "-y", Limits(rate=1.5))


def test_a_missing_required_field_is_named():
    """streaming §11.16: "requires config field 'prefix'" """
    with pytest.raises(StreamCompilationError, match="requires config field 'prefix'"):
        _compile(Label.from_config("streaming.bindings.step"), bindings={"step": {"suffix": "x"}})


def test_a_wrongly_typed_nested_field_reports_msgspecs_message():
    """streaming §11.16: "Expected `float`, got `str`" """
    with pytest.raises(StreamCompilationError, match="Expected `float`, got `str`"):
        _compile(
            Label.from_config("streaming.bindings.step"),
            bindings={"step": {"prefix": "p", "limits": {"rate": "fast"}}},
        )


def test_a_missing_section_is_named_by_its_path():
    """streaming §11.16: the message contains the section's path"""
    with pytest.raises(StreamCompilationError, match="streaming.bindings.absent"):
        _compile(Label.from_config("streaming.bindings.absent"))


def test_configure_binds_with_overrides_only():
    """streaming §4.5: ``configure(**kwargs)`` needs no section"""
    plan = _compile(Label.configure(prefix="only"))
    assert plan.ops[0].step.prefix == "only"


def test_bindings_inside_with_resolve_steps_and_context_factories():
    """streaming §4.5: bindings work anywhere in the tree, ContextFactory subclasses included"""
    plan = _compile(
        With(
            pool=Pool.from_config("streaming.bindings.pool"),
            process=Process(Label.from_config("streaming.bindings.step")),
        ),
        bindings={"step": {"prefix": "in-with"}, "pool": {"size": "4"}},
    )
    with_op = plan.ops[0]
    assert with_op.ops[0].step.prefix == "in-with"
    assert with_op.factories["pool"].size == 4
