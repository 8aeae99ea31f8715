"""Funds' domain: pure rules, no nameko, HTTP or SQL."""
