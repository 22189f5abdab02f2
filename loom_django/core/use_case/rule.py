"""Rule: declarative checks over the (post-compute) command, collected into one error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loom_django.core.errors import RuleViolation
from loom_django.core.use_case.field_ref import FieldExpr, FieldRef, Predicate, is_present

__all__ = ["Rule", "RuleSpec"]

_NO_REFS: tuple[FieldRef, ...] = ()


class RuleSpec:
    """A compiled-ready rule: ``spec(command, fields_set, context) -> RuleViolation | None``."""

    __slots__ = (
        "command_refs",
        "explicit_field",
        "fn",
        "kind",
        "message",
        "param_names",
        "predicate",
        "targets",
        "uses_command_refs",
    )

    def __init__(
        self,
        kind: str,
        fn: Callable[..., Any] | None,
        *,
        targets: tuple[FieldRef, ...] = (),
        message: str | None = None,
        field: str | None = None,
        command_refs: tuple[FieldRef, ...] = (),
        uses_command_refs: bool = False,
        param_names: tuple[str, ...] = (),
        predicate: Predicate | None = None,
    ) -> None:
        self.kind = kind
        self.fn = fn
        self.targets = targets
        self.message = message
        self.explicit_field = field
        self.command_refs = command_refs
        self.uses_command_refs = uses_command_refs
        self.param_names = param_names
        self.predicate = predicate

    def _copy(self, **changes: Any) -> RuleSpec:
        values: dict[str, Any] = {
            "targets": self.targets,
            "message": self.message,
            "field": self.explicit_field,
            "command_refs": self.command_refs,
            "uses_command_refs": self.uses_command_refs,
            "param_names": self.param_names,
            "predicate": self.predicate,
        }
        values.update(changes)
        return RuleSpec(self.kind, self.fn, **values)

    def from_command(self, *refs: FieldRef) -> RuleSpec:
        """Pass only these command values (or, with none, ``(command, fields_set)``)."""
        return self._copy(command_refs=tuple(refs), uses_command_refs=bool(refs))

    def from_params(self, *names: str) -> RuleSpec:
        """Append runtime-context values (params, loads, exists flags); accumulates."""
        if not names:
            raise ValueError("from_params() requires at least one name")
        return self._copy(param_names=(*self.param_names, *names))

    def when_present(self, predicate: Predicate) -> RuleSpec:
        """Skip the rule unless ``predicate`` is present."""
        return self._copy(predicate=predicate)

    @property
    def field_refs(self) -> tuple[FieldRef, ...]:
        """Every F reference this rule reads (for startup validation)."""
        refs = [*self.targets, *self.command_refs]
        if isinstance(self.predicate, FieldExpr):
            refs.extend(self.predicate.refs())
        elif isinstance(self.predicate, FieldRef):
            refs.append(self.predicate)
        return tuple(refs)

    @property
    def label(self) -> str:
        """Readable name used in logs and step events."""
        name = getattr(self.fn, "__name__", self.kind)
        return f"{self.kind}({name})"

    def field_name(self, command: Any) -> str:
        """The field reported on failure, per the spec's fallback order."""
        if self.explicit_field:
            return self.explicit_field
        if self.targets:
            return self.targets[0].leaf
        if self.command_refs:
            return self.command_refs[0].leaf
        if self.param_names:
            return self.param_names[0]
        predicate = self.predicate
        while isinstance(predicate, FieldExpr):
            predicate = predicate.left
        if isinstance(predicate, FieldRef):
            return predicate.leaf
        return type(command).__name__

    def __call__(
        self, command: Any, fields_set: frozenset[str], context: dict[str, Any]
    ) -> RuleViolation | None:
        if self.predicate is not None and not is_present(
            self.predicate, command, fields_set, context
        ):
            return None
        params = [context[name] for name in self.param_names]
        if self.kind == "require_present":
            target = self.targets[0]
            if is_present(target, command, fields_set, context):
                return None
            return RuleViolation(
                self.field_name(command), self.message or f"{target.leaf} is required"
            )
        assert self.fn is not None
        if self.targets:
            outcome = self.fn(*[t.resolve(command, context) for t in self.targets], *params)
        elif self.uses_command_refs:
            outcome = self.fn(*[r.resolve(command, context) for r in self.command_refs], *params)
        else:
            outcome = self.fn(command, fields_set, *params)
        return self._violation(outcome, command)

    def _violation(self, outcome: Any, command: Any) -> RuleViolation | None:
        if isinstance(outcome, RuleViolation):
            return outcome
        if isinstance(outcome, str):
            return RuleViolation(self.field_name(command), outcome)
        if outcome is True:
            return RuleViolation(self.field_name(command), self.message or "Rule check failed")
        return None


class Rule:
    """Entry point of the rule DSL: ``Rule.check``, ``Rule.forbid``, ``Rule.require_present``."""

    @staticmethod
    def check(
        *targets: FieldRef,
        via: Callable[..., Any],
        message: str | None = None,
        field: str | None = None,
    ) -> RuleSpec:
        """Call ``via(*target_values)``: a str, ``True`` or a RuleViolation means failure."""
        if not targets:
            raise ValueError("Rule.check() requires at least one target field")
        return RuleSpec("check", via, targets=tuple(targets), message=message, field=field)

    @staticmethod
    def forbid(
        condition: Callable[..., Any], *, message: str, field: str | None = None
    ) -> RuleSpec:
        """Fail with ``message`` when ``condition(command, fields_set, *params)`` is True."""
        return RuleSpec("forbid", condition, message=message, field=field)

    @staticmethod
    def require_present(
        target: FieldRef, *, field: str | None = None, message: str | None = None
    ) -> RuleSpec:
        """Fail unless ``target`` is present (a patch field sent, or a value not None)."""
        return RuleSpec("require_present", None, targets=(target,), message=message, field=field)
