"""``--progress`` renderers (spec §9.9 progress display; §12 item 74)."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import call_command

from loom_django.etl.progress import TtyProgress, choose_mode
from loom_django.etl.runner import Event

pytestmark = pytest.mark.django_db
OK = "tests.etl.pipelines.BooksPipeline"


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _run(out: io.StringIO, *args: str, **options: object) -> str:
    call_command("loom_etl", "run", OK, "-p", "run_date=2026-03-30", *args, stdout=out, **options)
    return out.getvalue()


def test_progress_json_lines_are_one_per_lifecycle_event_plus_a_summary():
    """etl §12.74: every line parses as JSON with the stable keys."""
    lines = [json.loads(x) for x in _run(io.StringIO(), "--progress", "json").splitlines()]
    events, summary = lines[:-1], lines[-1]
    assert [(e["scope"], e["kind"]) for e in events] == [
        ("pipeline", "start"),
        ("process", "start"),
        ("step", "start"),
        ("step", "end"),
        ("process", "end"),
        ("pipeline", "end"),
    ]
    keys = {"ts", "scope", "kind", "name", "run_id", "id", "status", "duration_ms"}
    assert all(keys <= set(e) for e in events)
    assert events[3]["rows_written"] == 1
    assert summary["event"] == "summary" and summary["rows_written"] == 1


def test_progress_auto_on_a_terminal_draws_the_live_tree():
    """etl §12.74: ``auto`` is ``tty`` on a terminal (and ``plain`` otherwise)."""
    out = _run(Terminal(), no_color=True)
    assert out.count("\x1b[J") >= 6 and not re.search(r"\x1b\[\d+m", out)  # no colour
    final = out.rsplit("\x1b[J", 1)[1]
    assert re.search(r"LoadBooks\s+done\s+\d+\.\d\ds  rows=1", final)
    assert "running" in out  # the step was drawn while it ran


def test_progress_auto_with_term_dumb_is_plain(monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    assert choose_mode("auto", Terminal()) == "plain"
    assert choose_mode("auto", io.StringIO()) == "plain"
    monkeypatch.setenv("TERM", "xterm")
    assert choose_mode("auto", Terminal()) == "tty"


def test_progress_plain_prints_one_line_per_finished_scope():
    out = _run(io.StringIO(), "--progress", "plain")
    assert re.search(r"^\S+Z step LoadBooks success \d+\.\d\ds rows=1$", out, re.M)
    assert "\x1b[" not in out


def test_tty_tree_shows_a_failed_step_with_its_error_in_colour():
    out = io.StringIO()
    tty = TtyProgress(out, colour=True, interval=60)
    tty.on_event(Event("pipeline", "start", "p", "r", "r"))
    tty.on_event(Event("step", "start", "Load", "r", "s", parent="r"))
    tty.on_event(Event("step", "end", "Load", "r", "s", "failed", 12.0, error_type="E", error="x"))
    tty.on_event(Event("pipeline", "end", "p", "r", "r", "failed", 13.0))
    final = out.getvalue().rsplit("\x1b[J", 1)[1]
    assert "\x1b[31mfailed" in final and "E: x" in final
    assert final.count("\n") == 2  # redrawn in place: one line per scope


def test_tty_ticker_refreshes_elapsed_time_and_stops_at_the_end():
    """etl §9.9: a running step's elapsed time is redrawn between events."""
    import time

    out = io.StringIO()
    tty = TtyProgress(out, colour=False, interval=0.02)
    tty.on_event(Event("pipeline", "start", "p", "r", "r"))
    tty.on_event(Event("step", "start", "Slow", "r", "s", parent="r"))
    time.sleep(0.2)
    tty.on_event(Event("step", "end", "Slow", "r", "s", "success", 200.0, 3))
    tty.on_event(Event("pipeline", "end", "p", "r", "r", "success", 201.0, 3))
    drawn = out.getvalue()
    assert drawn.count("\x1b[J") > 4  # ticks besides the four events
    out.write("summary\n")
    time.sleep(0.1)
    assert out.getvalue().endswith("summary\n")  # nothing redrawn after the end
