"""Ordering, parallel groups, events, temps, client steps, CSV options (spec §12 items 32-45,
56, 67-69)."""

from __future__ import annotations

import threading
import time
import types
import uuid
from datetime import date

import polars as pl
import pytest
from django.db import connection, connections
from django.db.backends.signals import connection_created

from loom_django.etl import (
    ClientStep,
    CsvReadOptions,
    ETLParams,
    ETLPipeline,
    ETLProcess,
    ETLStep,
    Format,
    FromFile,
    FromTemp,
    IntoFile,
    IntoTemp,
    Secret,
)
from loom_django.etl.config import EtlConfig, StorageConfig, TempConfig
from loom_django.etl.runner import ETLRunner, Event
from tests.testapp.models import Publisher

pytestmark = pytest.mark.django_db


class P(ETLParams):
    run_date: date = date(2026, 3, 30)
    token: Secret[str] = "s3cret"


def _pipe(*steps, processes=None):
    proc = types.new_class(
        "Proc", (ETLProcess[P],), exec_body=lambda d: d.update(steps=list(steps))
    )
    return types.new_class(
        "Pipe", (ETLPipeline[P],), exec_body=lambda d: d.update(processes=processes or [proc])
    )


def _step(name, target, body=None, **sources):
    def execute(self, params, **frames):
        return body(**frames) if body else pl.LazyFrame({"x": [1]})

    return types.new_class(
        name, (ETLStep[P],), exec_body=lambda d: d.update(target=target, execute=execute, **sources)
    )


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    def names(self) -> list[str]:
        return [f"{e.scope}_{e.kind}" for e in self.events]


def test_events_come_in_lifecycle_order_with_secret_params_redacted(files_root):
    rec = Recorder()
    ETLRunner(observers=[rec]).run(_pipe(_step("A", IntoFile("a.csv", format=Format.CSV))), P())
    assert rec.names() == [
        "pipeline_start",
        "process_start",
        "step_start",
        "step_end",
        "process_end",
        "pipeline_end",
    ]
    assert rec.events[0].params == {"run_date": "2026-03-30", "token": "***"}
    assert rec.events[3].rows_written == 1


def test_a_failing_step_emits_step_error_before_step_end_failed(files_root):
    def boom():
        raise RuntimeError("boom")

    rec = Recorder()
    with pytest.raises(RuntimeError):
        ETLRunner(observers=[rec]).run(
            _pipe(_step("A", IntoFile("a.csv", format=Format.CSV), boom)), P()
        )
    assert rec.names()[2:5] == ["step_start", "step_error", "step_end"]
    assert rec.events[-1].status == "failed"


def test_a_raising_observer_does_not_change_the_outcome(files_root, caplog):
    class Bad:
        def on_event(self, event):
            raise RuntimeError("observer broke")

    result = ETLRunner(observers=[Bad()]).run(
        _pipe(_step("A", IntoFile("a.csv", format=Format.CSV))), P()
    )
    assert result.status == "success"
    assert any("observer" in r.message for r in caplog.records if r.levelname == "WARNING")


def test_supplied_run_id_appears_in_every_event(files_root):
    rec = Recorder()
    run_id = str(uuid.uuid4())
    result = ETLRunner(observers=[rec]).run(
        _pipe(_step("A", IntoFile("a.csv", format=Format.CSV))), P(), run_id=run_id
    )
    assert result.run_id == run_id and {e.run_id for e in rec.events} == {run_id}


def test_parallel_group_finishes_before_the_next_step_and_reraises_the_first_failure(files_root):
    times: dict[str, float] = {}

    def slow():
        time.sleep(0.2)
        times["A"] = time.monotonic()
        raise RuntimeError("A failed")

    def fast():
        times["B"] = time.monotonic()
        raise ValueError("B failed")

    A = _step("A", IntoFile("a.csv", format=Format.CSV), slow)
    B = _step("B", IntoFile("b.csv", format=Format.CSV), fast)
    with pytest.raises(RuntimeError, match="A failed"):
        ETLRunner().run(_pipe([A, B]), P())
    assert set(times) == {"A", "B"}


def test_parallel_member_succeeds_while_sibling_fails_and_next_step_waits(files_root):
    order: list[str] = []

    def slow():
        time.sleep(0.2)
        order.append("A")
        return pl.LazyFrame({"x": [1]})

    def quick():
        order.append("B")
        return pl.LazyFrame({"x": [2]})

    def after():
        order.append("C")
        return pl.LazyFrame({"x": [3]})

    A = _step("A", IntoFile("a.csv", format=Format.CSV), slow)
    B = _step("B", IntoFile("b.csv", format=Format.CSV), quick)
    C = _step("C", IntoFile("c.csv", format=Format.CSV), after)
    ETLRunner().run(_pipe([A, B], C), P())
    assert order[-1] == "C" and set(order[:2]) == {"A", "B"}
    assert (files_root / "b.csv").exists()


def test_worker_threads_close_their_connections(files_root):
    opened: list[int] = []

    def on_created(sender, connection, **kwargs):
        opened.append(threading.get_ident())

    def read():
        Publisher.objects.count()  # opens a connection on the worker thread
        return pl.LazyFrame({"x": [1]})

    steps = [_step(f"S{i}", IntoFile(f"s{i}.csv", format=Format.CSV), read) for i in range(4)]
    connection_created.connect(on_created)
    closed: list[int] = []
    wrapper = type(connections["default"])
    original = wrapper.close

    def close(self):
        closed.append(threading.get_ident())
        return original(self)

    wrapper.close = close  # type: ignore[method-assign]
    try:
        ETLRunner().run(_pipe(steps), P())
    finally:
        wrapper.close = original  # type: ignore[method-assign]
        connection_created.disconnect(on_created)
    workers = {t for t in opened if t != threading.get_ident()}
    assert workers and workers <= set(closed)


def test_include_keeps_one_step_and_a_reduced_group_runs_as_a_plain_node(files_root):
    A = _step("A", IntoFile("a.csv", format=Format.CSV))
    B = _step("B", IntoFile("b.csv", format=Format.CSV))
    result = ETLRunner().run(_pipe([A, B]), P(), include=["A"])
    assert [s.step for s in result.steps] == ["A"]
    assert not (files_root / "b.csv").exists()


def test_fan_in_temp_concatenates_writers_aligned_to_the_first_schema(files_root):
    W1 = _step("W1", IntoTemp("parts", append=True), lambda: pl.LazyFrame({"a": [1], "b": ["x"]}))
    W2 = _step("W2", IntoTemp("parts", append=True), lambda: pl.LazyFrame({"a": [2, 3]}))
    R = _step(
        "R", IntoFile("parts.csv", format=Format.CSV), lambda parts: parts, parts=FromTemp("parts")
    )
    ETLRunner().run(_pipe(W1, W2, R), P())
    assert pl.read_csv(files_root / "parts.csv").rows() == [(1, "x"), (2, None), (3, None)]


def test_run_temps_are_deleted_after_success_and_after_failure(files_root, tmp_path):
    """etl §12.38"""
    config = EtlConfig(storage=StorageConfig(temp=TempConfig(root=str(tmp_path / "temps"))))
    W = _step("W", IntoTemp("t"))

    def boom(t):
        raise RuntimeError("x")

    R = _step("R", IntoFile("r.csv", format=Format.CSV), boom, t=FromTemp("t"))
    ETLRunner(config).run(_pipe(W), P(), run_id="ok")
    with pytest.raises(RuntimeError):
        ETLRunner(config).run(_pipe(W, R), P(), run_id="bad")
    assert list((tmp_path / "temps" / "runs").iterdir()) == []


def test_client_step_gets_the_connection_and_rolls_back_when_it_raises():
    seen = []

    class Touch(ClientStep[P]):
        def execute(self, params, *, client):
            seen.append(client)
            Publisher.objects.create(name="inside")
            raise RuntimeError("undo")

    with pytest.raises(RuntimeError):
        ETLRunner().run(_pipe(Touch), P())
    assert seen == [connection]
    assert not Publisher.objects.filter(name="inside").exists()


def test_csv_read_options_are_honoured(files_root):
    (files_root / "in.csv").write_text("junk\njunk\n1;NA\n2;b\n")
    opts = CsvReadOptions(
        separator=";", has_header=False, null_values=("NA",), skip_rows=2, infer_schema_length=None
    )
    feed = FromFile("in.csv", format=Format.CSV).with_options(opts)
    S = _step("S", IntoFile("out.csv", format=Format.CSV), lambda feed: feed, feed=feed)
    ETLRunner().run(_pipe(S), P())
    assert pl.read_csv(files_root / "out.csv").rows() == [(1, None), (2, "b")]


def test_include_keeping_a_temp_consumer_without_its_producer_is_temp_not_produced(files_root):
    from loom_django.etl import ETLCompilationError

    W = _step("W", IntoTemp("t"))
    R = _step("R", IntoFile("r.csv", format=Format.CSV), lambda t: t, t=FromTemp("t"))
    with pytest.raises(ETLCompilationError) as info:
        ETLRunner().run(_pipe(W, R), P(), include=["R"])
    assert info.value.code == "TEMP_NOT_PRODUCED"
