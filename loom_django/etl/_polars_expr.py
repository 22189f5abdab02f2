"""Predicates rendered as Polars expressions."""

from __future__ import annotations

from typing import Any

import polars as pl

from loom_django.etl.expr import ColRef, Dialect, Predicate, fold

__all__ = ["to_polars"]

_OPS = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def _operand(value: Any) -> Any:
    if isinstance(value, ColRef):
        return pl.col(value.name)
    return pl.lit(value)


_DIALECT = Dialect(
    operand=_operand,
    binary=lambda op, a, b: _OPS[op](a, b),
    isin=lambda ref, values: ref.is_in(list(values)) if values else pl.lit(False),
    is_null=lambda ref, negated: ref.is_not_null() if negated else ref.is_null(),
    and_=lambda a, b: a & b,
    or_=lambda a, b: a | b,
    not_=lambda a: ~a,
)


def to_polars(pred: Predicate, values: Any) -> pl.Expr:
    """``pred`` as a Polars expression, params resolved on ``values``."""
    expr: pl.Expr = fold(pred, _DIALECT, values)
    return expr
