"""The store of the seed demo: users, addresses, products and orders."""
