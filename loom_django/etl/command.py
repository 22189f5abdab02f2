"""``manage.py loom_etl``: list, plan, run and check pipelines, with the exit codes of §9.9.

0 ok · 1 a step failed · 2 usage (unknown pipeline, bad params, unknown ``--include``) ·
3 compile / configuration / pre-flight · 4 reject threshold exceeded · 5 lock held.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from loom_django.etl._params import parse_params
from loom_django.etl.progress import MODES

__all__ = ["Command", "parse_params"]


def _uuid(text: str) -> str:
    return str(uuid.UUID(text))


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError(text)
    return value


def _correlation_id(text: str) -> str:
    import argparse

    from loom_django.etl._temps import check_correlation_id

    try:
        return check_correlation_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = "Run loom ETL pipelines: list, plan, run, check, history, cleanup-correlation."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list").add_argument("--format", choices=("table", "json"), default="table")
        for name in ("plan", "run"):
            p = sub.add_parser(name)
            p.add_argument("pipeline")
            p.add_argument("-p", "--param", action="append", default=[])
            p.add_argument("--params-json", default=None)
            p.add_argument("--include", action="append", default=[])
            p.add_argument("--backend", default=None)
            if name == "plan":
                p.add_argument("--format", choices=("text", "json"), default="text")
                p.add_argument("--no-check-tables", action="store_true")
            else:
                p.add_argument("--dry-run", action="store_true")
                p.add_argument("--run-id", type=_uuid, default=None)
                p.add_argument("--progress", choices=MODES, default="auto")
                p.add_argument("--no-history", action="store_true")
                lock = p.add_mutually_exclusive_group()
                lock.add_argument("--no-lock", action="store_true")
                lock.add_argument("--lock-key", default=None)
                p.add_argument("--timeout", type=_positive, default=None, metavar="SECONDS")
                p.add_argument("--max-workers", type=_positive_int, default=None)
                p.add_argument("--fail-fast", action="store_true")
                p.add_argument("--correlation-id", type=_correlation_id, default=None, metavar="ID")
                p.add_argument("--attempt", type=_positive_int, default=1)
                p.add_argument("--not-last-attempt", action="store_true")
            p.add_argument("--config", action="append", default=[], metavar="FILE")
            p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
        sub.add_parser("check")
        clean = sub.add_parser("cleanup-correlation")
        clean.add_argument("correlation_id", metavar="ID")
        clean.add_argument("--config", action="append", default=[], metavar="FILE")
        clean.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
        h = sub.add_parser("history")
        h.add_argument("what", nargs="?", choices=("list", "show", "prune"), default="list")
        h.add_argument("run_id", nargs="?")
        h.add_argument("--pipeline", default=None)
        h.add_argument("--status", default=None)
        h.add_argument("--since", default=None, metavar="ISO")
        h.add_argument("--limit", type=int, default=20)
        h.add_argument("--format", choices=("table", "json", "text"), default="table")
        h.add_argument("--older-than", type=int, default=None)
        h.add_argument("--reap-stale", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        from loom_django.etl import _cli, _history_cli

        action = options["action"]
        if action == "list":
            _cli.do_list(self.stdout, options["format"])
        elif action == "check":
            _cli.do_check(self.stdout)
        elif action == "cleanup-correlation":
            _cli.do_cleanup_correlation(self.stdout, options)
        elif action == "history":
            _history_cli.do_history(self.stdout, options)
        else:
            _cli.do_plan_or_run(self.stdout, action, options)
