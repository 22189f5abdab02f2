"""Use-case steps run inline, bridged or auto on the current DB lane; rule failures carry
their details; database errors are classified (BUSINESS for integrity, TASK for operational)."""

from __future__ import annotations

import logging
import threading

import pytest

from loom_django.orm.mapping import django_model_for
from loom_django.streaming import ErrorKind, InvokeUseCase, RetryPolicy
from loom_django.streaming.errors import InlineSuspensionError
from tests.jobsapp.models import JobRecord
from tests.streaming.usecases import (
    AsyncOrmUseCase,
    CreateNamedUseCase,
    DuplicateUseCase,
    FlakyUseCase,
    NameAccepted,
    NameRequested,
    SleepyUseCase,
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


@pytest.fixture(autouse=True)
def _reset_probes():
    AsyncOrmUseCase.runs = 0
    AsyncOrmUseCase.probes = []
    AsyncOrmUseCase.loops = []
    FlakyUseCase.calls = 0
    DuplicateUseCase.calls = 0


@pytest.mark.django_db(transaction=True)
def test_one_valid_and_one_invalid_command_write_one_row_and_one_business_envelope():
    """streaming §11.65: one row, one OrderAccepted-like output, one BUSINESS envelope whose
    details name the violated field and message."""
    engine = engine_for(InvokeUseCase(CreateNamedUseCase, result=NameAccepted))
    emits, tracker = feed(engine, NameRequested(name="ok"), NameRequested(name="  "))
    topics = _by_topic(emits)
    [accepted] = topics["out"]
    [envelope] = topics["errors"]
    assert isinstance(accepted, NameAccepted) and accepted.name == "ok"
    assert envelope.kind is ErrorKind.BUSINESS
    assert envelope.details == [
        {"field": "name", "message": "name must not be blank", "code": envelope.details[0]["code"]}
    ]
    assert _rows() == ["ok"]
    assert tracker.to_commit() == {("in", 0): 2}


@pytest.mark.django_db(transaction=True)
def test_inline_mode_fails_a_use_case_needing_a_loop_with_a_task_error_and_rolls_back():
    """streaming §11.67: inline + Django's async ORM → TASK InlineSuspensionError, no row."""
    engine = engine_for(InvokeUseCase(AsyncOrmUseCase, mode="inline"))
    emits, _ = feed(engine, NameRequested(name="inline"))
    [envelope] = _by_topic(emits)["errors"]
    assert envelope.kind is ErrorKind.TASK
    assert "cannot run inline; use mode='bridged'" in envelope.reason
    assert "AsyncOrmUseCase" in envelope.reason
    assert _rows() == []


@pytest.mark.django_db(transaction=True)
def test_inline_mode_fails_a_use_case_awaiting_a_real_sleep_and_rolls_back():
    """streaming §11.67: inline + asyncio.sleep (needs a loop) → TASK, no row; bridged runs
    the same use case."""
    inline = engine_for(InvokeUseCase(SleepyUseCase, mode="inline"))
    [envelope] = _by_topic(feed(inline, NameRequested(name="zz"))[0])["errors"]
    assert (envelope.kind, _rows()) == (ErrorKind.TASK, [])
    assert "SleepyUseCase cannot run inline" in envelope.reason
    bridged = engine_for(InvokeUseCase(SleepyUseCase, mode="bridged"))
    assert [p.name for p in _by_topic(feed(bridged, NameRequested(name="zz"))[0])["out"]] == ["zz"]
    assert _rows() == ["zz"]


def test_a_use_case_step_subclass_with_an_unknown_mode_fails_compilation():
    """streaming §2.7: UseCaseStep.mode is checked at compile time."""
    from loom_django.streaming import StreamCompilationError, UseCaseStep
    from tests.streaming.usecases import use_case_flow

    class Sometimes(UseCaseStep):
        use_case = CreateNamedUseCase
        mode = "sometimes"

    with pytest.raises(StreamCompilationError, match="mode must be one of auto, inline, bridged"):
        use_case_flow(Sometimes())


def test_inline_suspension_error_is_classified_task():
    """streaming §11.67: the error a suspended inline run raises is a TASK error."""
    from loom_django.streaming._runtime import classify

    assert classify(InlineSuspensionError("x")) is ErrorKind.TASK


@pytest.mark.django_db(transaction=True)
def test_bridged_mode_runs_the_orm_on_the_lane_thread_inside_the_transaction():
    """streaming §11.67: bridged succeeds; its ORM calls run on the lane (calling) thread,
    inside the execution's atomic block, while the use case itself runs under a loop."""
    engine = engine_for(InvokeUseCase(AsyncOrmUseCase, mode="bridged"))
    emits, _ = feed(engine, NameRequested(name="bridged"))
    assert [p.name for p in _by_topic(emits)["out"]] == ["bridged"]
    assert AsyncOrmUseCase.probes == [(threading.get_ident(), True)]
    assert AsyncOrmUseCase.loops == [True]
    assert _rows() == ["bridged"]


@pytest.mark.django_db(transaction=True)
def test_bridged_mode_rolls_back_when_the_use_case_fails():
    """streaming §11.67: a bridged execution is one transaction (the failure undoes it)."""
    engine = engine_for(InvokeUseCase(CreateNamedUseCase, mode="bridged"))
    feed(engine, NameRequested(name="kept"))
    emits, _ = feed(engine, NameRequested(name=""), first_offset=1)
    assert _by_topic(emits)["errors"][0].kind is ErrorKind.BUSINESS
    assert _rows() == ["kept"]


@pytest.mark.django_db(transaction=True)
def test_auto_mode_falls_back_once_then_runs_bridged_and_logs_info_once(caplog):
    """streaming §11.67: the first message succeeds through the fallback (its inline attempt
    rolled back), later ones go straight to bridged, one INFO line."""
    engine = engine_for(InvokeUseCase(AsyncOrmUseCase))
    with caplog.at_level(logging.INFO, logger="loom_django.streaming"):
        first, _ = feed(engine, NameRequested(name="a"))
        later, _ = feed(engine, NameRequested(name="b"), NameRequested(name="c"), first_offset=1)
    assert [p.name for p in _by_topic(first + later)["out"]] == ["a", "b", "c"]
    assert AsyncOrmUseCase.runs == 4  # one inline attempt, then three bridged runs
    assert AsyncOrmUseCase.loops == [False, True, True, True]
    assert _rows() == ["a", "b", "c"]
    fallbacks = [r for r in caplog.records if "running it bridged" in r.getMessage()]
    assert len(fallbacks) == 1 and fallbacks[0].levelno == logging.INFO


@pytest.mark.django_db(transaction=True)
def test_auto_mode_within_one_batch_runs_the_messages_after_the_fallback_bridged():
    """streaming §11.67: once a message of a micro-batch needed a loop, the next ones of the
    same batch go straight to bridged (no second inline attempt)."""
    engine = engine_for(InvokeUseCase(AsyncOrmUseCase))
    emits, _ = feed(engine, NameRequested(name="a"), NameRequested(name="b"))
    assert [p.name for p in _by_topic(emits)["out"]] == ["a", "b"]
    assert AsyncOrmUseCase.loops == [False, True, True]
    assert _rows() == ["a", "b"]


@pytest.mark.django_db(transaction=True)
def test_integrity_error_is_business_and_not_retried():
    """streaming §11.69: Django IntegrityError → BUSINESS, no retry despite a policy."""
    engine = engine_for(
        InvokeUseCase(DuplicateUseCase, retry=RetryPolicy(max_attempts=3, backoff_ms=1))
    )
    emits, _ = feed(engine, NameRequested(name="dup"))
    [envelope] = _by_topic(emits)["errors"]
    assert (envelope.kind, envelope.attempts, DuplicateUseCase.calls) == (ErrorKind.BUSINESS, 1, 1)


@pytest.mark.django_db(transaction=True)
def test_operational_error_is_task_and_retried_per_policy():
    """streaming §11.69: OperationalError → TASK, retried; the third attempt writes."""
    FlakyUseCase.failures = 2
    engine = engine_for(
        InvokeUseCase(FlakyUseCase, retry=RetryPolicy(max_attempts=3, backoff_ms=1))
    )
    emits, _ = feed(engine, NameRequested(name="third"))
    assert [p.name for p in _by_topic(emits)["out"]] == ["third"]
    assert FlakyUseCase.calls == 3
    assert _rows() == ["third"]


@pytest.mark.django_db(transaction=True)
def test_operational_error_exhausting_the_policy_is_a_task_envelope():
    """streaming §11.69: a persisting OperationalError ends as TASK with every attempt."""
    FlakyUseCase.failures = 5
    engine = engine_for(
        InvokeUseCase(FlakyUseCase, retry=RetryPolicy(max_attempts=2, backoff_ms=1))
    )
    emits, _ = feed(engine, NameRequested(name="never"))
    [envelope] = _by_topic(emits)["errors"]
    assert (envelope.kind, envelope.attempts) == (ErrorKind.TASK, 2)


def test_invalid_mode_and_idempotency_are_rejected():
    """streaming §2.7: mode and idempotency take only their documented values."""
    with pytest.raises(ValueError, match="mode must be one of auto, inline, bridged"):
        InvokeUseCase(CreateNamedUseCase, mode="sometimes")
    with pytest.raises(ValueError, match="idempotency must be 'message' or a callable"):
        InvokeUseCase(CreateNamedUseCase, idempotency="offset")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["inline", "bridged"])
def test_a_job_dispatched_by_the_use_case_runs_after_the_commit(mode):
    """streaming §2.7: after-commit work (a job dispatch) runs once the execution's
    transaction committed, in both modes (bridged: registered on the loop's thread, run on
    the lane), and sees the committed row."""
    from loom_django.runtime import get_runtime
    from tests.jobsapp.use_cases import WriteAndDispatchUseCase

    engine = engine_for(InvokeUseCase(WriteAndDispatchUseCase, mode=mode))
    emits, _ = feed(engine, NameRequested(name="dispatched"))
    [job_id] = _by_topic(emits)["out"]
    assert get_runtime().job_service._results[job_id] == (True, 1)
    assert _rows() == ["dispatched"]
