"""The service: storage, the HTTP API, and the queue that feeds the workers."""
