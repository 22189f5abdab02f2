"""Throwaway Django projects run in a subprocess, to observe startup and management commands."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SETTINGS = """
SECRET_KEY = "x"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "loom_django", "shop"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""


def write_project(root: Path, models: str, extra: dict[str, str] | None = None) -> Path:
    """A project in ``root`` with one app ``shop`` whose ``models.py`` is ``models``."""
    files = {
        "proj_settings.py": SETTINGS,
        "shop/__init__.py": "",
        "shop/migrations/__init__.py": "",
        "shop/models.py": models,
        **(extra or {}),
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def run_django(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``django-admin <args>`` in ``root`` (``setup`` only when no args are given)."""
    code = (
        "import sys, django; django.setup()\n"
        "from django.core.management import call_command\n"
        "args = sys.argv[1:]\n"
        "if args: call_command(*args)\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "proj_settings",
        "PYTHONPATH": os.pathsep.join([str(root), str(ROOT)]),
    }
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
