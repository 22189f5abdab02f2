"""The loom_django test suite (pytest-django)."""
