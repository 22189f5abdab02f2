"""UseCaseFactory: builds use cases, jobs and callbacks with their dependencies injected."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, NamedTuple

from loom_django.core.di import LoomContainer
from loom_django.core.errors import ResolutionError
from loom_django.core.use_case.use_case import UseCase

__all__ = ["InlineRecipe", "UseCaseFactory"]

_Resolver = Callable[[], Any]


class _Recipe:
    """How to build one class: constructor arguments and whether to attach ``main_repo``.

    ``make`` builds an instance; it is specialised once, so a plain use case costs one
    object allocation, one cache lookup for its repository and one attribute store.
    """

    __slots__ = ("arguments", "cls", "inline", "main_repo", "make")

    def __init__(
        self,
        cls: type[Any],
        arguments: tuple[tuple[str, _Resolver], ...],
        main_repo: _Resolver | None,
        built_repo: Callable[[], Any] | None = None,
        inline: InlineRecipe | None = None,
    ) -> None:
        self.cls = cls
        self.arguments = arguments
        self.main_repo = main_repo
        self.make: Callable[[], Any] = self._build
        self.inline: InlineRecipe | None = None
        if not arguments and main_repo is not None and cls.__init__ is UseCase.__init__:
            self.make = _plain_use_case(cls, main_repo, built_repo)
            if cls.__new__ is object.__new__:  # type: ignore[comparison-overlap]
                self.inline = inline
        elif not arguments and main_repo is None:
            self.make = cls

    def _build(self) -> Any:
        cls = self.cls
        if self.arguments:
            instance = cls(**{name: resolve() for name, resolve in self.arguments})
        else:
            instance = cls()
        if self.main_repo is not None and getattr(instance, "_main_repo", None) is None:
            instance._main_repo = self.main_repo()
        return instance


class InlineRecipe(NamedTuple):
    """How to build a plain use case without calling a maker: ``object.__new__(cls)``,
    then ``_main_repo`` from ``cache[key]`` or, on a miss, ``fallback()``."""

    cache: Mapping[type[Any], Any]
    key: type[Any]
    fallback: Callable[[], Any]


def _plain_use_case(
    cls: type[Any], main_repo: _Resolver, built_repo: Callable[[], Any] | None
) -> Callable[[], Any]:
    """``cls(main_repo())`` for a use case with the framework constructor, without running
    ``UseCase.__init__``: allocate, then store the repository it would have stored."""
    if cls.__new__ is not object.__new__:  # type: ignore[comparison-overlap]
        return lambda: cls(main_repo())
    new = object.__new__
    if built_repo is None:

        def make() -> Any:
            instance = new(cls)
            instance._main_repo = main_repo()
            return instance

        return make

    def make_cached() -> Any:
        instance = new(cls)
        instance._main_repo = built_repo() or main_repo()
        return instance

    return make_cached


class UseCaseFactory:
    """Creates a fresh instance per invocation from a recipe validated at startup."""

    def __init__(self, container: LoomContainer) -> None:
        self._container = container
        self._recipes: dict[type[Any], _Recipe] = {}
        self._makers: dict[type[Any], Callable[[], Any]] = {}

    @property
    def container(self) -> LoomContainer:
        """The container dependencies are resolved from."""
        return self._container

    def register(self, cls: type[Any]) -> None:
        """Work out (and validate) how to build ``cls``.

        Raises:
            ResolutionError: a constructor parameter has no binding, or no annotation.
        """
        if cls not in self._recipes:
            self._add(cls)

    def build(self, cls: type[Any]) -> Any:
        """A new instance of ``cls`` with its dependencies resolved."""
        recipe = self._recipes.get(cls)
        if recipe is None:
            recipe = self._add(cls)
        return recipe.make()

    def makers(self) -> Mapping[type[Any], Callable[[], Any]]:
        """The live mapping of every class with a recipe to the callable that builds it.

        Invokers look a class up here and call the maker, skipping ``build``; a class not
        in it yet goes through ``build``. Read it, never write it.
        """
        return self._makers

    def inline_recipe(self, cls: type[Any]) -> InlineRecipe | None:
        """The inline recipe of ``cls`` when it is a plain use case (framework constructor,
        main repository from the container's cache), else ``None``."""
        recipe = self._recipes.get(cls)
        return recipe.inline if recipe is not None else None

    def _add(self, cls: type[Any]) -> _Recipe:
        recipe = self._recipes[cls] = self._recipe(cls)
        self._makers[cls] = recipe.make
        return recipe

    def _recipe(self, cls: type[Any]) -> _Recipe:
        main_repo = self._main_repo_resolver(cls)
        init = cls.__init__
        if _is_framework_init(init):
            built = self._built_repo(main_repo)
            inline = None
            if built is not None and isinstance(main_repo, partial):
                cache = self._container.built_repositories()
                inline = InlineRecipe(cache, main_repo.args[0], main_repo)
            return _Recipe(cls, (), main_repo, built, inline)
        try:
            hints = typing.get_type_hints(init)
        except Exception as exc:
            raise ResolutionError(
                f"Cannot resolve the constructor annotations of {cls.__qualname__}: {exc}"
            ) from exc
        arguments: list[tuple[str, _Resolver]] = []
        for index, parameter in enumerate(inspect.signature(init).parameters.values()):
            if index == 0 or parameter.kind in (
                inspect.Parameter.VAR_POSITIONAL,
                inspect.Parameter.VAR_KEYWORD,
            ):
                continue
            if parameter.name == "main_repo" and main_repo is not None:
                arguments.append((parameter.name, main_repo))
                continue
            annotation = hints.get(parameter.name)
            if annotation is None:
                if parameter.default is not inspect.Parameter.empty:
                    continue
                raise ResolutionError(
                    f"{cls.__qualname__}.__init__: parameter '{parameter.name}' has no "
                    "annotation, so it cannot be injected"
                )
            resolver = self._resolver_for(annotation)
            if resolver is None:
                if parameter.default is not inspect.Parameter.empty:
                    continue
                raise ResolutionError(
                    f"{cls.__qualname__}.__init__: no binding registered for parameter "
                    f"'{parameter.name}: {_describe(annotation)}'"
                )
            arguments.append((parameter.name, resolver))
        return _Recipe(cls, tuple(arguments), main_repo)

    def _built_repo(self, main_repo: _Resolver | None) -> Callable[[], Any] | None:
        """A C-level lookup of the repository in the container's cache, when ``main_repo``
        resolves a model's repository (``None`` on a miss: the caller then resolves)."""
        if (
            isinstance(main_repo, partial)
            and main_repo.func == self._container.resolve_repo
            and len(main_repo.args) == 1
        ):
            return partial(self._container.built_repositories().get, main_repo.args[0])
        return None

    def _resolver_for(self, annotation: Any) -> _Resolver | None:
        container = self._container
        if container.is_registered(annotation):
            return lambda: container.resolve(annotation)
        args = typing.get_args(annotation)
        if args and isinstance(args[0], type) and container.has_repo_mapping(args[0]):
            model = args[0]
            return partial(container.resolve_repo, model)
        return None

    def _main_repo_resolver(self, cls: type[Any]) -> _Resolver | None:
        describe = getattr(cls, "describe_main_repo", None)
        if describe is None:
            return None
        model, contract = describe()
        if contract is not None:
            resolver = self._resolver_for(contract)
            if resolver is None:
                raise ResolutionError(
                    f"{cls.__qualname__}: no binding registered for its repository contract "
                    f"{_describe(contract)}"
                )
            return resolver
        if model is None:
            return None
        container = self._container
        if not container.has_repo_mapping(model):
            return None
        return partial(container.resolve_repo, model)


def _is_framework_init(init: Any) -> bool:
    if init is object.__init__:
        return True
    module = getattr(init, "__module__", "") or ""
    return module.startswith("loom_django.core.")


def _describe(annotation: Any) -> str:
    return getattr(annotation, "__qualname__", None) or repr(annotation)
