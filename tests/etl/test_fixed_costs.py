"""Fixed framework costs: a no-op step and a 50-step compile (spec §10.2 item 1, §12 item 85).

Measured against the hand-written equivalent in the same test, alternating, medians; the
only wall-time bounds are the criterion's own (5 ms, 50 ms), the first scaled by how much
slower than the reference machine this one writes the hand-written row (CI runners are).
History rows go to the test database (in-memory SQLite, or PostgreSQL with
``DATABASE_URL``); on a SQLite *file* the default rollback journal adds an fsync per history
commit — ``bench/etl.py`` reports that case beside WAL.
"""

from __future__ import annotations

import os
import statistics
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from django.db import connection

from loom_django.etl import (
    ETLCompiler,
    ETLParams,
    ETLPipeline,
    ETLProcess,
    ETLStep,
    Format,
    IntoFile,
)
from loom_django.etl.config import EtlConfig
from loom_django.etl.launch import Launch, launch
from loom_django.etl.runner import ETLRunner

pytestmark = pytest.mark.django_db(transaction=True)

REPS = 21

REFERENCE_BY_HAND_S = 0.001
"""The hand-written one-row write on the reference machine, where the criterion's 5 ms
holds; a slower or busier machine scales the bound by how much slower it writes that row."""


def _execute(self: Any, params: ETLParams) -> pl.LazyFrame:
    return pl.LazyFrame({"a": [1]})


def _step(name: str) -> type[Any]:
    target = IntoFile(f"{name}.parquet", format=Format.PARQUET)
    return types.new_class(
        name, (ETLStep[ETLParams],), exec_body=lambda d: d.update(target=target, execute=_execute)
    )


def _pipeline(steps: list[type[Any]]) -> type[Any]:
    proc = types.new_class(
        "Proc", (ETLProcess[ETLParams],), exec_body=lambda d: d.update(steps=steps)
    )
    return types.new_class(
        "Pipe", (ETLPipeline[ETLParams],), exec_body=lambda d: d.update(processes=[proc])
    )


def _medians(*fns: Callable[[], Any]) -> list[float]:
    """Median seconds of each function, run alternately after one warm-up each."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(REPS):
        for fn, bucket in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [statistics.median(bucket) for bucket in times]


@pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="§10.2 item 1 bounds history rows on SQLite; bench/etl.py reports PostgreSQL",
)
def test_a_no_op_step_costs_at_most_5_ms_over_the_hand_written_write(tmp_path: Path):
    """etl §12.85: events, history rows, lock, heartbeat and context of a one-step run on a
    one-row in-memory source add ≤ 5 ms to writing that row by hand."""
    runner = ETLRunner(EtlConfig(files_root=str(tmp_path)))
    pipe = _pipeline([_step("Noop")])

    def ours() -> None:
        launch(runner, pipe, "noop", ETLParams(), Launch())

    def by_hand() -> None:
        frame = pl.LazyFrame({"a": [1]}).collect()
        frame.write_parquet(tmp_path / "hand.tmp")
        os.replace(tmp_path / "hand.tmp", tmp_path / "hand.parquet")

    # noise on a shared machine only adds time: the best of three rounds is the estimate
    rounds = [_medians(ours, by_hand) for _ in range(3)]
    extra_ms = min((o - h) * 1000 for o, h in rounds)
    slowdown = max(1.0, min(h for _, h in rounds) / REFERENCE_BY_HAND_S)
    bound_ms = 5.0 * slowdown
    assert extra_ms <= bound_ms, (
        f"+{extra_ms:.2f} ms > {bound_ms:.2f} ms (5 ms x machine slowdown {slowdown:.2f}; "
        f"ours, by hand per round: {rounds})"
    )


def test_compiling_a_50_step_pipeline_takes_at_most_50_ms():
    """etl §12.85: a fresh compiler (nothing cached) compiles 50 steps in ≤ 50 ms."""
    pipe = _pipeline([_step(f"Step{i}") for i in range(50)])
    compile_s = min(_medians(lambda: ETLCompiler(EtlConfig()).compile(pipe))[0] for _ in range(3))
    assert compile_s * 1000 <= 50.0, f"{compile_s * 1e3:.2f} ms"
