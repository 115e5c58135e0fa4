"""Outbound deliveries: dispatcher, HTTP client with SSRF guard, signing, backoff."""
