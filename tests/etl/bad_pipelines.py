"""Pipelines with problems, loaded by the checks tests through ``ETL_PIPELINES``."""

from __future__ import annotations

import polars as pl

from loom_django.etl import ETLParams, ETLPipeline, ETLProcess, ETLStep


class P(ETLParams):
    pass


class NoTarget(ETLStep[P]):
    def execute(self, params: P) -> pl.LazyFrame:
        return pl.LazyFrame()


class Proc(ETLProcess[P]):
    steps = [NoTarget]


class Broken(ETLPipeline[P]):
    name = "tests.broken"
    processes = [Proc]


class Same1(ETLPipeline[P]):
    name = "tests.same"
    processes: list[object] = []


class Same2(ETLPipeline[P]):
    name = "tests.same"
    processes: list[object] = []
