"""Management commands of loom_django."""
