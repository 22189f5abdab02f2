"""The expression DSL of declarations: ``col``, ``params`` and immutable predicate nodes.

Predicates are backend-neutral values; each backend renders them through :func:`fold`
(Polars expressions, parameterised SQL). Null semantics are three-valued everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "AndPred",
    "ColRef",
    "EqPred",
    "GePred",
    "GtPred",
    "InPred",
    "IsNullPred",
    "LePred",
    "LtPred",
    "NePred",
    "NotPred",
    "OrPred",
    "ParamExpr",
    "Predicate",
    "col",
    "columns_of",
    "fold",
    "param_paths",
    "params",
    "resolve",
]

R = TypeVar("R")


class _Ops:
    """Comparison operators shared by column references and param expressions."""

    def __eq__(self, other: object) -> EqPred:  # type: ignore[override]
        return EqPred(self, other)

    def __ne__(self, other: object) -> NePred:  # type: ignore[override]
        return NePred(self, other)

    def __gt__(self, other: object) -> GtPred:
        return GtPred(self, other)

    def __ge__(self, other: object) -> GePred:
        return GePred(self, other)

    def __lt__(self, other: object) -> LtPred:
        return LtPred(self, other)

    def __le__(self, other: object) -> LePred:
        return LePred(self, other)

    def isin(self, values: Iterable[Any] | ParamExpr) -> InPred:
        """Membership in a literal collection or in a params field holding one."""
        return InPred(self, values if isinstance(values, ParamExpr) else tuple(values))

    def between(self, low: object, high: object) -> AndPred:
        """Inclusive range: ``low <= self <= high``."""
        return AndPred(GePred(self, low), LePred(self, high))

    def is_null(self) -> IsNullPred:
        """True where the value is null."""
        return IsNullPred(self, negated=False)

    def is_not_null(self) -> IsNullPred:
        """True where the value is not null."""
        return IsNullPred(self, negated=True)


@dataclass(frozen=True, eq=False)
class ColRef(_Ops):
    """A reference to a column by name."""

    name: str

    def __hash__(self) -> int:
        return hash(("col", self.name))

    def __repr__(self) -> str:
        return f"col({self.name!r})"


@dataclass(frozen=True, eq=False)
class ParamExpr(_Ops):
    """A path into the run's params (``params.run_date.year``), resolved at run time."""

    path: tuple[str, ...]

    def __getattr__(self, name: str) -> ParamExpr:
        if name.startswith("_"):
            raise AttributeError(name)
        return ParamExpr((*self.path, name))

    def __hash__(self) -> int:
        return hash(("params", self.path))

    def __repr__(self) -> str:
        return "params." + ".".join(self.path)


class _ParamsProxy:
    """``params``: attribute access starts a :class:`ParamExpr`."""

    def __getattr__(self, name: str) -> ParamExpr:
        if name.startswith("_"):
            raise AttributeError(name)
        return ParamExpr((name,))

    def __repr__(self) -> str:
        return "params"


params = _ParamsProxy()
"""Proxy whose attributes name params fields: ``params.run_date``."""


def col(name: str) -> ColRef:
    """A column reference for predicates: ``col("amount") >= 0``."""
    return ColRef(name)


class Predicate:
    """Base of predicate nodes; combine with ``&``, ``|`` and ``~``."""

    def __and__(self, other: Predicate) -> AndPred:
        return AndPred(self, other)

    def __or__(self, other: Predicate) -> OrPred:
        return OrPred(self, other)

    def __invert__(self) -> NotPred:
        return NotPred(self)


@dataclass(frozen=True)
class _Binary(Predicate):
    left: Any
    right: Any
    op = ""


class EqPred(_Binary):
    """``left == right``."""

    op = "="


class NePred(_Binary):
    """``left != right``."""

    op = "<>"


class GtPred(_Binary):
    """``left > right``."""

    op = ">"


class GePred(_Binary):
    """``left >= right``."""

    op = ">="


class LtPred(_Binary):
    """``left < right``."""

    op = "<"


class LePred(_Binary):
    """``left <= right``."""

    op = "<="


@dataclass(frozen=True)
class InPred(Predicate):
    """``ref IN values``; an empty collection matches nothing."""

    ref: Any
    values: Any


@dataclass(frozen=True)
class IsNullPred(Predicate):
    """``ref IS [NOT] NULL``."""

    ref: Any
    negated: bool


@dataclass(frozen=True)
class AndPred(Predicate):
    """Both sides hold."""

    left: Predicate
    right: Predicate


@dataclass(frozen=True)
class OrPred(Predicate):
    """Either side holds."""

    left: Predicate
    right: Predicate


@dataclass(frozen=True)
class NotPred(Predicate):
    """The operand does not hold (null stays null)."""

    operand: Predicate


@dataclass(frozen=True)
class Dialect:
    """How one backend renders the leaves and combinators of a predicate tree."""

    operand: Callable[[Any], Any]
    binary: Callable[[str, Any, Any], Any]
    isin: Callable[[Any, tuple[Any, ...]], Any]
    is_null: Callable[[Any, bool], Any]
    and_: Callable[[Any, Any], Any]
    or_: Callable[[Any, Any], Any]
    not_: Callable[[Any], Any]


def fold(pred: Predicate, dialect: Dialect, values: Any) -> Any:
    """Render ``pred`` with ``dialect``; ``ParamExpr`` operands are resolved on ``values``."""

    def operand(value: Any) -> Any:
        if isinstance(value, ParamExpr):
            return dialect.operand(resolve(value, values))
        return dialect.operand(value)

    def walk(node: Predicate) -> Any:
        if isinstance(node, _Binary):
            return dialect.binary(node.op, operand(node.left), operand(node.right))
        if isinstance(node, InPred):
            raw = (
                resolve(node.values, values) if isinstance(node.values, ParamExpr) else node.values
            )
            return dialect.isin(operand(node.ref), tuple(raw))
        if isinstance(node, IsNullPred):
            return dialect.is_null(operand(node.ref), node.negated)
        if isinstance(node, AndPred):
            return dialect.and_(walk(node.left), walk(node.right))
        if isinstance(node, OrPred):
            return dialect.or_(walk(node.left), walk(node.right))
        if isinstance(node, NotPred):
            return dialect.not_(walk(node.operand))
        raise TypeError(f"not a predicate: {node!r}")

    return walk(pred)


def resolve(expr: ParamExpr, values: Any) -> Any:
    """The value at ``expr``'s path in the concrete params object."""
    current = values
    for name in expr.path:
        current = getattr(current, name)
    return current


def _nodes(pred: Predicate) -> Iterable[Any]:
    if isinstance(pred, _Binary):
        yield pred.left
        yield pred.right
    elif isinstance(pred, InPred):
        yield pred.ref
        yield pred.values
    elif isinstance(pred, IsNullPred):
        yield pred.ref
    elif isinstance(pred, AndPred | OrPred):
        yield from _nodes(pred.left)
        yield from _nodes(pred.right)
    elif isinstance(pred, NotPred):
        yield from _nodes(pred.operand)


def param_paths(pred: Predicate) -> tuple[ParamExpr, ...]:
    """Every params path ``pred`` refers to (for compile-time validation)."""
    return tuple(node for node in _nodes(pred) if isinstance(node, ParamExpr))


def columns_of(pred: Predicate) -> tuple[str, ...]:
    """Every column name ``pred`` refers to."""
    return tuple(dict.fromkeys(n.name for n in _nodes(pred) if isinstance(n, ColRef)))
