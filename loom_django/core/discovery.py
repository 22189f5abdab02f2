"""Find models, use cases, interfaces, jobs and callbacks by the ``app.discovery`` modes."""

from __future__ import annotations

import importlib
import inspect
import typing
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import msgspec

__all__ = [
    "DEFAULT_APP_SUBMODULES",
    "AppsDiscovery",
    "ComponentKinds",
    "DiscoveryConfig",
    "DiscoveryResult",
    "DiscoveryWarning",
    "InterfacesDiscovery",
    "ManifestDiscovery",
    "ModulesDiscovery",
    "default_kinds",
    "discover",
    "discover_apps",
    "discover_interfaces",
    "discover_manifest",
    "discover_modules",
]

DEFAULT_APP_SUBMODULES: tuple[str, ...] = (
    "models",
    "use_cases",
    "interfaces",
    "jobs",
    "callbacks",
    "streams",
)
_MANIFEST_LISTS = (
    "MODELS",
    "USE_CASES",
    "INTERFACES",
    "REPOSITORIES",
    "JOBS",
    "CALLBACKS",
    "STREAM_FLOWS",
)


class DiscoveryWarning(UserWarning):
    """A discovery setup that works but is not recommended."""


class ModulesDiscovery(msgspec.Struct, kw_only=True):
    """``app.discovery.modules``."""

    include: list[str] = msgspec.field(default_factory=list)


class ManifestDiscovery(msgspec.Struct, kw_only=True):
    """``app.discovery.manifest``."""

    module: str = ""


class InterfacesDiscovery(msgspec.Struct, kw_only=True):
    """``app.discovery.interfaces``."""

    modules: list[str] = msgspec.field(default_factory=list)
    warn_recommended: bool = True


class AppsDiscovery(msgspec.Struct, kw_only=True):
    """``app.discovery.apps`` (Django): which submodules of every installed app to import."""

    submodules: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_APP_SUBMODULES))


class DiscoveryConfig(msgspec.Struct, kw_only=True):
    """``app.discovery``; ``mode`` is one of ``modules``, ``manifest``, ``interfaces``, ``apps``."""

    mode: str = "interfaces"
    modules: ModulesDiscovery = msgspec.field(default_factory=ModulesDiscovery)
    manifest: ManifestDiscovery = msgspec.field(default_factory=ManifestDiscovery)
    interfaces: InterfacesDiscovery = msgspec.field(default_factory=InterfacesDiscovery)
    apps: AppsDiscovery = msgspec.field(default_factory=AppsDiscovery)


@dataclass(frozen=True)
class DiscoveryResult:
    """Everything discovery found, each tuple in discovery order without duplicates."""

    models: tuple[type[Any], ...] = ()
    use_cases: tuple[type[Any], ...] = ()
    interfaces: tuple[type[Any], ...] = ()
    jobs: tuple[type[Any], ...] = ()
    callbacks: tuple[type[Any], ...] = ()
    repositories: tuple[type[Any], ...] = ()
    stream_flows: tuple[Any, ...] = ()
    modules: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        """Whether no component of any kind was found."""
        return not any(
            (
                self.models,
                self.use_cases,
                self.interfaces,
                self.jobs,
                self.callbacks,
                self.repositories,
                self.stream_flows,
            )
        )


@dataclass(frozen=True)
class ComponentKinds:
    """The base classes that classify discovered classes (``None`` = kind not available)."""

    model: type[Any] | None = None
    use_case: type[Any] | None = None
    job: type[Any] | None = None
    interface: type[Any] | None = None
    is_repository: Callable[[type[Any]], bool] | None = None


def _optional_attr(module: str, name: str, *, door: bool = False) -> type[Any] | None:
    """``module.name`` if that module exists; a door's missing dependency also yields None."""
    try:
        imported = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if door or _names_module(exc, module):
            return None
        raise
    except ImportError:
        if door:
            return None
        raise
    value = getattr(imported, name, None)
    return value if isinstance(value, type) else None


def _names_module(exc: ModuleNotFoundError, module: str) -> bool:
    missing = exc.name or ""
    return module == missing or module.startswith(f"{missing}.")


def default_kinds() -> ComponentKinds:
    """The loom base classes, imported lazily; a door that is not installed is skipped."""
    return ComponentKinds(
        model=_optional_attr("loom_django.core.model", "BaseModel"),
        use_case=_optional_attr("loom_django.core.use_case.use_case", "UseCase"),
        job=_optional_attr("loom_django.core.job.job", "Job"),
        interface=_optional_attr("loom_django.rest.model", "RestInterface", door=True),
    )


@dataclass
class _Collector:
    kinds: ComponentKinds
    models: dict[type[Any], None] = field(default_factory=dict)
    use_cases: dict[type[Any], None] = field(default_factory=dict)
    interfaces: dict[type[Any], None] = field(default_factory=dict)
    jobs: dict[type[Any], None] = field(default_factory=dict)
    callbacks: dict[type[Any], None] = field(default_factory=dict)
    repositories: dict[type[Any], None] = field(default_factory=dict)
    stream_flows: dict[int, Any] = field(default_factory=dict)
    modules: dict[str, None] = field(default_factory=dict)

    def add_module(self, module: ModuleType) -> None:
        self.modules[module.__name__] = None
        for value in list(vars(module).values()):
            if isinstance(value, type) and value.__module__ == module.__name__:
                self.add_class(value)
        self.add_flows(getattr(module, "STREAM_FLOWS", ()))

    def add_class(self, cls: type[Any]) -> None:
        kinds = self.kinds
        if _is_sub(cls, kinds.model):
            if _is_mapped(cls):
                self.models[cls] = None
        elif _is_sub(cls, kinds.use_case):
            if not _is_abstract(cls):
                self.use_cases[cls] = None
        elif _is_sub(cls, kinds.job):
            if not _is_abstract(cls):
                self.jobs[cls] = None
        elif _is_sub(cls, kinds.interface):
            self.add_interface(cls)
        elif kinds.is_repository is not None and kinds.is_repository(cls):
            self.repositories[cls] = None
        elif _is_callback(cls):
            self.callbacks[cls] = None

    def add_interface(self, cls: type[Any]) -> None:
        self.interfaces[cls] = None
        for use_case in _route_use_cases(cls):
            self.use_cases[use_case] = None

    def add_flows(self, flows: Iterable[Any]) -> None:
        for flow in flows or ():
            self.stream_flows[id(flow)] = flow

    def result(self) -> DiscoveryResult:
        return DiscoveryResult(
            models=tuple(self.models),
            use_cases=tuple(self.use_cases),
            interfaces=tuple(self.interfaces),
            jobs=tuple(self.jobs),
            callbacks=tuple(self.callbacks),
            repositories=tuple(self.repositories),
            stream_flows=tuple(self.stream_flows.values()),
            modules=tuple(self.modules),
        )


def _is_sub(cls: type[Any], base: type[Any] | None) -> bool:
    return base is not None and cls is not base and issubclass(cls, base)


def _is_mapped(cls: type[Any]) -> bool:
    return bool(cls.__dict__.get("__tablename__"))


def _is_abstract(cls: type[Any]) -> bool:
    execute = getattr(cls, "execute", None)
    return inspect.isabstract(cls) or bool(getattr(execute, "__loom_abstract__", False))


def _is_callback(cls: type[Any]) -> bool:
    if getattr(cls, "_is_protocol", False):
        return False
    return callable(getattr(cls, "on_success", None)) and callable(getattr(cls, "on_failure", None))


def _route_use_cases(interface: type[Any]) -> list[type[Any]]:
    found = []
    for route in getattr(interface, "routes", None) or ():
        use_case = getattr(route, "use_case", None)
        if isinstance(use_case, type):
            found.append(use_case)
    return found


def _import(name: str) -> ModuleType:
    return importlib.import_module(name)


# -- modes ------------------------------------------------------------------------------


def discover_modules(
    modules: Iterable[str], *, kinds: ComponentKinds | None = None
) -> DiscoveryResult:
    """``modules`` mode: classes defined in each listed module, plus interface route use cases.

    Raises:
        ValueError: no module path given.
    """
    names = [m for m in modules if m]
    if not names:
        raise ValueError("modules discovery requires at least one module path.")
    collector = _Collector(kinds or default_kinds())
    for name in names:
        collector.add_module(_import(name))
    return collector.result()


def discover_manifest(module: str, *, kinds: ComponentKinds | None = None) -> DiscoveryResult:
    """``manifest`` mode: read ``MODELS``, ``USE_CASES``, ``INTERFACES``, ``REPOSITORIES``,
    ``JOBS``, ``CALLBACKS`` and ``STREAM_FLOWS`` from one module.

    Raises:
        ValueError: no module path, a ``MANIFEST`` attribute, or a manifest with no components.
    """
    if not module:
        raise ValueError("manifest discovery requires a module path.")
    manifest = _import(module)
    if hasattr(manifest, "MANIFEST"):
        raise ValueError(
            f"Manifest module '{module}' exposes a MANIFEST attribute, which is not supported; "
            "list components in MODELS, USE_CASES, INTERFACES, REPOSITORIES, JOBS and "
            "CALLBACKS attributes instead."
        )
    lists = {name: list(getattr(manifest, name, None) or ()) for name in _MANIFEST_LISTS}
    if not any(lists.values()):
        raise ValueError(
            f"Manifest module '{module}' exposes no components. "
            "Expected MODELS/USE_CASES/INTERFACES/REPOSITORIES."
        )
    collector = _Collector(kinds or default_kinds())
    collector.modules[module] = None
    collector.models.update(dict.fromkeys(lists["MODELS"]))
    collector.use_cases.update(dict.fromkeys(lists["USE_CASES"]))
    collector.jobs.update(dict.fromkeys(lists["JOBS"]))
    collector.callbacks.update(dict.fromkeys(lists["CALLBACKS"]))
    collector.repositories.update(dict.fromkeys(lists["REPOSITORIES"]))
    for interface in lists["INTERFACES"]:
        collector.add_interface(interface)
    collector.add_flows(lists["STREAM_FLOWS"])
    return collector.result()


def discover_interfaces(
    modules: Iterable[str],
    *,
    warn_recommended: bool = True,
    kinds: ComponentKinds | None = None,
) -> DiscoveryResult:
    """``interfaces`` mode: interfaces of the listed modules, their route use cases, and the
    models named by those use cases' ``UseCase[Model, ...]`` generics.

    Raises:
        ValueError: no module path given, or no interface found.
    """
    names = [m for m in modules if m]
    if not names:
        raise ValueError("interfaces discovery requires at least one module path.")
    if warn_recommended:
        warnings.warn(
            "Discovery mode 'interfaces' is kept for kernel compatibility; 'manifest' (or "
            "'apps' in Django) is recommended. Set app.discovery.interfaces.warn_recommended: "
            "false to silence this warning.",
            DiscoveryWarning,
            stacklevel=2,
        )
    kinds = kinds or default_kinds()
    collector = _Collector(kinds)
    for name in names:
        module = _import(name)
        collector.modules[name] = None
        for value in list(vars(module).values()):
            if (
                isinstance(value, type)
                and value.__module__ == module.__name__
                and _is_sub(value, kinds.interface)
            ):
                collector.add_interface(value)
    if not collector.interfaces:
        raise ValueError("No RestInterface subclasses discovered in interface modules.")
    for use_case in list(collector.use_cases):
        model = _use_case_model(use_case, kinds)
        if model is not None:
            collector.models[model] = None
    return collector.result()


def _use_case_model(use_case: type[Any], kinds: ComponentKinds) -> type[Any] | None:
    candidates: list[Any] = [use_case.__dict__.get("__loom_model__")]
    for klass in use_case.__mro__:
        for base in klass.__dict__.get("__orig_bases__", ()):
            origin = typing.get_origin(base)
            args = typing.get_args(base)
            if isinstance(origin, type) and args and _is_sub_or_same(origin, kinds.use_case):
                candidates.append(args[0])
    for model in candidates:
        if isinstance(model, type) and _is_sub(model, kinds.model) and _is_mapped(model):
            return model
    return None


def _is_sub_or_same(cls: type[Any], base: type[Any] | None) -> bool:
    return base is not None and issubclass(cls, base)


def discover_apps(
    app_modules: Iterable[str] | Callable[[], Iterable[str]],
    *,
    submodules: Iterable[str] = DEFAULT_APP_SUBMODULES,
    kinds: ComponentKinds | None = None,
) -> DiscoveryResult:
    """``apps`` mode: import ``<app>.<submodule>`` where it exists, then behave like ``modules``.

    ``app_modules`` are the installed apps' module names (or a callable returning them), so
    this module stays free of Django. An import error *inside* an existing submodule
    propagates; only a submodule that does not exist is skipped.
    """
    apps = list(app_modules() if callable(app_modules) else app_modules)
    subs = list(submodules)
    collector = _Collector(kinds or default_kinds())
    for app in apps:
        for sub in subs:
            module = _import_if_exists(f"{app}.{sub}")
            if module is not None:
                collector.add_module(module)
    return collector.result()


def _import_if_exists(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if _names_module(exc, name):
            return None
        raise


def discover(
    config: DiscoveryConfig | Mapping[str, Any],
    *,
    app_modules: Iterable[str] | Callable[[], Iterable[str]] = (),
    kinds: ComponentKinds | None = None,
) -> DiscoveryResult:
    """Run the discovery mode named by ``config`` (an ``app.discovery`` section).

    Raises:
        ValueError: ``Unsupported discovery mode: '<mode>'`` or a mode's own error.
    """
    cfg = (
        config
        if isinstance(config, DiscoveryConfig)
        else msgspec.convert(dict(config), DiscoveryConfig, strict=False)
    )
    if cfg.mode == "modules":
        return discover_modules(cfg.modules.include, kinds=kinds)
    if cfg.mode == "manifest":
        return discover_manifest(cfg.manifest.module, kinds=kinds)
    if cfg.mode == "interfaces":
        return discover_interfaces(
            cfg.interfaces.modules, warn_recommended=cfg.interfaces.warn_recommended, kinds=kinds
        )
    if cfg.mode == "apps":
        return discover_apps(app_modules, submodules=cfg.apps.submodules, kinds=kinds)
    raise ValueError(f"Unsupported discovery mode: '{cfg.mode}'")
