"""Bridged use-case steps run every execution of a batch inside one ``async_to_sync`` call,
still one transaction per message (spec §9.2 W4, §7.3)."""

from __future__ import annotations

import threading

import asgiref.sync
import pytest

from loom_django.orm.mapping import django_model_for
from loom_django.orm.transaction import DjangoUnitOfWork
from loom_django.runtime import get_runtime
from loom_django.streaming import ErrorKind, InvokeUseCase, RetryPolicy
from loom_django.streaming._runtime import FlowEngine
from tests.jobsapp.models import JobRecord
from tests.streaming.batch_usecases import FailsOnceForUseCase, with_flow
from tests.streaming.usecases import (
    AsyncOrmUseCase,
    CreateNamedUseCase,
    NameAccepted,
    NameRequested,
    engine_for,
    feed,
)


def _rows() -> list[str]:
    return sorted(django_model_for(JobRecord).objects.values_list("name", flat=True))


def _by_topic(emits):
    out: dict[str, list] = {}
    for emit in emits:
        out.setdefault(emit.sink.topic, []).append(emit.message.payload)
    return out


def _names(*names: str) -> list[NameRequested]:
    return [NameRequested(name=n) for n in names]


@pytest.fixture
def bridge_calls(monkeypatch):
    """Counts ``async_to_sync`` calls."""
    calls: list[object] = []
    real = asgiref.sync.async_to_sync

    def spy(fn, *args, **kwargs):
        calls.append(fn)
        return real(fn, *args, **kwargs)

    monkeypatch.setattr(asgiref.sync, "async_to_sync", spy)
    return calls


@pytest.fixture
def begins(monkeypatch):
    """Counts the transactions opened (``DjangoUnitOfWork.begin`` calls)."""
    calls: list[int] = []
    real = DjangoUnitOfWork.begin

    def spy(self):
        calls.append(threading.get_ident())
        real(self)

    monkeypatch.setattr(DjangoUnitOfWork, "begin", spy)
    return calls


@pytest.fixture(autouse=True)
def _reset_probes():
    AsyncOrmUseCase.runs = 0
    AsyncOrmUseCase.probes = []
    AsyncOrmUseCase.loops = []
    FailsOnceForUseCase.fail_name = ""
    FailsOnceForUseCase.calls = []


@pytest.mark.django_db(transaction=True)
def test_a_micro_batch_runs_in_one_bridge_call_with_a_transaction_per_message(bridge_calls, begins):
    """Three messages: one ``async_to_sync``, three transactions opened on this lane, the
    ORM of every execution back on this thread inside its transaction."""
    engine = engine_for(InvokeUseCase(AsyncOrmUseCase, result=NameAccepted, mode="bridged"))
    emits, tracker = feed(engine, *_names("a", "b", "c"))
    assert [p.name for p in _by_topic(emits)["out"]] == ["a", "b", "c"]
    assert len(bridge_calls) == 1
    assert begins == [threading.get_ident()] * 3
    assert AsyncOrmUseCase.probes == [(threading.get_ident(), True)] * 3
    assert _rows() == ["a", "b", "c"]
    assert tracker.to_commit() == {("in", 0): 3}


@pytest.mark.django_db(transaction=True)
def test_a_failing_message_rolls_back_only_itself():
    """A BUSINESS failure in the middle of the batch: the others are written."""
    engine = engine_for(InvokeUseCase(CreateNamedUseCase, result=NameAccepted, mode="bridged"))
    emits, tracker = feed(engine, *_names("a", " ", "c"))
    topics = _by_topic(emits)
    assert [p.name for p in topics["out"]] == ["a", "c"]
    [envelope] = topics["errors"]
    assert envelope.kind is ErrorKind.BUSINESS
    assert envelope.original_message.message_id == "in:0:1"
    assert _rows() == ["a", "c"]
    assert tracker.to_commit() == {("in", 0): 3}


@pytest.mark.django_db(transaction=True)
def test_a_retried_message_runs_before_the_next_one(bridge_calls):
    """A transient failure of ``b`` stops the batch call; ``b`` is retried alone (its first
    insert rolled back), then ``c`` runs in a new batch call: order and rows kept."""
    FailsOnceForUseCase.fail_name = "b"
    engine = engine_for(
        InvokeUseCase(
            FailsOnceForUseCase,
            result=NameAccepted,
            mode="bridged",
            retry=RetryPolicy(max_attempts=2, backoff_ms=1),
        )
    )
    emits, _ = feed(engine, *_names("a", "b", "c"))
    assert [p.name for p in _by_topic(emits)["out"]] == ["a", "b", "c"]
    assert FailsOnceForUseCase.calls == ["a", "b", "b", "c"]
    assert len(bridge_calls) == 3  # [a, b], b alone, [c]
    assert _rows() == ["a", "b", "c"]


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_batch_re_emits_the_stored_results():
    """``idempotency="message"`` in batched bridged calls: the inbox row commits with each
    execution; the same offsets again write nothing and emit the same outputs."""
    engine = engine_for(
        InvokeUseCase(
            CreateNamedUseCase, result=NameAccepted, mode="bridged", idempotency="message"
        )
    )
    first, _ = feed(engine, *_names("a", "b"))
    again, _ = feed(engine, *_names("a", "b"))
    assert _rows() == ["a", "b"]
    assert _by_topic(first)["out"] == _by_topic(again)["out"]


@pytest.mark.django_db(transaction=True)
def test_auto_mode_batches_bridged_calls_once_the_use_case_needed_a_loop(bridge_calls):
    """After the first fallback the next micro-batch runs in one bridge call."""
    engine = engine_for(InvokeUseCase(AsyncOrmUseCase, result=NameAccepted))
    feed(engine, *_names("a"))
    before = len(bridge_calls)
    emits, _ = feed(engine, *_names("b", "c", "d"), first_offset=1)
    assert [p.name for p in _by_topic(emits)["out"]] == ["b", "c", "d"]
    assert len(bridge_calls) - before == 1


@pytest.mark.django_db(transaction=True)
def test_a_collect_batch_inside_with_is_one_bridge_call_per_batch(bridge_calls):
    """``CollectBatch(2)`` + ``With``: one bridge call per batch of two."""
    step = InvokeUseCase(CreateNamedUseCase, result=NameAccepted, mode="bridged")
    engine = FlowEngine(with_flow(step, batch=2), runtime_provider=get_runtime)
    emits, _ = feed(engine, *_names("a", "b", "c", "d"))
    assert [p.name for p in _by_topic(emits)["out"]] == ["a", "b", "c", "d"]
    assert len(bridge_calls) == 2
