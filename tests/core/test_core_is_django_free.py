"""ARCHITECTURE: ``loom_django.core`` never imports Django."""

from __future__ import annotations

import subprocess
import sys


def test_importing_every_core_module_loads_no_django():
    code = (
        "import pkgutil, importlib, sys, loom_django.core as core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'loom_django.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "import loom_django.testing\n"
        "bad = sorted(n for n in sys.modules if n == 'django' or n.startswith('django.'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
