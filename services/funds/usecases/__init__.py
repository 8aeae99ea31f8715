"""Funds' use cases: each a command or a query, carried out through a unit of work."""
