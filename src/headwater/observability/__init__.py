"""What an operator sees: logging (request and run ids, no secrets) and Prometheus metrics."""
