"""Compile declarations into frozen plans, collecting every error with class and field named.

Runs once per class (plans are cached per compiler); the runners see only plans.
"""

from __future__ import annotations

import inspect
import logging
import re
from typing import Any

from loom_django.etl._bindings import Binder, Collector, param_path_ok
from loom_django.etl._plan_checks import (
    check_temps,
    history_warnings,
    pipeline_units,
    races,
    raise_errors,
    spark_delta_errors,
    temp_errors,
)
from loom_django.etl.config import EtlConfig
from loom_django.etl.declarative import ClientStep, ETLPipeline, ETLProcess, ETLStep, StepSQL
from loom_django.etl.errors import ETLCompilationError
from loom_django.etl.errors import ETLErrorCode as C
from loom_django.etl.plan import (
    ParallelProcessGroup,
    ParallelStepGroup,
    PipelinePlan,
    ProcessPlan,
    StepPlan,
    TargetBinding,
    iter_all_steps,
)
from loom_django.etl.sources import Sources, SourceSet
from loom_django.etl.targets import (
    IntoHistory,
    IntoTable,
    WriteMode,
)

__all__ = ["ETLCompiler", "check_temps", "raise_errors"]

_log = logging.getLogger("loom_django.etl.compiler")
_SQL_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_SQL_PATH = re.compile(r"params(\.[A-Za-z_][A-Za-z0-9_]*)+")


class ETLCompiler:
    """Compiles steps, processes and pipelines; caches plans per class.

    Args:
        config: routes of tables and file aliases (``etl:`` section).
    """

    def __init__(self, config: EtlConfig | None = None) -> None:
        self.config = config or EtlConfig()
        self._binder = Binder(lambda: self.config)
        self._steps: dict[type[Any], tuple[StepPlan | None, list[ETLCompilationError]]] = {}
        self._warned: set[type[Any]] = set()

    # -- steps -------------------------------------------------------------------------

    def compile_step(self, step: type[Any], params_type: type[Any] | None = None) -> StepPlan:
        """The plan of one step.

        Raises:
            ETLCompilationError: one problem (or a group of several).
        """
        plan, errors = self._step(step)
        raise_errors(list(errors))
        assert plan is not None
        return plan

    def _step(self, step: type[Any]) -> tuple[StepPlan | None, list[ETLCompilationError]]:
        cached = self._steps.get(step)
        if cached is not None:
            return cached
        result = self._build_step(step)
        self._steps[step] = result
        return result

    def _build_step(self, step: type[Any]) -> tuple[StepPlan | None, list[ETLCompilationError]]:
        out = Collector(step.__qualname__)
        if step.params_type is None:
            out.add(C.MISSING_GENERIC_PARAM, f"{step.__qualname__} must be ETLStep[YourParams]")
        sources = self._sources(step, out)
        for alias, _spec in sources:
            if alias == "ctx":
                out.add(C.RESERVED_NAME, "a source may not be called 'ctx'", alias)
        wants_ctx = False
        if issubclass(step, ClientStep):
            pass
        elif issubclass(step, StepSQL):
            self._check_sql(step, out)
        else:
            wants_ctx = self._check_execute(step, [a for a, _ in sources], out)
        bindings = tuple(
            self._binder.source(alias, spec, step.params_type, out) for alias, spec in sources
        )
        target = self._binder.target(step, out)
        if out.errors or target is None:
            return None, out.errors
        warnings = self._warnings(step, target)
        plan = StepPlan(
            step_type=step,
            params_type=step.params_type,
            source_bindings=bindings,
            target_binding=target,
            streaming=step.streaming,
            wants_ctx=wants_ctx,
            sql=getattr(step, "sql", None) if issubclass(step, StepSQL) else None,
            warnings=warnings,
        )
        return plan, []

    def _sources(self, step: type[Any], out: Collector) -> list[tuple[str, Any]]:
        declared = step.sources
        if step.inline_sources:
            return list(step.inline_sources)
        if declared is None:
            return []
        if isinstance(declared, Sources):
            return list(declared.items)
        if isinstance(declared, type) and issubclass(declared, SourceSet):
            return list(declared.as_sources().items)
        out.add(C.INVALID_SOURCES_TYPE, "'sources' must be Sources(...) or a SourceSet", "sources")
        return []

    def _check_execute(self, step: type[Any], aliases: list[str], out: Collector) -> bool:
        signature = inspect.signature(step.execute)
        positional = [
            p
            for p in list(signature.parameters.values())[1:]
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if not positional:
            out.add(C.INVALID_PARAMS_TYPE, "execute() must take 'params' after self")
        elif positional[0].name != "params":
            out.add(
                C.INVALID_PARAMS_NAME,
                f"execute()'s first parameter must be named 'params', not {positional[0].name!r}",
                positional[0].name,
            )
        keyword = [p.name for p in signature.parameters.values() if p.kind == p.KEYWORD_ONLY]
        if any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
            return "ctx" in keyword
        missing = [a for a in aliases if a not in keyword]
        if missing:
            out.add(
                C.MISSING_SOURCE_PARAMS,
                f"execute() lacks keyword-only parameters for sources {missing}",
                missing[0],
            )
        extra = [k for k in keyword if k not in aliases and k != "ctx"]
        if extra:
            out.add(
                C.EXTRA_SOURCE_PARAMS,
                f"execute() has keyword-only parameters matching no source: {extra}",
                extra[0],
            )
        return "ctx" in keyword

    def _check_sql(self, step: type[Any], out: Collector) -> None:
        sql = step.sql
        if isinstance(sql, staticmethod):
            return
        if callable(sql):
            return
        if not isinstance(sql, str) or not sql.strip():
            out.add(C.INVALID_TARGET_TYPE, "StepSQL.sql must be a string or a staticmethod", "sql")
            return
        for raw in _SQL_PLACEHOLDER.findall(sql):
            if not _SQL_PATH.fullmatch(raw):
                out.add(
                    C.UNKNOWN_PARAM_FIELD, f"SQL placeholder {{{{ {raw} }}}} is not params.x", raw
                )
                continue
            path = tuple(raw.split(".")[1:])
            if not param_path_ok(step.params_type, path):
                out.add(C.UNKNOWN_PARAM_FIELD, f"params has no field {'.'.join(path)!r}", raw)

    def _warnings(self, step: type[Any], target: TargetBinding) -> tuple[str, ...]:
        spec = target.spec
        warnings: list[str] = []
        if isinstance(spec, IntoTable) and not spec.explicit:
            warnings.append("W_IMPLICIT_REPLACE: no write mode given; the table is replaced")
        if isinstance(spec, IntoTable) and spec.mode is WriteMode.APPEND:
            warnings.append("W_APPEND: append target is not idempotent on rerun")
        if isinstance(spec, IntoHistory):
            warnings.extend(history_warnings(spec))
        if step not in self._warned:
            self._warned.add(step)
            for warning in warnings:
                _log.warning("%s: %s", step.__qualname__, warning)
        return tuple(warnings)

    # -- processes and pipelines -----------------------------------------------------------

    def compile_process(self, process: type[Any]) -> ProcessPlan:
        """The plan of one process (temps validated within it).

        Raises:
            ETLCompilationError: one problem (or a group of several).
        """
        errors: list[ETLCompilationError] = []
        plan = self._process(process, errors)
        if plan is not None:
            errors.extend(temp_errors([ProcessPlan(process, process.params_type, plan.nodes)]))
        raise_errors(errors)
        assert plan is not None
        return plan

    def _process(self, process: type[Any], errors: list[ETLCompilationError]) -> ProcessPlan | None:
        out = Collector(process.__qualname__)
        if not (isinstance(process, type) and issubclass(process, ETLProcess)):
            return None
        if process.params_type is None:
            out.add(
                C.MISSING_GENERIC_PARAM, f"{process.__qualname__} must be ETLProcess[YourParams]"
            )
        nodes: list[StepPlan | ParallelStepGroup] = []
        for item in process.steps:
            if isinstance(item, list):
                group = [self._step_item(s, process, out, errors, nested=True) for s in item]
                plans = tuple(p for p in group if p is not None)
                if len(plans) == len(item):
                    nodes.append(ParallelStepGroup(plans))
            else:
                plan = self._step_item(item, process, out, errors, nested=False)
                if plan is not None:
                    nodes.append(plan)
        errors.extend(out.errors)
        return ProcessPlan(process, process.params_type, tuple(nodes))

    def _step_item(
        self,
        item: Any,
        process: type[Any],
        out: Collector,
        errors: list[ETLCompilationError],
        *,
        nested: bool,
    ) -> StepPlan | None:
        if not (isinstance(item, type) and issubclass(item, ETLStep)):
            what = "a list nested inside a parallel group" if isinstance(item, list) else repr(item)
            out.add(C.INVALID_STEP_ITEM, f"steps item {what} is not an ETLStep subclass", str(item))
            return None
        plan, step_errors = self._step(item)
        errors.extend(step_errors)
        if plan is not None:
            missing = _missing_fields(item.params_type, process.params_type)
            if missing:
                out.add(
                    C.MISSING_PARAMS_FIELDS,
                    f"step {item.__qualname__} needs params fields {missing} that "
                    f"{process.__qualname__}'s params lack",
                    missing[0],
                )
        return plan

    def compile(self, pipeline: type[Any], *, backend: str | None = None) -> PipelinePlan:
        """The plan of a pipeline; every problem of every step is reported at once.

        Raises:
            ETLCompilationError: one problem, or an ``ETLCompilationErrorGroup``.
        """
        out = Collector(pipeline.__qualname__)
        errors: list[ETLCompilationError] = []
        if pipeline.params_type is None:
            out.add(
                C.MISSING_GENERIC_PARAM, f"{pipeline.__qualname__} must be ETLPipeline[YourParams]"
            )
        if backend is not None and pipeline.engines is not None and backend not in pipeline.engines:
            out.add(
                C.ENGINE_MISMATCH,
                f"{pipeline.__qualname__} runs on {list(pipeline.engines)}, not {backend!r}",
            )
        nodes: list[ProcessPlan | ParallelProcessGroup] = []
        for item in pipeline.processes:
            members = item if isinstance(item, list) else [item]
            plans: list[ProcessPlan] = []
            for member in members:
                if not (isinstance(member, type) and issubclass(member, ETLProcess)):
                    out.add(
                        C.INVALID_PROCESS_ITEM,
                        f"processes item {member!r} is not an ETLProcess subclass",
                    )
                    continue
                plan = self._process(member, errors)
                if plan is None:
                    continue
                missing = _missing_fields(member.params_type, pipeline.params_type)
                if missing:
                    out.add(
                        C.MISSING_PARAMS_FIELDS,
                        f"process {member.__qualname__} needs params fields {missing}",
                        missing[0],
                    )
                plans.append(plan)
            if isinstance(item, list):
                nodes.append(ParallelProcessGroup(tuple(plans)))
            else:
                nodes.extend(plans)
        errors = out.errors[:1] + errors + out.errors[1:] if out.errors else errors
        result = PipelinePlan(pipeline, pipeline.params_type, tuple(nodes))
        if not errors:
            errors.extend(temp_errors(list(pipeline_units(result))))
        if backend == "spark":
            errors.extend(spark_delta_errors(result))
        raise_errors(errors)
        warnings = [w for s in iter_all_steps(result) for w in s.warnings]
        warnings.extend(races(result))
        alias = None
        if pipeline.atomic:
            from loom_django.etl._atomic import atomic_database

            alias = atomic_database(result, self.config)
        return PipelinePlan(
            pipeline,
            pipeline.params_type,
            tuple(nodes),
            warnings=tuple(warnings),
            atomic_database=alias,
        )


def _missing_fields(component: Any, container: Any) -> list[str]:
    if component is None or container is None or component is container:
        return []
    if issubclass(container, component):
        return []
    need = getattr(component, "__struct_fields__", ())
    have = set(getattr(container, "__struct_fields__", ()))
    return [name for name in need if name not in have]


def is_pipeline(obj: Any) -> bool:
    """Whether ``obj`` is a concrete pipeline class."""
    return isinstance(obj, type) and issubclass(obj, ETLPipeline) and obj is not ETLPipeline
