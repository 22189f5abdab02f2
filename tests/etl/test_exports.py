"""``loom_django.etl.__all__`` matches its public names; the door imports without polars."""

from __future__ import annotations

import subprocess
import sys

import loom_django.etl as etl


def test_all_lists_exactly_the_public_names():
    public = {n for n in vars(etl) if not n.startswith("_")} - {"annotations"}
    modules = {n for n in public if type(getattr(etl, n)).__name__ == "module"}
    assert set(etl.__all__) == public - modules


def test_importing_the_package_imports_neither_polars_nor_pyspark():
    code = (
        "import sys, loom_django.etl, loom_django.etl.door; "
        "print('polars' in sys.modules, 'pyspark' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
