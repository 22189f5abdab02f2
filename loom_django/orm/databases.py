"""Which database alias loom uses: ``settings.LOOM["DATABASE"]``, then the routers.

Loom's unit of work opens on the configured alias; a model's default repository uses the
alias Django's database routers choose for writing it (the configured alias when no
router answers). Writes on any other alias inside an execution join its unit of work, so
they commit or roll back with it and jobs wait for every commit.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, router

__all__ = ["ambient_alias", "configured_alias", "db_for_write", "vendor_for"]


def configured_alias() -> str:
    """``settings.LOOM["DATABASE"]`` (``"default"`` when unset)."""
    from loom_django.conf import conf
    from loom_django.core.errors import ConfigError

    try:
        return conf.DATABASE
    except ConfigError:  # settings.LOOM is malformed: the E00x checks report it
        return DEFAULT_DB_ALIAS


def db_for_write(django_model: type[Any], fallback: str | None = None) -> str:
    """The alias the routers choose for writing ``django_model``, else ``fallback``
    (the configured alias)."""
    for candidate in router.routers:
        chooser = getattr(candidate, "db_for_write", None)
        if chooser is None:
            continue
        chosen = chooser(django_model)
        if chosen:
            return str(chosen)
    return fallback or configured_alias()


def vendor_for(app_label: str, model_name: str) -> str:
    """The vendor of the database a model is migrated on (column types follow it)."""
    preferred = configured_alias()
    aliases = [preferred, *(alias for alias in connections.settings if alias != preferred)]
    for alias in aliases:
        if alias in connections.settings and router.allow_migrate(
            alias, app_label, model_name=model_name.lower()
        ):
            return str(connections[alias].vendor)
    return str(connections[preferred].vendor)


def ambient_alias() -> str | None:
    """The alias whose open transaction after-commit work should wait for (no loom unit
    of work active): the configured alias if it is in a transaction, else the first
    initialised connection that is, else ``None``."""
    preferred = configured_alias()
    if connections[preferred].in_atomic_block:
        return preferred
    for connection in connections.all(initialized_only=True):
        if connection.in_atomic_block:
            return str(connection.alias)
    return None
