"""Turn an SQLAlchemy-style ``database.url`` into a Django ``DATABASES`` entry."""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from loom_django.core.config.loader import ConfigSource, load_config
from loom_django.core.config.section import section
from loom_django.core.errors import ConfigError

__all__ = ["database_from_url", "databases_from_yaml"]

_ENGINES: dict[str, str] = {
    "postgresql": "django.db.backends.postgresql",
    "postgres": "django.db.backends.postgresql",
    "pgsql": "django.db.backends.postgresql",
    "sqlite": "django.db.backends.sqlite3",
    "sqlite3": "django.db.backends.sqlite3",
    "mysql": "django.db.backends.mysql",
    "mariadb": "django.db.backends.mysql",
    "oracle": "django.db.backends.oracle",
}

_SQLITE = "django.db.backends.sqlite3"
_POSTGRESQL = "django.db.backends.postgresql"

PoolOption = bool | Mapping[str, Any] | None


def database_from_url(
    url: str, *, base_dir: ConfigSource | None = None, pool: PoolOption = None
) -> dict[str, Any]:
    """Convert a database URL into a Django ``DATABASES["default"]``-style dict.

    The SQLAlchemy ``+driver`` suffix is dropped (``postgresql+asyncpg`` → PostgreSQL,
    ``sqlite+aiosqlite`` → SQLite). A relative SQLite path is kept as written unless
    ``base_dir`` is given, in which case it is resolved against it. Query parameters become
    ``OPTIONS``.

    PostgreSQL connections are pooled (``OPTIONS["pool"]``, Django ≥ 5.1 with psycopg's
    pool) by default when ``psycopg_pool`` is installed: Django's persistent connections do
    not survive its ASGI handler, a pool serves WSGI and ASGI alike. ``pool=False`` keeps
    Django's own connection handling (then set ``CONN_MAX_AGE`` for persistent
    connections), ``pool=True`` insists on a pool, a mapping gives the pool's options
    (``min_size``, ``max_size``, ``timeout``...).

    Raises:
        ConfigError: the URL has no scheme or names an unsupported database.
    """
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise ConfigError(f"Invalid database URL '{url}': expected '<dialect>://...'.")
    dialect = scheme.split("+", 1)[0].lower()
    engine = _ENGINES.get(dialect)
    if engine is None:
        raise ConfigError(
            f"Unsupported database URL scheme '{scheme}'; expected one of: "
            f"{', '.join(sorted(_ENGINES))} (optionally with a '+driver' suffix)."
        )
    if engine == _SQLITE:
        return {"ENGINE": engine, "NAME": _sqlite_name(url, base_dir)}
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"Invalid database URL '{url}': {exc}") from exc
    options: dict[str, Any] = dict(parse_qsl(parts.query))
    if engine == _POSTGRESQL:
        pool_options = _pool_options(pool)
        if pool_options is not None:
            options["pool"] = pool_options
    return {
        "ENGINE": engine,
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": unquote(parts.hostname or ""),
        "PORT": str(port) if port is not None else "",
        "OPTIONS": options,
    }


def _pool_options(pool: PoolOption) -> bool | dict[str, Any] | None:
    """``OPTIONS["pool"]`` for ``pool`` (``None``: a default pool when psycopg_pool is there)."""
    if pool is None:
        return True if find_spec("psycopg_pool") is not None else None
    if isinstance(pool, Mapping):
        return dict(pool)
    return True if pool else None


def _sqlite_name(url: str, base_dir: ConfigSource | None) -> str:
    rest = url.partition("://")[2].split("?", 1)[0]
    if rest in ("", "/", "/:memory:", ":memory:"):
        return ":memory:"
    # sqlite:///relative.db -> "/relative.db" after the authority; sqlite:////abs -> "//abs"
    name = unquote(rest[1:]) if rest.startswith("/") else unquote(rest)
    if base_dir is not None and not os.path.isabs(name):
        return str(Path(base_dir) / name)
    return name


def databases_from_yaml(
    *files: ConfigSource, key: str = "database.url", base_dir: ConfigSource | None = None
) -> dict[str, Any]:
    """Read ``database.url`` from YAML ``files`` and return a ``DATABASES["default"]`` dict.

    Django's ``DATABASES`` stays authoritative at runtime; this helper lets ``settings.py``
    reuse the kernel-style YAML: ``DATABASES = {"default": databases_from_yaml(path)}``.
    """
    url = section(load_config(*files), key, str)
    return database_from_url(url, base_dir=base_dir)
