"""F references: typed paths into a command (or a loaded value) used by computes and rules."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["F", "FieldExpr", "FieldRef", "PredicateOp", "Predicate", "field_ref", "is_present"]


class PredicateOp(StrEnum):
    """How two presence predicates combine."""

    AND = "and"
    OR = "or"


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A path such as ``F(UpdateUser).address.city`` rooted in a command type or an alias."""

    root: Any
    path: tuple[str, ...]

    def __getattr__(self, name: str) -> FieldRef:
        if name.startswith("_"):
            raise AttributeError(name)
        return FieldRef(self.root, (*self.path, name))

    @property
    def leaf(self) -> str:
        """The last path element: the field a compute writes or a rule reports."""
        if not self.path:
            raise ValueError("FieldRef has an empty path")
        return self.path[-1]

    def resolve(self, command: Any, context: dict[str, Any] | None = None) -> Any:
        """Walk the path on the command (or on ``context[root]`` for a string root)."""
        value = command
        if isinstance(self.root, str):
            value = (context or {})[self.root]
        for name in self.path:
            value = None if value is None else getattr(value, name)
        return value

    def __or__(self, other: FieldRef | FieldExpr) -> FieldExpr:
        return FieldExpr(PredicateOp.OR, self, other)

    def __and__(self, other: FieldRef | FieldExpr) -> FieldExpr:
        return FieldExpr(PredicateOp.AND, self, other)

    def __str__(self) -> str:
        root = self.root if isinstance(self.root, str) else getattr(self.root, "__name__", "?")
        return ".".join((root, *self.path))


@dataclass(frozen=True, slots=True)
class FieldExpr:
    """``a | b`` or ``a & b`` over field references, used by ``when_present``."""

    op: PredicateOp
    left: FieldRef | FieldExpr
    right: FieldRef | FieldExpr

    def __or__(self, other: FieldRef | FieldExpr) -> FieldExpr:
        return FieldExpr(PredicateOp.OR, self, other)

    def __and__(self, other: FieldRef | FieldExpr) -> FieldExpr:
        return FieldExpr(PredicateOp.AND, self, other)

    def refs(self) -> tuple[FieldRef, ...]:
        """Every reference in the expression, left to right."""
        out: list[FieldRef] = []
        for side in (self.left, self.right):
            out.extend(side.refs() if isinstance(side, FieldExpr) else (side,))
        return tuple(out)


Predicate = FieldRef | FieldExpr


class _RefFactory:
    """What ``F(Root)`` returns: attribute access starts a path."""

    __slots__ = ("_root",)

    def __init__(self, root: Any) -> None:
        self._root = root

    def __getattr__(self, name: str) -> FieldRef:
        if name.startswith("_"):
            raise AttributeError(name)
        return FieldRef(self._root, (name,))


def F(root: Any) -> Any:
    """Start a field reference: ``F(CreateUser).email``."""
    return _RefFactory(root)


field_ref = F


def _is_patch_ref(ref: FieldRef) -> bool:
    root = ref.root
    if isinstance(root, str) or len(ref.path) != 1:
        return False
    from loom_django.core.command import Command, get_patch_fields

    return (
        isinstance(root, type) and issubclass(root, Command) and ref.leaf in get_patch_fields(root)
    )


_PATCH_CACHE: dict[FieldRef, bool] = {}


def is_present(
    predicate: Predicate, command: Any, fields_set: frozenset[str], context: dict[str, Any] | None
) -> bool:
    """Presence per the spec: a patch field is present iff sent; anything else iff not None."""
    if isinstance(predicate, FieldExpr):
        left = is_present(predicate.left, command, fields_set, context)
        if predicate.op is PredicateOp.AND:
            return left and is_present(predicate.right, command, fields_set, context)
        return left or is_present(predicate.right, command, fields_set, context)
    patch = _PATCH_CACHE.get(predicate)
    if patch is None:
        patch = _PATCH_CACHE[predicate] = _is_patch_ref(predicate)
    if patch:
        return predicate.leaf in fields_set
    return predicate.resolve(command, context) is not None
