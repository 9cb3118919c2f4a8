"""Startup + deploy: from spawning `python -m local_aws` to the stack's CREATE_COMPLETE.

Split into spawn → the `local_aws ready on …` line, and create_stack → CREATE_COMPLETE
(polled every 5 ms). The boto3 client is created before the spawn, so its own start-up
(loading service models) is not counted. Each run is a fresh process. Reference (context
only): spawn → ready of the bare `websockets` echo server.
"""

from __future__ import annotations

import time

from benchmarks.processes import LocalAws, ReferenceServer, client, deploy, free_port
from benchmarks.results import Section, Target
from benchmarks.session import Session


def run(session: Session) -> Section:
    runs = session.sizes.startup_runs
    section = Section("Startup + deploy (fresh process each run)")
    section.notes.append(f"{runs} run(s), alternating with the bare echo server's start.")
    ready = section.row("startup: spawn → ready line", "s", "bare echo")
    deploy_row = section.row("deploy: create_stack → CREATE_COMPLETE", "s")
    total = section.row("startup + deploy", "s", target=Target("< 1.5 s", value_max=1.5))
    for run_index in range(runs):
        order = ["local", "bare"] if run_index % 2 == 0 else ["bare", "local"]
        for side in order:
            if side == "bare":
                reference = ReferenceServer("echo")
                ready.ref.add(reference.ready_at - reference.spawned_at)
                reference.stop()
                continue
            port = free_port()
            cloudformation = client("cloudformation", f"http://127.0.0.1:{port}")
            local = LocalAws(port)
            try:
                deploy(cloudformation, "startup")
                deployed_at = time.perf_counter()
            finally:
                local.stop()
            ready.local.add(local.ready_at - local.spawned_at)
            deploy_row.local.add(deployed_at - local.ready_at)
            total.local.add(deployed_at - local.spawned_at)
    return section
