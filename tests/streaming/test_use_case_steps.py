"""Use-case steps run the shared engine: one transaction per message, rules and failures become
BUSINESS envelopes, writes after a failure roll back; compile-time checks name the use case."""

from __future__ import annotations

import msgspec
import pytest

from loom_django.orm.mapping import django_model_for
from loom_django.runtime import get_runtime
from loom_django.streaming import (
    ErrorKind,
    FromTopic,
    IntoTopic,
    InvokeUseCase,
    Process,
    StreamCompilationError,
    StreamFlow,
    compile_flow,
    payload,
)
from loom_django.streaming._runtime import FlowEngine, RawRecord
from loom_django.streaming.testing import envelope_bytes
from loom_django.streaming.tracker import AckTracker
from tests.jobsapp.models import JobRecord
from tests.jobsapp.use_cases import CreateRecordUseCase, WriteAndDispatchUseCase
from tests.streaming.flows import kafka_config


class RecordRequested(msgspec.Struct, frozen=True):
    name: str
    fail: bool = False


class RecordCreated(msgspec.Struct, frozen=True):
    id: int
    name: str


class Unrelated(msgspec.Struct, frozen=True):
    title: str


def _compile(step, source=RecordRequested):
    flow = StreamFlow(
        "uc",
        FromTopic("in", payload=source),
        Process(step, IntoTopic("out")),
        errors=IntoTopic("errors"),
    )
    return compile_flow(flow, config=kafka_config(), compiler=get_runtime().compiler)


def _feed(plan, *payloads):
    engine = FlowEngine(plan, runtime_provider=get_runtime)
    tracker = AckTracker()
    records = [
        RawRecord(envelope_bytes(p), None, {}, "in", 0, i, None, tracker.register("in", 0, i))
        for i, p in enumerate(payloads)
    ]
    emits = engine.process(records)
    for emit in emits:
        emit.token.done()
    return emits, tracker


@pytest.mark.django_db(transaction=True)
def test_valid_message_creates_one_row_and_emits_the_mapped_result():
    plan = _compile(InvokeUseCase(CreateRecordUseCase, result=RecordCreated))
    emits, tracker = _feed(plan, RecordRequested(name="a"))
    [emit] = emits
    assert emit.sink.topic == "out"
    assert emit.message.payload.name == "a"
    assert django_model_for(JobRecord).objects.filter(name="a").count() == 1
    assert tracker.to_commit() == {("in", 0): 1}


@pytest.mark.django_db(transaction=True)
def test_failure_after_the_insert_rolls_back_and_routes_a_business_envelope():
    plan = _compile(InvokeUseCase(WriteAndDispatchUseCase))
    emits, _ = _feed(plan, RecordRequested(name="ok"), RecordRequested(name="bad", fail=True))
    topics = {e.sink.topic: e.message.payload for e in emits}
    assert topics["errors"].kind is ErrorKind.BUSINESS
    assert topics["errors"].reason == "failed after dispatch"
    names = set(django_model_for(JobRecord).objects.values_list("name", flat=True))
    assert names == {"ok"}


def test_unknown_param_and_payload_missing_a_command_field_fail_naming_the_use_case():
    with pytest.raises(StreamCompilationError, match="CreateRecordUseCase: unknown param 'nope'"):
        _compile(InvokeUseCase(CreateRecordUseCase, params={"nope": payload.name}))
    with pytest.raises(StreamCompilationError, match="lacks command field 'name'"):
        _compile(InvokeUseCase(CreateRecordUseCase), source=Unrelated)
