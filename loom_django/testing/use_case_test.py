"""UseCaseTest: run one use case through the real executor with hand-picked inputs."""

from __future__ import annotations

from typing import Any

import msgspec

from loom_django.core.engine.compiler import UseCaseCompiler
from loom_django.core.engine.executor import RuntimeExecutor
from loom_django.core.engine.plan import ExecutionPlan

__all__ = ["UseCaseTest", "serialize_plan"]

_compiler = UseCaseCompiler()


class UseCaseTest:
    """Fluent builder: params, payload, pre-loaded entities and repositories, then ``run``."""

    def __init__(self, instance: Any) -> None:
        self._instance = instance
        self._params: dict[str, Any] = {}
        self._payload: dict[str, Any] | None = None
        self._loaded: dict[type[Any], Any] = {}
        self._deps: dict[type[Any], Any] = {}

    @property
    def plan(self) -> ExecutionPlan:
        """The compiled plan of the use case under test."""
        return _compiler.compile(type(self._instance))

    def with_params(self, **params: Any) -> UseCaseTest:
        """Primitive parameters of ``execute``."""
        self._params.update(params)
        return self

    def with_input(self, **payload: Any) -> UseCaseTest:
        """Payload keys of the ``Input()`` command (camelCase or snake_case)."""
        self._payload = {**(self._payload or {}), **payload}
        return self

    def with_command(self, command: Any) -> UseCaseTest:
        """Use ``command``'s fields as the payload."""
        self._payload = msgspec.to_builtins(command)
        return self

    def with_loaded(self, entity_type: type[Any], entity: Any) -> UseCaseTest:
        """Inject ``entity`` for every Load/LoadById of ``entity_type`` (no repository call)."""
        self._loaded[entity_type] = entity
        return self

    def with_deps(self, entity_type: type[Any], repository: Any) -> UseCaseTest:
        """Repository used by Load/Exists steps on ``entity_type``."""
        self._deps[entity_type] = repository
        return self

    def with_main_repo(self, repository: Any) -> UseCaseTest:
        """The use case's ``main_repo``."""
        self._instance.main_repo = repository
        return self

    def _arguments(self) -> dict[str, Any]:
        return {
            "params": self._params,
            "payload": self._payload,
            "dependencies": self._deps,
            "load_overrides": self._loaded or None,
        }

    async def run(self) -> Any:
        """Execute and return the result (awaitable form)."""
        return await RuntimeExecutor(_compiler).execute(self._instance, **self._arguments())

    def run_sync(self) -> Any:
        """Execute and return the result from synchronous code."""
        return RuntimeExecutor(_compiler).execute_sync(self._instance, **self._arguments())


def serialize_plan(plan: ExecutionPlan) -> dict[str, Any]:
    """A deterministic, JSON-able snapshot of a plan (for snapshot tests and debugging)."""

    def name(obj: Any) -> str:
        return getattr(obj, "__qualname__", None) or repr(obj)

    def label(fn: Any) -> str:
        return str(getattr(fn, "label", None) or name(fn))

    return {
        "use_case": name(plan.use_case_type),
        "read_only": plan.read_only,
        "params": [{"name": p.name, "type": name(p.annotation)} for p in plan.param_bindings],
        "input": None
        if plan.input_binding is None
        else {"name": plan.input_binding.name, "command": name(plan.input_binding.command_type)},
        "loads": [
            {
                "name": s.name,
                "entity": name(s.entity_type),
                "source": s.source_kind.value,
                "source_name": s.source_name,
                "lookup": s.lookup_kind.value,
                "against": s.against,
                "profile": s.profile,
                "on_missing": s.on_missing.value,
            }
            for s in plan.load_steps
        ],
        "exists": [
            {
                "name": s.name,
                "entity": name(s.entity_type),
                "source": s.source_kind.value,
                "source_name": s.source_name,
                "against": s.against,
                "on_missing": s.on_missing.value,
            }
            for s in plan.exists_steps
        ],
        "computes": [label(s.fn) for s in plan.compute_steps],
        "rules": [label(s.fn) for s in plan.rule_steps],
    }
