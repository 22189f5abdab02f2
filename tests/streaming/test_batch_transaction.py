"""``InvokeUseCase(transaction="batch")``: one transaction for a whole micro-batch (or
``CollectBatch`` batch); any failure rolls the batch back and becomes an error for each of its
messages; a retryable failure re-runs the whole batch (spec §2.7, §7.3)."""

from __future__ import annotations

import threading

import pytest

from loom_django.orm.mapping import django_model_for
from loom_django.orm.transaction import DjangoUnitOfWork
from loom_django.runtime import get_runtime
from loom_django.streaming import (
    ErrorKind,
    FromTopic,
    IntoTopic,
    InvokeUseCase,
    Process,
    RetryPolicy,
    StreamCompilationError,
    StreamFlow,
    UseCaseStep,
    WithAsync,
    compile_flow,
)
from loom_django.streaming._runtime import FlowEngine
from tests.jobsapp.models import JobRecord
from tests.streaming.batch_usecases import FailsOnceForUseCase, with_flow
from tests.streaming.flows import kafka_config
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


def _batch_step(use_case=CreateNamedUseCase, **options):
    return InvokeUseCase(use_case, result=NameAccepted, transaction="batch", **options)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["inline", "bridged"])
def test_a_micro_batch_commits_in_one_transaction(begins, mode):
    """One transaction for the three messages of the micro-batch, then three outputs."""
    engine = engine_for(_batch_step(mode=mode))
    emits, tracker = feed(engine, *_names("a", "b", "c"))
    assert [p.name for p in _by_topic(emits)["out"]] == ["a", "b", "c"]
    assert len(begins) == 1
    assert _rows() == ["a", "b", "c"]
    assert tracker.to_commit() == {("in", 0): 3}


@pytest.mark.django_db(transaction=True)
def test_a_business_failure_rolls_back_the_batch_and_fails_every_message():
    """streaming §2.7: the failing message gets its BUSINESS envelope with details; the
    others a BUSINESS envelope naming it; no row is written; every offset completes."""
    engine = engine_for(_batch_step())
    emits, tracker = feed(engine, *_names("a", "  ", "c"))
    topics = _by_topic(emits)
    assert "out" not in topics
    first, culprit, third = topics["errors"]
    assert culprit.kind is ErrorKind.BUSINESS
    assert culprit.details[0]["field"] == "name"
    for other in (first, third):
        assert other.kind is ErrorKind.BUSINESS
        assert other.reason.startswith("batch transaction rolled back: message in:0:1 failed")
        assert "name must not be blank" in other.reason
    assert [e.original_message.message_id for e in (first, culprit, third)] == [
        "in:0:0",
        "in:0:1",
        "in:0:2",
    ]
    assert _rows() == []
    assert tracker.to_commit() == {("in", 0): 3}


@pytest.mark.django_db(transaction=True)
def test_a_transient_failure_re_runs_the_whole_batch_without_duplicates():
    """A retryable TASK failure on the second message rolls back the first one's insert
    too; the retry runs the batch again and every row exists once."""
    FailsOnceForUseCase.fail_name = "b"
    engine = engine_for(
        _batch_step(FailsOnceForUseCase, retry=RetryPolicy(max_attempts=2, backoff_ms=1))
    )
    emits, tracker = feed(engine, *_names("a", "b", "c"))
    assert [p.name for p in _by_topic(emits)["out"]] == ["a", "b", "c"]
    assert FailsOnceForUseCase.calls == ["a", "b", "a", "b", "c"]
    assert _rows() == ["a", "b", "c"]
    assert tracker.to_commit() == {("in", 0): 3}


@pytest.mark.django_db(transaction=True)
def test_an_exhausted_transient_failure_is_a_task_error_for_every_message():
    """Without retries left the batch fails as TASK for each message, attempts recorded."""
    FailsOnceForUseCase.fail_name = "a"
    engine = engine_for(_batch_step(FailsOnceForUseCase))
    emits, _ = feed(engine, *_names("a", "b"))
    errors = _by_topic(emits)["errors"]
    assert [(e.kind, e.attempts) for e in errors] == [(ErrorKind.TASK, 1)] * 2
    assert "OperationalError" in errors[1].reason
    assert _rows() == []


@pytest.mark.django_db(transaction=True)
def test_collect_batch_batches_are_separate_transactions(begins):
    """Inside ``With`` after ``CollectBatch(2)``: a failure in the second batch leaves the
    first batch committed."""
    engine = FlowEngine(with_flow(_batch_step(), batch=2), runtime_provider=get_runtime)
    emits, tracker = feed(engine, *_names("a", "b", "c", " "))
    topics = _by_topic(emits)
    assert [p.name for p in topics["out"]] == ["a", "b"]
    assert [e.original_message.message_id for e in topics["errors"]] == ["in:0:2", "in:0:3"]
    assert len(begins) == 2
    assert _rows() == ["a", "b"]
    assert tracker.to_commit() == {("in", 0): 4}


@pytest.mark.django_db(transaction=True)
def test_auto_mode_re_runs_the_batch_bridged_when_the_use_case_needs_a_loop():
    """The inline attempt is rolled back, the batch runs bridged: every ORM call on this
    lane, inside the one transaction."""
    engine = engine_for(_batch_step(AsyncOrmUseCase))
    emits, _ = feed(engine, *_names("a", "b"))
    assert [p.name for p in _by_topic(emits)["out"]] == ["a", "b"]
    assert AsyncOrmUseCase.loops == [False, True, True]
    assert AsyncOrmUseCase.probes == [(threading.get_ident(), True)] * 2
    assert _rows() == ["a", "b"]


@pytest.mark.django_db(transaction=True)
def test_idempotency_inside_a_batch_re_emits_stored_results():
    """A redelivered batch writes nothing new and re-emits the stored results; a business
    key repeated inside one batch runs once."""
    step = _batch_step(idempotency=lambda message: f"name:{message.payload.name}")
    engine = engine_for(step)
    first, _ = feed(engine, *_names("a", "b", "a"))
    again, _ = feed(engine, *_names("a", "b"), first_offset=3)
    assert _rows() == ["a", "b"]
    outputs = [(p.id, p.name) for p in _by_topic(first + again)["out"]]
    assert outputs[0] == outputs[2] == outputs[3] and outputs[1] == outputs[4]


@pytest.mark.django_db(transaction=True)
def test_after_commit_work_runs_once_the_batch_committed():
    """A job dispatched by each execution runs after the batch's commit and sees the rows."""
    from tests.jobsapp.use_cases import WriteAndDispatchUseCase

    engine = engine_for(InvokeUseCase(WriteAndDispatchUseCase, transaction="batch"))
    emits, _ = feed(engine, *_names("x", "y"))
    results = get_runtime().job_service._results
    assert sorted(results[job_id] for job_id in _by_topic(emits)["out"]) == [(True, 1)] * 2


def test_an_unknown_transaction_value_is_rejected():
    """InvokeUseCase(transaction=...) takes message or batch."""
    with pytest.raises(ValueError, match="transaction must be one of message, batch"):
        InvokeUseCase(CreateNamedUseCase, transaction="flow")


def test_a_step_class_with_an_unknown_transaction_fails_compilation():
    """The compiler names the flow, the step and the field."""
    from tests.streaming.usecases import use_case_flow

    class Sometimes(UseCaseStep):
        use_case = CreateNamedUseCase
        transaction = "sometimes"
        name = "accept"

    with pytest.raises(StreamCompilationError) as exc:
        use_case_flow(Sometimes(), name="odd")
    assert "odd.accept: transaction must be one of message, batch (got 'sometimes')" in str(
        exc.value
    )


def test_a_batch_transaction_inside_with_async_fails_compilation():
    """Concurrent lanes cannot share one transaction: a compile error naming flow and step."""
    flow = StreamFlow(
        "concurrent",
        FromTopic("in", payload=NameRequested),
        Process(WithAsync(process=Process(_batch_step(name="accept"), IntoTopic("out")))),
    )
    with pytest.raises(StreamCompilationError) as exc:
        compile_flow(flow, config=kafka_config(), compiler=get_runtime().compiler)
    assert "concurrent.accept: transaction='batch' is not supported inside WithAsync" in str(
        exc.value
    )


@pytest.mark.django_db(transaction=True)
def test_batch_executions_feed_the_use_case_histogram_per_message():
    """streaming §6.9: loom_stream_usecase_seconds counts each message of a batch (the
    batch's time divided per message), successes and failures alike."""
    from loom_django.streaming.metrics import Timings

    engine = engine_for(_batch_step())
    engine.metrics.timing = timings = Timings()
    feed(engine, *_names("a", "b"))
    feed(engine, *_names("c", " "), first_offset=2)
    label = "CreateNamedUseCase"
    assert timings.usecase[(label, "success")].cumulative()[0][-1] == ("+Inf", 2)
    assert timings.usecase[(label, "error")].cumulative()[0][-1] == ("+Inf", 2)
