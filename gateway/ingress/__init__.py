"""Inbound HTTP: routes, verification schemes, allowlists, limits and the group-commit writer."""
