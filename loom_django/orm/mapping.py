"""Loom models become Django models while Django populates its app registry.

``install_mapping_hook()`` (called when ``loom_django.apps`` is imported) registers a
model hook: every loom model declaring ``__tablename__`` is turned into a Django model of
the installed app containing it as soon as everything it refers to is defined. Models
whose annotations name classes defined later in the module wait until those exist.
"""

from __future__ import annotations

import sys
from typing import Any

from django.apps import apps
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.signals import pre_save
from django.utils import timezone

from loom_django.core.model import add_model_hook, column_map
from loom_django.orm.builder import NotReady, app_label_of, build_django_model
from loom_django.orm.databases import vendor_for
from loom_django.orm.registry import REGISTRY

__all__ = [
    "django_model_for",
    "finalize_mapping",
    "import_discovery_modules",
    "install_mapping_hook",
    "is_generated",
    "is_mapped",
    "loom_model_for",
    "mapped_pairs",
    "discovery_mapping_problems",
    "mapping_failures",
    "require_installed",
]

MISSING_APP = (
    "'loom_django' is missing from INSTALLED_APPS, so loom models are not turned into Django "
    'models and no repository is injected: add "loom_django" to INSTALLED_APPS.'
)

_installed = False
_lock = REGISTRY.lock
_pending = REGISTRY.pending
_django = REGISTRY.django
_late = REGISTRY.late
_generated = REGISTRY.generated
_discovery_failures: dict[str, str] = {}


def install_mapping_hook() -> None:
    """Start mapping loom models to Django models (idempotent; models defined earlier too)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    add_model_hook(_on_model)


def mapping_failures() -> dict[type[Any], str]:
    """Loom models that could not be mapped when the mapping was finalized, with why."""
    with _lock:
        return dict(REGISTRY.failures)


def _vendor(cls: type[Any]) -> str:
    """The vendor of the database ``cls`` is migrated on (configured alias, routers)."""
    try:
        label = app_label_of(cls)
    except ImproperlyConfigured:
        label = ""  # build_django_model reports it
    return vendor_for(label, cls.__name__)


def discovery_mapping_problems() -> list[checks.CheckMessage]:
    """``loom_django.E200`` for each loom model of a discovery module (``app.discovery``)
    defined too late to be mapped, instead of letting its routes fail with a missing
    repository. Reads state only."""
    errors: list[checks.CheckMessage] = [
        checks.Error(failure, id="loom_django.E200") for failure in _discovery_failures.values()
    ]
    modules = set(_discovery_modules()) - set(_discovery_failures)
    with _lock:
        late = [(cls, why) for cls, why in _late.items() if cls.__module__ in modules]
    return errors + [
        checks.Error(
            why,
            hint="Its module could not be imported while Django loaded models (see the other "
            "errors), or import it from <app>/models.py.",
            obj=cls,
            id="loom_django.E200",
        )
        for cls, why in late
    ]


def _discovery_modules() -> tuple[str, ...]:
    """Modules named by ``app.discovery`` (modules, manifest or interfaces mode)."""
    try:
        from omegaconf import OmegaConf

        from loom_django.conf import conf
        from loom_django.core.config import to_plain

        section = to_plain(OmegaConf.select(conf.loom_config(), "app.discovery", default=None))
    except Exception:
        return ()
    if not isinstance(section, dict):
        return ()
    mode = section.get("mode")
    if mode == "modules":
        names = (section.get("modules") or {}).get("include") or []
    elif mode == "manifest":
        names = [(section.get("manifest") or {}).get("module") or ""]
    elif mode == "interfaces":
        names = (section.get("interfaces") or {}).get("modules") or []
    else:
        names = []
    return tuple(str(name) for name in names if name)


def import_discovery_modules() -> None:
    """Import the ``app.discovery`` modules while Django loads models, so the loom models
    they define (loom-kernel's layout: ``app/user/model.py``) are mapped like those of
    ``<app>/models.py``. Called from ``loom_django.models``; an import that fails here is
    left to startup, which reports it as a check message.
    """
    import importlib

    for name in _discovery_modules():
        try:
            importlib.import_module(name)
        except ImproperlyConfigured as exc:
            _discovery_failures[name] = f"{name}: {exc}"
        except Exception:
            continue  # the runtime bootstrap imports it again and reports the error


def _expose_in_module(cls: type[Any]) -> None:
    """Let annotations of earlier models name ``cls`` while its class statement finishes."""
    module = sys.modules.get(cls.__module__)
    if module is not None and "<locals>" not in cls.__qualname__:
        vars(module).setdefault(cls.__name__, cls)


def _on_model(cls: type[Any]) -> None:
    existing = cls.__dict__.get("__django_model__")
    with _lock:
        if existing is not None:
            _bind(cls, existing, generated=False)
            return
        if apps.models_ready:
            _late[cls] = (
                f"Loom model {cls.__name__} ({cls.__module__}) was defined after Django's app "
                "registry was ready, so it has no Django model: import it from the models "
                "module of its app (<app>/models.py)."
            )
            return
        _expose_in_module(cls)
        _pending.append(cls)
        _flush(final=False)


def _flush(*, final: bool) -> None:
    if not apps.apps_ready:
        if final:
            apps.check_apps_ready()
        return
    progress = True
    while progress and _pending:
        progress = False
        for cls in list(_pending):
            try:
                django_model = build_django_model(cls, _vendor(cls))
            except (NotReady, NameError) as exc:
                if final:
                    _pending.remove(cls)
                    message = f"Cannot map loom model {cls.__name__}: {exc}"
                    REGISTRY.failures[cls] = message
                    raise ImproperlyConfigured(message) from exc
                continue
            except Exception:
                _pending.remove(cls)
                raise
            _pending.remove(cls)
            _bind(cls, django_model, generated=True)
            progress = True


def _bind(loom: type[Any], django_model: type[models.Model], *, generated: bool) -> None:
    _django[loom] = django_model
    type.__setattr__(loom, "__django_model__", django_model)
    if "__loom_model__" not in django_model.__dict__:
        django_model.__loom_model__ = loom  # type: ignore[attr-defined]
    if not generated:
        return
    _generated.add(loom)
    touched = [
        name for name, info in column_map(loom).items() if info.field.server_onupdate is not None
    ]
    if touched:
        pre_save.connect(_touch_receiver(tuple(touched)), sender=django_model, weak=False)


def _touch_receiver(attnames: tuple[str, ...]) -> Any:
    """``pre_save`` receiver refreshing on-update columns when a row is saved (e.g. admin)."""

    def touch(sender: Any, instance: models.Model, raw: bool = False, **kwargs: Any) -> None:
        if raw or instance._state.adding:
            return
        now = timezone.now()
        for attname in attnames:
            setattr(instance, attname, now)

    return touch


def finalize_mapping() -> None:
    """Map every model still waiting; called once the app registry is populated.

    Raises:
        ImproperlyConfigured: a waiting model refers to something that never appeared.
    """
    with _lock:
        if _pending:
            _flush(final=True)


def is_mapped(loom: type[Any]) -> bool:
    """True when ``loom`` has a Django model (generated, or the one it was derived from)."""
    return loom in _django or "__django_model__" in getattr(loom, "__dict__", {})


def is_generated(loom: type[Any]) -> bool:
    """True when loom generated the Django model (False for one derived from existing code)."""
    return loom in _generated


def mapped_pairs() -> tuple[tuple[type[Any], type[models.Model]], ...]:
    """Every ``(loom model, Django model)`` pair known so far, in mapping order."""
    finalize_mapping()
    with _lock:
        return tuple(_django.items())


def django_model_for(loom: type[Any]) -> type[models.Model]:
    """The Django model of a loom model (also ``Loom.__django_model__``).

    Raises:
        ImproperlyConfigured: ``loom`` is not mapped (defined outside an app's models
            module, after startup, or it is not a table model).
    """
    found = _django.get(loom)
    if found is not None:
        return found
    finalize_mapping()
    found = _django.get(loom) or getattr(loom, "__dict__", {}).get("__django_model__")
    if found is not None:
        return found
    reason = _late.get(loom)
    if reason is None and apps.apps_ready and not apps.is_installed("loom_django"):
        reason = f"{getattr(loom, '__name__', loom)!s} is not mapped: {MISSING_APP}"
    if reason is None:
        reason = (
            f"{getattr(loom, '__name__', loom)!s} is not a mapped loom model: declare "
            "__tablename__ on it and import it from the models module of an installed app."
        )
    raise ImproperlyConfigured(reason)


def require_installed() -> None:
    """Fail with a message naming the app when ``loom_django`` is not installed.

    Raises:
        ImproperlyConfigured: ``"loom_django"`` is not in ``INSTALLED_APPS``.
    """
    if apps.apps_ready and not apps.is_installed("loom_django"):
        raise ImproperlyConfigured(MISSING_APP)


def loom_model_for(django_model: type[models.Model]) -> type[Any]:
    """The loom model of a Django model; derived from its fields when it has none yet.

    A model generated from a loom model gives that loom model back; any other Django
    model gets a loom model (a ``BaseModel`` struct) built from its concrete fields once,
    so repositories, use cases and auto-CRUD can serve it.
    """
    found = django_model.__dict__.get("__loom_model__")
    if found is not None:
        return found  # type: ignore[no-any-return]
    from loom_django.orm.existing import derive_loom_model

    return derive_loom_model(django_model)
