"""Runs Lambda functions' Python code in warm worker processes.

Each worker process is one execution environment, as on AWS: it imports the function's
code once, then serves invocations one at a time, with its own environment variables,
modules and crashes. Workers are reused while idle, and a function scales up to
``max_workers_per_function`` of them under concurrent load.

This module is the event-loop side. It never blocks: workers are asyncio subprocesses
whose pipes carry small length-prefixed frames (see lambda_worker.py for the protocol),
and timeouts are loop timers.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import math
import os
import shutil
import signal
import struct
import sys
import tempfile
import time
import uuid
import weakref
import zipfile
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

WORKER_PROGRAM = str(Path(__file__).with_name("lambda_worker.py"))
INIT_TIMEOUT_SECONDS = 10.0  # AWS's limit for importing the handler module
_EXIT_GRACE_SECONDS = 0.5  # how long to wait for a dead worker's last output
_STOP_SECONDS = 1.0  # how long close() lets workers exit before killing them
_FRAME = struct.Struct(">Ic")  # body length, kind: the framing of lambda_worker.py
_INHERITED_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")
_LOCAL_PYTHON = f"local_aws on Python {sys.version.split()[0]}"  # may differ from `runtime`


@dataclass(frozen=True)
class FunctionConfig:
    """What the runtime needs to know about a function."""

    name: str
    arn: str
    handler: str  # "module.function", e.g. "index.handler"
    runtime: str  # e.g. "python3.12"; only python3.* is supported
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


class LambdaRuntime:
    """Warm worker pools for Lambda functions, one pool per function version."""

    def __init__(
        self, base_environment: Mapping[str, str], max_workers_per_function: int = 8
    ) -> None:
        """`base_environment` is added to every worker's environment (endpoint, credentials...)."""
        self._base_environment = dict(base_environment)
        self._max_workers = max(1, max_workers_per_function)
        self._pools: dict[str, _Pool] = {}  # function ARN -> pool of its current version
        self._workers: set[_Worker] = set()  # every live worker, of every pool
        self._code_root: str | None = None
        self._remove_code: Callable[[], object] = lambda: None
        self._code_dirs: dict[str, asyncio.Task[str]] = {}  # code_sha256 -> unpacked dir
        self._code_dir_numbers = itertools.count()
        self._closed = False

    async def invoke(
        self, function: FunctionConfig, event: Any, request_id: str | None = None
    ) -> InvocationResult:
        """Run the function on `event`. Errors of any kind come back in the result."""
        request_id = request_id or str(uuid.uuid4())
        if not function.runtime.startswith("python3"):
            message = f"local_aws runs Python functions only; {function.runtime} is not supported"
            return _failed(request_id, "Runtime.InvalidRuntime", message)
        if self._closed:
            return _failed(request_id, "Runtime.Unknown", "the Lambda runtime is closed")
        try:
            request = {
                "id": request_id,
                "timeout_ms": int(function.timeout_seconds * 1000),
                "event": event,
            }
            body = json.dumps(request).encode()
        except (TypeError, ValueError) as exc:
            message = f"Could not serialize the event as JSON: {exc}"
            return _failed(request_id, "InvalidRequestContentException", message)
        try:
            worker = await self._pool(function).acquire()
        except Exception as exc:
            message = f"Could not start the function {function.name}: {exc}"
            return _failed(request_id, "Runtime.Unknown", message)
        return await worker.invoke(request_id, body, function.timeout_seconds)

    async def close(self) -> None:
        """Stop every worker and remove the unpacked code."""
        self._closed = True
        for pool in self._pools.values():
            pool.retire(closing=True)
        self._pools.clear()
        workers = list(self._workers)
        for worker in workers:
            worker.stop()  # closing its stdin makes the worker's loop end
        if workers:
            await asyncio.wait([w.exited for w in workers], timeout=_STOP_SECONDS)
            for worker in workers:
                worker.kill()
            await asyncio.wait([w.exited for w in workers], timeout=_STOP_SECONDS)
        self._code_root = None
        self._code_dirs.clear()
        await asyncio.to_thread(self._remove_code)

    def _pool(self, function: FunctionConfig) -> _Pool:
        """The pool of the function's current version; a new version retires the old pool."""
        pool = self._pools.get(function.arn)
        if pool is None or not pool.runs(function):
            if pool is not None:
                pool.retire()
            pool = self._pools[function.arn] = _Pool(self, function, self._max_workers)
        return pool

    async def _start_worker(
        self, function: FunctionConfig, on_free: Callable[[_Worker], None]
    ) -> _Worker:
        if self._closed:
            raise RuntimeError("the Lambda runtime is closed")
        code_dir = await self._unpack(function)
        loop = asyncio.get_running_loop()
        _, worker = await loop.subprocess_exec(
            lambda: _Worker(function, on_free),
            sys.executable,
            WORKER_PROGRAM,
            function.arn,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=code_dir,
            env=self._environment(function, code_dir),
            start_new_session=True,  # a Ctrl-C in the server's terminal is not for the workers
        )
        self._workers.add(worker)
        worker.exited.add_done_callback(lambda _: self._workers.discard(worker))
        if self._closed:
            worker.kill()
            raise RuntimeError("the Lambda runtime is closed")
        return worker

    def _environment(self, function: FunctionConfig, code_dir: str) -> dict[str, str]:
        """A fresh environment, as on AWS: nothing else leaks in from the server's."""
        environment = {k: os.environ[k] for k in _INHERITED_ENVIRONMENT if k in os.environ}
        environment.update(self._base_environment)
        environment.update({str(k): str(v) for k, v in function.environment.items()})
        environment.update(
            AWS_LAMBDA_FUNCTION_NAME=function.name,
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(function.memory_mb),
            AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{function.name}",
            AWS_LAMBDA_LOG_STREAM_NAME=f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}",
            LAMBDA_TASK_ROOT=code_dir,
            _HANDLER=function.handler,
            AWS_EXECUTION_ENV=f"AWS_Lambda_{function.runtime}",
        )
        return environment

    async def _unpack(self, function: FunctionConfig) -> str:
        """The directory of the function's code, unzipped once per code_sha256."""
        task = self._code_dirs.get(function.code_sha256)
        if task is None:
            if self._code_root is None:
                self._code_root = tempfile.mkdtemp(prefix="local_aws_lambda_")
                # Removed by close(), or at exit if the server stops without calling it.
                self._remove_code = weakref.finalize(self, shutil.rmtree, self._code_root, True)
            target = os.path.join(self._code_root, f"code{next(self._code_dir_numbers)}")
            # Unzipping a big package takes a while: off the event loop.
            task = asyncio.ensure_future(asyncio.to_thread(_unzip, function.code_zip, target))
            self._code_dirs[function.code_sha256] = task
        try:
            # Shielded: other invocations may be waiting for the same task.
            return await asyncio.shield(task)
        except Exception:
            if self._code_dirs.get(function.code_sha256) is task:
                del self._code_dirs[function.code_sha256]  # try again next time
            raise


def _unzip(code_zip: bytes, target: str) -> str:
    with zipfile.ZipFile(io.BytesIO(code_zip)) as archive:
        archive.extractall(target)
    return target


class _Pool:
    """The workers of one version of one function."""

    def __init__(self, runtime: LambdaRuntime, function: FunctionConfig, max_workers: int) -> None:
        self._runtime = runtime
        self._function = function
        self._max_workers = max_workers
        self._workers: set[_Worker] = set()  # live workers, busy or idle
        self._idle: list[_Worker] = []
        self._starting = 0
        self._waiters: deque[asyncio.Future[_Worker | None]] = deque()
        self._retired = False
        self._closing = False

    def runs(self, function: FunctionConfig) -> bool:
        """Whether this pool's workers run `function` as it is now (same code and settings)."""
        mine = self._function
        return (
            function.code_sha256 == mine.code_sha256
            and function.handler == mine.handler
            and function.runtime == mine.runtime
            and function.memory_mb == mine.memory_mb
            and function.environment == mine.environment
        )

    async def acquire(self) -> _Worker:
        """An idle worker, a new one if there is room, or else the next one freed (FIFO)."""
        while True:
            if self._closing:
                raise RuntimeError("the Lambda runtime is closed")
            if self._idle:
                return self._idle.pop()  # the most recently used one: the warmest
            if len(self._workers) + self._starting < self._max_workers:
                return await self._start()
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                worker = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                    self.release(waiter.result())  # handed over just as we were cancelled
                raise
            if worker is not None:
                return worker
            # None: a worker died, so there is room to start another.

    async def _start(self) -> _Worker:
        self._starting += 1
        try:
            worker = await self._runtime._start_worker(self._function, self.release)
        finally:
            self._starting -= 1
        self._workers.add(worker)
        return worker

    def release(self, worker: _Worker) -> None:
        """Called by a worker when its invocation is over, and when it has exited."""
        if worker.dead:
            if worker in self._workers:
                self._workers.remove(worker)
                if worker in self._idle:
                    self._idle.remove(worker)
                self._hand_over(None)
        elif not self._hand_over(worker):
            if self._retired:
                worker.stop()
            else:
                self._idle.append(worker)

    def retire(self, closing: bool = False) -> None:
        """Stop the idle workers; busy ones stop when their invocation is over."""
        self._retired = True
        self._closing = closing
        for worker in self._idle:
            worker.stop()
        self._idle.clear()
        if closing:
            while self._waiters:
                self._hand_over(None)

    def _hand_over(self, worker: _Worker | None) -> bool:
        """Give `worker` (None: a free slot) to the longest-waiting caller, if any."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # skip callers that were cancelled
                waiter.set_result(worker)
                return True
        return False


class _Worker(asyncio.SubprocessProtocol):
    """The local_aws end of one worker process, which runs one invocation at a time."""

    def __init__(self, function: FunctionConfig, on_free: Callable[[_Worker], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._function = function
        self._on_free = on_free
        self._transport: asyncio.SubprocessTransport | None = None
        self._stdin: asyncio.WriteTransport | None = None
        self._buffer = bytearray()  # received bytes that do not make a whole frame yet
        self._output: list[bytes] = []  # printed/logged by the function, not yet reported
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
        if self._stdin is not None:
            self._stdin.close()

    def kill(self) -> None:
        self.dead = True
        if not self.exited.done():
            with contextlib.suppress(ProcessLookupError):  # it has just exited
                self._transport.kill()

    # asyncio.SubprocessProtocol callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._stdin = transport.get_pipe_transport(0)
        # Read stdout ourselves: the subprocess transport would pass each chunk on one loop
        # iteration later, and this is the hot path of every invocation.
        stdout = transport.get_pipe_transport(1)
        stdout.set_protocol(_StdoutReader(self._on_stdout, stdout.get_protocol()))

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:  # only if some output came before connection_made
            self._on_stdout(data)
        else:  # stderr: written straight to the file descriptors, e.g. by a subprocess
            self._output.append(data)

    def _on_stdout(self, data: bytes) -> None:
        """Handle the whole frames in `data`, keeping any incomplete one for later."""
        buffer = self._buffer
        if buffer:
            buffer += data
            data = buffer
        start = 0
        while len(data) - start >= _FRAME.size:
            size, kind = _FRAME.unpack_from(data, start)
            end = start + _FRAME.size + size
            if len(data) < end:
                break
            body = data[start + _FRAME.size : end]
            start = end
            if kind == b"D":
                self._on_done(json.loads(body))
            elif kind == b"L":
                self._output.append(body)
            elif kind == b"R":
                self._on_ready()
        if data is buffer:
            del buffer[:start]
        else:
            buffer += data[start:]

    def process_exited(self) -> None:
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
        self._output.clear()
        if self._timer is not None:  # the first invocation's own timeout starts now
            self._timer.cancel()
            self._timer = self._loop.call_later(self._timeout, self._on_timeout)
            self._started = time.perf_counter()

    def _on_done(self, message: dict) -> None:
        if self._future is None:
            return
        error = message.get("error")
        payload = message.get("payload") if error is None else None
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
        error = {"errorMessage": message, "errorType": "Runtime.ExitError"}
        duration_ms = (time.perf_counter() - self._started) * 1000
        note = f"{message}\nRuntime.ExitError"
        self._finish(None, error, duration_ms, note=note, status="error")

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
        self._output.clear()
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
            max_memory_mb=max_memory_mb,
            init=(init[0], init[1].decode("utf-8", "replace")) if init else None,
            note=note,
            status=status,
        )
        if not future.done():  # done: the caller was cancelled and does not wait any more
            future.set_result(
                InvocationResult(request_id, payload, error, logs, duration_ms, timed_out)
            )
        self._on_free(self)


class _StdoutReader(asyncio.Protocol):
    """The protocol of a worker's stdout pipe: data to the worker, the end to asyncio."""

    def __init__(self, on_data: Callable[[bytes], None], pipe_protocol: asyncio.BaseProtocol):
        self.data_received = on_data
        self._pipe_protocol = pipe_protocol  # asyncio's, which tracks when the process is gone

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
        lines += f"INIT_START Runtime Version: {function.runtime} ({_LOCAL_PYTHON})\n"
        lines += _whole_lines(init[1])
        report += f"\tInit Duration: {init[0]:.2f} ms"
    if status:
        report += f"\tStatus: {status}"
    lines += f"START RequestId: {request_id} Version: $LATEST\n"
    lines += _whole_lines(output) + _whole_lines(note)
    return f"{lines}END RequestId: {request_id}\n{report}\n"


def _whole_lines(text: str) -> str:
    return text + "\n" if text and not text.endswith("\n") else text


def _failed(request_id: str, error_type: str, message: str) -> InvocationResult:
    """A result for an invocation that never reached a worker."""
    logs = (
        f"START RequestId: {request_id} Version: $LATEST\n[ERROR] {error_type}: {message}\n"
        f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: 0.00 ms\n"
    )
    error = {"errorMessage": message, "errorType": error_type}
    return InvocationResult(request_id, None, error, logs, 0.0)


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
