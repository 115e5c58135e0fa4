"""HTTP plumbing every listener shares: problems, the request log, listeners, closing,
answers written as bytes, and every use of aiohttp's internals (internals.py)."""
