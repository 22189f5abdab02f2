"""The ``like`` and ``ilike`` lookups: SQL LIKE with the caller's own ``%``/``_`` wildcards.

Django's ``contains``/``icontains`` escape wildcards, so they cannot express a pattern.
``like`` is case-sensitive on every backend (SQLite's LIKE is not, so there the pattern
is rewritten to GLOB); ``ilike`` is ``ILIKE`` on PostgreSQL and ``UPPER() LIKE UPPER()``
elsewhere. A backslash escapes a wildcard, as in PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, Field, Lookup, TextField

__all__ = ["ILike", "Like", "like_to_glob", "register_lookups"]


def like_to_glob(pattern: str) -> str:
    """Translate a LIKE pattern (``%``, ``_``, ``\\`` escapes) to an SQLite GLOB pattern."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append(f"[{char}]" if char in "*?[" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char in "*?[":
            out.append(f"[{char}]")
        else:
            out.append(char)
    if escaped:
        out.append("\\")
    return "".join(out)


class _PatternLookup(Lookup):
    prepare_rhs = False

    def _text_lhs(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, params = self.process_lhs(compiler, connection)
        field = getattr(self.lhs, "output_field", None)
        if connection.vendor == "postgresql" and not isinstance(field, CharField | TextField):
            lhs = f"({lhs})::text"
        return lhs, list(params)

    def get_db_prep_lookup(self, value: Any, connection: Any) -> Any:
        return "%s", [str(value)]


class Like(_PatternLookup):
    """``field__like="ab%"``: case-sensitive SQL LIKE."""

    lookup_name = "like"

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self._text_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "sqlite":
            return f"{lhs} GLOB {rhs}", [*lhs_params, *(like_to_glob(str(p)) for p in rhs_params)]
        if connection.vendor == "mysql":
            return f"{lhs} LIKE BINARY {rhs}", [*lhs_params, *rhs_params]
        return f"{lhs} LIKE {rhs}", [*lhs_params, *rhs_params]


class ILike(_PatternLookup):
    """``field__ilike="%ab%"``: case-insensitive SQL LIKE."""

    lookup_name = "ilike"

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self._text_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs} ILIKE {rhs}", [*lhs_params, *rhs_params]
        sql = f"UPPER({lhs}) LIKE UPPER({rhs})"
        if connection.vendor == "sqlite":
            sql += " ESCAPE '\\'"
        return sql, [*lhs_params, *rhs_params]


def register_lookups() -> None:
    """Make ``like``/``ilike`` available on every model field (idempotent)."""
    Field.register_lookup(Like)
    Field.register_lookup(ILike)
