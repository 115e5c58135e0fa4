"""webhook-gateway: durable webhook ingest on PostgreSQL, signed fan-out with retries."""

__version__ = "0.1.0"
