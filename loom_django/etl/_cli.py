"""What each ``loom_etl`` action does; errors become ``CommandError(returncode=N)``."""

from __future__ import annotations

import json
import signal
import uuid
from typing import Any

import msgspec
from django.core.management.base import CommandError
from django.db import DatabaseError
from django.utils.connection import ConnectionDoesNotExist

from loom_django.etl.errors import (
    ETLCompilationError,
    ETLCompilationErrorGroup,
    InvalidStageError,
    RejectThresholdExceeded,
    RunInterrupted,
)

__all__ = [
    "do_check",
    "do_cleanup_correlation",
    "do_list",
    "do_plan_or_run",
    "registry_or_exit",
    "render_plan",
]

EXIT_FAILED, EXIT_USAGE, EXIT_COMPILE, EXIT_REJECTS, EXIT_LOCKED = 1, 2, 3, 4, 5
EXIT_SIGINT, EXIT_SIGTERM = 130, 143


def registry_or_exit() -> Any:
    """The pipeline registry; exit 3 if the door failed to start (bad config, import error)."""
    from loom_django.etl.registry import registry

    if registry.failures:
        raise CommandError(registry.failures[0], returncode=EXIT_COMPILE)
    return registry


def do_list(out: Any, fmt: str) -> None:
    """One entry per registered pipeline, sorted by name."""
    entries = []
    for name, cls in registry_or_exit().all():
        entries.append(
            {
                "name": name,
                "class": f"{cls.__module__}.{cls.__qualname__}",
                "description": cls.description or (cls.__doc__ or "").strip().split("\n")[0],
                "engines": list(cls.engines) if cls.engines else ["polars", "spark"],
                "params": msgspec.json.schema(cls.params_type) if cls.params_type else None,
            }
        )
    if fmt == "json":
        out.write(json.dumps(entries, sort_keys=True))
        return
    for entry in entries:
        out.write(f"{entry['name']:<30} {entry['class']}  {entry['description']}")


def do_check(out: Any) -> None:
    """Compile every registered pipeline and run its pre-flight; exit 3 on any problem."""
    from loom_django.etl.preflight import preflight_errors

    registry = registry_or_exit()
    problems = [f"{name}: {err}" for name, err in sorted(registry.errors.items())]
    for name, plan in sorted(registry.plans.items()):
        problems.extend(
            f"{name}: [{e.code}] {e.component}: {e.message}" for e in preflight_errors(plan)
        )
    if problems:
        raise CommandError("\n".join(problems), returncode=EXIT_COMPILE)
    out.write(f"{len(registry.plans)} pipeline(s) OK")


def do_cleanup_correlation(out: Any, options: dict[str, Any]) -> None:
    """Delete the CORRELATION-scope temps of one logical job (after its last attempt)."""
    from loom_django.etl._temps import cleanup_correlation

    try:
        removed = cleanup_correlation(_config(options), options["correlation_id"])
    except ValueError as exc:
        raise CommandError(str(exc), returncode=EXIT_USAGE) from None
    state = "removed" if removed else "none found"
    out.write(f"correlation {options['correlation_id']}: temps {state}")


def _config(options: dict[str, Any]) -> Any:
    """The ``etl`` config with ``--config`` files, ``--set`` overrides and flags applied."""
    from loom_django.core.errors import ConfigError
    from loom_django.etl.config import load_config

    config = registry_or_exit().config
    files, dotlist = options.get("config") or [], options.get("set") or []
    if files or dotlist:
        try:
            config = load_config(files=files, dotlist=dotlist)
        except (ConfigError, msgspec.ValidationError) as exc:
            raise CommandError(
                f"invalid etl configuration: {exc}", returncode=EXIT_COMPILE
            ) from None
        except ValueError as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from None
    if options.get("max_workers") is not None:
        config = msgspec.structs.replace(config, max_workers=options["max_workers"])
    return config


def _runner(
    config: Any, backend: str | None, observers: list[Any], *, fail_fast: bool = False
) -> Any:
    """A runner for ``--backend``, else ``engine`` from the config; exit 3 if unavailable."""
    from loom_django.core.errors import MissingDependency
    from loom_django.etl.backends import BackendError
    from loom_django.etl.compiler import ETLCompiler
    from loom_django.etl.runner import ETLRunner

    registry = registry_or_exit()
    compiler = registry.compiler if config is registry.config else ETLCompiler(config)
    try:
        return ETLRunner(
            config,
            runtime=registry.runtime,
            observers=observers,
            compiler=compiler,
            backend=backend or config.engine,
            fail_fast=fail_fast,
        )
    except MissingDependency as exc:
        raise CommandError(
            f"{exc}: the backend needs loom-django[{exc.extra}]", returncode=EXIT_COMPILE
        ) from None
    except (BackendError, ImportError) as exc:
        raise CommandError(str(exc), returncode=EXIT_COMPILE) from None


def render_plan(plan: Any, name: str, params: Any, backend: str, fmt: str) -> str:
    """A deterministic description of ``plan`` (text tree or sorted JSON)."""
    from loom_django.etl.plan import ParallelProcessGroup, ParallelStepGroup
    from loom_django.etl.runner import render_params

    rendered = render_params(params) if params is not None else {}

    def fill(location: str | None) -> str | None:
        if location is None or "{" not in location:
            return location
        try:
            return location.format(**rendered)
        except (KeyError, IndexError, ValueError):
            return location

    def step_info(step: Any, parallel: bool) -> dict[str, Any]:
        target = step.target_binding
        spec = target.spec
        info: dict[str, Any] = {
            "step": step.name,
            "parallel": parallel,
            "sources": [
                {
                    "alias": b.alias,
                    "kind": type(b.spec).__name__,
                    "table": b.route.name if b.route else None,
                    "location": fill(b.location),
                }
                for b in step.source_bindings
            ],
            "target": {
                "kind": type(spec).__name__,
                "table": target.route.name if target.route else None,
                "location": fill(target.location),
            },
            "warnings": list(step.warnings),
        }
        mode = getattr(spec, "mode", None)
        if mode is not None:
            explicit = getattr(spec, "explicit", True)
            info["target"]["mode"] = f"{mode}" + ("" if explicit else " (implicit)")
        use_case = getattr(spec, "use_case", None)
        if use_case is not None:
            info["target"]["use_case"] = use_case.__qualname__
            info["target"]["on_error"] = spec.on_error
            if target.rejects is not None:
                info["target"]["rejects"] = fill(target.rejects.location) or (
                    target.rejects.route.name if target.rejects.route else None
                )
        return info

    processes: list[dict[str, Any]] = []
    for pnode in plan.nodes:
        members = pnode.plans if isinstance(pnode, ParallelProcessGroup) else (pnode,)
        for process in members:
            steps: list[dict[str, Any]] = []
            for snode in process.nodes:
                group = isinstance(snode, ParallelStepGroup)
                members_of = snode.plans if isinstance(snode, ParallelStepGroup) else (snode,)
                steps.extend(step_info(step, group) for step in members_of)
            processes.append(
                {
                    "process": process.name,
                    "parallel": isinstance(pnode, ParallelProcessGroup),
                    "steps": steps,
                }
            )
    doc = {
        "pipeline": name,
        "class": plan.pipeline_type.__name__,
        "backend": backend,
        "params": rendered,
        "processes": processes,
        "warnings": list(plan.warnings),
    }
    if fmt == "json":
        return json.dumps(doc, sort_keys=True, default=str)
    lines = [
        f"{name}  ({doc['class']})  backend={backend}  params: "
        + " ".join(f"{k}={v}" for k, v in rendered.items())
    ]
    for process in processes:
        lines.append(f"└─ {process['process']}")
        step: dict[str, Any]
        for step in process["steps"]:
            mark = "∥ " if step["parallel"] else ""
            srcs = ", ".join(
                f"{s['alias']}={s['table'] or s['location'] or s['kind']}" for s in step["sources"]
            )
            tgt = step["target"]
            where = tgt["table"] or tgt["location"] or tgt["kind"]
            if "use_case" in tgt:
                where = f"use case {tgt['use_case']} on_error={tgt['on_error']}"
                where += f" rejects={tgt['rejects']}" if tgt.get("rejects") else ""
            mode = f" {tgt['mode']}" if "mode" in tgt else ""
            lines.append(f"   ├─ {mark}{step['step']}  {srcs or '-'} → {where}{mode}")
    lines.append("warnings: " + ("; ".join(plan.warnings) if plan.warnings else "none"))
    return "\n".join(lines)


def _execute(
    runner: Any,
    pipeline: Any,
    name: str,
    params: Any,
    backend: str,
    options: dict[str, Any],
    config: Any,
) -> Any:
    """Run under the pipeline lock with history; map failures to exit codes."""
    from loom_django.core.errors import MissingDependency
    from loom_django.etl.cancel import Cancellation, cancel_after, cancel_on_signals
    from loom_django.etl.errors import LockHeldError
    from loom_django.etl.launch import Launch, launch

    how = Launch(
        include=options["include"],
        run_id=options["run_id"] or str(uuid.uuid4()),
        history=not options["no_history"],
        lock=not options["no_lock"],
        lock_key=options["lock_key"],
        attempt=options.get("attempt") or 1,
        last_attempt=not options.get("not_last_attempt"),
        correlation_id=options.get("correlation_id"),
    )
    cancel = Cancellation()
    if backend == "spark":
        cancel.callbacks.append(_cancel_spark_jobs)
    try:
        with cancel_on_signals(cancel), cancel_after(cancel, options.get("timeout")):
            return launch(runner, pipeline, name, params, how, cancel=cancel)
    except LockHeldError as exc:
        raise CommandError(str(exc), returncode=EXIT_LOCKED) from None
    except MissingDependency as exc:
        raise CommandError(str(exc), returncode=EXIT_COMPILE) from None
    except (DatabaseError, ConnectionDoesNotExist) as exc:
        raise CommandError(
            f"cannot take the pipeline lock on database {config.history.database!r}: {exc} "
            "(or run with --no-lock)",
            returncode=EXIT_COMPILE,
        ) from None
    except KeyboardInterrupt:
        raise SystemExit(EXIT_SIGINT) from None
    except RunInterrupted as exc:
        if exc.signum is None:
            raise CommandError(f"{exc} (run {how.run_id})", returncode=EXIT_FAILED) from None
        raise SystemExit(EXIT_SIGTERM if exc.signum == signal.SIGTERM else EXIT_SIGINT) from None
    except RejectThresholdExceeded as exc:
        raise CommandError(f"{exc} (run {how.run_id})", returncode=EXIT_REJECTS) from None
    except Exception as exc:
        if options.get("traceback"):
            raise
        notes = "; ".join(getattr(exc, "__notes__", []))
        raise CommandError(
            f"{type(exc).__name__}: {exc} ({notes})", returncode=EXIT_FAILED
        ) from None


def _cancel_spark_jobs() -> None:
    from loom_django.etl._spark_backend import get_session

    get_session(registry_or_exit().config).sparkContext.cancelAllJobs()


def _compile_message(exc: ETLCompilationError) -> str:
    """The error with its code and component (a group already lists both per error)."""
    if isinstance(exc, ETLCompilationErrorGroup):
        return str(exc)
    return f"[{exc.code}] {exc.component}: {exc}"


def do_plan_or_run(out: Any, action: str, options: dict[str, Any]) -> None:
    """``plan`` prints the plan; ``run`` executes it with progress output."""
    from loom_django.etl._params import parse_params
    from loom_django.etl._temps import correlation_temps
    from loom_django.etl.compiler import check_temps
    from loom_django.etl.preflight import preflight
    from loom_django.etl.progress import choose_mode, progress_observer
    from loom_django.etl.runner import filter_plan

    registry = registry_or_exit()
    name = options["pipeline"]
    try:
        pipeline = registry.get(name)
    except KeyError:
        known = [n for n, _ in registry.all()]
        raise CommandError(
            f"unknown pipeline {name!r}; registered: {known}", returncode=EXIT_USAGE
        ) from None
    try:
        params = parse_params(pipeline.params_type, options["param"], options["params_json"])
    except ValueError as exc:
        raise CommandError(str(exc), returncode=EXIT_USAGE) from None
    config = _config(options)
    observers: list[Any] = []
    mode = "none"
    verbosity = options.get("verbosity", 1)
    if action == "run" and verbosity > 0:
        mode = choose_mode(options["progress"], out)
        observer = progress_observer(mode, out, colour=not options.get("no_color"))
        observers = [observer] if observer is not None else []
    runner = _runner(
        config, options["backend"], observers, fail_fast=options.get("fail_fast", False)
    )
    backend = runner.backend
    try:
        plan = runner.compiler.compile(pipeline, backend=backend)
        if options["include"]:
            full, plan = plan, filter_plan(plan, options["include"])
            kept = correlation_temps(full) if options.get("correlation_id") else ()
            check_temps(plan, kept)
        if action == "run" or not options.get("no_check_tables"):
            preflight(plan, runner.config.storage.missing_table_policy)
    except InvalidStageError as exc:
        raise CommandError(str(exc), returncode=EXIT_USAGE) from None
    except ETLCompilationError as exc:
        raise CommandError(_compile_message(exc), returncode=EXIT_COMPILE) from None
    if action == "plan" or options.get("dry_run"):
        out.write(render_plan(plan, name, params, backend, options.get("format", "text")))
        return
    if verbosity >= 3:
        out.write(render_plan(plan, name, params, backend, "text"))
    result = _execute(runner, pipeline, name, params, backend, options, config)
    if verbosity == 0:
        return
    summary = {
        "event": "summary",
        "run_id": result.run_id,
        "status": result.status,
        "rows_written": result.rows_written,
        "rows_rejected": result.rejected,
        "duration_ms": round(result.duration_ms, 3),
    }
    if mode == "json":
        out.write(json.dumps(summary, sort_keys=True))
    else:
        out.write(
            f"{name} {result.status} run_id={result.run_id} rows={result.rows_written} "
            f"rejected={result.rejected} {result.duration_ms / 1000:.2f}s"
        )
