"""Settings of the example store; ``DATABASE_URL`` picks the database (SQLite by default)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from loom_django.core.config import database_from_url

BASE_DIR = Path(__file__).resolve().parent.parent


def _dev_secret_key() -> str:
    """A key generated once per checkout (var/secret_key, never committed).

    A fixed key in the repository would let anyone forge cursors, sessions and CSRF
    tokens; production sets ``DJANGO_SECRET_KEY`` (``check --deploy`` insists).
    """
    path = BASE_DIR / "var" / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    try:
        with path.open("x") as handle:  # another process may have won the race
            handle.write(key)
        path.chmod(0o600)
    except FileExistsError:
        return path.read_text().strip()
    return key


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _dev_secret_key()
# Off unless asked for: ``make demo`` (scripts/demo.sh) sets DJANGO_DEBUG=true.
DEBUG = os.environ.get("DJANGO_DEBUG", "false").lower() in ("1", "true", "yes")
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves the Swagger UI assets itself: /api/docs works offline
    "loom_django",
    "django_celery_results",
    "store",
]

MIDDLEWARE = [
    "loom_django.middleware.TraceIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLAlchemy-style URLs (postgresql+asyncpg://, sqlite+aiosqlite:///) are accepted too.
# PostgreSQL connections are pooled (psycopg_pool, OPTIONS["pool"]): the one way to reuse
# connections under ASGI, as good as persistent ones under WSGI (docs/deployment.md).
DATABASES = {
    "default": database_from_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

LOOM = {
    "CONFIG_FILES": [BASE_DIR / "config" / "loom.yaml"],
    # sync views (default) or async views for every loom route
    "CONFIG": {
        "app": {"rest": {"handler_mode": os.environ.get("LOOM_REST_HANDLER_MODE", "sync")}},
        # relative ETL file paths (feeds, rejects) resolve here
        "etl": {
            "files_root": os.environ.get("LOOM_ETL_FILES_ROOT", str(BASE_DIR)),
            "spark": {"master": os.environ.get("LOOM_ETL_SPARK_MASTER", "local[*]")},
        },
    },
}

# -- Celery (jobs) ---------------------------------------------------------------------
# Embedded default: kombu's filesystem transport (no broker server; messages are files
# under var/broker) and results in this database (django-celery-results). In production
# set CELERY_BROKER_URL=redis://... or amqp://... (docs/deployment.md). Start a worker with
# ``celery -A config worker -Q default,notifications,analytics,erp`` (scripts/demo.sh does).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _BROKER_DIR = Path(os.environ.get("CELERY_BROKER_DIR", BASE_DIR / "var" / "broker"))
    for _folder in ("queue", "control"):
        (_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "control_folder": str(_BROKER_DIR / "control"),
        "polling_interval": 0.1,
    }
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "false").lower() in (
    "1",
    "true",
    "yes",
)
CELERY_TASK_STORE_EAGER_RESULT = True
