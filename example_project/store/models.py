"""Loom models of the store (users, addresses, products, orders) go here."""
