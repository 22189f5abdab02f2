"""ASGI applications of the benchmark: loom's handler and, for comparison, Django's own.

``LOOM_BENCH_ASGI_THREADS`` sets the loom handler's thread count (default 1).
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.rest.settings")

from django.core.handlers.asgi import ASGIHandler

from loom_django.asgi import get_asgi_application

application = get_asgi_application(threads=int(os.environ.get("LOOM_BENCH_ASGI_THREADS", "1")))
django_application = ASGIHandler()
