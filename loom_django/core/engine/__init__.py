"""The engine: compiler, immutable execution plans, the executor and its events."""

from __future__ import annotations

from loom_django.core.engine.compiler import UseCaseCompiler
from loom_django.core.engine.driver import EventLoopRequired, drive
from loom_django.core.engine.events import EventKind, MetricsAdapter, RuntimeEvent
from loom_django.core.engine.executor import RuntimeExecutor
from loom_django.core.engine.plan import (
    ComputeStep,
    ExecutionPlan,
    ExistsStep,
    InputBinding,
    LoadStep,
    ParamBinding,
    RuleStep,
)
from loom_django.core.errors import CompilationError

__all__ = [
    "CompilationError",
    "ComputeStep",
    "EventKind",
    "EventLoopRequired",
    "ExecutionPlan",
    "ExistsStep",
    "InputBinding",
    "LoadStep",
    "MetricsAdapter",
    "ParamBinding",
    "RuleStep",
    "RuntimeEvent",
    "RuntimeExecutor",
    "UseCaseCompiler",
    "drive",
]
