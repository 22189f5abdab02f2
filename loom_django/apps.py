"""The Django app: maps loom models, then discovers and compiles everything at startup."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks

__all__ = ["LoomDjangoConfig"]


def _install_model_mapping() -> None:
    """Map loom models to Django models as their modules are imported (ORM door)."""
    try:
        from loom_django.orm.mapping import install_mapping_hook
    except ImportError:
        return
    install_mapping_hook()


_install_model_mapping()


class LoomDjangoConfig(AppConfig):
    """``INSTALLED_APPS += ["loom_django"]``: compiles every plan once, in ``ready()``."""

    name = "loom_django"
    label = "loom_django"
    verbose_name = "loom"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from loom_django.checks import check_runtime, check_settings
        from loom_django.core.repository.cursor import set_cursor_secret
        from loom_django.doors import installed_doors
        from loom_django.runtime import get_runtime, setup_runtime

        doors = installed_doors()
        checks.register(check_settings, "loom_django")
        checks.register(check_runtime, "loom_django")
        for door in doors:
            for check in door.checks:
                checks.register(check, "loom_django")
            for check in door.deploy_checks:
                checks.register(check, "loom_django", deploy=True)
        set_cursor_secret(str(settings.SECRET_KEY).encode())
        setup_runtime()
        for door in doors:
            door.ready(get_runtime)
