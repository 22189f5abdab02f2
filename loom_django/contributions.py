"""What doors receive and offer each other without importing each other or the hub.

``RuntimeProvider`` is what each door's ``ready(provider)`` gets.

The hub (:mod:`loom_django.doors`) collects each door's optional ``extend_api(api,
runtime)`` hook here in ``AppConfig.ready()``; the REST door calls them for every API it
builds. A door therefore adds routes (the jobs door: ``GET /jobs/{job_id}``) without the
REST door naming it, and the REST door never imports the hub.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loom_django.core.bootstrap import LoomRuntime

__all__ = ["ApiExtension", "RuntimeProvider", "api_extensions", "set_api_extensions"]

RuntimeProvider = Callable[[], "LoomRuntime"]
"""Returns the process runtime, or raises the ``BootstrapError`` that stopped it."""

ApiExtension = Callable[[Any, Any], object]
"""``extend_api(api, runtime)``: add routes to a loom NinjaAPI for ``runtime``."""

_api_extensions: tuple[ApiExtension, ...] = ()


def set_api_extensions(extensions: Iterable[ApiExtension]) -> None:
    """Replace the registered API extensions (the hub, once per ``ready()``)."""
    global _api_extensions
    _api_extensions = tuple(extensions)


def api_extensions() -> tuple[ApiExtension, ...]:
    """The API extensions of the installed doors, in door order."""
    return _api_extensions
