"""The M tier with the Django test database (spec §8.6): one worker runs on the test's thread,
so use cases write through the test's own connection and transaction."""

from __future__ import annotations

import msgspec
import pytest

from loom_django.orm.mapping import django_model_for
from loom_django.streaming import FromTopic, IntoTopic, InvokeUseCase, Process, StreamFlow
from tests.jobsapp.models import JobRecord
from tests.jobsapp.use_cases import CreateRecordUseCase, WriteAndDispatchUseCase

pytestmark = pytest.mark.stream_mem


class RecordRequested(msgspec.Struct, frozen=True):
    name: str
    fail: bool = False


class RecordCreated(msgspec.Struct, frozen=True):
    id: int
    name: str


@pytest.mark.django_db
def test_a_use_case_step_writes_rows_in_the_test_transaction(flow_harness):
    """streaming §11.65 (M): one row per valid message, mapped result emitted, commit"""
    flow = StreamFlow(
        "records",
        FromTopic("in", payload=RecordRequested),
        Process(InvokeUseCase(CreateRecordUseCase, result=RecordCreated), IntoTopic("out")),
        errors=IntoTopic("errors"),
    )
    harness = flow_harness(flow)
    harness.send("in", RecordRequested(name="a"), key="k")
    harness.send("in", RecordRequested(name="b"), key="k")
    harness.run()
    assert [m["name"] for m in harness.messages("out")] == ["a", "b"]
    rows = django_model_for(JobRecord).objects.order_by("name").values_list("name", flat=True)
    assert list(rows) == ["a", "b"]
    assert sum(harness.committed().values()) == 2


@pytest.mark.django_db
def test_a_failing_use_case_rolls_back_its_row_and_routes_a_business_error(flow_harness):
    """streaming §11.65 (M): a failure after the insert leaves no row"""
    flow = StreamFlow(
        "dispatch",
        FromTopic("in", payload=RecordRequested),
        Process(InvokeUseCase(WriteAndDispatchUseCase), IntoTopic("out")),
        errors=IntoTopic("errors"),
    )
    harness = flow_harness(flow)
    harness.send("in", RecordRequested(name="ok"))
    harness.send("in", RecordRequested(name="bad", fail=True))
    harness.run()
    [error] = harness.errors("business")
    assert error.reason == "failed after dispatch"
    names = set(django_model_for(JobRecord).objects.values_list("name", flat=True))
    assert names == {"ok"}
