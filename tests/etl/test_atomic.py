"""Step writes are one transaction; ``ETLPipeline.atomic`` makes the whole run one
(spec §9.4 "Single-transaction pipelines", §12 item 54)."""

from __future__ import annotations

import types
from typing import Any

import polars as pl
import pytest
from django.db import IntegrityError

from loom_django.etl import (
    ETLCompilationError,
    ETLCompiler,
    ETLParams,
    ETLPipeline,
    ETLProcess,
    ETLStep,
    IntoTable,
)
from loom_django.etl.config import EtlConfig, HistoryConfig
from loom_django.etl.runner import ETLRunner
from tests.testapp.models import Book, Publisher

NO_HISTORY = EtlConfig(history=HistoryConfig(enabled=False))


class P(ETLParams):
    pass


def _step(name: str, target: Any, frame: pl.DataFrame | None) -> type[Any]:
    def execute(self: Any, params: P) -> pl.LazyFrame:
        if frame is None:
            raise RuntimeError(f"{name} failed")
        return frame.lazy()

    return types.new_class(
        name, (ETLStep[P],), exec_body=lambda d: d.update(target=target, execute=execute)
    )


def _pipeline(steps: list[Any], *, atomic: bool) -> type[Any]:
    proc = types.new_class("Proc", (ETLProcess[P],), exec_body=lambda d: d.update(steps=steps))
    return types.new_class(
        "Pipe",
        (ETLPipeline[P],),
        exec_body=lambda d: d.update(processes=[proc], atomic=atomic),
    )


def _two_steps(atomic: bool) -> type[Any]:
    first = _step("First", IntoTable(Publisher).append(), pl.DataFrame({"name": ["a"]}))
    second = _step("Second", IntoTable(Book).append(), None)
    return _pipeline([first, second], atomic=atomic)


@pytest.mark.django_db
def test_a_failing_step_leaves_its_django_target_unchanged():
    """etl §12.54"""
    Publisher.objects.create(name="p")
    step = _step("Load", IntoTable(Publisher).replace(), pl.DataFrame({"name": ["q", "q"]}))
    with pytest.raises(IntegrityError):
        ETLRunner(NO_HISTORY).run(_pipeline([step], atomic=False), P())
    assert list(Publisher.objects.values_list("name", flat=True)) == ["p"]


@pytest.mark.django_db
def test_without_atomic_an_earlier_steps_rows_stay():
    with pytest.raises(RuntimeError, match="Second failed"):
        ETLRunner(NO_HISTORY).run(_two_steps(atomic=False), P())
    assert list(Publisher.objects.values_list("name", flat=True)) == ["a"]


@pytest.mark.django_db
def test_atomic_pipeline_rolls_back_step_one_when_step_two_fails():
    """etl §12.54"""
    with pytest.raises(RuntimeError, match="Second failed"):
        ETLRunner(NO_HISTORY).run(_two_steps(atomic=True), P())
    assert Publisher.objects.count() == 0


@pytest.mark.django_db
def test_atomic_pipeline_commits_every_step_on_success():
    first = _step("First", IntoTable(Publisher).append(), pl.DataFrame({"name": ["a"]}))
    second = _step("Second", IntoTable(Book).append(), pl.DataFrame({"title": ["t"]}))
    ETLRunner(NO_HISTORY).run(_pipeline([first, second], atomic=True), P())
    assert (Publisher.objects.count(), Book.objects.count()) == (1, 1)


def test_atomic_pipeline_with_history_on_the_same_database_does_not_compile():
    with pytest.raises(ETLCompilationError) as info:
        ETLCompiler(EtlConfig()).compile(_two_steps(atomic=True))
    assert info.value.code == "ATOMIC_HISTORY_CONFLICT"


def test_atomic_pipeline_with_history_on_another_alias_compiles():
    config = EtlConfig(history=HistoryConfig(database="other"))
    assert ETLCompiler(config).compile(_two_steps(atomic=True)).atomic_database == "default"


def test_atomic_pipeline_with_a_parallel_group_does_not_compile():
    a = _step("A", IntoTable(Publisher).append(), None)
    b = _step("B", IntoTable(Book).append(), None)
    with pytest.raises(ETLCompilationError) as info:
        ETLCompiler(NO_HISTORY).compile(_pipeline([[a, b]], atomic=True))
    assert info.value.code == "ATOMIC_UNSUPPORTED"


def test_atomic_pipeline_writing_two_databases_does_not_compile():
    a = _step("A", IntoTable(Publisher).append(), None)
    b = _step("B", IntoTable(Book).using("other").append(), None)
    with pytest.raises(ETLCompilationError, match="one database") as info:
        ETLCompiler(NO_HISTORY).compile(_pipeline([a, b], atomic=True))
    assert info.value.code == "ATOMIC_UNSUPPORTED"
