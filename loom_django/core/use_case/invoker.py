"""ApplicationInvoker: call a use case by type, key or model from anywhere, on one engine."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from loom_django.core.engine.driver import mark_coroutine_function
from loom_django.core.engine.entries import Entries
from loom_django.core.use_case.registry import UseCaseRegistry

if TYPE_CHECKING:
    from loom_django.core.engine.executor import RuntimeExecutor
    from loom_django.core.use_case.factory import UseCaseFactory

__all__ = ["AppInvoker", "ApplicationInvoker", "EntityInvoker", "entity_key"]

ResultT = TypeVar("ResultT")


def entity_key(model: type[Any]) -> str:
    """Snake-case entity name used in auto-CRUD keys: ``ProductReview`` → ``product_review``."""
    name = model.__name__
    out: list[str] = []
    for index, char in enumerate(name):
        if (
            char.isupper()
            and index
            and (
                not name[index - 1].isupper()
                or (index + 1 < len(name) and name[index + 1].islower())
            )
        ):
            out.append("_")
        out.append(char.lower())
    return "".join(out)


@runtime_checkable
class ApplicationInvoker(Protocol):
    """Runs use cases without coupling callers to their classes' construction."""

    async def invoke(
        self,
        use_case_type: type[Any],
        *,
        params: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Any:
        """Build ``use_case_type`` and execute it (joining the current transaction)."""
        ...

    async def invoke_name(
        self,
        key: str,
        *,
        params: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Any:
        """Like ``invoke`` for the use case registered under ``key``."""
        ...

    def entity(self, model: type[Any]) -> EntityInvoker:
        """Auto-CRUD operations of ``model``."""
        ...


class AppInvoker:
    """The default ApplicationInvoker, backed by the factory, executor and registry."""

    def __init__(
        self, factory: UseCaseFactory, executor: RuntimeExecutor, registry: UseCaseRegistry
    ) -> None:
        self._factory = factory
        self._executor = executor
        self._registry = registry
        self._makers = factory.makers()
        # Per-class entries (engine/entries.py) that build the use case and run its plan
        # in one frame; filled on a class's first invocation when it qualifies.
        self._sync_entries: dict[type[Any], Callable[..., Any]] = {}
        self._async_entries: dict[type[Any], Callable[..., Coroutine[Any, Any, Any]]] = {}

    @property
    def registry(self) -> UseCaseRegistry:
        """The key → class registry."""
        return self._registry

    @mark_coroutine_function
    def invoke(
        self,
        use_case_type: type[Any],
        *,
        params: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
        read_only: bool = False,
    ) -> Coroutine[Any, Any, Any]:
        """Build ``use_case_type`` and execute it (joining the current transaction); await
        the result."""
        try:
            entry = self._async_entries[use_case_type]
        except KeyError:
            entry = self._bind(use_case_type).invoke_async
        return entry(params, payload, read_only)

    def sync_entries(self) -> Mapping[type[Any], Callable[..., Any]]:
        """The live mapping of classes to their bound ``invoke_sync(params, payload,
        read_only)`` entry; a class not in it goes through ``invoke_sync``."""
        return self._sync_entries

    def _bind(self, use_case_type: type[Any]) -> Entries:
        """The entries of ``use_case_type``: specialised ones when the class qualifies
        (compiled plan, plain recipe, unobserved executor), else the generic path."""
        executor = self._executor
        plan = executor.compiler.get_plan(use_case_type)
        recipe = self._factory.inline_recipe(use_case_type)
        make = self._makers.get(use_case_type)
        if (
            plan is None
            or plan.bind_entries is None
            or recipe is None
            or make is None
            or executor.observed
        ):
            return Entries(
                partial(self._invoke_sync_generic, use_case_type),
                partial(self._invoke_generic, use_case_type),
            )
        entries: Entries = plan.bind_entries(
            executor, make, recipe.cache, recipe.key, recipe.fallback
        )
        self._sync_entries[use_case_type] = entries.invoke_sync
        self._async_entries[use_case_type] = entries.invoke_async
        return entries

    @mark_coroutine_function
    def _invoke_generic(
        self,
        use_case_type: type[Any],
        params: dict[str, Any] | None,
        payload: dict[str, Any] | None,
        read_only: bool,
    ) -> Coroutine[Any, Any, Any]:
        make = self._makers.get(use_case_type)
        if make is None:
            return self._invoke_new(use_case_type, params, payload, read_only)
        return self._executor.execute(make(), params=params, payload=payload, read_only=read_only)

    async def _invoke_new(
        self,
        use_case_type: type[Any],
        params: dict[str, Any] | None,
        payload: dict[str, Any] | None,
        read_only: bool,
    ) -> Any:
        """``invoke`` of a class the factory has no recipe for yet (it may fail to build)."""
        instance = self._factory.build(use_case_type)
        return await self._executor.execute(
            instance, params=params, payload=payload, read_only=read_only
        )

    def invoke_sync(
        self,
        use_case_type: type[Any],
        *,
        params: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
        read_only: bool = False,
    ) -> Any:
        """Synchronous ``invoke`` for code without a running event loop."""
        try:
            entry = self._sync_entries[use_case_type]
        except KeyError:
            entry = self._bind(use_case_type).invoke_sync
        return entry(params, payload, read_only)

    def _invoke_sync_generic(
        self,
        use_case_type: type[Any],
        params: dict[str, Any] | None,
        payload: dict[str, Any] | None,
        read_only: bool,
    ) -> Any:
        make = self._makers.get(use_case_type)
        instance = make() if make is not None else self._factory.build(use_case_type)
        return self._executor.execute_sync(
            instance, params=params, payload=payload, read_only=read_only
        )

    async def invoke_name(
        self,
        key: str,
        *,
        params: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Any:
        """Like ``invoke`` for the use case registered under ``key``.

        Raises:
            KeyError: the key is not registered.
        """
        return await self.invoke(self._registry.resolve(key), params=params, payload=payload)

    def entity(self, model: type[Any]) -> EntityInvoker:
        """Auto-CRUD operations of ``model`` (its generated use cases)."""
        return EntityInvoker(self, model)


class EntityInvoker:
    """``create/get/list/update/delete`` of one model through its auto-CRUD use cases."""

    def __init__(self, app: AppInvoker, model: type[Any]) -> None:
        self._app = app
        self._model = model
        self._prefix = entity_key(model)

    def _use_case(self, op: str) -> type[Any]:
        return self._app.registry.resolve(f"{self._prefix}:{op}")

    async def create(self, *, payload: dict[str, Any]) -> Any:
        """Create one row; returns the stored entity."""
        return await self._app.invoke(self._use_case("create"), payload=payload)

    async def get(self, *, params: dict[str, Any]) -> Any:
        """Get by ``params["id"]``; raises NotFound when missing."""
        return await self._app.invoke(
            self._use_case("get"), params={"profile": "default", **params}, read_only=True
        )

    async def list(
        self, *, params: dict[str, Any] | None = None, payload: dict[str, Any] | None = None
    ) -> Any:
        """List with ``params["query"]`` (a QuerySpec; all rows of the first page if absent)."""
        return await self._app.invoke(
            self._use_case("list"),
            params={"profile": "default", **(params or {})},
            payload=payload,
            read_only=True,
        )

    async def update(self, *, params: dict[str, Any], payload: dict[str, Any]) -> Any:
        """Partially update ``params["id"]``; returns the updated entity or None."""
        return await self._app.invoke(self._use_case("update"), params=params, payload=payload)

    async def delete(self, *, params: dict[str, Any]) -> Any:
        """Delete ``params["id"]``; returns whether a row was deleted."""
        return await self._app.invoke(self._use_case("delete"), params=params)
