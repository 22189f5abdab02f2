"""ASGI entry point (``uvicorn config.asgi:application``).

loom's handler runs each request's sync work (middleware, view, signals) in one thread
hop; see docs/deployment.md#web-serving.
"""

from __future__ import annotations

import os

from loom_django.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()
