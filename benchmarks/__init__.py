"""Benchmarks of local_aws side by side with bare reference servers: `python -m benchmarks`."""
