"""Shared test helpers: a real PostgreSQL, real senders and subscribers on loopback."""
