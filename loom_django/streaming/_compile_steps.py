"""The flow compiler's step phase: a user step or use-case step checked against the
payload type before it (input and output types, use-case parameters) and the sink types."""

from __future__ import annotations

import inspect
from typing import Any, get_args, get_origin

from loom_django.streaming._compile_context import (
    CompileContext,
    expect_shape,
    is_concrete,
    node_label,
)
from loom_django.streaming.nodes import IntoTopic
from loom_django.streaming.plan import Op, StepOp, path_label
from loom_django.streaming.steps import (
    BatchExpandStep,
    BatchStep,
    ExpandStep,
    RecordStep,
    Step,
    StreamShape,
)
from loom_django.streaming.usecase import MODES, TRANSACTIONS, UseCaseStep

__all__ = ["check_sink_type", "compile_step"]

R = StreamShape.RECORD
B = StreamShape.BATCH


_STEP_KINDS: tuple[tuple[type[Any], str, StreamShape, StreamShape], ...] = (
    (UseCaseStep, "use_case", R, R),
    (BatchStep, "batch", B, B),
    (BatchExpandStep, "batch_expand", B, R),
    (ExpandStep, "expand", R, R),
    (RecordStep, "record", R, R),
)


_STEP_CLASS = {"expand": "ExpandStep", "batch_expand": "BatchExpandStep"}


def compile_step(
    step: Step[Any, Any],
    shape: StreamShape,
    current: Any,
    path: tuple[int, ...],
    ctx: CompileContext,
    in_branch: bool,
) -> tuple[Op | None, StreamShape, Any, bool]:
    """``step`` as an op, checked against the shape and payload type before it; returns
    ``(op, shape after, payload type after, False)``: a step is never terminal."""
    label = type(step).step_name()
    kind, in_shape, out_shape = next(
        ((k, i, o) for cls, k, i, o in _STEP_KINDS if isinstance(step, cls)), ("", R, R)
    )
    if not kind:
        ctx.error(
            label,
            "must subclass RecordStep, BatchStep, ExpandStep, BatchExpandStep or UseCaseStep",
        )
        return None, shape, current, False
    if step.resource is not None:
        ctx.error(label, "Step.resource is reserved and not supported (remove it)")
    if inspect.iscoroutinefunction(getattr(step, "execute", None)) and not ctx.in_async:
        ctx.error(label, "async execute is only supported inside WithAsync")
    if kind != "use_case" and not callable(getattr(step, "execute", None)):
        ctx.error(label, "defines no execute method")
    if in_branch and kind in ("expand", "batch_expand"):
        ctx.error(
            label, f"{_STEP_CLASS[kind]} is not supported in Router branches (use Fork for fan-out)"
        )
    if in_branch and kind == "batch" and shape is R:  # runs as a singleton batch
        kind, in_shape, out_shape = "singleton_batch", R, R
    expect_shape(shape, (in_shape,), label, ctx)
    declared_in, declared_out = _step_types(type(step))
    if is_concrete(declared_in) and is_concrete(current) and not issubclass(current, declared_in):
        ctx.error(
            label,
            f"input type {declared_in.__qualname__} does not accept "
            f"{current.__qualname__} (got {current.__qualname__})",
        )
    use_case = None
    if kind == "use_case":
        use_case = _use_case(step, current, ctx)  # type: ignore[arg-type]
        if use_case is not None:
            ctx.use_cases[path_label(path)] = use_case
        declared_out = getattr(step, "result_type", None) or declared_out
    op = StepOp(path, label, kind, step, getattr(step, "retry", None) or ctx.retry, use_case)
    out_type = declared_out if declared_out is not None else Any
    return op, out_shape, out_type, False


def _step_types(cls: type[Any]) -> tuple[Any, Any]:
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            origin = get_origin(base)
            if isinstance(origin, type) and issubclass(origin, Step):
                args = get_args(base)
                if len(args) == 2:
                    return args[0], args[1]
    return None, None


def check_sink_type(node: IntoTopic[Any], current: Any, ctx: CompileContext) -> None:
    """Report a payload type ``node`` declares that does not accept ``current``."""
    want = node.payload
    if want is None or not is_concrete(current) or not is_concrete(want):
        return
    if not issubclass(current, want):
        ctx.error(
            node_label(node),
            f"payload {want.__qualname__} does not accept {current.__qualname__} "
            f"(got {current.__qualname__})",
        )


def _use_case(step: UseCaseStep, current: Any, ctx: CompileContext) -> Any:
    label = type(step).step_name()
    uc = step.use_case
    if uc is None:
        ctx.error(label, "UseCaseStep.use_case is not set")
        return None
    if step.mode not in MODES:
        ctx.error(label, f"mode must be one of {', '.join(MODES)} (got {step.mode!r})")
    if step.transaction not in TRANSACTIONS:
        ctx.error(
            label,
            f"transaction must be one of {', '.join(TRANSACTIONS)} (got {step.transaction!r})",
        )
    elif step.transaction == "batch" and ctx.in_async:
        ctx.error(
            label,
            "transaction='batch' is not supported inside WithAsync (its messages run "
            "concurrently on several DB lanes, one connection each); use With",
        )
    if ctx.compiler is None:
        ctx.error(label, f"use case {uc.__name__}: no runtime compiler is available")
        return None
    try:
        plan = ctx.compiler.compile(uc)
    except Exception as exc:  # the engine's CompilationError or a resolution failure
        ctx.error(label, f"use case {uc.__name__}: {exc}")
        return None
    names = step.param_names
    if names is not None:
        bound = {b.name for b in plan.param_bindings}
        required = {b.name for b in plan.param_bindings if _required(b)}
        for missing in sorted(required - set(names)):
            ctx.error(label, f"use case {uc.__name__}: missing param {missing!r}")
        for unknown in sorted(set(names) - bound):
            ctx.error(label, f"use case {uc.__name__}: unknown param {unknown!r}")
    cmd = plan.input_binding.command_type if plan.input_binding is not None else None
    if step.command_from_payload and is_concrete(current) and cmd is not None:
        have = set(getattr(current, "__struct_fields__", ()))
        defaults = _required_fields(cmd)
        for name in sorted(defaults - have):
            ctx.error(
                label,
                f"use case {uc.__name__}: payload {current.__qualname__} lacks command field "
                f"{name!r} of {cmd.__qualname__}",
            )
    return plan


def _required(binding: Any) -> bool:
    from loom_django.core.engine.plan import NO_DEFAULT

    return binding.default is NO_DEFAULT


def _required_fields(cls: type[Any]) -> set[str]:
    fields = getattr(cls, "__struct_fields__", ())
    defaults = getattr(cls, "__struct_defaults__", ())
    return set(fields[: len(fields) - len(defaults)])
