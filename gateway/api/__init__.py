"""The admin REST API: routes, JWT auth, request and response models."""
