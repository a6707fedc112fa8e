"""Reports over HTTP: ``GET /metrics`` and the request-counting middleware."""
