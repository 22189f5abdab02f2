"""``compile_flow``: validate a declared flow (structure, shapes, types, Kafka settings, use
cases) and freeze it into a :class:`~loom_django.streaming.plan.CompiledPlan`.

Every problem is collected; one :class:`StreamCompilationError` lists them all, each message
shaped ``"<flow>.<node>: <problem> (got <x>)"``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union, get_args, get_origin

import msgspec

from loom_django.core.errors import ConfigError
from loom_django.streaming.binding import ConfigBinding, resolve_binding
from loom_django.streaming.dispatch import dispatch_table
from loom_django.streaming.errors import ErrorKind, InvalidFlowConfig, StreamCompilationError
from loom_django.streaming.fanout import Broadcast, ExpandRoutes, Explode
from loom_django.streaming.flow import FLOW_NAME_RE, StreamFlow
from loom_django.streaming.model_sink import IntoModel, compile_model_sink
from loom_django.streaming.nodes import (
    CollectBatch,
    ContextFactory,
    Drain,
    ForEach,
    Fork,
    FromMultiTypeTopic,
    FromTopic,
    IntoTopic,
    RetryPolicy,
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
    CompiledSource,
    DrainOp,
    ExpandRoutesOp,
    ExplodeOp,
    ForEachOp,
    Op,
    RouterOp,
    SinkOp,
    StepOp,
    WithOp,
    path_label,
)
from loom_django.streaming.settings import KafkaSettings, RuntimeConfig
from loom_django.streaming.sinks import compile_into_sink, is_into_sink
from loom_django.streaming.steps import (
    BatchExpandStep,
    BatchStep,
    ExpandStep,
    RecordStep,
    Step,
    StreamShape,
)
from loom_django.streaming.usecase import MODES, TRANSACTIONS, UseCaseStep

__all__ = ["compile_flow", "plain_config"]

R = StreamShape.RECORD
B = StreamShape.BATCH
NONE = StreamShape.NONE


def plain_config(config: Any) -> dict[str, Any]:
    """``config`` (a mapping, an OmegaConf config, a ``ConfigContext`` or ``None``) as a dict."""
    if config is None:
        return {}
    raw = getattr(config, "raw", None) or getattr(config, "_config", None)
    if raw is not None and not isinstance(config, Mapping):
        config = raw
    try:
        from omegaconf import DictConfig, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a core dependency
        DictConfig = ()  # type: ignore[assignment,misc]
    if isinstance(config, DictConfig):
        plain: Any = OmegaConf.to_container(config, resolve=True)
        return dict(plain) if isinstance(plain, dict) else {}
    return dict(config)


@dataclass
class _Ctx:
    flow: StreamFlow
    kafka: KafkaSettings | None
    compiler: Any
    config: Mapping[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sinks: dict[str, CompiledSink] = field(default_factory=dict)
    use_cases: dict[str, Any] = field(default_factory=dict)
    types: dict[str, Any] = field(default_factory=dict)
    shapes: list[tuple[str, str, str, str]] = field(default_factory=list)
    has_terminal: bool = False
    in_async: bool = False
    retry: RetryPolicy | None = None  # of the enclosing With, else the flow's default
    db_lanes: int | None = None  # streaming.runtime.db_lanes
    model_sinks: list[str] = field(default_factory=list)  # IntoModel paths (model_sink.py)

    def error(self, node: str, problem: str) -> None:
        self.errors.append(f"{self.flow.name}.{node}: {problem}")


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
    kafka = _kafka_settings(flow, cfg)
    ctx = _Ctx(flow=flow, kafka=kafka[0], compiler=compiler, config=cfg)
    if kafka[1]:
        ctx.errors.append(f"{flow.name}: {kafka[1]}")
    if not FLOW_NAME_RE.match(flow.name):
        ctx.error("name", f"must match {FLOW_NAME_RE.pattern} (got {flow.name!r})")
    runtime = _runtime_config(flow, cfg, ctx)
    ctx.db_lanes = runtime.db_lanes if runtime is not None else None
    ctx.retry = _default_retry(flow, cfg, ctx)
    source = _source(flow, cfg, ctx)
    current = source.payload_type if source is not None else Any
    ops, shape, _ = _walk(flow.process.nodes, R, current, (), ctx, top=True)
    output = _outputs(flow, shape, ctx)
    routes: dict[ErrorKind, CompiledSink] = {}
    for kind, topic in flow.errors.items():
        sink = _sink(topic, ctx, f"errors[{kind.value}]")
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


# -- configuration ---------------------------------------------------------------------


def _kafka_settings(flow: StreamFlow, cfg: Mapping[str, Any]) -> tuple[KafkaSettings | None, str]:
    section = cfg.get("kafka")
    if not section:
        return None, "a 'kafka' configuration section is required to read or write topics"
    try:
        return msgspec.convert(dict(section), KafkaSettings, strict=False), ""
    except msgspec.ValidationError as exc:
        return None, f"invalid kafka configuration: {exc}"


def _runtime_config(flow: StreamFlow, cfg: Mapping[str, Any], ctx: _Ctx) -> RuntimeConfig | None:
    streaming = cfg.get("streaming") or {}
    merged = dict(streaming.get("runtime") or {})
    per_flow = ((streaming.get("flows") or {}).get(flow.name) or {}).get("runtime") or {}
    merged.update(per_flow)
    try:
        runtime = msgspec.convert(merged, RuntimeConfig, strict=False)
    except msgspec.ValidationError as exc:
        ctx.errors.append(f"{flow.name}: streaming.runtime: {exc}")
        return None
    for problem in runtime.problems():
        ctx.errors.append(f"{flow.name}: {problem}")
    return runtime


_RETRY_KEYS = ("max_attempts", "backoff_ms", "max_backoff_ms", "multiplier", "jitter", "retry_on")


def _default_retry(flow: StreamFlow, cfg: Mapping[str, Any], ctx: _Ctx) -> RetryPolicy | None:
    """``streaming.flows.<flow>.retry``: the policy of steps that declare none."""
    flows = (cfg.get("streaming") or {}).get("flows") or {}
    raw = (flows.get(flow.name) or {}).get("retry")
    if not raw:
        return None
    where = f"streaming.flows.{flow.name}.retry"
    unknown = sorted(set(raw) - set(_RETRY_KEYS))
    if unknown:
        ctx.errors.append(f"{flow.name}: {where}: unknown keys {', '.join(unknown)}")
        return None
    try:
        values = dict(raw)
        if "retry_on" in values:
            values["retry_on"] = tuple(ErrorKind(k) for k in values["retry_on"])
        return RetryPolicy(**values)
    except (TypeError, ValueError) as exc:
        ctx.errors.append(f"{flow.name}: {where}: {exc}")
        return None


def _group_id(flow: StreamFlow, cfg: Mapping[str, Any], ref: str, kafka: KafkaSettings) -> str:
    named = kafka.consumers.get(ref, {}).get("group_id")
    if named:
        return str(named)
    flow_cfg = ((cfg.get("streaming") or {}).get("flows") or {}).get(flow.name) or {}
    if flow_cfg.get("group_id"):
        return str(flow_cfg["group_id"])
    prefix = kafka.consumer.get("group_id") or (cfg.get("app") or {}).get("name") or "loom"
    return f"{prefix}.{flow.name}"


def _source(flow: StreamFlow, cfg: Mapping[str, Any], ctx: _Ctx) -> CompiledSource | None:
    src = flow.source
    if not isinstance(src, FromTopic | FromMultiTypeTopic):
        ctx.error("source", f"unsupported source type (got {type(src).__name__})")
        return None
    if src.shape is not StreamShape.RECORD:
        ctx.error("source", f"{type(src).__name__} shape must be RECORD (got {src.shape.value})")
    dispatch = None
    payload_type: Any
    if isinstance(src, FromMultiTypeTopic):
        dispatch, problems = dispatch_table(src.payloads)
        for problem in problems:
            ctx.error("source", problem)
        payload_type = Union[tuple(src.payloads)]  # noqa: UP007 - a runtime union of classes
    else:
        _payload_class(src.payload, ctx, "source")
        payload_type = src.payload
    if ctx.kafka is None:
        return None
    try:
        settings = ctx.kafka.consumer_for(src.name)
    except (KeyError, InvalidFlowConfig) as exc:
        ctx.error("source", _reason(exc))
        return None
    topics = tuple(ctx.kafka.consumers.get(src.name, {}).get("topics") or ()) or (
        settings.topics or (src.name,)
    )
    codec = src.codec or settings.codec or ctx.kafka.codec
    return CompiledSource(
        ref=src.name,
        topics=tuple(topics),
        payload_type=payload_type,
        codec=codec,
        settings=settings,
        group_id=_group_id(flow, cfg, src.name, ctx.kafka),
        dispatch=dispatch,
    )


def _reason(exc: Exception) -> str:
    """The message of a settings lookup failure (a KeyError's str() adds quotes around it)."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc)


def _payload_class(cls: Any, ctx: _Ctx, node: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
        ctx.error(node, f"payload must be a msgspec Struct class (got {cls!r})")


def _sink(node: IntoTopic[Any], ctx: _Ctx, where: str) -> CompiledSink | None:
    if ctx.kafka is None:
        return None
    try:
        settings = ctx.kafka.producer_for(node.name)
    except (KeyError, InvalidFlowConfig) as exc:
        ctx.error(where, _reason(exc))
        return None
    topic = ctx.kafka.producers.get(node.name, {}).get("topic") or settings.topic or node.name
    codec = node.codec or settings.codec or ctx.kafka.codec
    if not node.lineage_headers and codec == "json-raw":
        ctx.error(
            where,
            f"IntoTopic({node.name}): lineage_headers=False cannot be used with codec "
            "'json-raw': its message type and trace ids travel only in headers",
        )
    return CompiledSink(
        ref=node.name,
        topic=str(topic),
        payload_type=node.payload,
        codec=codec,
        settings=settings,
        partitioning=node.partitioning,
        dlq_topic=node.dlq,
        lineage_headers=node.lineage_headers,
    )


def _outputs(flow: StreamFlow, shape: StreamShape, ctx: _Ctx) -> CompiledSink | None:
    last = flow.process.nodes[-1]
    if flow.output is not None and isinstance(last, Fork | Broadcast):
        kind = "Fork" if isinstance(last, Fork) else "Broadcast"
        ctx.error("output", f"a flow output cannot be combined with a top-level {kind}")
    if flow.output is None and not ctx.has_terminal:
        ctx.error("process", "no terminal output (end in IntoTopic or Drain, or set output=)")
    if flow.output is not None and shape not in (R, NONE):
        ctx.error("output", f"shape mismatch: expected record but got {shape.value} before output")
    if flow.output is None:
        return None
    return _sink(flow.output, ctx, "output")


# -- process walk ----------------------------------------------------------------------


def _label(node: object) -> str:
    if isinstance(node, ConfigBinding):
        return node.target.__qualname__
    if isinstance(node, Step):
        return type(node).step_name()
    if isinstance(node, IntoTopic):
        return f"IntoTopic({node.name})"
    if isinstance(node, IntoModel):
        return node.name
    if is_into_sink(node):
        return str(getattr(node, "name", "") or type(node).__name__)
    return type(node).__name__


def _walk(
    nodes: tuple[object, ...],
    shape: StreamShape,
    current: Any,
    base: tuple[int, ...],
    ctx: _Ctx,
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
        label = _label(node)
        if terminal:
            ctx.error(
                label, f"{_label(nodes[index - 1])} must be the last node (followed by {label})"
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


def _instantiate(raw: object, ctx: _Ctx, path: tuple[int, ...]) -> object | None:
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


def _bind(binding: ConfigBinding, ctx: _Ctx) -> object | None:
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
    ctx: _Ctx,
    in_branch: bool,
) -> tuple[Op | None, StreamShape, Any, bool]:
    label = _label(node)
    if isinstance(node, Step):
        return _step(node, shape, current, path, ctx, in_branch)
    if isinstance(node, CollectBatch):
        _expect(shape, (R,), label, ctx)
        if node.window is not WindowStrategy.COLLECT:
            ctx.error(label, f"window {node.window.value} is not executable (use COLLECT)")
        return CollectOp(path, node.max_records), B, current, False
    if isinstance(node, ForEach):
        _expect(shape, (B, StreamShape.MANY), label, ctx)
        return ForEachOp(path), R, current, False
    if isinstance(node, Drain):
        return DrainOp(path), NONE, current, True
    if isinstance(node, IntoTopic):
        _expect(shape, (R,), label, ctx)
        _check_sink_type(node, current, ctx)
        sink = _sink(node, ctx, label)
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
        _expect(shape, (R,), label, ctx)
        model_op, problems = compile_model_sink(node, path, current if _concrete(current) else None)
        for problem in problems:
            ctx.error(label, problem)
        ctx.model_sinks.append(path_label(path))
        return model_op, NONE, current, True
    if is_into_sink(node):  # a third-party storage sink (sinks.py)
        _expect(shape, (R,), label, ctx)
        upstream = current if _concrete(current) else None
        sink_op, problems = compile_into_sink(node, path, upstream, ctx.config, in_branch=in_branch)
        for problem in problems:
            ctx.error(label, problem)
        return sink_op, NONE, current, True
    ctx.error(label, f"unsupported node (got {node!r})")
    return None, shape, current, False


def _expect(shape: StreamShape, allowed: tuple[StreamShape, ...], label: str, ctx: _Ctx) -> None:
    if shape not in allowed:
        want = " or ".join(s.value for s in allowed)
        ctx.error(label, f"shape mismatch: expected {want} but got {shape.value} before {label}")


# -- steps and types -------------------------------------------------------------------

_STEP_KINDS: tuple[tuple[type[Any], str, StreamShape, StreamShape], ...] = (
    (UseCaseStep, "use_case", R, R),
    (BatchStep, "batch", B, B),
    (BatchExpandStep, "batch_expand", B, R),
    (ExpandStep, "expand", R, R),
    (RecordStep, "record", R, R),
)


_STEP_CLASS = {"expand": "ExpandStep", "batch_expand": "BatchExpandStep"}


def _step(
    step: Step[Any, Any],
    shape: StreamShape,
    current: Any,
    path: tuple[int, ...],
    ctx: _Ctx,
    in_branch: bool,
) -> tuple[Op | None, StreamShape, Any, bool]:
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
    _expect(shape, (in_shape,), label, ctx)
    declared_in, declared_out = _step_types(type(step))
    if _concrete(declared_in) and _concrete(current) and not issubclass(current, declared_in):
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


def _concrete(tp: Any) -> bool:
    return isinstance(tp, type) and tp is not Any and not isinstance(tp, TypeVar)


def _check_sink_type(node: IntoTopic[Any], current: Any, ctx: _Ctx) -> None:
    want = node.payload
    if want is None or not _concrete(current) or not _concrete(want):
        return
    if not issubclass(current, want):
        ctx.error(
            _label(node),
            f"payload {want.__qualname__} does not accept {current.__qualname__} "
            f"(got {current.__qualname__})",
        )


def _use_case(step: UseCaseStep, current: Any, ctx: _Ctx) -> Any:
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
    if step.command_from_payload and _concrete(current) and cmd is not None:
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


# -- scopes and routers ----------------------------------------------------------------


def _with(
    node: With, shape: StreamShape, current: Any, path: tuple[int, ...], ctx: _Ctx
) -> tuple[Op | None, StreamShape, Any, bool]:
    is_async = isinstance(node, WithAsync)
    label = "WithAsync" if is_async else "With"
    _expect(shape, (R, B), label, ctx)
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
                    label, f"requires IntoTopic to be last (got {_label(inner[i + 1])} after it)"
                )
        elif not isinstance(item, RecordStep):
            valid = False
            ctx.error(
                label, f"only supports record steps and a final IntoTopic (got {_label(item)})"
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


def _bound_deps(node: With, ctx: _Ctx) -> tuple[dict[str, Any], dict[str, Any]]:
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
    node: Router, shape: StreamShape, current: Any, path: tuple[int, ...], ctx: _Ctx
) -> tuple[Op | None, StreamShape, Any, bool]:
    is_fork = isinstance(node, Fork)
    label = "Fork" if is_fork else "Router"
    _expect(shape, (R,), label, ctx)
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


def _check_explode(node: Explode, follower: object, ctx: _Ctx) -> None:
    label = f"Explode({node.exploder.__qualname__})"
    if not isinstance(follower, Router) or isinstance(follower, Fork):
        name = "nothing" if follower is None else _label(follower)
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
    ctx: _Ctx,
) -> tuple[Op | None, StreamShape, Any, bool]:
    if isinstance(node, Broadcast):
        return _broadcast(node, shape, current, path, ctx), NONE, current, True
    _expect(shape, (R,), type(node).__name__, ctx)
    if isinstance(node, ExpandRoutes):
        return _expand_routes(node, path, ctx), NONE, current, True
    outputs = tuple(getattr(node.exploder, "outputs", ()))
    out_type = Union[outputs] if outputs else Any  # noqa: UP007 - a runtime union
    op = ExplodeOp(path, f"Explode({node.exploder.__qualname__})", node.exploder)
    return op, R, out_type, False


def _broadcast(
    node: Broadcast, shape: StreamShape, current: Any, path: tuple[int, ...], ctx: _Ctx
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
            _expect(out, (R,), f"{where} output", ctx)
            sink = _sink(route.output, ctx, f"{where} output")
            if sink is not None:
                sink_path = (*path, index, len(route.process))
                ctx.sinks[path_label(sink_path)] = sink
                ops = (*ops, SinkOp(sink_path, sink))
            terminal = True
        branches.append(BranchOp(f"route[{index}]", ops, terminal))
    return BroadcastOp(path, "Broadcast", tuple(branches))


def _expand_routes(node: ExpandRoutes, path: tuple[int, ...], ctx: _Ctx) -> ExpandRoutesOp:
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
