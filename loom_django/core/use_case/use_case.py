"""UseCase: the typed unit of business behaviour that the engine compiles and runs."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Any, ClassVar, Generic

from typing_extensions import TypeVar

__all__ = ["UseCase", "use_case_model", "use_case_repo_contract"]

ModelT = TypeVar("ModelT")
ResultT = TypeVar("ResultT")
RepoT = TypeVar("RepoT", default=Any)

_GENERIC_SHAPE = "must declare UseCase[TModel, TResult] or UseCase[TModel, TResult, TRepo]"


class UseCase(Generic[ModelT, ResultT, RepoT]):
    """Base of every use case: declare ``execute`` with markers, plus computes and rules.

    ``UseCase[Model, Result]`` names the main model, whose repository the factory injects
    as ``main_repo``; ``UseCase[Model, Result, Contract]`` injects ``Contract`` instead.
    """

    computes: ClassVar[Sequence[Any]] = ()
    rules: ClassVar[Sequence[Any]] = ()
    read_only: ClassVar[bool] = False
    transactional: ClassVar[bool] = True
    """False only for use cases whose single repository write is atomic on its own: a
    top-level execution then opens no transaction (nested ones still get a savepoint)."""
    __loom_model__: ClassVar[Any] = None
    __loom_repo_contract__: ClassVar[Any] = None

    def __class_getitem__(cls, params: Any) -> Any:
        count = len(params) if isinstance(params, tuple) else 1
        if count not in (2, 3):
            raise TypeError(f"{cls.__qualname__} {_GENERIC_SHAPE}")
        return super().__class_getitem__(params)  # type: ignore[misc]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("computes", "rules"):
            if name not in cls.__dict__:
                setattr(cls, name, tuple(getattr(cls, name)))
        for base in cls.__dict__.get("__orig_bases__", ()):
            if typing.get_origin(base) is UseCase:
                model, _result, contract = typing.get_args(base)
                _check_model(cls, model)
                cls.__loom_model__ = (
                    None
                    if model in (Any, object) or isinstance(model, TypeVar | typing.TypeVar)
                    else model
                )
                cls.__loom_repo_contract__ = None if contract is Any else contract

    def __init__(self, main_repo: Any = None) -> None:
        self._main_repo = main_repo

    @property
    def main_repo(self) -> RepoT:
        """The repository of the main model, injected by the factory."""
        repo = getattr(self, "_main_repo", None)
        if repo is None:
            raise RuntimeError(
                f"{type(self).__qualname__} requires a main repository but it was not injected."
            )
        return typing.cast(RepoT, repo)

    @main_repo.setter
    def main_repo(self, repo: Any) -> None:
        self._main_repo = repo

    @classmethod
    def describe_main_repo(cls) -> tuple[Any, Any]:
        """Return ``(model or None, contract)`` the factory uses to inject ``main_repo``."""
        return cls.__loom_model__, cls.__loom_repo_contract__

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        """Business logic; override with typed parameters and markers (sync or async)."""
        raise NotImplementedError

    execute.__loom_abstract__ = True  # type: ignore[attr-defined]


def _check_model(cls: type, model: Any) -> None:
    if model in (Any, object) or isinstance(model, TypeVar | typing.TypeVar):
        return
    from loom_django.core.model import LoomFrozenStruct, LoomStruct

    if not (isinstance(model, type) and issubclass(model, LoomStruct | LoomFrozenStruct)):
        raise TypeError(f"{cls.__qualname__}: TModel must be a LoomStruct subclass.")


def use_case_model(cls: type[Any]) -> Any:
    """The main model of a use-case class (``None`` when it has none)."""
    return getattr(cls, "__loom_model__", None)


def use_case_repo_contract(cls: type[Any]) -> Any:
    """The explicit repository contract of a use-case class (``None`` for the default)."""
    return getattr(cls, "__loom_repo_contract__", None)
