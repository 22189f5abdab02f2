"""Compile errors with codes, class and field named (spec §12, items 7, 12-22, 25-28, 30)."""

from __future__ import annotations

import types
from datetime import date

import polars as pl
import pytest

from loom_django.etl import (
    ETLCompilationError,
    ETLCompilationErrorGroup,
    ETLCompiler,
    ETLParams,
    ETLPipeline,
    ETLProcess,
    ETLStep,
    Format,
    FromFile,
    FromTable,
    FromTemp,
    IntoFile,
    IntoTable,
    IntoTemp,
    SchemaMode,
    col,
    params,
)
from loom_django.etl import (
    ETLErrorCode as C,
)
from loom_django.etl.plan import ParallelStepGroup
from tests.testapp.models import Book


class P(ETLParams):
    run_date: date = date(2024, 1, 15)


class Q(P):
    extra: int = 0


def _cls(name, base, ns):
    return types.new_class(name, (base,), exec_body=lambda d: d.update(ns))


def _code(step: type) -> C:
    with pytest.raises(ETLCompilationError) as info:
        ETLCompiler().compile_step(step)
    return info.value.code


def test_step_without_generic_params_is_missing_generic_param():
    class S(ETLStep):  # type: ignore[type-arg]
        target = IntoFile("x.csv", format=Format.CSV)

        def execute(self, params):
            return pl.LazyFrame()

    assert _code(S) is C.MISSING_GENERIC_PARAM


def test_step_without_target_is_missing_target():
    class S(ETLStep[P]):
        def execute(self, params):
            return pl.LazyFrame()

    assert _code(S) is C.MISSING_TARGET


def test_source_alias_missing_from_execute_is_named():
    class S(ETLStep[P]):
        books = FromTable(Book)
        target = IntoFile("x.csv", format=Format.CSV)

        def execute(self, params):
            return pl.LazyFrame()

    with pytest.raises(ETLCompilationError) as info:
        ETLCompiler().compile_step(S)
    assert info.value.code is C.MISSING_SOURCE_PARAMS and info.value.field == "books"


def test_extra_keyword_parameter_is_extra_source_params():
    class S(ETLStep[P]):
        target = IntoFile("x.csv", format=Format.CSV)

        def execute(self, params, *, nope):
            return pl.LazyFrame()

    assert _code(S) is C.EXTRA_SOURCE_PARAMS


def test_execute_signature_params_checks():
    class NoParams(ETLStep[P]):
        target = IntoFile("x.csv", format=Format.CSV)

        def execute(self):  # type: ignore[override]
            return pl.LazyFrame()

    class Named(ETLStep[P]):
        books = FromTable(Book)
        target = IntoFile("x.csv", format=Format.CSV)

        def execute(self, p, *, books):  # type: ignore[override]
            return books

    assert _code(NoParams) is C.INVALID_PARAMS_TYPE
    with pytest.raises(ETLCompilationError) as info:
        ETLCompiler().compile_step(Named)
    assert info.value.code is C.INVALID_PARAMS_NAME and info.value.field == "p"


@pytest.mark.parametrize(
    ("target", "code"),
    [
        (IntoTable(Book).upsert(keys=()), C.UPSERT_NO_KEYS),
        (
            IntoTable(Book).upsert(keys=("code",), exclude=("title",), include=("pages",)),
            C.UPSERT_EXCLUDE_INCLUDE_CONFLICT,
        ),
        (IntoTable(Book).upsert(keys=("code",), exclude=("code",)), C.UPSERT_KEY_IN_EXCLUDE),
        (IntoTable(Book).upsert(keys=("title",)), C.UPSERT_KEYS_NOT_UNIQUE),
        (IntoTable(Book).append(schema=SchemaMode.EVOLVE), C.SCHEMA_OWNED_BY_MIGRATIONS),
        (IntoTable(Book).replace_where(col("pages") == params.nope), C.UNKNOWN_PARAM_FIELD),
        (IntoTable(Book).replace_partition(pages=params.run_date.yeer), C.UNKNOWN_PARAM_FIELD),
        (IntoFile("out_{nope}.csv", format=Format.CSV), C.UNKNOWN_PARAM_FIELD),
        (IntoFile("out.xlsx", format=Format.XLSX), C.UNSUPPORTED_FORMAT),
        (IntoTable("nowhere.table"), C.NO_ROUTE),
    ],
)
def test_target_problems_have_their_code(target, code):
    class S(ETLStep[P]):
        def execute(self, params):
            return pl.LazyFrame()

    S.target = target
    assert _code(S) is code


def test_unknown_column_and_unknown_file_alias():
    class Cols(ETLStep[P]):
        books = FromTable(Book).columns("nope")
        target = IntoFile("x.csv", format=Format.CSV)

        def execute(self, params, *, books):
            return books

    class Alias(ETLStep[P]):
        feed = FromFile.alias("unknown", format=Format.CSV)
        target = IntoFile("x.csv", format=Format.CSV)

        def execute(self, params, *, feed):
            return feed

    assert _code(Cols) is C.UNKNOWN_COLUMN
    assert _code(Alias) is C.UNKNOWN_FILE_ALIAS


def test_where_on_unknown_param_field_checks_the_full_path():
    class S(ETLStep[P]):
        books = FromTable(Book).where(col("published") == params.run_date.yeer)
        target = IntoFile("x.csv", format=Format.CSV)

        def execute(self, params, *, books):
            return books

    assert _code(S) is C.UNKNOWN_PARAM_FIELD


def test_implicit_replace_compiles_to_replace_with_a_warning():
    class S(ETLStep[P]):
        target = IntoTable(Book)

        def execute(self, params):
            return pl.LazyFrame()

    plan = ETLCompiler().compile_step(S)
    assert plan.target_binding.spec.mode.value == "replace"
    assert any(w.startswith("W_IMPLICIT_REPLACE") for w in plan.warnings)


def test_same_step_compiles_to_the_identical_plan_and_warns_once(caplog):
    class S(ETLStep[P]):
        target = IntoTable(Book).append()

        def execute(self, params):
            return pl.LazyFrame()

    compiler = ETLCompiler()
    with caplog.at_level("WARNING"):
        assert compiler.compile_step(S) is compiler.compile_step(S)
    assert sum("W_APPEND" in r.message for r in caplog.records) == 1


def _gen(name: str, target) -> type:
    def execute(self, params):
        return pl.LazyFrame({"a": [1]})

    return _cls(name, ETLStep[P], {"target": target, "execute": execute})


def test_step_params_incompatible_with_the_pipeline_is_missing_params_fields():
    Step = _cls(
        "NeedsExtra",
        ETLStep[Q],
        {"target": IntoFile("x.csv", format=Format.CSV), "execute": lambda self, params: None},
    )

    class Proc(ETLProcess[P]):
        steps = [Step]

    class Pipe(ETLPipeline[P]):
        processes = [Proc]

    with pytest.raises(ETLCompilationError) as info:
        ETLCompiler().compile(Pipe)
    assert info.value.code is C.MISSING_PARAMS_FIELDS and info.value.field == "extra"


def test_temp_read_before_its_producer_or_from_a_sibling_is_not_produced():
    class Reader(ETLStep[P]):
        parts = FromTemp("x")
        target = IntoFile("x.csv", format=Format.CSV)

        def execute(self, params, *, parts):
            return parts

    Writer = _gen("Writer", IntoTemp("x"))

    class Proc(ETLProcess[P]):
        steps = [[Writer, Reader]]

    class Pipe(ETLPipeline[P]):
        processes = [Proc]

    with pytest.raises(ETLCompilationError) as info:
        ETLCompiler().compile(Pipe)
    assert info.value.code is C.TEMP_NOT_PRODUCED


def test_temp_writers_duplicate_mix_and_fan_in():
    def pipe(*targets):
        steps = [_gen(f"W{i}", t) for i, t in enumerate(targets)]
        proc = _cls("Proc", ETLProcess[P], {"steps": steps})
        return _cls("Pipe", ETLPipeline[P], {"processes": [proc]})

    with pytest.raises(ETLCompilationError) as dup:
        ETLCompiler().compile(pipe(IntoTemp("x"), IntoTemp("x")))
    with pytest.raises(ETLCompilationError) as mix:
        ETLCompiler().compile(pipe(IntoTemp("x"), IntoTemp("x", append=True)))
    assert dup.value.code is C.DUPLICATE_TEMP_NAME
    assert mix.value.code is C.INVALID_TEMP_APPEND_MIX
    ETLCompiler().compile(pipe(IntoTemp("x", append=True), IntoTemp("x", append=True)))


def test_nested_lists_make_groups_and_deeper_nesting_is_rejected():
    A, B = _gen("A", IntoTemp("a")), _gen("B", IntoTemp("b"))

    class Proc(ETLProcess[P]):
        steps = [[A, B]]

    class Pipe(ETLPipeline[P]):
        processes = [Proc]

    plan = ETLCompiler().compile(Pipe)
    assert isinstance(plan.nodes[0].nodes[0], ParallelStepGroup)

    class Deep(ETLProcess[P]):
        steps = [[A, [B]]]

    class DeepPipe(ETLPipeline[P]):
        processes = [Deep]

    with pytest.raises(ETLCompilationError) as info:
        ETLCompiler().compile(DeepPipe)
    assert info.value.code is C.INVALID_STEP_ITEM


def test_three_independent_errors_are_reported_together():
    class S1(ETLStep[P]):
        def execute(self, params):
            return None

    class S2(ETLStep[P]):
        target = IntoTable(Book).upsert(keys=())

        def execute(self, params):
            return None

    class S3(ETLStep[P]):
        target = IntoFile("x_{nope}.csv", format=Format.CSV)

        def execute(self, params):
            return None

    class Proc(ETLProcess[P]):
        steps = [S1, S2, S3]

    class Pipe(ETLPipeline[P]):
        processes = [Proc]

    with pytest.raises(ETLCompilationErrorGroup) as info:
        ETLCompiler().compile(Pipe)
    codes = {e.code for e in info.value.errors}
    assert codes == {C.MISSING_TARGET, C.UPSERT_NO_KEYS, C.UNKNOWN_PARAM_FIELD}


def test_parallel_members_writing_the_same_table_warn_parallel_race():
    A = _gen("A", IntoTable(Book).append())
    B = _gen("B", IntoTable(Book).append())

    class Proc(ETLProcess[P]):
        steps = [[A, B]]

    class Pipe(ETLPipeline[P]):
        processes = [Proc]

    plan = ETLCompiler().compile(Pipe)
    assert any(w.startswith("W_PARALLEL_RACE") and "testapp.book" in w for w in plan.warnings)
