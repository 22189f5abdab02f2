"""Test settings plus the app holding the end-to-end flows (used by subprocess tests)."""

from __future__ import annotations

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.streaming.streamapp"]
LOOM = {"CONFIG": {"app": {"discovery": {"mode": "apps"}}}}
