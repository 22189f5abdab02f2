"""The Django app: lets the doors hook in, then discovers and compiles everything at startup."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks

from loom_django.doors import installed_doors

__all__ = ["LoomDjangoConfig"]


def _install_doors() -> None:
    """Run each door's ``install()`` before Django imports models (the ORM door maps them)."""
    for door in installed_doors():
        door.install()


_install_doors()


class LoomDjangoConfig(AppConfig):
    """``INSTALLED_APPS += ["loom_django"]``: compiles every plan once, in ``ready()``."""

    name = "loom_django"
    label = "loom_django"
    verbose_name = "loom"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from loom_django.checks import CHECKS
        from loom_django.conf import conf
        from loom_django.contributions import set_api_extensions
        from loom_django.core.repository.cursor import set_cursor_secret
        from loom_django.runtime import get_runtime, setup_runtime

        conf.refresh()
        doors = installed_doors()
        for check in CHECKS:
            checks.register(check, "loom_django")
        for door in doors:
            for check in door.checks:
                checks.register(check, "loom_django")
            for check in door.deploy_checks:
                checks.register(check, "loom_django", deploy=True)
        set_api_extensions(hook for door in doors if (hook := door.extend_api) is not None)
        set_cursor_secret(str(settings.SECRET_KEY).encode())
        setup_runtime()
        for door in doors:
            door.ready(get_runtime)
