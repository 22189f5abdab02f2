"""Settings of the Celery worker processes the integration tests start.

The worker uses the test database of the pytest run that started it
(``LOOM_WORKER_DB_NAME``) and the broker and queue prefix chosen by that run.
"""

from __future__ import annotations

import json
import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

DATABASES["default"]["NAME"] = os.environ["LOOM_WORKER_DB_NAME"]
DATABASES["default"].pop("TEST", None)
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("LOOM_WORKER_CONN_MAX_AGE", "0"))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = os.environ.get(
        "LOOM_WORKER_APP_NAME", "loom-test-worker"
    )

CELERY_BROKER_URL = os.environ["LOOM_WORKER_BROKER_URL"]
CELERY_BROKER_TRANSPORT_OPTIONS = json.loads(os.environ.get("LOOM_WORKER_TRANSPORT_OPTIONS", "{}"))
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("LOOM_WORKER_DEFAULT_QUEUE", "default")
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_LOG_FORMAT = (
    "[%(asctime)s %(levelname)s %(processName)s trace=%(trace_id)s] %(message)s"
)
CELERY_WORKER_TASK_LOG_FORMAT = CELERY_WORKER_LOG_FORMAT

if os.environ.get("LOOM_WORKER_BROKEN_CONFIG"):
    LOOM = {"CONFIG": {"celery": {"queues": ["default"], "task_default_queue": "elsewhere"}}}
