"""Typed access to ``settings.LOOM``: one property per setting, plus the merged YAML config."""

from __future__ import annotations

import difflib
import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from django.conf import settings
from omegaconf import DictConfig, OmegaConf

from loom_django.core.config import (
    CLOUD_SCHEMES,
    ConfigContext,
    load_config,
    merge_configs,
    section,
    to_plain,
)
from loom_django.core.errors import ConfigError

__all__ = [
    "CONFIG_DEFAULTS",
    "KNOWN_SETTINGS",
    "LoomSettings",
    "SettingsProblem",
    "conf",
    "import_di_module",
    "loom_config",
    "settings_problems",
    "validate_settings",
]

CONFIG_DEFAULTS: Mapping[str, Any] = {"app": {"name": "loom", "modules": []}}
"""YAML defaults that apply when no file or inline mapping sets them (core spec §15.3)."""

KNOWN_SETTINGS: Mapping[str, Any] = {
    "CONFIG_FILES": (),
    "CONFIG": {},
    "MODULES": (),
    "ADMIN_AUTOREGISTER": False,
    "TRACE_HEADER": "X-Request-ID",
    "ETL_PIPELINES": (),
    "ETL_AUTODISCOVER": True,
    "ETL_BACKENDS": {},
}
"""Every key ``settings.LOOM`` accepts, with its default."""


class LoomSettings:
    """``settings.LOOM`` read on every access, so ``override_settings`` just works.

    ``settings.LOOM`` is a dict of the keys in :data:`KNOWN_SETTINGS`, or a path (or list of
    paths) to YAML files, shorthand for ``{"CONFIG_FILES": [...]}``.
    """

    @property
    def raw(self) -> Mapping[str, Any]:
        """``settings.LOOM`` normalised to a mapping (a path becomes ``CONFIG_FILES``)."""
        value = getattr(settings, "LOOM", None)
        if value is None:
            return {}
        if isinstance(value, str | os.PathLike):
            return {"CONFIG_FILES": [value]}
        if isinstance(value, list | tuple):
            return {"CONFIG_FILES": list(value)}
        if isinstance(value, Mapping):
            return value
        raise ConfigError(
            f"settings.LOOM must be a dict or a path to a YAML file, got {type(value).__name__}."
        )

    def _get(self, name: str) -> Any:
        return self.raw.get(name, KNOWN_SETTINGS[name])

    @property
    def CONFIG_FILES(self) -> tuple[str | Path, ...]:
        """YAML files merged left to right; relative paths are taken from ``BASE_DIR``."""
        files = self._get("CONFIG_FILES")
        if isinstance(files, str | os.PathLike):
            files = [files]
        return tuple(_resolve_file(item) for item in files)

    @property
    def CONFIG(self) -> Mapping[str, Any]:
        """Inline config with the YAML schema, merged after the files (it wins)."""
        return dict(self._get("CONFIG") or {})

    @property
    def MODULES(self) -> tuple[str, ...]:
        """Dotted paths of DI ``register(container)`` callables, run before compilation."""
        return tuple(self._get("MODULES"))

    @property
    def ADMIN_AUTOREGISTER(self) -> bool:
        """Register every mapped loom model in the Django admin."""
        return bool(self._get("ADMIN_AUTOREGISTER"))

    @property
    def TRACE_HEADER(self) -> str:
        """Request header that carries the trace id (adopted, echoed, forwarded to jobs)."""
        return str(self._get("TRACE_HEADER"))

    @property
    def ETL_PIPELINES(self) -> tuple[str, ...]:
        """Dotted paths of extra modules holding ``ETLPipeline`` classes."""
        return tuple(self._get("ETL_PIPELINES"))

    @property
    def ETL_AUTODISCOVER(self) -> bool | str:
        """Import each installed app's ``etl`` module (``True``), none, or a named module."""
        value = self._get("ETL_AUTODISCOVER")
        return value if isinstance(value, str) else bool(value)

    @property
    def ETL_BACKENDS(self) -> Mapping[str, str]:
        """ETL backend names pinned to dotted provider paths."""
        return dict(self._get("ETL_BACKENDS") or {})

    def loom_config(self, *, with_defaults: bool = True) -> DictConfig:
        """Defaults, then ``CONFIG_FILES`` left to right, then inline ``CONFIG`` (wins).

        Raises:
            ConfigError: a file is missing or unparsable, or the inline mapping is invalid.
        """
        parts: list[DictConfig | Mapping[str, Any]] = []
        if with_defaults:
            parts.append(CONFIG_DEFAULTS)
        files = self.CONFIG_FILES
        if files:
            parts.append(load_config(*files))
        inline = self.CONFIG
        if inline:
            try:
                parts.append(OmegaConf.create(dict(inline)))
            except Exception as exc:
                raise ConfigError(f"settings.LOOM['CONFIG'] is not a valid config: {exc}") from exc
        return merge_configs(parts)

    def config_context(self) -> ConfigContext:
        """The merged config wrapped in a :class:`ConfigContext`."""
        return ConfigContext(self.loom_config())

    def di_modules(self) -> tuple[str, ...]:
        """DI module paths: YAML ``app.modules`` first, then ``MODULES``, without repeats."""
        from_yaml = section(self.loom_config(), "app.modules", list[str])
        return tuple(dict.fromkeys([*from_yaml, *self.MODULES]))

    def code_path(self) -> Path | None:
        """``app.code_path`` (default ``src``) relative to the first config file, if it exists."""
        files = [f for f in self.CONFIG_FILES if not str(f).startswith(CLOUD_SCHEMES)]
        if not files:
            return None
        cfg = self.loom_config()
        raw = to_plain(OmegaConf.select(cfg, "app.code_path", default="src"))
        path = Path(str(raw)).expanduser()
        if not path.is_absolute():
            path = Path(files[0]).parent / path
        return path if path.is_dir() else None


def _resolve_file(item: str | os.PathLike[str]) -> str | Path:
    text = os.fspath(item)
    if text.startswith(CLOUD_SCHEMES):
        return text
    path = Path(text).expanduser()
    if not path.is_absolute():
        base = getattr(settings, "BASE_DIR", None)
        path = Path(base) / path if base is not None else path.absolute()
    return path


conf = LoomSettings()
"""The process-wide settings object: ``from loom_django.conf import conf``."""


def loom_config() -> DictConfig:
    """The merged loom configuration of this Django project (see ``LoomSettings``)."""
    return conf.loom_config()


def import_di_module(path: str) -> Callable[[Any], None]:
    """Import a DI module entry: a dotted callable, or a module exposing ``register``.

    Raises:
        ImportError: the path does not import.
        TypeError: the target is not callable.
    """
    try:
        target: Any = importlib.import_module(path)
    except ModuleNotFoundError:
        module_path, _, attr = path.rpartition(".")
        if not module_path:
            raise
        target = getattr(importlib.import_module(module_path), attr, None)
        if target is None:
            raise ImportError(f"Module '{module_path}' has no attribute '{attr}'") from None
    else:
        target = getattr(target, "register", None)
    if not callable(target):
        raise TypeError(f"DI module '{path}' is not callable (expected register(container)).")
    result: Callable[[Any], None] = target
    return result


class SettingsProblem(NamedTuple):
    """One misconfiguration of ``settings.LOOM``, with a stable id for a system check."""

    id: str
    msg: str
    hint: str | None = None


def settings_problems() -> list[SettingsProblem]:
    """Every problem found in ``settings.LOOM`` and the config it points to."""
    try:
        raw = conf.raw
    except ConfigError as exc:
        return [SettingsProblem("loom_django.E001", str(exc))]
    problems = _unknown_keys(raw)
    problems += _type_problems(raw)
    if not any(p.id in ("loom_django.E003", "loom_django.E005") for p in problems):
        problems += _config_problems()
    if "MODULES" in raw and not any(p.id == "loom_django.E006" for p in problems):
        problems += _module_problems(conf.MODULES)
    return problems


def validate_settings() -> list[str]:
    """Messages of :func:`settings_problems` (empty when the configuration is sound)."""
    return [problem.msg for problem in settings_problems()]


def _unknown_keys(raw: Mapping[str, Any]) -> list[SettingsProblem]:
    problems = []
    for key in raw:
        if key in KNOWN_SETTINGS:
            continue
        close = difflib.get_close_matches(str(key), KNOWN_SETTINGS, n=1)
        problems.append(
            SettingsProblem(
                "loom_django.E002",
                f"Unknown setting LOOM[{key!r}].",
                f"Did you mean {close[0]!r}?" if close else f"Known: {', '.join(KNOWN_SETTINGS)}.",
            )
        )
    return problems


def _is_str_list(value: Any) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and all(isinstance(item, str) for item in value)
    )


def _type_problems(raw: Mapping[str, Any]) -> list[SettingsProblem]:
    checks: list[tuple[str, str, Callable[[Any], bool], str]] = [
        (
            "CONFIG_FILES",
            "loom_django.E003",
            lambda v: (
                isinstance(v, str | os.PathLike)
                or (isinstance(v, Sequence) and all(isinstance(i, str | os.PathLike) for i in v))
            ),
            "a list of YAML file paths",
        ),
        ("CONFIG", "loom_django.E005", lambda v: isinstance(v, Mapping), "a mapping"),
        ("MODULES", "loom_django.E006", _is_str_list, "a list of dotted paths"),
        ("ADMIN_AUTOREGISTER", "loom_django.E007", lambda v: isinstance(v, bool), "a bool"),
        (
            "TRACE_HEADER",
            "loom_django.E008",
            lambda v: isinstance(v, str) and bool(v.strip()),
            "a non-empty header name",
        ),
        ("ETL_PIPELINES", "loom_django.E304", _is_str_list, "a list of dotted paths"),
        (
            "ETL_AUTODISCOVER",
            "loom_django.E305",
            lambda v: isinstance(v, bool | str),
            "True, False or a module name",
        ),
        (
            "ETL_BACKENDS",
            "loom_django.E306",
            lambda v: (
                isinstance(v, Mapping)
                and all(isinstance(k, str) and isinstance(p, str) for k, p in v.items())
            ),
            "a mapping of backend name to dotted path",
        ),
    ]
    return [
        SettingsProblem(check_id, f"LOOM[{name!r}] must be {expected}, got {raw[name]!r}.")
        for name, check_id, ok, expected in checks
        if name in raw and not ok(raw[name])
    ]


def _config_problems() -> list[SettingsProblem]:
    try:
        to_plain(conf.loom_config())
    except ConfigError as exc:
        return [SettingsProblem("loom_django.E004", str(exc))]
    except Exception as exc:  # unresolvable interpolation, e.g. a missing env variable
        return [
            SettingsProblem(
                "loom_django.E004",
                f"The loom configuration does not resolve: {exc}",
                "Set the environment variable or give a default: ${oc.env:NAME,default}.",
            )
        ]
    return []


def _module_problems(paths: Sequence[str]) -> list[SettingsProblem]:
    problems = []
    for path in paths:
        try:
            import_di_module(path)
        except (ImportError, TypeError) as exc:
            problems.append(
                SettingsProblem("loom_django.E006", f"LOOM['MODULES'] entry {path!r}: {exc}")
            )
    return problems
