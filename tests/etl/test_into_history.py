"""``IntoHistory`` (SCD type 2) on a Django table: declaration rules, snapshot and log modes,
run-time conflicts (spec §2.8.4, §12 items 10, 58, 59)."""

from __future__ import annotations

import types
from datetime import date
from typing import Any

import polars as pl
import pytest

from loom_django.etl import (
    ETLCompilationError,
    ETLCompiler,
    ETLParams,
    ETLPipeline,
    ETLProcess,
    ETLStep,
    HistorifyDateCollisionError,
    HistorifyKeyConflictError,
    HistorifyTemporalConflictError,
    IntoHistory,
    params,
)
from loom_django.etl.runner import ETLRunner
from tests.testapp.models import TierHistory


class D(ETLParams):
    run_date: date


def _pipeline(target: Any, frame: pl.DataFrame) -> type[Any]:
    def execute(self: Any, params: D) -> pl.LazyFrame:
        return frame.lazy()

    step = types.new_class(
        "Tiers", (ETLStep[D],), exec_body=lambda d: d.update(target=target, execute=execute)
    )
    proc = types.new_class("Proc", (ETLProcess[D],), exec_body=lambda d: d.update(steps=[step]))
    return types.new_class(
        "Pipe", (ETLPipeline[D],), exec_body=lambda d: d.update(processes=[proc])
    )


def _run(target: Any, frame: pl.DataFrame, day: date) -> None:
    ETLRunner().run(_pipeline(target, frame), D(run_date=day))


def _rows() -> list[tuple[Any, ...]]:
    return list(
        TierHistory.objects.order_by("customer_id", "valid_from").values_list(
            "customer_id", "tier", "valid_from", "valid_to", "deleted_at"
        )
    )


SNAPSHOT = IntoHistory(
    TierHistory, keys=("customer_id",), track=("tier",), effective_date=params.run_date
)
LOG = IntoHistory(
    TierHistory, keys=("customer_id",), track=("tier",), effective_date="changed_on", mode="log"
)


# -- declaration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keys": ()}, "at least one key"),
        ({"keys": ("a",), "track": ("a", "b")}, "both keys and tracked"),
        ({"keys": ("a",), "overwrite": ("a",)}, "overwrite"),
        ({"keys": ("a",), "track": ("b",), "overwrite": ("b",)}, "overwrite"),
        ({"keys": ("a",), "overwrite": ("valid_to",)}, "overwrite"),
        ({"keys": ("a",), "valid_from": "d", "valid_to": "d"}, "must differ"),
    ],
)
def test_history_declaration_rules_raise_value_error(kwargs, message):
    """etl §12.10"""
    with pytest.raises(ValueError, match=message):
        IntoHistory("t", effective_date=params.run_date, **kwargs)


def test_log_mode_effective_date_equal_to_a_boundary_raises_value_error():
    """etl §12.10"""
    with pytest.raises(ValueError, match="must differ from valid_from"):
        IntoHistory("t", keys=("a",), mode="log", effective_date="valid_from")


def test_log_mode_needs_a_column_name_and_snapshot_a_params_expression():
    with pytest.raises(ValueError, match="names the event column"):
        IntoHistory("t", keys=("a",), mode="log", effective_date=params.run_date)
    with pytest.raises(ValueError, match="params expression"):
        IntoHistory("t", keys=("a",), effective_date="changed_on")


def test_unknown_effective_date_param_is_a_compile_error():
    """etl §12.17"""
    target = IntoHistory(TierHistory, keys=("customer_id",), effective_date=params.nope)
    with pytest.raises(ETLCompilationError) as info:
        ETLCompiler().compile(_pipeline(target, pl.DataFrame()))
    assert info.value.code == "UNKNOWN_PARAM_FIELD"


def test_unknown_history_column_is_a_compile_error():
    target = IntoHistory(TierHistory, keys=("client",), effective_date=params.run_date)
    with pytest.raises(ETLCompilationError) as info:
        ETLCompiler().compile(_pipeline(target, pl.DataFrame()))
    assert info.value.code == "UNKNOWN_COLUMN"


def test_history_without_scope_or_track_warns_at_compile_time():
    target = IntoHistory(TierHistory, keys=("customer_id",), effective_date=params.run_date)
    plan = ETLCompiler().compile(_pipeline(target, pl.DataFrame()))
    codes = {w.split(":")[0] for w in plan.warnings}
    assert {"W_HISTORY_NO_SCOPE", "W_HISTORY_TRACK_INFERRED"} <= codes


# -- snapshot mode ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_snapshot_opens_closes_and_reruns_idempotently():
    """etl §12.58"""
    _run(SNAPSHOT, pl.DataFrame({"customer_id": [42], "tier": ["bronze"]}), date(2025, 3, 1))
    assert _rows() == [(42, "bronze", date(2025, 3, 1), None, None)]
    silver = pl.DataFrame({"customer_id": [42], "tier": ["silver"]})
    _run(SNAPSHOT, silver, date(2025, 3, 2))
    expected = [
        (42, "bronze", date(2025, 3, 1), date(2025, 3, 1), None),
        (42, "silver", date(2025, 3, 2), None, None),
    ]
    assert _rows() == expected
    _run(SNAPSHOT, silver, date(2025, 3, 2))
    assert _rows() == expected


@pytest.mark.django_db
def test_snapshot_rerun_with_other_values_replaces_that_days_versions():
    _run(SNAPSHOT, pl.DataFrame({"customer_id": [42], "tier": ["bronze"]}), date(2025, 3, 1))
    _run(SNAPSHOT, pl.DataFrame({"customer_id": [42], "tier": ["silver"]}), date(2025, 3, 2))
    _run(SNAPSHOT, pl.DataFrame({"customer_id": [42], "tier": ["gold"]}), date(2025, 3, 2))
    assert _rows() == [
        (42, "bronze", date(2025, 3, 1), date(2025, 3, 1), None),
        (42, "gold", date(2025, 3, 2), None, None),
    ]


@pytest.mark.django_db
def test_unchanged_entity_stays_open_and_overwrite_columns_update_in_place():
    target = IntoHistory(
        TierHistory,
        keys=("customer_id",),
        track=("tier",),
        overwrite=("name",),
        effective_date=params.run_date,
    )
    first = pl.DataFrame({"customer_id": [1], "tier": ["a"], "name": ["Ann"]})
    _run(target, first, date(2025, 1, 1))
    _run(target, first.with_columns(name=pl.lit("Anne")), date(2025, 1, 5))
    assert list(TierHistory.objects.values_list("tier", "name", "valid_from", "valid_to")) == [
        ("a", "Anne", date(2025, 1, 1), None)
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("policy", "closed"),
    [
        ("ignore", (2, "b", date(2025, 1, 1), None, None)),
        ("close", (2, "b", date(2025, 1, 1), date(2025, 1, 9), None)),
        ("soft_delete", (2, "b", date(2025, 1, 1), date(2025, 1, 9), date(2025, 1, 10))),
    ],
)
def test_keys_absent_from_the_snapshot_follow_the_delete_policy(policy, closed):
    target = IntoHistory(
        TierHistory,
        keys=("customer_id",),
        track=("tier",),
        effective_date=params.run_date,
        delete_policy=policy,
    )
    _run(target, pl.DataFrame({"customer_id": [1, 2], "tier": ["a", "b"]}), date(2025, 1, 1))
    _run(target, pl.DataFrame({"customer_id": [1], "tier": ["a"]}), date(2025, 1, 10))
    assert _rows() == [(1, "a", date(2025, 1, 1), None, None), closed]


@pytest.mark.django_db
def test_partition_scope_leaves_other_partitions_untouched():
    target = IntoHistory(
        TierHistory,
        keys=("customer_id",),
        track=("tier",),
        partition_scope=("region",),
        effective_date=params.run_date,
    )
    both = pl.DataFrame({"customer_id": [1, 2], "tier": ["a", "b"], "region": ["eu", "us"]})
    _run(target, both, date(2025, 1, 1))
    eu_only = pl.DataFrame({"customer_id": [3], "tier": ["c"], "region": ["eu"]})
    _run(target, eu_only, date(2025, 1, 2))
    assert _rows() == [
        (1, "a", date(2025, 1, 1), date(2025, 1, 1), None),
        (2, "b", date(2025, 1, 1), None, None),
        (3, "c", date(2025, 1, 2), None, None),
    ]


@pytest.mark.django_db
def test_duplicate_snapshot_keys_raise_key_conflict_and_write_nothing():
    """etl §12.59"""
    frame = pl.DataFrame({"customer_id": [42, 42], "tier": ["bronze", "bronze"]})
    with pytest.raises(HistorifyKeyConflictError, match="42"):
        _run(SNAPSHOT, frame, date(2025, 3, 1))
    assert _rows() == []


@pytest.mark.django_db
def test_snapshot_older_than_open_versions_raises_temporal_conflict():
    """etl §12.59"""
    _run(SNAPSHOT, pl.DataFrame({"customer_id": [42], "tier": ["silver"]}), date(2025, 3, 2))
    with pytest.raises(HistorifyTemporalConflictError, match="allow_temporal_rerun"):
        _run(SNAPSHOT, pl.DataFrame({"customer_id": [42], "tier": ["bronze"]}), date(2025, 3, 1))
    assert _rows() == [(42, "silver", date(2025, 3, 2), None, None)]


@pytest.mark.django_db
def test_allow_temporal_rerun_weaves_the_older_snapshot_into_the_history():
    """etl §12.59"""
    target = IntoHistory(
        TierHistory,
        keys=("customer_id",),
        track=("tier",),
        effective_date=params.run_date,
        allow_temporal_rerun=True,
    )
    _run(target, pl.DataFrame({"customer_id": [42], "tier": ["silver"]}), date(2025, 3, 2))
    _run(target, pl.DataFrame({"customer_id": [42], "tier": ["bronze"]}), date(2025, 3, 1))
    assert _rows() == [
        (42, "bronze", date(2025, 3, 1), date(2025, 3, 1), None),
        (42, "silver", date(2025, 3, 2), None, None),
    ]


# -- log mode --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_log_events_become_consecutive_versions():
    """etl §12.59"""
    events = pl.DataFrame(
        {
            "customer_id": [42, 42],
            "tier": ["bronze", "gold"],
            "changed_on": [date(2025, 2, 1), date(2025, 9, 15)],
        }
    )
    _run(LOG, events, date(2025, 9, 30))
    assert _rows() == [
        (42, "bronze", date(2025, 2, 1), date(2025, 9, 14), None),
        (42, "gold", date(2025, 9, 15), None, None),
    ]


@pytest.mark.django_db
def test_log_events_merge_with_stored_history_and_leave_other_entities_alone():
    first = pl.DataFrame(
        {"customer_id": [1, 2], "tier": ["a", "x"], "changed_on": [date(2025, 1, 1)] * 2}
    )
    _run(LOG, first, date(2025, 1, 1))
    late = pl.DataFrame(
        {
            "customer_id": [1, 1],
            "tier": ["b", "a"],
            "changed_on": [date(2025, 3, 1), date(2025, 2, 1)],
        }
    )
    _run(LOG, late, date(2025, 3, 1))
    assert _rows() == [
        (1, "a", date(2025, 1, 1), date(2025, 2, 28), None),
        (1, "b", date(2025, 3, 1), None, None),
        (2, "x", date(2025, 1, 1), None, None),
    ]


@pytest.mark.django_db
def test_two_log_events_on_one_date_raise_date_collision():
    """etl §12.59"""
    events = pl.DataFrame(
        {"customer_id": [42, 42], "tier": ["a", "b"], "changed_on": [date(2025, 2, 1)] * 2}
    )
    with pytest.raises(HistorifyDateCollisionError, match="42"):
        _run(LOG, events, date(2025, 2, 1))
    assert _rows() == []


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.django_db
def test_snapshot_history_on_the_spark_backend(spark):
    from loom_django.etl import StepSQL

    class Snapshot(StepSQL[D, object]):
        target = SNAPSHOT
        sql = staticmethod(lambda params: "SELECT 42 AS customer_id, 'bronze' AS tier")

    proc = types.new_class("Proc", (ETLProcess[D],), exec_body=lambda d: d.update(steps=[Snapshot]))
    pipe = types.new_class(
        "Pipe", (ETLPipeline[D],), exec_body=lambda d: d.update(processes=[proc])
    )
    ETLRunner(backend="spark", spark=spark).run(pipe, D(run_date=date(2025, 3, 1)))
    assert _rows() == [(42, "bronze", date(2025, 3, 1), None, None)]
