"""UseCaseRegistry: resolves use-case keys to classes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loom_django.core.use_case.keys import get_use_case_key

__all__ = ["UseCaseRegistry"]


class UseCaseRegistry:
    """An immutable key → use-case class map built once at startup."""

    def __init__(self, mapping: dict[str, type[Any]] | None = None) -> None:
        self._by_key: dict[str, type[Any]] = dict(mapping or {})
        self._by_class: dict[type[Any], str] = {cls: key for key, cls in self._by_key.items()}

    @classmethod
    def build(cls, use_cases: Iterable[type[Any]]) -> UseCaseRegistry:
        """Register every class that declares a key.

        Raises:
            ValueError: two different classes declare the same key.
        """
        mapping: dict[str, type[Any]] = {}
        for use_case in use_cases:
            key = get_use_case_key(use_case)
            if key is None:
                continue
            existing = mapping.get(key)
            if existing is not None and existing is not use_case:
                raise ValueError(
                    f"Duplicate use-case key '{key}': {existing.__qualname__} "
                    f"and {use_case.__qualname__}"
                )
            mapping[key] = use_case
        return cls(mapping)

    def resolve(self, key: str) -> type[Any]:
        """Return the class registered under ``key``.

        Raises:
            KeyError: the key is not registered.
        """
        try:
            return self._by_key[key]
        except KeyError:
            raise KeyError(f"Use-case key '{key}' is not registered") from None

    def key_for(self, use_case: type[Any]) -> str | None:
        """The key of ``use_case``, if registered."""
        return self._by_class.get(use_case)

    def has(self, key: str) -> bool:
        """Whether ``key`` is registered."""
        return key in self._by_key

    def keys(self) -> list[str]:
        """All registered keys, sorted."""
        return sorted(self._by_key)

    def add(self, key: str, use_case: type[Any]) -> None:
        """Register ``use_case`` under ``key`` (used for generated auto-CRUD use cases)."""
        existing = self._by_key.get(key)
        if existing is not None and existing is not use_case:
            raise ValueError(
                f"Duplicate use-case key '{key}': {existing.__qualname__} "
                f"and {use_case.__qualname__}"
            )
        self._by_key[key] = use_case
        self._by_class[use_case] = key
