"""The use-case DSL: UseCase, markers, F references, Compute, Rule, keys and the invoker."""

from __future__ import annotations

from loom_django.core.use_case.compute import Compute, ComputeBuilder, ComputeSpec
from loom_django.core.use_case.constants import CrudOp
from loom_django.core.use_case.field_ref import F, FieldExpr, FieldRef, PredicateOp, field_ref
from loom_django.core.use_case.invoker import AppInvoker, ApplicationInvoker, EntityInvoker
from loom_django.core.use_case.keys import get_use_case_key, set_use_case_key, use_case_key
from loom_django.core.use_case.markers import (
    Exists,
    ExistsMarker,
    Input,
    InputMarker,
    Load,
    LoadById,
    LoadMarker,
    LookupKind,
    OnMissing,
    SourceKind,
)
from loom_django.core.use_case.registry import UseCaseRegistry
from loom_django.core.use_case.rule import Rule, RuleSpec
from loom_django.core.use_case.use_case import UseCase

__all__ = [
    "AppInvoker",
    "ApplicationInvoker",
    "Compute",
    "ComputeBuilder",
    "ComputeSpec",
    "CrudOp",
    "EntityInvoker",
    "Exists",
    "ExistsMarker",
    "F",
    "FieldExpr",
    "FieldRef",
    "Input",
    "InputMarker",
    "Load",
    "LoadById",
    "LoadMarker",
    "LookupKind",
    "OnMissing",
    "PredicateOp",
    "Rule",
    "RuleSpec",
    "SourceKind",
    "UseCase",
    "UseCaseRegistry",
    "field_ref",
    "get_use_case_key",
    "set_use_case_key",
    "use_case_key",
]
