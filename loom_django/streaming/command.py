"""``manage.py loom_stream``: list, check, describe and run stream flows; prune the inbox.

Exit codes: 0 clean stop, 1 runtime failure, 2 usage error, 3 configuration error,
4 forced stop (second signal or drain timeout).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loom_django.streaming import _operations
from loom_django.streaming import describe as _describe
from loom_django.streaming.registry import registry

__all__ = ["Command"]

EXIT_RUNTIME, EXIT_USAGE, EXIT_CONFIG, EXIT_FORCED = 1, 2, 3, 4


class Command(BaseCommand):
    help = "List, check, describe and run loom stream flows (Kafka via Bytewax)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        lst = sub.add_parser("list", help="registered flows and their compile status")
        lst.add_argument("--format", choices=("table", "json"), default="table")
        chk = sub.add_parser("check", help="compile flows and print every error")
        chk.add_argument("flows", nargs="*")
        _config_options(chk)
        desc = sub.add_parser("describe", help="the compiled plan of one flow")
        desc.add_argument("flow")
        desc.add_argument("--format", choices=("text", "json"), default="text")
        _config_options(desc)
        run = sub.add_parser("run", help="run one flow until SIGTERM/SIGINT")
        run.add_argument("flow")
        run.add_argument("--workers", type=_positive, default=None)
        run.add_argument("--max-messages", type=_positive, default=None)
        run.add_argument("--idle-timeout", type=float, default=None)
        run.add_argument("--shutdown-timeout", type=float, default=30.0)
        run.add_argument(
            "--metrics-port", type=_positive, default=None, help="serve Prometheus metrics here"
        )
        run.add_argument(
            "--health-file",
            type=_health_file,
            default=None,
            help="touched after every successful poll",
        )
        run.add_argument(
            "--log-level",
            type=str.upper,
            choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
            default=None,
            help="level of the loom_django loggers (to stderr)",
        )
        run.add_argument(
            "--mock-cluster",
            action="store_true",
            help="start librdkafka's mock cluster in this process and use it",
        )
        _config_options(run)
        prune = sub.add_parser("prune-inbox", help="delete old idempotency records")
        prune.add_argument("--older-than", required=True, metavar="DURATION")
        prune.add_argument("--flow", default=None)
        prune.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "prune-inbox":
            self._prune(options["older_than"], options["flow"], options["database"])
            return
        config = _config(options)
        if action == "list":
            self._list(options["format"])
        elif action == "check":
            self._check(options["flows"], config)
        elif action == "describe":
            self._describe(options["flow"], options["format"], config)
        else:
            self._run(options, config)

    # -- actions --------------------------------------------------------------------

    def _list(self, fmt: str) -> None:
        rows = [_describe.summary(e) for e in registry.all()]
        if fmt == "json":
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for row in rows:
            self.stdout.write(
                f"{row['name']:<24} {row['status']:<10} {','.join(row['source_topics']):<24} "
                f"-> {','.join(row['outputs'])}  [{row['group']}]"
            )

    def _check(self, names: list[str], config: Any) -> None:
        failed = 0
        for name in names or registry.names():
            _, errors = _compile(name, config)
            if errors:
                failed += 1
                for error in errors:
                    self.stderr.write(f"{name}: {error}")
            else:
                self.stdout.write(f"{name}: ok")
        if failed:
            raise CommandError(f"{failed} flow(s) failed to compile", returncode=EXIT_CONFIG)

    def _describe(self, name: str, fmt: str, config: Any) -> None:
        plan, errors = _compile(name, config)
        if plan is None:
            raise CommandError("; ".join(errors), returncode=EXIT_CONFIG)
        data = _describe.describe(plan)
        if fmt == "json":
            self.stdout.write(json.dumps(data, indent=2, default=str))
        else:
            self.stdout.write(_describe.as_text(data))

    def _prune(self, older_than: str, flow: str | None, using: str) -> None:
        from loom_django.streaming.inbox import parse_duration, prune

        try:
            window = parse_duration(older_than)
        except ValueError as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from None
        deleted = prune(window, flow=flow, using=using)
        self.stdout.write(f"deleted {deleted} inbox row(s) older than {older_than}")

    def _run(self, options: dict[str, Any], config: Any) -> None:
        from loom_django.core.errors import MissingDependency

        brokers = None
        cluster = None
        if options["mock_cluster"]:
            from loom_django.streaming.testing import start_mock_cluster

            cluster, brokers = start_mock_cluster()
            self.stdout.write(f"mock cluster: {brokers}")
            self.stdout.flush()
        plan, errors = _compile(options["flow"], config)
        if plan is None:
            raise CommandError("; ".join(errors), returncode=EXIT_CONFIG)
        if cluster is not None:
            from loom_django.streaming.testing import create_topics

            create_topics(cluster, plan.source.topics)
        if options["log_level"]:
            _operations.configure_logging(options["log_level"])
        port, addr = _operations.metrics_endpoint(options["metrics_port"], plan, config)
        try:
            from loom_django.extras import require

            require("bytewax", extra="stream")
            from loom_django.streaming.runner import StreamingRunner
            from loom_django.streaming.tracing import tracer_from_config

            tracing = tracer_from_config(plan.name, _operations.otel_section(config))
            push_url = _operations.pushgateway_url(config)

            runner = StreamingRunner(
                plan,
                runtime_provider=registry.provider,
                workers=options["workers"],
                max_messages=options["max_messages"],
                idle_timeout_s=options["idle_timeout"],
                brokers=brokers,
                prometheus=port is not None or _operations.prometheus_enabled(config),
                health_file=options["health_file"],
                pushgateway_url=push_url,
                tracing=tracing,
            )
        except MissingDependency as exc:
            if exc.package != "bytewax":
                raise CommandError(str(exc), returncode=EXIT_CONFIG) from None
            raise CommandError(
                f"{exc}. Bytewax 0.21.1 ships wheels for Python <= 3.12 only, so "
                f"`loom_stream run` needs Python 3.11 or 3.12 (this is Python "
                f"{sys.version_info.major}.{sys.version_info.minor}); list, check and "
                "describe work without it.",
                returncode=EXIT_CONFIG,
            ) from None
        if port is not None:
            try:
                _operations.serve_metrics(port, addr)
            except OSError as exc:
                raise CommandError(
                    f"cannot serve metrics on {addr}:{port}: {exc}", returncode=EXIT_CONFIG
                ) from None
        from django.db import connections

        connections.close_all()
        restore = _install_signals(runner, options["shutdown_timeout"])
        try:
            runner.run()
        except Exception as exc:
            raise CommandError(
                f"stream {plan.name} failed: {_operations.reason(exc)}", returncode=EXIT_RUNTIME
            ) from None
        finally:
            restore()
            del cluster
        self.stdout.write(f"stream {plan.name}: stopped ({runner.control.reason or 'end'})")


def _config_options(parser: CommandParser) -> None:
    parser.add_argument("--config", action="append", default=[], metavar="FILE")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")


def _health_file(text: str) -> str:
    import argparse

    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"no writable directory for {text!r}")
    return text


def _positive(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer (got {text!r})")
    return value


def _config(options: dict[str, Any]) -> Any:
    """The merged loom configuration plus ``--config`` files and ``--set`` overrides."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException
    from yaml import YAMLError

    from loom_django.conf import conf
    from loom_django.core.errors import ConfigError

    files = options.get("config") or []
    dotlist = options.get("set") or []
    try:
        cfg: Any = conf.loom_config()
        for path in files:
            cfg = OmegaConf.merge(cfg, OmegaConf.load(path))
        if dotlist:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(dotlist)))
        OmegaConf.to_container(cfg, resolve=True)
    except (ConfigError, OmegaConfBaseException, YAMLError, OSError, ValueError) as exc:
        raise CommandError(f"invalid configuration: {exc}", returncode=EXIT_CONFIG) from None
    return cfg


def _compile(name: str, config: Any) -> tuple[Any, list[str]]:
    from loom_django.streaming.compiler import compile_flow
    from loom_django.streaming.errors import StreamCompilationError

    try:
        flow = registry.get(name)
    except KeyError as exc:
        raise CommandError(str(exc.args[0]), returncode=EXIT_USAGE) from None
    compiler = None
    if registry.provider is not None:
        try:
            compiler = registry.provider().compiler
        except Exception as exc:
            return None, [f"loom runtime unavailable: {exc}"]
    try:
        return compile_flow(flow, config=config, compiler=compiler), []
    except StreamCompilationError as exc:
        return None, exc.errors


def _install_signals(runner: Any, timeout_s: float) -> Any:
    """First SIGTERM/SIGINT: drain; second: ``os._exit(4)``; drain past ``timeout_s``: exit 4.

    Returns a function that disarms the watchdog and restores the previous handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    count = [0]
    finished = threading.Event()

    def watchdog() -> None:
        runner.control.event.wait()
        if finished.wait(timeout_s):
            return
        sys.stderr.write(f"stream: drain exceeded {timeout_s}s; forcing exit\n")
        os._exit(EXIT_FORCED)

    def handler(signum: int, frame: Any) -> None:
        count[0] += 1
        if count[0] > 1:
            os._exit(EXIT_FORCED)
        name = signal.Signals(signum).name
        sys.stderr.write(f"stream: stopping ({name})\n")
        runner.request_stop(name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    threading.Thread(target=watchdog, name="loom-stream-watchdog", daemon=True).start()

    def restore() -> None:
        finished.set()
        runner.control.event.set()
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
