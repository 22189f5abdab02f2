"""Test app of the REST door: models, use cases and interfaces the REST tests serve."""
