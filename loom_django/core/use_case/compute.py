"""Compute: declarative derivations that replace one command field before rules run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from loom_django.core.use_case.field_ref import FieldRef, Predicate, is_present

__all__ = ["Compute", "ComputeBuilder", "ComputeSpec"]


class ComputeSpec:
    """A compiled-ready compute: ``spec(command, fields_set, context) -> command``."""

    __slots__ = ("from_param_names", "predicate", "sources", "target", "via", "whole_command")

    def __init__(
        self,
        target: FieldRef,
        sources: tuple[FieldRef, ...],
        via: Callable[..., Any] | None,
        from_param_names: tuple[str, ...] = (),
        predicate: Predicate | None = None,
    ) -> None:
        self.target = target
        self.sources = sources
        self.via = via
        self.from_param_names = from_param_names
        self.predicate = predicate
        self.whole_command = not sources

    def from_params(self, *names: str) -> ComputeSpec:
        """Append runtime-context values (params, loads, exists flags) as extra arguments."""
        if not names:
            raise ValueError("from_params() requires at least one name")
        return ComputeSpec(
            self.target, self.sources, self.via, (*self.from_param_names, *names), self.predicate
        )

    def when_present(self, predicate: Predicate) -> ComputeSpec:
        """Run only when ``predicate`` is present (patch field sent, or value not None)."""
        return ComputeSpec(self.target, self.sources, self.via, self.from_param_names, predicate)

    @property
    def label(self) -> str:
        """Readable name used in logs and step events."""
        return str(self.target)

    def __call__(self, command: Any, fields_set: frozenset[str], context: dict[str, Any]) -> Any:
        if self.predicate is not None and not is_present(
            self.predicate, command, fields_set, context
        ):
            return command
        extra = [context[name] for name in self.from_param_names]
        if self.whole_command:
            assert self.via is not None
            value = self.via(command, *extra)
        else:
            values = [ref.resolve(command, context) for ref in self.sources]
            value = self.via(*values, *extra) if self.via is not None else values[0]
        return msgspec.structs.replace(command, **{self.target.leaf: value})


class ComputeBuilder:
    """Returned by ``Compute.set(target)``; choose the sources with ``from_command``."""

    __slots__ = ("_target",)

    def __init__(self, target: FieldRef) -> None:
        self._target = target

    def from_command(
        self, *sources: FieldRef, via: Callable[..., Any] | None = None
    ) -> ComputeSpec:
        """Derive the target from command fields (or the whole command when none are given).

        Raises:
            ValueError: ``via`` is missing where it is required.
        """
        if not sources and via is None:
            raise ValueError("A via callable is required when no command fields are given.")
        if len(sources) > 1 and via is None:
            raise ValueError("A via callable is required when multiple command fields are used.")
        return ComputeSpec(self._target, tuple(sources), via)


class Compute:
    """Entry point of the compute DSL: ``Compute.set(F(Cmd).field).from_command(...)``."""

    @staticmethod
    def set(target: FieldRef) -> ComputeBuilder:
        """Start a compute that writes ``target``'s leaf field."""
        if not isinstance(target, FieldRef):
            raise TypeError("Compute.set() expects an F(...) field reference")
        return ComputeBuilder(target)
