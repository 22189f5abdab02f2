"""``ETLRunner``: walk a compiled plan on Polars, emit lifecycle events, return a RunResult.

Each step reads its sources lazily, calls ``execute`` and materialises once at write time.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import msgspec

from loom_django.etl._audit import audit_values
from loom_django.etl._temps import (
    check_correlation,
    cleanup_correlation,
    correlation_dir,
    correlation_temps,
    finish_temps,
    run_dir,
    stored_temps,
)
from loom_django.etl.cancel import Cancellation
from loom_django.etl.compiler import ETLCompiler, check_temps
from loom_django.etl.config import EtlConfig
from loom_django.etl.errors import InvalidStageError, RejectThresholdExceeded, RunInterrupted
from loom_django.etl.plan import (
    ParallelProcessGroup,
    ParallelStepGroup,
    PipelinePlan,
    ProcessPlan,
    StepPlan,
)

__all__ = [
    "ETLRunner",
    "Event",
    "RunObserver",
    "RunResult",
    "StepContext",
    "StepResult",
]

_log = logging.getLogger("loom_django.etl.runner")


@dataclass(frozen=True)
class Event:
    """One lifecycle event: ``scope`` pipeline|process|step, ``kind`` start|end|error."""

    scope: str
    kind: str
    name: str
    run_id: str
    id: str
    status: str | None = None
    duration_ms: float | None = None
    rows_written: int | None = None
    rows_rejected: int | None = None
    error_type: str | None = None
    error: str | None = None
    params: dict[str, Any] | None = None
    parent: str | None = None
    target: str | None = None
    write_mode: str | None = None
    metrics: dict[str, float] | None = None
    traceback: str | None = None


class RunObserver(Protocol):
    """Receives every lifecycle event; a raising observer never changes the run."""

    def on_event(self, event: Event) -> None: ...


@dataclass(frozen=True)
class StepResult:
    """What one step did."""

    step: str
    status: str
    duration_ms: float
    rows_written: int = 0
    rows_rejected: int = 0


@dataclass(frozen=True)
class RunResult:
    """What one run did."""

    run_id: str
    status: str
    started_at: datetime
    duration_ms: float
    steps: tuple[StepResult, ...] = ()

    @property
    def rows_written(self) -> int:
        """Rows written by every step."""
        return sum(s.rows_written for s in self.steps)

    @property
    def rejected(self) -> int:
        """Rows rejected by use-case steps."""
        return sum(s.rows_rejected for s in self.steps)


@dataclass
class StepContext:
    """Injected into ``execute(..., ctx)``: ids, backend, logger and metrics of the step."""

    run_id: str
    step_run_id: str
    pipeline: str
    step: str
    backend: str
    logger: logging.Logger
    metrics: dict[str, float] = field(default_factory=dict)
    process_run_id: str | None = None
    cancellation: Cancellation | None = field(default=None, repr=False)

    @property
    def cancelled(self) -> bool:
        """The run was cancelled (signal or timeout): a long step may stop early."""
        return self.cancellation is not None and self.cancellation.is_set

    def metric(self, name: str, value: float) -> None:
        """Add to a named metric of this step."""
        self.metrics[name] = self.metrics.get(name, 0) + value


@dataclass
class _Run:
    run_id: str
    pipeline: str
    params: Any
    started: datetime
    temp_dir: Path
    temps: dict[str, list[Path]] = field(default_factory=dict)
    results: list[StepResult] = field(default_factory=list)
    observers: list[RunObserver] = field(default_factory=list)
    correlation_id: str | None = None
    correlation_dir: Path | None = None
    attempt: int = 1
    last_attempt: bool = True
    written_temps: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    cancel: Cancellation | None = None


def render_params(params: Any) -> dict[str, Any]:
    """Params as builtins, ``Secret`` fields shown as ``***``."""
    from typing import get_args, get_type_hints

    from loom_django.etl.declarative import SECRET

    data: dict[str, Any] = msgspec.to_builtins(params)
    hints = get_type_hints(type(params), include_extras=True)
    for name, hint in hints.items():
        if SECRET in get_args(hint)[1:] and name in data:
            data[name] = "***"
    return data


def filter_plan(plan: PipelinePlan, include: Sequence[str]) -> PipelinePlan:
    """Keep only the named steps/processes (class names).

    Raises:
        InvalidStageError: a name matches nothing.
    """
    names = set(include)
    seen: set[str] = set()

    def keep_process(process: ProcessPlan) -> ProcessPlan | None:
        if process.name in names:
            seen.add(process.name)
            return process
        nodes: list[Any] = []
        for node in process.nodes:
            members = node.plans if isinstance(node, ParallelStepGroup) else (node,)
            kept = tuple(s for s in members if s.name in names)
            seen.update(s.name for s in kept)
            if len(kept) > 1:
                nodes.append(ParallelStepGroup(kept))
            elif kept:
                nodes.append(kept[0])
        return replace(process, nodes=tuple(nodes)) if nodes else None

    out: list[Any] = []
    for pnode in plan.nodes:
        members = pnode.plans if isinstance(pnode, ParallelProcessGroup) else (pnode,)
        kept = tuple(p for p in (keep_process(m) for m in members) if p is not None)
        if len(kept) > 1:
            out.append(ParallelProcessGroup(kept))
        elif kept:
            out.append(kept[0])
    unknown = sorted(names - seen)
    if unknown:
        raise InvalidStageError(f"--include names no step or process: {unknown}")
    return replace(plan, nodes=tuple(out))


class ETLRunner:
    """Runs pipelines on one backend (Polars by default).

    Args:
        config: the ``etl`` configuration (routes, files, batch sizes).
        runtime: returns the loom runtime (for ``IntoUseCase``); ``None`` if unused.
        observers: receive every lifecycle event.
        backend: a registered backend name (``"polars"``, ``"spark"`` or a third-party
            ``loom.etl.backends`` entry point); ``None`` selects ``"spark"`` when ``spark`` is
            given, else ``"polars"``.
        spark: a SparkSession to use instead of building one from ``etl.spark``.
        fail_fast: when a parallel member fails, members not yet started (``max_workers``
            smaller than the group) are skipped; by default every member runs.

    Raises:
        BackendError: an unknown backend name (a ``ValueError``).
        MissingDependency: ``backend="spark"`` without pyspark (names ``loom-django[spark]``).
    """

    def __init__(
        self,
        config: EtlConfig | None = None,
        *,
        runtime: Callable[[], Any] | None = None,
        observers: Sequence[RunObserver] = (),
        compiler: ETLCompiler | None = None,
        backend: str | None = None,
        spark: Any = None,
        fail_fast: bool = False,
    ) -> None:
        from loom_django.etl.backends import get_provider

        backend = backend or ("spark" if spark is not None else "polars")
        self.config = config or EtlConfig()
        self._impl = get_provider(backend).load(self.config, spark)
        self.backend = backend
        self.compiler = compiler or ETLCompiler(self.config)
        self._runtime = runtime
        self.observers = list(observers)
        self.fail_fast = fail_fast

    @classmethod
    def from_config(
        cls,
        config: EtlConfig,
        *,
        backend: str | None = None,
        spark: Any = None,
        observers: Sequence[RunObserver] = (),
    ) -> ETLRunner:
        """A runner for ``config``; the backend is ``backend``, else ``spark`` when a session is
        given, else ``config.engine``.

        ``IntoUseCase`` steps use the runtime the ETL door received at startup.
        """
        from loom_django.etl.registry import registry

        return cls(
            config,
            runtime=registry.runtime,
            observers=observers,
            backend=backend or ("spark" if spark is not None else config.engine),
            spark=spark,
        )

    @classmethod
    def from_settings(
        cls,
        backend: str | None = None,
        *,
        spark: Any = None,
        observers: Sequence[RunObserver] = (),
    ) -> ETLRunner:
        """A runner for the project's ``etl:`` configuration (YAML files, ``LOOM['CONFIG']``)."""
        from loom_django.etl.config import load_config

        return cls.from_config(load_config(), backend=backend, spark=spark, observers=observers)

    def cleanup_correlation(self, correlation_id: str) -> bool:
        """Remove the CORRELATION-scope intermediates of ``correlation_id``; ``True`` if
        there were any."""
        return cleanup_correlation(self.config, correlation_id)

    # -- entry point -------------------------------------------------------------------

    def run(
        self,
        pipeline: type[Any],
        params: Any,
        *,
        include: Sequence[str] | None = None,
        run_id: str | None = None,
        dry_run: bool = False,
        observers: Sequence[RunObserver] = (),
        correlation_id: str | None = None,
        attempt: int = 1,
        last_attempt: bool = True,
        cancel: Cancellation | None = None,
    ) -> RunResult:
        """Compile (cached), pre-flight, execute and return what happened.

        ``correlation_id`` names a logical job across retries (``attempt`` is 1-based):
        CORRELATION-scope temps survive failed attempts and go after a successful
        ``last_attempt``.
        Once ``cancel`` is set no new step starts and the run raises ``RunInterrupted``.

        Raises:
            TypeError: ``params`` is not the pipeline's params type.
            ValueError: a CORRELATION-scope temp without ``correlation_id``.
            ETLCompilationError: compile or pre-flight problems (nothing ran).
            InvalidStageError: ``include`` names an unknown stage.
            Exception: the failing step's exception, with notes naming step and run id.
        """
        params = self._params(pipeline, params)
        plan = self.compiler.compile(pipeline, backend=self.backend)
        if include:
            full, plan = plan, filter_plan(plan, include)
            check_temps(plan, correlation_temps(full) if correlation_id else ())
        from loom_django.etl.preflight import preflight

        preflight(plan, self.config.storage.missing_table_policy)
        check_correlation(plan, correlation_id)
        started = datetime.now(UTC)
        run_id = run_id or str(uuid.uuid4())
        if dry_run:
            return RunResult(run_id, "planned", started, 0.0)
        cdir = correlation_dir(self.config, correlation_id) if correlation_id else None
        run = _Run(
            run_id,
            _pipeline_name(pipeline),
            params,
            started,
            run_dir(self.config, run_id),
            temps=stored_temps(cdir),
            observers=list(observers),
            correlation_id=correlation_id,
            correlation_dir=cdir,
            attempt=attempt,
            last_attempt=last_attempt,
            cancel=cancel,
        )
        t0 = time.perf_counter()
        self._emit(
            run,
            Event("pipeline", "start", run.pipeline, run_id, run_id, params=render_params(params)),
        )
        try:
            with _run_transaction(plan):
                for node in plan.nodes:
                    if isinstance(node, ParallelProcessGroup):
                        self._parallel([partial(self._process, run, p) for p in node.plans])
                    else:
                        self._process(run, node)
        except BaseException as exc:
            duration = (time.perf_counter() - t0) * 1000
            failure = self._failure("pipeline", run.pipeline, run, run_id, exc, duration)
            tb = "".join(traceback.format_exception(exc))
            self._emit_failure(run, replace(failure, traceback=tb))
            self._flush(run)
            exc.add_note(f"ETL run {run_id} of {run.pipeline}")
            finish_temps(run, success=False)
            raise
        finish_temps(run, success=True)
        duration = (time.perf_counter() - t0) * 1000
        result = RunResult(run_id, "success", started, duration, tuple(run.results))
        self._emit(
            run,
            Event(
                "pipeline",
                "end",
                run.pipeline,
                run_id,
                run_id,
                status="success",
                duration_ms=duration,
                rows_written=result.rows_written,
                rows_rejected=result.rejected,
            ),
        )
        self._flush(run)
        return result

    def _params(self, pipeline: type[Any], params: Any) -> Any:
        expected = pipeline.params_type
        if isinstance(params, dict) and expected is not None:
            return msgspec.convert(params, expected, strict=False)
        if expected is not None and not isinstance(params, expected):
            raise TypeError(
                f"{pipeline.__qualname__} runs with {expected.__qualname__}, "
                f"not {type(params).__qualname__}"
            )
        return params

    def _emit(self, run: _Run, event: Event) -> None:
        for observer in [*self.observers, *run.observers]:
            try:
                observer.on_event(event)
            except Exception:
                _log.warning(
                    "ETL observer %r failed on %s %s",
                    observer,
                    event.scope,
                    event.kind,
                    exc_info=True,
                )

    def _flush(self, run: _Run) -> None:
        """Call the optional ``flush()`` of every observer (e.g. a Pushgateway push)."""
        for observer in [*self.observers, *run.observers]:
            flush = getattr(observer, "flush", None)
            if flush is None:
                continue
            try:
                flush()
            except Exception:
                _log.warning("ETL observer %r failed to flush", observer, exc_info=True)

    def _parallel(self, tasks: list[Callable[[], None]]) -> None:
        from django.db import connections

        failed = threading.Event()

        def guarded(task: Callable[[], None]) -> BaseException | None:
            if self.fail_fast and failed.is_set():
                return None  # a member not yet started when a sibling failed
            try:
                task()
            except BaseException as exc:
                failed.set()
                return exc
            finally:
                connections.close_all()
            return None

        with ThreadPoolExecutor(max_workers=self.config.max_workers or len(tasks)) as pool:
            outcomes = list(pool.map(guarded, tasks))
        for outcome in outcomes:
            if outcome is not None:
                raise outcome

    def _process(self, run: _Run, process: ProcessPlan) -> None:
        pid = str(uuid.uuid4())
        self._emit(run, Event("process", "start", process.name, run.run_id, pid, parent=run.run_id))
        t0 = time.perf_counter()
        try:
            for node in process.nodes:
                if isinstance(node, ParallelStepGroup):
                    self._parallel([partial(self._step, run, s, pid) for s in node.plans])
                else:
                    self._step(run, node, pid)
        except BaseException as exc:
            ms = (time.perf_counter() - t0) * 1000
            self._emit_failure(run, self._failure("process", process.name, run, pid, exc, ms))
            raise
        ms = (time.perf_counter() - t0) * 1000
        self._emit(run, Event("process", "end", process.name, run.run_id, pid, "success", ms))

    @staticmethod
    def _failure(
        scope: str, name: str, run: _Run, id_: str, exc: BaseException, ms: float
    ) -> Event:
        interrupted = isinstance(exc, KeyboardInterrupt | RunInterrupted)
        return Event(
            scope,
            "end",
            name,
            run.run_id,
            id_,
            "interrupted" if interrupted else "failed",
            ms,
            error_type=type(exc).__name__,
            error=str(exc),
        )

    def _emit_failure(self, run: _Run, end: Event) -> None:
        """The ERROR event of a scope, then its END carrying the same failure."""
        self._emit(run, replace(end, kind="error"))
        self._emit(run, end)

    def _step(self, run: _Run, step: StepPlan, process_id: str | None = None) -> None:
        if run.cancel is not None:
            run.cancel.check()
        sid = str(uuid.uuid4())
        target, mode = _target_label(step)
        start = Event(
            "step",
            "start",
            step.name,
            run.run_id,
            sid,
            parent=process_id,
            target=target,
            write_mode=mode,
        )
        self._emit(run, start)
        ctx = StepContext(
            run.run_id,
            sid,
            run.pipeline,
            step.name,
            self.backend,
            step.step_type.logger,
            process_run_id=process_id,
            cancellation=run.cancel,
        )
        t0 = time.perf_counter()
        try:
            written, rejected = self._execute_step(run, step, ctx)
        except BaseException as exc:
            ms = (time.perf_counter() - t0) * 1000
            failure = self._failure("step", step.name, run, sid, exc, ms)
            failure = replace(
                failure, parent=process_id, target=target, write_mode=mode, metrics=ctx.metrics
            )
            self._emit_failure(run, failure)
            run.results.append(StepResult(step.name, "failed", ms))
            if not getattr(exc, "_loom_step_noted", False):
                exc.add_note(f"ETL step {step.name} failed")
                exc._loom_step_noted = True  # type: ignore[attr-defined]
            raise
        ms = (time.perf_counter() - t0) * 1000
        run.results.append(StepResult(step.name, "success", ms, written, rejected))
        self._emit(
            run,
            Event(
                "step",
                "end",
                step.name,
                run.run_id,
                sid,
                "success",
                ms,
                written,
                rejected,
                parent=process_id,
                target=target,
                write_mode=mode,
                metrics=ctx.metrics,
            ),
        )

    def _execute_step(self, run: _Run, step: StepPlan, ctx: StepContext) -> tuple[int, int]:
        backend = self._impl
        if step.target_binding.spec.__class__.__name__ == "IntoClient":
            backend.run_client_step(step, run.params)
            return 0, 0
        read = backend.read_source
        if step.streaming:
            read = getattr(backend, "read_streaming", None)
            if read is None:
                raise TypeError(
                    f"step {step.name} is streaming but the {self.backend!r} backend has no "
                    "read_streaming (it is not a StreamingSourceReader)"
                )
        frames = {
            b.alias: read(b, run.params, self.config, run.temps) for b in step.source_bindings
        }
        instance = step.step_type()
        if step.sql is not None:
            frame = backend.run_sql(step, frames, run.params)
        else:
            extra = {"ctx": ctx} if step.wants_ctx else {}
            frame = instance.execute(run.params, **frames, **extra)
        if frame is None:
            raise TypeError(
                f"step {step.step_type.__qualname__} returned None; its target needs a frame"
            )
        try:
            flags: dict[str, Any] = (
                {"streaming": True} if step.streaming and self.backend == "polars" else {}
            )
            audit = audit_values(self.config, run, step.name, ctx.process_run_id)
            if audit is not None:
                flags["audit"] = audit
            counts: tuple[int, int] = backend.write_target(
                step.target_binding, frame, run, self.config, self._runtime, **flags
            )
            return counts
        except RejectThresholdExceeded as exc:
            result = getattr(exc, "result", None)
            if result is not None and step.target_binding.rejects is not None:
                backend.write_rejects(step.target_binding.rejects, result.rejects, run, self.config)
            raise


def _run_transaction(plan: PipelinePlan) -> AbstractContextManager[Any]:
    """One transaction around the whole run for ``atomic`` pipelines, else nothing."""
    if plan.atomic_database is None:
        return nullcontext()
    from django.db import transaction

    return transaction.atomic(using=plan.atomic_database)


def _target_label(step: StepPlan) -> tuple[str, str]:
    target = step.target_binding
    spec = target.spec
    label = target.route.name if target.route else (target.location or type(spec).__name__)
    mode = getattr(spec, "mode", "")
    return label, str(getattr(mode, "value", mode))


def _pipeline_name(pipeline: type[Any]) -> str:
    return pipeline.name or f"{pipeline.__module__.split('.')[0]}.{pipeline.__name__}"
