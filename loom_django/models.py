"""Imported by Django while it loads models: maps the loom models of ``app.discovery`` modules.

loom_django declares no Django model of its own. Importing the discovery modules here (Django's
model-loading phase) lets loom models outside ``<app>/models.py`` become Django models, so
``makemigrations`` and repositories see them.
"""

from __future__ import annotations

from loom_django.orm.mapping import import_discovery_modules

__all__: list[str] = []

import_discovery_modules()
