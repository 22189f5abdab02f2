"""Compile-time checks not covered elsewhere: step instantiation, type-walk exemptions, use-case
parameters and signatures, runtime settings (spec §2.12, §4.3)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from loom_django.core.command import Command
from loom_django.core.engine.compiler import UseCaseCompiler
from loom_django.core.use_case import Input, UseCase
from loom_django.streaming import (
    Drain,
    FromTopic,
    IntoTopic,
    InvokeUseCase,
    Process,
    RecordStep,
    StreamCompilationError,
    StreamFlow,
    compile_flow,
    payload,
)
from tests.streaming.flows import Order, Validate, kafka_config


class Rename(Command, frozen=True):
    name: str


class RenameUseCase(UseCase[Any, str]):
    def execute(self, item_id: int, cmd: Rename = Input()) -> str:
        return f"{item_id}:{cmd.name}"


class BadSignatureUseCase(UseCase[Any, str]):
    def execute(self, cmd: Rename = Input(), other: Rename = Input()) -> str:
        return cmd.name


class RenameRequested(msgspec.Struct, frozen=True):
    item_id: int
    name: str


def _flow(*nodes, payload_type=Order):
    return StreamFlow("c", FromTopic("in", payload=payload_type), Process(*nodes))


def _compile_uc(step):
    return compile_flow(
        _flow(step, Drain(), payload_type=RenameRequested),
        config=kafka_config(),
        compiler=UseCaseCompiler(),
    )


def test_a_bare_step_class_is_instantiated_by_the_compiler():
    """streaming §11.16 (bare classes)"""
    plan = compile_flow(_flow(Validate, Drain()), config=kafka_config())
    assert isinstance(plan.ops[0].step, Validate)


def test_unparameterised_steps_and_untyped_sinks_are_not_type_checked():
    """streaming §11.19"""

    class Loose(RecordStep):
        def execute(self, message):
            return message.payload

    compile_flow(_flow(Loose, IntoTopic("o", payload=str)), config=kafka_config())
    compile_flow(_flow(Validate, IntoTopic("o")), config=kafka_config())


def test_invoke_use_case_missing_param_fails_naming_use_case_and_param():
    """streaming §11.21"""
    with pytest.raises(StreamCompilationError, match="RenameUseCase: missing param 'item_id'"):
        _compile_uc(InvokeUseCase(RenameUseCase))
    _compile_uc(InvokeUseCase(RenameUseCase, params={"item_id": payload.item_id}))


def test_invoke_use_case_with_a_signature_the_engine_rejects_fails_naming_it():
    """streaming §11.21"""
    with pytest.raises(StreamCompilationError, match="use case BadSignatureUseCase:"):
        _compile_uc(InvokeUseCase(BadSignatureUseCase))


def test_runtime_settings_reach_the_plan_with_kernel_defaults():
    """streaming §11.26"""
    plan = compile_flow(_flow(Drain()), config=kafka_config())
    runtime = plan.runtime
    assert (runtime.async_backend, runtime.use_uvloop, runtime.force_shutdown_timeout_ms) == (
        "asyncio",
        False,
        None,
    )
    cfg = kafka_config()
    values = {
        "workers_per_process": 3,
        "epoch_interval_ms": 500,
        "async_backend": "trio",
        "use_uvloop": True,
        "force_shutdown_timeout_ms": 250,
        "commit_interval_ms": 50,
        "max_inflight_messages": 7,
    }
    cfg["streaming"] = {
        "runtime": values,
        "flows": {"c": {"runtime": {"max_inflight_messages": 9}}},
    }
    runtime = compile_flow(_flow(Drain()), config=cfg).runtime
    assert {k: getattr(runtime, k) for k in values} == {**values, "max_inflight_messages": 9}


def test_zero_workers_is_a_compile_error():
    """streaming §2.12 phase 9"""
    cfg = kafka_config()
    cfg["streaming"] = {"runtime": {"workers_per_process": 0}}
    with pytest.raises(StreamCompilationError, match="workers_per_process must be >= 1"):
        compile_flow(_flow(Drain()), config=cfg)


def test_a_sink_without_producer_settings_is_named_with_balanced_quotes():
    """streaming §11.24: the compile error names the reference exactly as written."""
    config = {"kafka": {"consumer": {"brokers": ["localhost:9092"]}}}
    flow = StreamFlow(
        name="no_producer",
        source=FromTopic("orders", payload=Order),
        process=Process(IntoTopic("audit", payload=Order)),
    )
    with pytest.raises(StreamCompilationError) as info:
        compile_flow(flow, config=config)
    assert "no kafka producer settings for 'audit'" in str(info.value)
