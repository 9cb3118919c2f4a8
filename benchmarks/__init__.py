"""Benchmarks of local_aws side by side with bare reference servers: `python -m benchmarks`.

Each benchmark module exposes `run(session) -> Section`. The reference servers run in their
own subprocesses (`benchmarks.servers`), so that the client process is the same for local_aws
and for its reference, and trials of the two alternate within one run.
"""
