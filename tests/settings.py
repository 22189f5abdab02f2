"""Minimal Django settings for the test suite; ``DATABASE_URL`` selects the database."""

from __future__ import annotations

import os

import dj_database_url

SECRET_KEY = "loom-django-tests"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.admin",
    "django.contrib.sessions",
    "django.contrib.messages",
    "ninja",
    "loom_django",
    "tests.testapp",
    "tests.restapp",
    "django_celery_results",
    "tests.jobsapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
ROOT_URLCONF = "tests.urls"
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", "sqlite://:memory:"))}
# A second database for the multiple-database tests (tests/orm/test_databases.py).
DATABASES["other"] = {**DATABASES["default"], "TEST": {}}
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    # One test database per run, so concurrent runs on one server never drop each other's.
    os.environ.setdefault("LOOM_TEST_DB_SUFFIX", str(os.getpid()))
    suffix = os.environ["LOOM_TEST_DB_SUFFIX"]
    DATABASES["default"]["TEST"] = {"NAME": f"test_loom_{suffix}"}
    DATABASES["other"]["TEST"] = {"NAME": f"test_loom_other_{suffix}"}
LOOM: dict[str, object] = {}
