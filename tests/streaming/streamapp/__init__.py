"""A Django app whose ``streams`` module registers the flows of the end-to-end tests."""
