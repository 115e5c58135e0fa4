"""HTTP plumbing every listener shares: problems, the request log, listeners, closing,
answers written as bytes."""
