"""Benchmark settings: the example store plus the two hand-written baselines.

Every target runs in the same Django process with the same middleware and database, so
only the view layer differs. Each server gets the connection handling it is deployed with
(docs/deployment.md#web-serving): persistent connections under gunicorn's sync workers
(``LOOM_BENCH_SERVER=wsgi``), psycopg's pool under uvicorn (``asgi``).
"""

from __future__ import annotations

import os

from config.settings import *  # noqa: F403
from config.settings import DATABASES, INSTALLED_APPS

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework"]
ROOT_URLCONF = "bench.rest.urls"
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
if os.environ.get("LOOM_BENCH_SERVER", "wsgi") == "wsgi":
    DATABASES["default"]["OPTIONS"].pop("pool", None)
    DATABASES["default"]["CONN_MAX_AGE"] = None
else:
    DATABASES["default"]["OPTIONS"]["pool"] = True
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
