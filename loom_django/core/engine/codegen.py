"""Generates one straight-line pipeline function per plan, so a call runs no step loops.

The generated coroutine does exactly what ``RuntimeExecutor`` documents (bind, command,
loads, exists, computes, rules, execute) with every decision that depends only on the plan
taken at compile time. Slow paths (error reporting, repository resolution) call back into
the executor. ``_codegen_inputs`` writes the lines for the parameters and the payload,
``_codegen_steps`` those of the steps; this module assembles them into the pipeline's
variants and the invoker entries.
"""

from __future__ import annotations

from asyncio import _get_running_loop
from collections.abc import Callable, Coroutine
from typing import Any, NamedTuple

from loom_django.core.command import with_fields_set
from loom_django.core.engine._codegen_inputs import bind_section, decode_lines, input_decoder
from loom_django.core.engine._codegen_steps import (
    Slots,
    StepWriter,
    inline_compute,
    inline_rule,
    slot_names,
    store,
)
from loom_django.core.engine.driver import (
    drive_suspended,
    ensure_no_running_loop,
    raise_loop_required,
)
from loom_django.core.engine.entries import Entries, EntryBinder, entry_source
from loom_django.core.engine.plan import ExecutionPlan
from loom_django.core.engine.unique_guard import unique_violation
from loom_django.core.errors import (
    NotFound,
    RuleViolation,
    RuleViolations,
    UniqueConflict,
    ValidationError,
)
from loom_django.core.uow import get_active_uow
from loom_django.core.use_case.compute import ComputeSpec

__all__ = ["Pipeline", "Pipelines", "generate_pipeline", "input_decoder"]

Pipeline = Callable[..., Coroutine[Any, Any, Any]]


class Pipelines(NamedTuple):
    """The generated coroutine functions of one plan, one body in three wrappings.

    All take ``(executor, instance, params, payload, dependencies, load_overrides, out)``.
    ``run`` returns the result (callers handle failures and transactions themselves).
    ``quiet_sync`` stores the result in ``out[0]`` and returns ``None``, so a synchronous
    driver finishes it without a ``StopIteration`` carrying a value. ``quiet_async`` returns
    the result and reports its own failure (``executor._failed``), so ``execute`` can hand
    it to the caller to await with no wrapper coroutine.
    """

    run: Pipeline
    quiet_sync: Pipeline
    quiet_async: Pipeline
    bind: EntryBinder


def generate_pipeline(plan: ExecutionPlan) -> Pipelines:
    """Build the pipeline coroutine functions of ``plan`` (see ``Pipelines``)."""
    names: dict[str, Any] = {
        "NotFound": NotFound,
        "RuleViolation": RuleViolation,
        "RuleViolations": RuleViolations,
        "ValidationError": ValidationError,
        "ComputeSpec": ComputeSpec,
        "with_fields_set": with_fields_set,
        "plan": plan,
    }
    binding = plan.input_binding
    command_type = binding.command_type if binding is not None else None
    deferred = {guard.name for guard in plan.deferred_exists}
    inline = all(
        inline_compute(index, step.fn, fn, {}, repr) is not None
        for index, (step, fn) in enumerate(zip(plan.compute_steps, plan.compute_fns, strict=True))
    ) and all(
        inline_rule(index, step.fn, command_type, {}, repr) is not None
        for index, step in enumerate(plan.rule_steps)
    )
    slots = Slots(
        slot_names(plan),
        as_dict=bool(deferred) or not inline,
        command=binding.name if binding is not None else None,
    )
    inline_computes = [
        inline_compute(index, step.fn, fn, names, slots.ref)
        for index, (step, fn) in enumerate(zip(plan.compute_steps, plan.compute_fns, strict=True))
    ]
    inline_rules = [
        inline_rule(index, step.fn, command_type, names, slots.ref)
        for index, step in enumerate(plan.rule_steps)
    ]
    head: list[str] = ["    bound = {}"] if slots.as_dict else []
    head += bind_section(plan, slots, names)
    if binding is not None:
        names["from_payload"] = input_decoder(plan)
        head += decode_lines(plan, names)
        head += store(slots, binding.name, "command")
    steps = StepWriter(plan, slots, names, deferred, inline_computes, inline_rules)
    lines = head + steps.lines(entry=False)
    call = _call(plan, slots)
    value = f"await {call}" if plan.is_async else call
    if deferred:
        names["UniqueConflict"] = UniqueConflict
        names["unique_violation"] = unique_violation

    def finish(statement: str) -> list[str]:
        if not deferred:
            return [f"    {statement}"]
        return [
            "    try:",
            f"        {statement}",
            "    except UniqueConflict as conflict:",
            "        unique_violation(plan, conflict, command, fields_set, bound)",
            "        raise",
        ]

    header = (
        "async def {}(executor, instance, params, payload, dependencies, load_overrides, out=None):"
    )
    guarded = [f"    {line}" for line in [*lines, *finish(f"return {value}")]]
    source = "\n".join(
        [
            header.format("pipeline"),
            *lines,
            *finish(f"return {value}"),
            header.format("quiet_sync"),
            *lines,
            *finish(f"out[0] = {value}"),
            header.format("quiet_async"),
            "    try:",
            *guarded,
            "    except BaseException as exc:",
            "        executor._failed(plan, exc, 0.0)",
            "        raise",
        ]
    )
    source += "\n" + entry_source(head + steps.lines(entry=True), finish, value, plan.read_only)
    names.update(
        Entries=Entries,
        drive_suspended=drive_suspended,
        ensure_no_running_loop=ensure_no_running_loop,
        get_active_uow=get_active_uow,
        get_running_loop=_get_running_loop,
        new=object.__new__,
        raise_loop_required=raise_loop_required,
        use_case_type=plan.use_case_type,
    )
    code = compile(source, f"<loom pipeline {plan.name}>", "exec")
    exec(code, names)
    for variant in ("pipeline", "quiet_sync", "quiet_async", "bind"):
        names[variant].__loom_source__ = source
    return Pipelines(names["pipeline"], names["quiet_sync"], names["quiet_async"], names["bind"])


def _call(plan: ExecutionPlan, slots: Slots) -> str:
    """The call of ``execute``: positional when its parameters are exactly the slots."""
    names = _positional_order(plan.use_case_type, set(slot_names(plan)))
    if names is None or slots.as_dict:
        return slots.call()
    return "instance.execute({})".format(", ".join(slots.ref(name) for name in names))


def _positional_order(cls: type[Any], slots: set[str]) -> tuple[str, ...] | None:
    """``execute``'s parameter names in order, when a positional call is safe.

    Only for a plain function (no wrapper that could read its keyword arguments) whose
    parameters are all positional-or-keyword and are exactly the plan's slots.
    """
    execute = getattr(cls, "execute", None)
    code = getattr(execute, "__code__", None)
    if code is None or hasattr(execute, "__wrapped__"):
        return None
    if code.co_kwonlyargcount or code.co_posonlyargcount or code.co_flags & 0x0C:
        return None  # keyword-only, positional-only, *args or **kwargs
    names = tuple(code.co_varnames[1 : code.co_argcount])
    return names if set(names) == slots and len(names) == len(slots) else None
