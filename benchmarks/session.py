"""One benchmark run: its sizes, and the servers shared by the benchmarks, started on demand."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from benchmarks.processes import LocalAws, ReferenceServer, Stack, deploy, table_items


@dataclass(frozen=True)
class Sizes:
    """How much each benchmark does; `--quick` shrinks everything for a smoke run."""

    trials: int = 3
    echo_messages: int = 2000
    echo_warmup: int = 50
    connects: int = 200
    connect_warmup: int = 5
    posts: int = 500
    post_warmup: int = 10
    broadcast_connections: int = 1000
    broadcast_threads: int = 8
    startup_runs: int = 3
    memory_connections: int = 1000


QUICK = Sizes(
    trials=1,
    echo_messages=300,
    echo_warmup=20,
    connects=40,
    posts=100,
    broadcast_connections=200,
    startup_runs=1,
    memory_connections=200,
)


class Session:
    """Owns every server it starts, and stops them all in close()."""

    def __init__(self, sizes: Sizes) -> None:
        self.sizes = sizes
        self._local: LocalAws | None = None
        self._stack: Stack | None = None
        self._references: dict[str, ReferenceServer] = {}

    @property
    def local(self) -> LocalAws:
        """The shared local_aws, with the stack deployed."""
        if self._local is None:
            self._local = LocalAws()
            self._stack = deploy(self._local.client("cloudformation"), "bench")
        self._local.check_alive()
        return self._local

    @property
    def stack(self) -> Stack:
        _ = self.local
        assert self._stack is not None
        return self._stack

    def reference(self, kind: str) -> ReferenceServer:
        """A reference server of `benchmarks.servers`: "echo", "event" or "http"."""
        if kind not in self._references:
            self._references[kind] = ReferenceServer(kind)
        server = self._references[kind]
        server.check_alive()
        return server

    def wait_for_empty_table(self, dynamodb: Any, timeout: float = 10.0) -> int:
        """Wait until the sessions table is empty (every $disconnect done); items left."""
        deadline = time.monotonic() + timeout
        while True:
            left = len(table_items(dynamodb, self.stack.table))
            if left == 0 or time.monotonic() > deadline:
                return left
            time.sleep(0.05)

    def close(self) -> None:
        for server in [*self._references.values(), self._local]:
            if server is not None:
                server.stop()
