"""``{{ params.x }}`` placeholders of StepSQL rendered as safe SQL literals."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from loom_django.etl.expr import ParamExpr, resolve

__all__ = ["render_sql", "sql_literal"]

_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_PATH = re.compile(r"params(\.[A-Za-z_][A-Za-z0-9_]*)+")


def sql_literal(value: Any) -> str:
    """``None``→NULL, booleans TRUE/FALSE, dates quoted ISO, strings with ``'`` doubled."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, date | datetime):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def render_sql(sql: Any, params: Any) -> str:
    """The SQL text of a StepSQL for ``params``.

    Raises:
        ValueError: a placeholder is not a dotted path rooted at ``params``.
    """
    if isinstance(sql, staticmethod):
        sql = sql.__func__
    if callable(sql):
        return str(sql(params))

    def substitute(match: re.Match[str]) -> str:
        raw = match.group(1)
        if not _PATH.fullmatch(raw):
            raise ValueError(f"SQL placeholder {{{{ {raw} }}}} must be params.<field>")
        return sql_literal(resolve(ParamExpr(tuple(raw.split(".")[1:])), params))

    return _PLACEHOLDER.sub(substitute, str(sql))
