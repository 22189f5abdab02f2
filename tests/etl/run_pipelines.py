"""Pipelines for cancellation, timeouts, live history and the reject gate, run by dotted
path."""

from __future__ import annotations

import os
import signal
import threading
import time

import polars as pl

from loom_django.etl import (
    ETLPipeline,
    ETLProcess,
    ETLStep,
    FromTemp,
    IntoTable,
    IntoTemp,
    IntoUseCase,
)
from tests.etl.pipelines import DayParams
from tests.etl.use_cases import CreateProductUseCase
from tests.testapp.models import Book

SEEN: list[tuple[str, str]] = []
"""(step, status of the pipeline's history row read from another connection)."""


class SignalSelf(ETLStep[DayParams]):
    """Writes a temp, then receives SIGINT as if the operator pressed Ctrl-C."""

    signum = signal.SIGINT
    target = IntoTemp("books")

    def execute(self, params: DayParams) -> pl.LazyFrame:
        os.kill(os.getpid(), self.signum)
        return pl.LazyFrame({"title": ["x"], "pages": [1]})


class TermSelf(SignalSelf):
    """The same with SIGTERM (a supervisor stopping the job)."""

    signum = signal.SIGTERM


class Slow(ETLStep[DayParams]):
    """Takes longer than the test's ``--timeout``."""

    target = IntoTemp("books")

    def execute(self, params: DayParams) -> pl.LazyFrame:
        time.sleep(0.6)
        return pl.LazyFrame({"title": ["x"], "pages": [1]})


class SaveBooks(ETLStep[DayParams]):
    """Never reached once the run is cancelled."""

    books = FromTemp("books")
    target = IntoTable(Book).append()

    def execute(self, params: DayParams, *, books: pl.LazyFrame) -> pl.LazyFrame:
        return books


class Signalled(ETLProcess[DayParams]):
    steps = [SignalSelf, SaveBooks]


class SignalledPipeline(ETLPipeline[DayParams]):
    processes = [Signalled]


class Terminated(ETLProcess[DayParams]):
    steps = [TermSelf, SaveBooks]


class TerminatedPipeline(ETLPipeline[DayParams]):
    processes = [Terminated]


class Slowly(ETLProcess[DayParams]):
    steps = [Slow, SaveBooks]


class SlowPipeline(ETLPipeline[DayParams]):
    processes = [Slowly]


class Observe(ETLStep[DayParams]):
    """Reads the run's history row from a fresh connection on another thread."""

    target = IntoTable(Book).append()

    def execute(self, params: DayParams) -> pl.LazyFrame:
        from django.db import connections

        from loom_django.etl.models import EtlPipelineRun

        def look() -> None:
            try:
                SEEN.extend(
                    ("Observe", status)
                    for status in EtlPipelineRun.objects.values_list("status", flat=True)
                )
            finally:
                connections.close_all()

        thread = threading.Thread(target=look)
        thread.start()
        thread.join()
        return pl.LazyFrame({"title": ["seen"], "pages": [1]})


class Observing(ETLProcess[DayParams]):
    steps = [Observe]


class ObservedPipeline(ETLPipeline[DayParams]):
    processes = [Observing]


class FeedProducts(ETLStep[DayParams]):
    """One of three rows breaks the use case's price rule; no reject is tolerated."""

    target = IntoUseCase(CreateProductUseCase, on_error="reject", max_rejects=0)

    def execute(self, params: DayParams) -> pl.LazyFrame:
        return pl.LazyFrame(
            {"sku": ["a-1", "b-2", "c-3"], "name": ["A", "B", "C"], "price_cents": [100, 0, 300]}
        )


class Feeding(ETLProcess[DayParams]):
    steps = [FeedProducts]


class RejectingPipeline(ETLPipeline[DayParams]):
    processes = [Feeding]
