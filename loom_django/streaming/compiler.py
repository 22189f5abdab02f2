"""``compile_flow``: validate a declared flow (structure, shapes, types, Kafka settings, use
cases) and freeze it into a :class:`~loom_django.streaming.plan.CompiledPlan`.

Every problem is collected; one :class:`StreamCompilationError` lists them all, each message
shaped ``"<flow>.<node>: <problem> (got <x>)"``.
"""

from __future__ import annotations

from typing import Any, Union

from loom_django.core.errors import ConfigError
from loom_django.streaming._compile_config import (
    compile_outputs,
    compile_sink,
    compile_source,
    default_retry,
    kafka_settings,
    runtime_config,
)
from loom_django.streaming._compile_context import (
    CompileContext,
    expect_shape,
    is_concrete,
    node_label,
    plain_config,
)
from loom_django.streaming._compile_steps import check_sink_type, compile_step
from loom_django.streaming.binding import ConfigBinding, resolve_binding
from loom_django.streaming.errors import ErrorKind, StreamCompilationError
from loom_django.streaming.fanout import Broadcast, ExpandRoutes, Explode
from loom_django.streaming.flow import FLOW_NAME_RE, StreamFlow
from loom_django.streaming.model_sink import IntoModel, compile_model_sink
from loom_django.streaming.nodes import (
    CollectBatch,
    ContextFactory,
    Drain,
    ForEach,
    Fork,
    IntoTopic,
    Router,
    WindowStrategy,
    With,
    WithAsync,
)
from loom_django.streaming.plan import (
    AsyncOptions,
    BranchOp,
    BroadcastOp,
    CollectOp,
    CompiledPlan,
    CompiledSink,
    DrainOp,
    ExpandRoutesOp,
    ExplodeOp,
    ForEachOp,
    Op,
    RouterOp,
    SinkOp,
    WithOp,
    path_label,
)
from loom_django.streaming.sinks import compile_into_sink, is_into_sink
from loom_django.streaming.steps import RecordStep, Step, StreamShape

__all__ = ["compile_flow", "plain_config"]

R = StreamShape.RECORD
B = StreamShape.BATCH
NONE = StreamShape.NONE


def compile_flow(flow: StreamFlow, *, config: Any = None, compiler: Any = None) -> CompiledPlan:
    """Compile ``flow`` against the merged loom configuration.

    Args:
        flow: the declared flow.
        config: the merged configuration (``kafka``, ``streaming``, ``app`` sections).
        compiler: the runtime's ``UseCaseCompiler``, needed when the flow calls use cases.

    Raises:
        StreamCompilationError: the flow is invalid; ``errors`` lists every problem.
    """
    cfg = plain_config(config)
    kafka = kafka_settings(flow, cfg)
    ctx = CompileContext(flow=flow, kafka=kafka[0], compiler=compiler, config=cfg)
    if kafka[1]:
        ctx.errors.append(f"{flow.name}: {kafka[1]}")
    if not FLOW_NAME_RE.match(flow.name):
        ctx.error("name", f"must match {FLOW_NAME_RE.pattern} (got {flow.name!r})")
    runtime = runtime_config(flow, cfg, ctx)
    ctx.db_lanes = runtime.db_lanes if runtime is not None else None
    ctx.retry = default_retry(flow, cfg, ctx)
    source = compile_source(flow, cfg, ctx)
    current = source.payload_type if source is not None else Any
    ops, shape, _ = _walk(flow.process.nodes, R, current, (), ctx, top=True)
    output = compile_outputs(flow, shape, ctx)
    routes: dict[ErrorKind, CompiledSink] = {}
    for kind, topic in flow.errors.items():
        sink = compile_sink(topic, ctx, f"errors[{kind.value}]")
        if sink is not None:
            routes[kind] = sink
    unrouted = [k.value for k in ErrorKind if k not in routes]
    if unrouted:
        ctx.warnings.append(f"error kinds without a route: {', '.join(unrouted)}")
    if ctx.errors or source is None or runtime is None:
        raise StreamCompilationError(ctx.errors or [f"{flow.name}: invalid flow"])
    plan = CompiledPlan(
        name=flow.name,
        description=flow.description,
        source=source,
        ops=ops,
        output=output,
        error_routes=routes,
        unrouted_errors=flow.unrouted_errors,
        runtime=runtime,
        sinks=dict(ctx.sinks),
        use_cases=dict(ctx.use_cases),
        payload_types=dict(ctx.types),
        shapes=tuple(ctx.shapes),
        warnings=tuple(ctx.warnings),
        model_sinks=tuple(ctx.model_sinks),
        transport=ctx.kafka.transport if ctx.kafka is not None else "confluent",
    )
    return _check_connection_budget(plan)


def _check_connection_budget(plan: CompiledPlan) -> CompiledPlan:
    """Warn when ``workers + Σ db_lanes`` exceeds ``streaming.runtime.db_max_connections``."""
    limit = plan.runtime.db_max_connections
    if limit is None or not (plan.use_cases or plan.model_sinks):
        return plan
    from dataclasses import replace

    from loom_django.streaming.lanes import database_summary

    budget = database_summary(plan)["connection_budget"]
    if budget <= limit:
        return plan
    warning = (
        f"DB connection budget {budget} (workers + db_lanes) exceeds "
        f"streaming.runtime.db_max_connections {limit}"
    )
    return replace(plan, warnings=(*plan.warnings, warning))


# -- process walk ----------------------------------------------------------------------


def _walk(
    nodes: tuple[object, ...],
    shape: StreamShape,
    current: Any,
    base: tuple[int, ...],
    ctx: CompileContext,
    *,
    top: bool = False,
    in_branch: bool = False,
) -> tuple[tuple[Op, ...], StreamShape, bool]:
    """Compile ``nodes``; returns the ops, the output shape and whether a terminal ends them."""
    ops: list[Op] = []
    terminal = False
    for index, raw in enumerate(nodes):
        path = (*base, index)
        node = _instantiate(raw, ctx, path)
        if node is None:
            continue
        label = node_label(node)
        if terminal:
            ctx.error(
                label, f"{node_label(nodes[index - 1])} must be the last node (followed by {label})"
            )
        if isinstance(node, Explode):
            _check_explode(node, nodes[index + 1] if index + 1 < len(nodes) else None, ctx)
        op, out_shape, current, is_terminal = _node(node, shape, current, path, ctx, in_branch)
        ctx.shapes.append((path_label(path), label, shape.value, out_shape.value))
        ctx.types[path_label(path)] = current
        if op is not None:
            ops.append(op)
        shape = out_shape
        terminal = terminal or is_terminal
    if terminal:
        ctx.has_terminal = True
    return tuple(ops), shape, terminal


def _instantiate(raw: object, ctx: CompileContext, path: tuple[int, ...]) -> object | None:
    if isinstance(raw, ConfigBinding):
        return _bind(raw, ctx)
    if isinstance(raw, type):
        try:
            instance: object = raw()
            return instance
        except TypeError as exc:
            ctx.error(raw.__qualname__, f"cannot be instantiated without arguments ({exc})")
            return None
    return raw


def _bind(binding: ConfigBinding, ctx: CompileContext) -> object | None:
    """The object a ``from_config``/``configure`` binding builds, or ``None`` after an error."""
    try:
        built: object = resolve_binding(binding, ctx.config)
    except ConfigError as exc:
        ctx.error(binding.target.__qualname__, str(exc))
        return None
    return built


def _node(
    node: object,
    shape: StreamShape,
    current: Any,
    path: tuple[int, ...],
    ctx: CompileContext,
    in_branch: bool,
) -> tuple[Op | None, StreamShape, Any, bool]:
    label = node_label(node)
    if isinstance(node, Step):
        return compile_step(node, shape, current, path, ctx, in_branch)
    if isinstance(node, CollectBatch):
        expect_shape(shape, (R,), label, ctx)
        if node.window is not WindowStrategy.COLLECT:
            ctx.error(label, f"window {node.window.value} is not executable (use COLLECT)")
        return CollectOp(path, node.max_records), B, current, False
    if isinstance(node, ForEach):
        expect_shape(shape, (B, StreamShape.MANY), label, ctx)
        return ForEachOp(path), R, current, False
    if isinstance(node, Drain):
        return DrainOp(path), NONE, current, True
    if isinstance(node, IntoTopic):
        expect_shape(shape, (R,), label, ctx)
        check_sink_type(node, current, ctx)
        sink = compile_sink(node, ctx, label)
        if sink is None:
            return None, NONE, current, True
        ctx.sinks[path_label(path)] = sink
        return SinkOp(path, sink), NONE, current, True
    if isinstance(node, With):
        return _with(node, shape, current, path, ctx)
    if isinstance(node, Router):
        return _router(node, shape, current, path, ctx)
    if isinstance(node, Broadcast | Explode | ExpandRoutes):
        return _fanout(node, shape, current, path, ctx)
    if isinstance(node, IntoModel):  # a Django model sink (model_sink.py)
        expect_shape(shape, (R,), label, ctx)
        model_op, problems = compile_model_sink(
            node, path, current if is_concrete(current) else None
        )
        for problem in problems:
            ctx.error(label, problem)
        ctx.model_sinks.append(path_label(path))
        return model_op, NONE, current, True
    if is_into_sink(node):  # a third-party storage sink (sinks.py)
        expect_shape(shape, (R,), label, ctx)
        upstream = current if is_concrete(current) else None
        sink_op, problems = compile_into_sink(node, path, upstream, ctx.config, in_branch=in_branch)
        for problem in problems:
            ctx.error(label, problem)
        return sink_op, NONE, current, True
    ctx.error(label, f"unsupported node (got {node!r})")
    return None, shape, current, False


# -- scopes and routers ----------------------------------------------------------------


def _with(
    node: With, shape: StreamShape, current: Any, path: tuple[int, ...], ctx: CompileContext
) -> tuple[Op | None, StreamShape, Any, bool]:
    is_async = isinstance(node, WithAsync)
    label = "WithAsync" if is_async else "With"
    expect_shape(shape, (R, B), label, ctx)
    async_managers = node.async_managers if isinstance(node, WithAsync) else {}
    if node.scope.value == "batch" and (node.context_managers or async_managers):
        names = ", ".join(sorted({*node.context_managers, *async_managers}))
        ctx.error(label, f"scope BATCH needs ContextFactory for {names} (got a context manager)")
    inner = node.process.nodes
    valid = True
    for i, raw in enumerate(inner):
        item = raw() if isinstance(raw, type) and issubclass(raw, Step) else raw
        if isinstance(item, ConfigBinding) and issubclass(item.target, RecordStep):
            continue  # resolved (and reported) by the walk below
        if isinstance(item, IntoTopic):
            if i != len(inner) - 1:
                valid = False
                ctx.error(
                    label,
                    f"requires IntoTopic to be last (got {node_label(inner[i + 1])} after it)",
                )
        elif not isinstance(item, RecordStep):
            valid = False
            ctx.error(
                label, f"only supports record steps and a final IntoTopic (got {node_label(item)})"
            )
    if not valid:
        return None, NONE, current, True
    saved = ctx.in_async, ctx.retry
    ctx.in_async, ctx.retry = is_async, node.retry or ctx.retry
    try:
        ops, _, inner_terminal = _walk(inner, R, current, path, ctx)
    finally:
        ctx.in_async, ctx.retry = saved
    to_output = ctx.flow.output is not None and not inner_terminal
    options = None
    if isinstance(node, WithAsync):
        options = AsyncOptions(
            max_concurrency=node.max_concurrency,
            task_timeout_ms=node.task_timeout_ms,
            preserve_key_order=node.preserve_key_order,
            ordered_output=node.ordered_output,
            managers=dict(node.async_managers),
            db_lanes=node.db_lanes
            or ctx.db_lanes
            or min(node.max_concurrency, 4),  # DB lanes (lanes.py)
        )
    plain, factories = _bound_deps(node, ctx)
    op = WithOp(
        path=path,
        name=label,
        scope=node.scope.value,
        ops=ops,
        plain=plain,
        managers=dict(node.context_managers),
        factories=factories,
        to_output=to_output,
        async_opts=options,
    )
    out_shape = R if to_output else NONE
    return op, out_shape, ctx.types.get(path_label((*path, len(inner) - 1)), current), not to_output


def _bound_deps(node: With, ctx: CompileContext) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(plain, factories)`` of ``node`` with ``from_config`` dependencies built."""
    plain: dict[str, Any] = {}
    factories: dict[str, Any] = dict(node.context_factories)
    for name, value in node.plain_deps.items():
        if not isinstance(value, ConfigBinding):
            plain[name] = value
            continue
        built = _bind(value, ctx)
        if isinstance(built, ContextFactory):
            factories[name] = built
        elif built is not None:
            plain[name] = built
    return plain, factories


def _router(
    node: Router, shape: StreamShape, current: Any, path: tuple[int, ...], ctx: CompileContext
) -> tuple[Op | None, StreamShape, Any, bool]:
    is_fork = isinstance(node, Fork)
    label = "Fork" if is_fork else "Router"
    expect_shape(shape, (R,), label, ctx)
    branches: list[BranchOp] = []
    shapes: set[StreamShape] = set()
    types: set[Any] = set()
    keys = [*node.routes, *([None] * (len(node.branches()) - len(node.routes)))]
    for index, (branch_label, process) in enumerate(node.branches()):
        # Router.by over payload classes (e.g. after Explode) narrows the type per branch.
        narrowed = keys[index] if isinstance(keys[index], type) else current
        ops, out, terminal = _walk(
            process.nodes, R, narrowed, (*path, index), ctx, in_branch=not is_fork
        )
        branches.append(BranchOp(branch_label, ops, terminal))
        if is_fork and not terminal:
            ctx.error(label, f"fork branch {branch_label}: no terminal output found")
        if not terminal:
            shapes.add(out)
            types.add(ctx.types.get(path_label((*path, index, len(process) - 1)), current))
    if len(shapes) > 1:
        ctx.error(label, "router branches produce different shapes")
    keyed = {key: i for i, key in enumerate(node.routes)}
    offset = len(keyed)
    predicates = tuple((r.when, offset + i) for i, r in enumerate(node.predicate_routes))
    default = len(branches) - 1 if node.default is not None else None
    if not is_fork and node.default is None and types - {current}:
        ctx.warnings.append(
            f"{label} at {path_label(path)}: a branch changes the payload type and there is "
            "no default (unmatched messages pass through unchanged)"
        )
    op = RouterOp(
        path=path,
        name=label,
        selector=node.selector,
        keyed=keyed,
        predicates=predicates,
        default=default,
        branches=tuple(branches),
        fork=is_fork,
    )
    if is_fork:
        return op, NONE, current, True
    out_type = types.pop() if len(types) == 1 else current
    return op, (shapes.pop() if len(shapes) == 1 else R), out_type, False


# -- fan-out ---------------------------------------------------------------------------


def _check_explode(node: Explode, follower: object, ctx: CompileContext) -> None:
    label = f"Explode({node.exploder.__qualname__})"
    if not isinstance(follower, Router) or isinstance(follower, Fork):
        name = "nothing" if follower is None else node_label(follower)
        ctx.error(label, f"must be followed directly by a Router (got {name})")
        return
    if follower.default is None:
        for cls in getattr(node.exploder, "outputs", ()):
            if cls not in follower.routes:
                ctx.error(
                    label,
                    f"output {cls.__qualname__} has no route in the following Router "
                    "and the Router has no default",
                )


def _fanout(
    node: Broadcast | Explode | ExpandRoutes,
    shape: StreamShape,
    current: Any,
    path: tuple[int, ...],
    ctx: CompileContext,
) -> tuple[Op | None, StreamShape, Any, bool]:
    if isinstance(node, Broadcast):
        return _broadcast(node, shape, current, path, ctx), NONE, current, True
    expect_shape(shape, (R,), type(node).__name__, ctx)
    if isinstance(node, ExpandRoutes):
        return _expand_routes(node, path, ctx), NONE, current, True
    outputs = tuple(getattr(node.exploder, "outputs", ()))
    out_type = Union[outputs] if outputs else Any  # noqa: UP007 - a runtime union
    op = ExplodeOp(path, f"Explode({node.exploder.__qualname__})", node.exploder)
    return op, R, out_type, False


def _broadcast(
    node: Broadcast, shape: StreamShape, current: Any, path: tuple[int, ...], ctx: CompileContext
) -> BroadcastOp:
    branches: list[BranchOp] = []
    for index, route in enumerate(node.routes):
        ops, out, terminal = _walk(route.process.nodes, shape, current, (*path, index), ctx)
        where = f"Broadcast route {index}"
        if route.output is not None and terminal:
            ctx.error(
                "Broadcast", f"route {index}: output given but its process ends in a terminal"
            )
        elif route.output is not None:
            expect_shape(out, (R,), f"{where} output", ctx)
            sink = compile_sink(route.output, ctx, f"{where} output")
            if sink is not None:
                sink_path = (*path, index, len(route.process))
                ctx.sinks[path_label(sink_path)] = sink
                ops = (*ops, SinkOp(sink_path, sink))
            terminal = True
        branches.append(BranchOp(f"route[{index}]", ops, terminal))
    return BroadcastOp(path, "Broadcast", tuple(branches))


def _expand_routes(
    node: ExpandRoutes, path: tuple[int, ...], ctx: CompileContext
) -> ExpandRoutesOp:
    branches: list[BranchOp] = []
    classes = list(node.routes)
    for index, (label, process) in enumerate(node.branches()):
        row_type = classes[index] if index < len(classes) else Any
        ops, _, terminal = _walk(process.nodes, R, row_type, (*path, index), ctx)
        if not terminal:
            ctx.error("ExpandRoutes", f"route {label}: no terminal output found")
        branches.append(BranchOp(label, ops, terminal))
    return ExpandRoutesOp(
        path,
        f"ExpandRoutes({node.expander.__qualname__})",
        node.expander,
        {cls: i for i, cls in enumerate(classes)},
        len(branches) - 1 if node.default is not None else None,
        tuple(branches),
    )
