"""Inbound HTTP: the intake pipeline and the two paths to it, verification schemes,
allowlists, limits and the group-commit writer."""
