"""A Django app whose ``models`` module holds the loom models the ORM tests map."""
