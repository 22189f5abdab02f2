"""``manage.py check --deploy`` check of how the API is served (``loom_django.W520``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.checks import CheckMessage, Warning

__all__ = ["W520", "check_asgi_pool", "unpooled_under_asgi"]

W520 = "loom_django.W520"
"""Served over ASGI, a PostgreSQL database has no connection pool."""

_POSTGRESQL = "django.db.backends.postgresql"


def check_asgi_pool(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W520: ``ASGI_APPLICATION`` is set and a PostgreSQL alias has no ``OPTIONS["pool"]``.

    Django's persistent connections do not survive its ASGI request cycle, so without a
    pool every request opens (and closes) a PostgreSQL connection: a few milliseconds each.
    """
    from django.conf import settings

    unpooled = unpooled_under_asgi(getattr(settings, "ASGI_APPLICATION", None), settings.DATABASES)
    return [
        Warning(
            f"DATABASES[{alias!r}] (PostgreSQL) has no connection pool while "
            "ASGI_APPLICATION is set: under ASGI every request opens a new connection.",
            hint=(
                "Install psycopg[pool] and set OPTIONS['pool'] = True with CONN_MAX_AGE = 0 "
                "(database_from_url() does when psycopg_pool is installed); with an external "
                "pooler such as PgBouncer, silence loom_django.W520."
            ),
            obj=alias,
            id=W520,
        )
        for alias in unpooled
    ]


def unpooled_under_asgi(
    asgi_application: str | None, databases: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """The PostgreSQL aliases without ``OPTIONS["pool"]``, when an ASGI app is configured."""
    if not asgi_application:
        return []
    return [
        alias
        for alias, database in databases.items()
        if database.get("ENGINE") == _POSTGRESQL and not (database.get("OPTIONS") or {}).get("pool")
    ]
