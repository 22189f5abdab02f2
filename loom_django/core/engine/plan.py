"""ExecutionPlan: the immutable, pre-computed description of how to run one use case."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from loom_django.core.engine.events import MetricsAdapter
from loom_django.core.use_case.markers import LookupKind, OnMissing, SourceKind

__all__ = [
    "NO_DEFAULT",
    "ComputeStep",
    "ExecutionPlan",
    "DeferredExists",
    "ExistsStep",
    "InputBinding",
    "LoadStep",
    "ParamBinding",
    "PipelineHost",
    "RuleStep",
]


class _NoDefault:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True, slots=True)
class ParamBinding:
    """A primitive ``execute`` parameter supplied by the caller, in declaration order."""

    name: str
    annotation: Any
    default: Any = field(default=NO_DEFAULT, compare=False)
    coerce: Callable[[Any], Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class InputBinding:
    """The ``Input()`` parameter: the command type and the parameter name it is bound to."""

    name: str
    command_type: type[Any]


@dataclass(frozen=True, slots=True)
class LoadStep:
    """Fetch an entity before ``execute`` (``LoadById`` or ``Load``)."""

    name: str
    entity_type: type[Any]
    source_kind: SourceKind
    source_name: str
    lookup_kind: LookupKind
    against: str
    profile: str = "default"
    on_missing: OnMissing = OnMissing.RAISE


@dataclass(frozen=True, slots=True)
class ExistsStep:
    """Check whether a matching entity exists and inject a bool."""

    name: str
    entity_type: type[Any]
    source_kind: SourceKind
    source_name: str
    against: str
    on_missing: OnMissing = OnMissing.RETURN_FALSE


@dataclass(frozen=True, slots=True)
class DeferredExists:
    """An ``Exists`` step answered by the unique constraint of ``table.column`` (see
    ``core/engine/unique_guard.py``); ``rule_indexes`` are the ``forbid`` rules reading it."""

    name: str
    table: str
    column: str
    rule_indexes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ComputeStep:
    """A compute callable: ``fn(command, fields_set[, context]) -> command``."""

    fn: Callable[..., Any]
    accepts_context: bool = False


@dataclass(frozen=True, slots=True)
class RuleStep:
    """A rule callable: ``fn(command, fields_set[, context])`` returning or raising a violation."""

    fn: Callable[..., Any]
    accepts_context: bool = False


@dataclass(frozen=True, slots=True)
class ExecutionPlan:
    """Everything the executor needs, computed once at startup; nothing is inspected later."""

    use_case_type: type[Any]
    param_bindings: tuple[ParamBinding, ...]
    input_binding: InputBinding | None
    load_steps: tuple[LoadStep, ...]
    exists_steps: tuple[ExistsStep, ...]
    compute_steps: tuple[ComputeStep, ...]
    rule_steps: tuple[RuleStep, ...]
    read_only: bool = False
    transactional: bool = field(default=True, compare=False)
    is_async: bool = field(default=True, compare=False)
    name: str = field(default="", compare=False)
    compute_fns: tuple[Callable[..., Any], ...] = field(default=(), compare=False, repr=False)
    rule_fns: tuple[Callable[..., Any], ...] = field(default=(), compare=False, repr=False)
    bind_params: Callable[[dict[str, Any], dict[str, Any]], bool] | None = field(
        default=None, compare=False, repr=False
    )
    pipeline: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    quiet_sync: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    """The pipeline for unobserved calls outside a transaction, driven synchronously: it
    leaves the result in its ``out`` argument (see ``codegen.Pipelines``)."""
    quiet_async: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    """The pipeline for unobserved awaited calls outside a transaction; it reports its own
    failure, so ``execute`` returns its coroutine to the caller as is."""
    deferred_exists: tuple[DeferredExists, ...] = field(default=(), compare=False)
    bind_entries: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    """``bind(executor, make, main_cache, main_key, main_fallback)``: the invoker entries of
    this plan for one executor and one factory recipe (see ``engine/entries.py``)."""


class PipelineHost(Protocol):
    """What a pipeline (generated or traced) calls back into: the executor's step hooks.

    Declared here, below the executor, so pipelines depend on the plan and not on the
    executor that runs them.
    """

    @property
    def metrics(self) -> MetricsAdapter | None:
        """Where step events go (``None``: nowhere)."""
        ...

    @property
    def logger(self) -> logging.Logger:
        """Where step lines are logged."""
        ...

    def _bind_params(
        self, plan: ExecutionPlan, params: dict[str, Any], bound: dict[str, Any]
    ) -> None: ...

    def _missing_payload(self, plan: ExecutionPlan) -> None: ...

    def _repository(
        self, entity: type[Any], dependencies: dict[type[Any], Any] | None, label: str
    ) -> Any: ...

    async def _get_by(self, repo: Any, load: LoadStep, value: Any) -> Any: ...

    def _exists_by(self, repo: Any, entity: type[Any]) -> Any: ...
