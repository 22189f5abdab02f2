"""Tests of the streaming door (mirrors loom_django/streaming)."""
