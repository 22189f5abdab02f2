"""Definition-time rules of the authoring API (spec §12, items 1-6, 11)."""

from __future__ import annotations

import pytest

from loom_django.etl import (
    ClientStep,
    ETLParams,
    ETLPipeline,
    ETLProcess,
    ETLStep,
    Format,
    FromFile,
    FromTable,
    IntoClient,
    IntoTable,
    Sources,
    SourceSet,
    col,
)
from loom_django.etl.targets import WriteMode


class P(ETLParams):
    n: int = 0


def test_mixing_inline_and_grouped_sources_raises_type_error():
    with pytest.raises(TypeError, match="cannot be mixed"):

        class Mixed(ETLStep[P]):
            orders = FromTable("t")
            sources = Sources(other=FromTable("u"))


def test_non_bool_streaming_raises_type_error():
    with pytest.raises(TypeError, match="'streaming' must be bool"):

        class Bad(ETLStep[P]):
            streaming = "yes"  # type: ignore[assignment]


def test_steps_and_processes_must_be_lists():
    with pytest.raises(TypeError, match="must be a list"):

        class Proc(ETLProcess[P]):
            steps = ()  # type: ignore[assignment]

    with pytest.raises(TypeError, match="must be a list"):

        class Pipe(ETLPipeline[P]):
            processes = ()  # type: ignore[assignment]


def test_client_step_target_must_be_into_client():
    with pytest.raises(TypeError):

        class Bad(ClientStep[P]):
            target = IntoTable("x")

    class Good(ClientStep[P]):
        target = IntoClient()


def test_empty_partition_and_column_lists_raise_value_error():
    with pytest.raises(ValueError):
        IntoTable("t").replace_partitions()
    with pytest.raises(ValueError):
        IntoTable("t").replace_partition()
    with pytest.raises(ValueError):
        FromTable("t").columns()
    with pytest.raises(ValueError):
        FromFile("x.csv", format=Format.CSV).columns()


def test_builders_are_immutable():
    base = IntoTable("t")
    base.append()
    assert base.mode is WriteMode.REPLACE and not base.explicit
    source = FromTable("t")
    assert source.where(col("a") == 1) is not source and source.predicate is None


def test_source_set_extended_conflict_and_subclassing():
    class Base(SourceSet[P]):
        orders = FromTable("t")

    with pytest.raises(ValueError, match="orders"):
        Base.extended(orders=FromTable("u"))
    assert Base.extended(more=FromTable("u")).aliases == ("orders", "more")
    with pytest.raises(TypeError):

        class Sub(Base):
            pass
