"""Invoker entries: one function per use-case class that builds the instance and runs it.

``app.invoke(cls, ...)`` and ``runtime.invoke_sync(cls, ...)`` used to call the factory's
maker, then the executor's generic entry, then the plan's pipeline: three Python frames
before any work. For a use case the factory builds by allocation plus its main
repository (the framework constructor), the compiler writes one more wrapping of the
pipeline body, ``bind``, which returns two closures over one executor and one recipe:

- ``invoke_async(params, payload, read_only)``, a coroutine function: at await time it
  takes the executor's quiet decision (no DEBUG logging, no transaction involved), builds
  the instance inline and runs the pipeline body in its own frame; otherwise it awaits the
  executor's full path with a factory-built instance.
- ``invoke_sync(params, payload, read_only)``: refuses a running event loop, takes the
  same decision and drives the body coroutine once, as ``execute_sync`` does.

An executor with a metrics adapter or ``debug_execution`` never gets entries, so every
call it serves still emits its events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

__all__ = ["Entries", "EntryBinder", "entry_source"]


_FULL_ARGS = "params, payload, None, None, read_only"
"""The arguments after the instance of the executor's full paths (no dependencies and no
load overrides: invokers pass neither)."""


class Entries(NamedTuple):
    """The two entries of one class bound to one executor and one recipe."""

    invoke_sync: Callable[..., Any]
    invoke_async: Callable[..., Any]


EntryBinder = Callable[
    [Any, Callable[[], Any], Mapping[type[Any], Any], type[Any], Callable[[], Any]], Entries
]
"""``bind(executor, make, main_cache, main_key, main_fallback)`` of one plan."""


def _indent(lines: list[str], by: int) -> list[str]:
    pad = " " * by
    return [pad + line for line in lines]


def entry_source(
    body: list[str], finish: Callable[[str], list[str]], value: str, read_only: bool
) -> str:
    """The source of ``bind`` for a pipeline whose body lines are ``body``.

    ``body`` is written for a function taking ``executor, instance, params, payload``
    (four-space indent) with no dependencies and no load overrides; ``finish(statement)``
    wraps the final statement; ``value`` is the expression of the result. ``read_only``
    plans never look at transactions.
    """
    transaction = (
        ""
        if read_only
        else (" or (not read_only and (uow_factory is not None or get_active_uow() is not None))")
    )
    decide = [
        "try:",
        "    loud = levels[10]  # logging.DEBUG, from logging's own per-level cache",
        "except KeyError:",
        "    loud = True",
    ]
    build = [
        "instance = new(use_case_type)",
        "main = main_cache.get(main_key)",
        "instance._main_repo = main if main is not None else main_fallback()",
    ]
    run = [*body, *finish(f"return {value}")]
    stored = [*body, *finish(f"out[0] = {value}")]
    lines = [
        "def bind(executor, make, main_cache, main_key, main_fallback):",
        "    levels = executor._levels",
        "    uow_factory = executor._uow_factory",
        "    offload = executor._offload",
        "    async def invoke_async(params, payload, read_only=False):",
        "        if offload is not None and get_running_loop() is not None:",
        "            instance = make()",
        f"            return await executor._offloaded(instance, {_FULL_ARGS})",
        *_indent(decide, 8),
        f"        if loud{transaction}:",
        "            instance = make()",
        f"            return await executor._execute(instance, {_FULL_ARGS})",
        *_indent(build, 8),
        "        try:",
        *_indent(run, 8),
        "        except BaseException as exc:",
        "            executor._failed(plan, exc, 0.0)",
        "            raise",
        "    async def body(params, payload, out):",
        *_indent(build, 8),
        *_indent(stored, 4),
        "    def invoke_sync(params, payload, read_only=False):",
        "        if get_running_loop() is not None:",
        "            ensure_no_running_loop(plan.name + ': execute_sync()')",
        *_indent(decide, 8),
        f"        if loud{transaction}:",
        f"            return executor._execute_sync(make(), {_FULL_ARGS})",
        "        out = [None]",
        "        try:",
        "            coroutine = body(params, payload, out)",
        "            try:",
        "                for yielded in coroutine.__await__():",
        "                    drive_suspended(coroutine, yielded, plan.name)",
        "                    break",
        "            except RuntimeError as error:",
        "                raise_loop_required(error, plan.name)",
        "        except BaseException as exc:",
        "            executor._failed(plan, exc, 0.0)",
        "            raise",
        "        return out[0]",
        "    return Entries(invoke_sync, invoke_async)",
    ]
    return "\n".join(lines)
