"""Loom models used by the ORM and door tests (filled in by those suites)."""
