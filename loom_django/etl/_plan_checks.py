"""Checks over a whole compiled pipeline: temps produced before they are read, parallel
members that race on one target, Delta on Spark, history targets without a scope; and how
the compiler raises what it collected."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from loom_django.etl.errors import ETLCompilationError, ETLCompilationErrorGroup
from loom_django.etl.errors import ETLErrorCode as C
from loom_django.etl.plan import (
    ParallelProcessGroup,
    ParallelStepGroup,
    PipelinePlan,
    ProcessPlan,
    StepPlan,
    iter_all_steps,
)
from loom_django.etl.sources import FromTemp
from loom_django.etl.targets import (
    IntoHistory,
    IntoTemp,
)

__all__ = [
    "check_temps",
    "history_warnings",
    "pipeline_units",
    "races",
    "raise_errors",
    "spark_delta_errors",
    "temp_errors",
]

_log = logging.getLogger("loom_django.etl.compiler")


def raise_errors(errors: list[ETLCompilationError]) -> None:
    """Raise one error, or a group of several; nothing when ``errors`` is empty."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ETLCompilationErrorGroup(errors)


_SPARK_DELTA = (
    "is a Delta table; Delta on Spark needs the Delta Lake jars (io.delta:delta-spark), which "
    "this version does not provide: run the pipeline on the Polars backend "
    "(--backend polars, pip install loom-django[delta])"
)


def spark_delta_errors(plan: PipelinePlan) -> list[ETLCompilationError]:
    """``FEATURE_UNAVAILABLE`` for every Delta source or target of a Spark plan, so the run
    stops before any step instead of failing midway."""
    found: list[ETLCompilationError] = []
    for step in iter_all_steps(plan):
        bindings: list[Any] = [*step.source_bindings, step.target_binding]
        if step.target_binding.rejects is not None:
            bindings.append(step.target_binding.rejects)
        for binding in bindings:
            if binding.delta is not None:
                name = getattr(binding, "alias", "target")
                found.append(
                    ETLCompilationError(
                        C.FEATURE_UNAVAILABLE,
                        step.name,
                        f"{name!r} ({binding.delta}) {_SPARK_DELTA}",
                        name,
                    )
                )
    return found


def history_warnings(spec: IntoHistory) -> list[str]:
    """Warnings for a history target that rewrites more than it needs or infers tracking."""
    warnings = []
    if not spec.partition_scope:
        warnings.append(
            "W_HISTORY_NO_SCOPE: no partition_scope; the whole history is read and rewritten"
        )
        if spec.allow_temporal_rerun:
            warnings.append(
                "W_HISTORY_NO_SCOPE: allow_temporal_rerun without partition_scope re-weaves "
                "the whole table"
            )
    if spec.track is None:
        warnings.append(
            "W_HISTORY_TRACK_INFERRED: track=None; every non-key column opens a new version"
        )
    return warnings


def _writes(step: StepPlan) -> set[str]:
    target = step.target_binding
    spec = target.spec
    if target.route is not None:
        return {f"table {target.route.name}"}
    if isinstance(spec, IntoTemp) and not spec.append:
        return {f"temp {spec.name}"}
    return {f"file {target.location}"} if target.location else set()


def _reads(step: StepPlan) -> set[str]:
    keys = set()
    for binding in step.source_bindings:
        if binding.route is not None:
            keys.add(f"table {binding.route.name}")
        elif isinstance(binding.spec, FromTemp):
            keys.add(f"temp {binding.spec.name}")
    return keys


def races(plan: PipelinePlan) -> list[str]:
    """``W_PARALLEL_RACE``: members of one parallel group writing the same target, or one
    reading what another writes."""
    groups: list[list[list[StepPlan]]] = []
    for pnode in plan.nodes:
        if isinstance(pnode, ParallelProcessGroup):
            groups.append([_flat(p) for p in pnode.plans])
        for process in pnode.plans if isinstance(pnode, ParallelProcessGroup) else (pnode,):
            for snode in process.nodes:
                if isinstance(snode, ParallelStepGroup):
                    groups.append([[s] for s in snode.plans])
    found: list[str] = []
    for members in groups:
        for i, first in enumerate(members):
            for second in members[i + 1 :]:
                w1 = set().union(*(_writes(s) for s in first))
                w2 = set().union(*(_writes(s) for s in second))
                r1 = set().union(*(_reads(s) for s in first))
                r2 = set().union(*(_reads(s) for s in second))
                for key in sorted((w1 & w2) | (w1 & r2) | (w2 & r1)):
                    found.append(f"W_PARALLEL_RACE: parallel members share {key}")
    for warning in found:
        _log.warning("%s: %s", plan.pipeline_type.__qualname__, warning)
    return found


def check_temps(plan: PipelinePlan, available: Iterable[str] = ()) -> None:
    """Re-validate temps on a (filtered) plan: a kept ``FromTemp`` needs its producer, or
    to be ``available`` (a CORRELATION temp an earlier attempt may have left).

    Raises:
        ETLCompilationError: ``TEMP_NOT_PRODUCED`` (or a group).
    """
    raise_errors(temp_errors([plan], set(available)))


def pipeline_units(plan: PipelinePlan) -> Iterable[Any]:
    """Sequential units of the whole pipeline: each yields a list of parallel members' steps."""
    yield plan


def temp_errors(units: list[Any], available: set[str] | None = None) -> list[ETLCompilationError]:
    """``FromTemp`` needs an earlier producer (not a sibling); writer append flags agree."""
    errors: list[ETLCompilationError] = []
    sequence: list[list[StepPlan]] = []
    for unit in units:
        processes = unit.nodes if isinstance(unit, PipelinePlan) else [unit]
        for pnode in processes:
            if isinstance(pnode, ParallelProcessGroup):
                sequence.append([s for p in pnode.plans for s in _flat(p)])
            else:
                for snode in pnode.nodes:
                    sequence.append(
                        list(snode.plans) if isinstance(snode, ParallelStepGroup) else [snode]
                    )
    produced: set[str] = set(available or ())
    writers: dict[str, list[tuple[str, bool]]] = {}
    for group in sequence:
        made: set[str] = set()
        for step in group:
            for binding in step.source_bindings:
                if isinstance(binding.spec, FromTemp) and binding.spec.name not in produced:
                    errors.append(
                        ETLCompilationError(
                            C.TEMP_NOT_PRODUCED,
                            step.step_type.__qualname__,
                            f"FromTemp({binding.spec.name!r}) has no earlier IntoTemp producer",
                            binding.spec.name,
                        )
                    )
            target = step.target_binding.spec
            if isinstance(target, IntoTemp):
                made.add(target.name)
                writers.setdefault(target.name, []).append(
                    (step.step_type.__qualname__, target.append)
                )
        produced |= made
    for name, entries in writers.items():
        flags = {flag for _, flag in entries}
        if len(flags) > 1:
            errors.append(
                ETLCompilationError(
                    C.INVALID_TEMP_APPEND_MIX,
                    entries[0][0],
                    f"writers of temp {name!r} disagree on append",
                    name,
                )
            )
        elif flags == {False} and len(entries) > 1:
            errors.append(
                ETLCompilationError(
                    C.DUPLICATE_TEMP_NAME,
                    entries[1][0],
                    f"temp {name!r} is written twice without append=True",
                    name,
                )
            )
    return errors


def _flat(process: ProcessPlan) -> list[StepPlan]:
    return [
        s
        for node in process.nodes
        for s in (node.plans if isinstance(node, ParallelStepGroup) else (node,))
    ]
