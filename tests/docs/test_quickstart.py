"""docs/quickstart.md is executed: its blocks run in order, in the example store's project."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .blocks import ROOT, blocks

_RUNNER = """
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
namespace = {"__name__": "quickstart"}
for index, code in enumerate(json.loads(sys.stdin.read())):
    exec(compile(code, f"quickstart block {index}", "exec"), namespace)
print("ran", index + 1)
"""


def test_every_quickstart_block_runs_in_the_example_store():
    code = [b.text for b in blocks("quickstart.md") if b.lang == "python"]
    assert len(code) >= 5
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE") and not k.startswith("CELERY_")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL="sqlite:///:memory:",
        CELERY_TASK_ALWAYS_EAGER="1",
        CELERY_BROKER_URL="memory://",
    )
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER],
        input=json.dumps(code),
        cwd=ROOT / "example_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ran {len(code)}" in done.stdout


def test_quickstart_installs_the_apps_the_doors_need():
    text = (ROOT / "docs" / "quickstart.md").read_text()
    assert '"django_celery_results"' in text
    assert '"ninja"' in text
    assert 'pip install "loom-django[rest,celery,postgres]"` installs' not in text
