"""Frozen plan objects the compiler produces and the runners walk (no reflection at run time)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from loom_django.etl.sources import SourceSpec
from loom_django.etl.targets import TargetSpec

__all__ = [
    "ColumnInfo",
    "ParallelProcessGroup",
    "ParallelStepGroup",
    "PipelinePlan",
    "ProcessPlan",
    "SourceBinding",
    "StepPlan",
    "TableRoute",
    "TargetBinding",
    "flatten_step_names",
    "iter_all_steps",
]


@dataclass(frozen=True)
class ColumnInfo:
    """One concrete model field: frame column ``name`` (attname), SQL ``column``."""

    name: str
    column: str
    field: Any = field(compare=False, repr=False)
    nullable: bool = True
    has_default: bool = False
    auto: bool = False


@dataclass(frozen=True)
class TableRoute:
    """Where a table reference lives in the Django database."""

    name: str
    model: Any
    table: str
    database: str
    columns: tuple[ColumnInfo, ...]
    pk: tuple[str, ...]
    unique_sets: tuple[frozenset[str], ...]

    def column(self, name: str) -> ColumnInfo | None:
        """The column whose frame name is ``name``."""
        for info in self.columns:
            if info.name == name:
                return info
        return None


@dataclass(frozen=True)
class SourceBinding:
    """One source of a step: alias, declaration and resolved table route."""

    alias: str
    spec: SourceSpec
    route: TableRoute | None = None
    location: str | None = None
    delta: str | None = None


@dataclass(frozen=True)
class TargetBinding:
    """The step's target: declaration, resolved route / location, rejects binding; ``delta``
    is the location of a Delta table target."""

    spec: TargetSpec
    route: TableRoute | None = None
    location: str | None = None
    rejects: TargetBinding | None = None
    delta: str | None = None


@dataclass(frozen=True)
class StepPlan:
    """A compiled step."""

    step_type: type[Any]
    params_type: type[Any] | None
    source_bindings: tuple[SourceBinding, ...]
    target_binding: TargetBinding
    streaming: bool = False
    wants_ctx: bool = False
    sql: Any = None
    warnings: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The step class name (what ``include`` matches)."""
        return self.step_type.__name__


@dataclass(frozen=True)
class ParallelStepGroup:
    """Steps dispatched together."""

    plans: tuple[StepPlan, ...]


@dataclass(frozen=True)
class ProcessPlan:
    """A compiled process."""

    process_type: type[Any]
    params_type: type[Any] | None
    nodes: tuple[StepPlan | ParallelStepGroup, ...]

    @property
    def name(self) -> str:
        """The process class name."""
        return self.process_type.__name__


@dataclass(frozen=True)
class ParallelProcessGroup:
    """Processes dispatched together."""

    plans: tuple[ProcessPlan, ...]


@dataclass(frozen=True)
class PipelinePlan:
    """A compiled pipeline: the frozen graph runners execute."""

    pipeline_type: type[Any]
    params_type: type[Any] | None
    nodes: tuple[ProcessPlan | ParallelProcessGroup, ...]
    warnings: tuple[str, ...] = ()
    atomic_database: str | None = None
    """For ``atomic`` pipelines: the alias whose one transaction wraps the whole run."""


def iter_processes(plan: PipelinePlan) -> Iterator[ProcessPlan]:
    """Every process, groups flattened, in declaration order."""
    for node in plan.nodes:
        yield from node.plans if isinstance(node, ParallelProcessGroup) else (node,)


def iter_all_steps(plan: PipelinePlan) -> Iterator[StepPlan]:
    """Every step, groups flattened, in declaration order."""
    for process in iter_processes(plan):
        for node in process.nodes:
            yield from node.plans if isinstance(node, ParallelStepGroup) else (node,)


def flatten_step_names(plan: PipelinePlan) -> tuple[str, ...]:
    """Step class names in declaration order."""
    return tuple(step.name for step in iter_all_steps(plan))
