"""``manage.py check --deploy`` checks of the REST door (``loom_django.W50x``).

Each warns about a way the API exposes more than it has to; docs/security.md lists them
with the fix. They read the compiled routes of the process API and never change them.

| id | problem |
| --- | --- |
| ``W500`` | the API could not be built, so nothing else could be checked |
| ``W501`` | a list route filters on every column (no ``filterable``) |
| ``W502`` | a list route sorts on every column (no ``sortable``) |
| ``W503`` | an interface has ``permissions`` but no ``auth``: identity from the session cookie |
| ``E504`` | the cursor signing key (``SECRET_KEY``) is missing |
| ``W504`` | the cursor signing key (``SECRET_KEY``) is weak or public |
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.core.checks import CheckMessage, Error, Warning

__all__ = [
    "DEPLOY_CHECKS",
    "W500",
    "W501",
    "W502",
    "W503",
    "W504",
    "E504",
    "check_cursor_key",
    "check_open_queries",
    "check_permission_only",
]

W500 = "loom_django.W500"
W501 = "loom_django.W501"
W502 = "loom_django.W502"
W503 = "loom_django.W503"
W504 = "loom_django.W504"
E504 = "loom_django.E504"

_MIN_KEY_LENGTH = 50
_MIN_KEY_CHARS = 5
_PUBLIC_KEYS = frozenset({"example-store-insecure-dev-key", "loom-django-tests"})


def _routes() -> tuple[tuple[Any, ...], Any, list[CheckMessage]]:
    """The compiled routes and the API, or a W500 saying why they are unknown."""
    from loom_django.rest.ninja import get_api

    try:
        api = get_api()
    except Exception as exc:  # reported, not raised: ``check`` must finish
        message = Warning(
            f"The loom REST API could not be built, so its deploy checks did not run: {exc}",
            hint="Run `manage.py check` (without --deploy) and fix the errors it reports.",
            id=W500,
        )
        return (), None, [message]
    return tuple(api.loom_routes), api, []


def _by_interface(routes: Iterable[Any]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for route in routes:
        grouped[route.interface_name].append(f"{route.method} {route.full_path}")
    return grouped


def check_open_queries(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W501/W502: list routes that filter or sort on every column of their model."""
    routes, _, messages = _routes()
    lists = [r for r in routes if r.is_list and r.model is not None]
    open_filters = _by_interface(r for r in lists if r.filterable is None)
    open_sorts = _by_interface(r for r in lists if r.sortable is None)
    hint = (
        "Declare `filterable`/`sortable` on the interface or route (only fields clients "
        "need), or set app.rest.query_fields: declared to deny undeclared fields."
    )
    for name, paths in sorted(open_filters.items()):
        messages.append(
            Warning(
                f"{name}: {', '.join(paths)} let clients filter on every column.",
                hint=hint,
                obj=name,
                id=W501,
            )
        )
    for name, paths in sorted(open_sorts.items()):
        messages.append(
            Warning(
                f"{name}: {', '.join(paths)} let clients sort on every column.",
                hint=hint,
                obj=name,
                id=W502,
            )
        )
    return messages


def _no_auth(value: Any) -> bool:
    from ninja.constants import NOT_SET as NINJA_NOT_SET

    from loom_django.rest.constants import NOT_SET

    return value is None or value is NOT_SET or value is NINJA_NOT_SET


def check_permission_only(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W503: routes with permissions but no authentication of their own."""
    routes, api, messages = _routes()
    api_auth = getattr(api, "auth", None)
    if api is not None and not _no_auth(api_auth):
        return messages
    found = _by_interface(r for r in routes if r.permissions and _no_auth(r.auth))
    for name, paths in sorted(found.items()):
        messages.append(
            Warning(
                f"{name}: {', '.join(paths)} check permissions but declare no auth, so the "
                "caller is whoever the session cookie names.",
                hint=(
                    "Declare auth= on the interface (a token class, or ninja's "
                    "django_auth for sessions) so the route states how callers "
                    "authenticate; loom runs Django's CSRF check on cookie-authenticated "
                    "unsafe requests either way."
                ),
                obj=name,
                id=W503,
            )
        )
    return messages


def check_cursor_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E504/W504: cursors are signed with ``SECRET_KEY``; it must be secret and strong."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        key = str(settings.SECRET_KEY or "")
    except ImproperlyConfigured:  # Django refuses to read an empty key
        key = ""
    if not key:
        return [
            Error(
                "SECRET_KEY is empty, so loom signs list cursors with a random per-process "
                "key: cursors break across workers and restarts.",
                hint="Set SECRET_KEY from the environment (e.g. DJANGO_SECRET_KEY).",
                id=E504,
            )
        ]
    weak = (
        len(key) < _MIN_KEY_LENGTH
        or len(set(key)) < _MIN_KEY_CHARS
        or key.startswith("django-insecure-")
        or key in _PUBLIC_KEYS
    )
    if not weak:
        return []
    return [
        Warning(
            "SECRET_KEY is short, repetitive or public; loom signs list cursors with it, so "
            "clients who know it can forge cursors.",
            hint=(
                f"Use a random key of at least {_MIN_KEY_LENGTH} characters "
                "(django.core.management.utils.get_random_secret_key()) from the environment."
            ),
            id=W504,
        )
    ]


DEPLOY_CHECKS: tuple[Callable[..., list[CheckMessage]], ...] = (
    check_open_queries,
    check_permission_only,
    check_cursor_key,
)
"""Registered by ``loom_django.apps`` with ``deploy=True``."""
