"""Pipelines the command tests run by dotted path."""

from __future__ import annotations

from datetime import date

import polars as pl

from loom_django.etl import (
    CheckpointScope,
    ETLParams,
    ETLPipeline,
    ETLProcess,
    ETLStep,
    FromTable,
    FromTemp,
    IntoTable,
    IntoTemp,
    SchemaMode,
    Secret,
)
from tests.testapp.models import Book, Ghost


class DayParams(ETLParams):
    run_date: date
    pages: int = 1


class LoadBooks(ETLStep[DayParams]):
    target = IntoTable(Book).append()

    def execute(self, params: DayParams) -> pl.LazyFrame:
        return pl.LazyFrame({"title": [params.run_date.isoformat()], "pages": [params.pages]})


class Books(ETLProcess[DayParams]):
    steps = [LoadBooks]


class BooksPipeline(ETLPipeline[DayParams]):
    processes = [Books]


class CopyBooks(ETLStep[DayParams]):
    books = FromTable(Book).columns("title", "pages")
    target = IntoTable(Book).append()

    def execute(self, params: DayParams, *, books: pl.LazyFrame) -> pl.LazyFrame:
        raise RuntimeError("copy failed")


class Failing(ETLProcess[DayParams]):
    steps = [CopyBooks]


class FailingPipeline(ETLPipeline[DayParams]):
    processes = [Failing]


class ReadGhost(ETLStep[DayParams]):
    ghosts = FromTable(Ghost)
    target = IntoTable(Book).append()

    def execute(self, params: DayParams, *, ghosts: pl.LazyFrame) -> pl.LazyFrame:
        return ghosts.select(pl.col("name").alias("title"))


class Ghosts(ETLProcess[DayParams]):
    steps = [ReadGhost]


class GhostPipeline(ETLPipeline[DayParams]):
    processes = [Ghosts]


class Interrupted(ETLStep[DayParams]):
    target = IntoTable(Book).append()

    def execute(self, params: DayParams) -> pl.LazyFrame:
        raise KeyboardInterrupt


class Stop(ETLProcess[DayParams]):
    steps = [Interrupted]


class InterruptedPipeline(ETLPipeline[DayParams]):
    processes = [Stop]


class SecretParams(DayParams):
    token: Secret[str] = "s3cret"


class ReplaceBooks(ETLStep[SecretParams]):
    target = IntoTable(Book)  # no mode: replace (implicit)

    def execute(self, params: SecretParams) -> pl.LazyFrame:
        return pl.LazyFrame({"title": ["x"], "pages": [1]})


class Replacing(ETLProcess[SecretParams]):
    steps = [ReplaceBooks]


class ReplacePipeline(ETLPipeline[SecretParams]):
    processes = [Replacing]


class RetryParams(DayParams):
    fail: bool = False


class StageBooks(ETLStep[RetryParams]):
    target = IntoTemp("staged", scope=CheckpointScope.CORRELATION)

    def execute(self, params: RetryParams) -> pl.LazyFrame:
        return pl.LazyFrame({"title": [params.run_date.isoformat()], "pages": [params.pages]})


class LoadStaged(ETLStep[RetryParams]):
    staged = FromTemp("staged")
    target = IntoTable(Book).append()

    def execute(self, params: RetryParams, *, staged: pl.LazyFrame) -> pl.LazyFrame:
        if params.fail:
            raise RuntimeError("load failed")
        return staged


class Staging(ETLProcess[RetryParams]):
    steps = [StageBooks, LoadStaged]


class RetryPipeline(ETLPipeline[RetryParams]):
    """Stages rows in a CORRELATION temp, then loads them (fails when ``fail`` is set)."""

    processes = [Staging]


class NoParams(ETLParams):
    pass


class WriteLake(ETLStep[NoParams]):
    target = IntoTable("lake.orders").append(schema=SchemaMode.OVERWRITE)

    def execute(self, params: NoParams) -> pl.LazyFrame:
        return pl.LazyFrame({"id": [1], "amount": [1.0]})


class Lake(ETLProcess[NoParams]):
    steps = [WriteLake]


class LakePipeline(ETLPipeline[NoParams]):
    """Writes a Delta table routed by ``storage.defaults.table_path``."""

    processes = [Lake]
