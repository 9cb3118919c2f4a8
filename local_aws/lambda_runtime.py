"""Runs Lambda functions' Python code in warm worker processes.

Each worker process is one execution environment, as on AWS: it imports the function's
code once, then serves invocations one at a time, with its own environment variables,
modules and crashes. Workers are reused while idle, and a function scales up to
``max_workers_per_function`` of them under concurrent load.

This module is the event-loop side. It never blocks: workers are asyncio subprocesses
whose pipes carry small length-prefixed frames (see lambda_worker.py for the protocol),
and timeouts are loop timers.

A function cannot hang, bloat or outlive local_aws:

- each worker is its own process group (and session), and stopping or killing a worker
  kills the group, so the function's own child processes go with it;
- a reaper process (lambda_worker.py --reaper) kills the groups still alive and removes the
  unpacked code once local_aws exits, even after a SIGKILL; workers also die with it;
- output is capped at OUTPUT_LIMIT_BYTES per invocation (the worker drops the rest, and
  so does this side, for output written straight to the file descriptors), followed by a
  line saying it was truncated; a frame bigger than MAX_FRAME_BYTES kills the worker;
- MemorySize is an address-space limit in the worker (Runtime.OutOfMemory past it);
- deployment packages over AWS's 250 MB unzipped, or with paths leaving the package, are
  refused by moto's CreateFunction/UpdateFunctionCode (see refusing_bad_packages);
- with an `is_current` check, workers of deleted or changed functions are stopped within
  SWEEP_SECONDS.
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
import subprocess
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
from typing import Any, cast

WORKER_PROGRAM = str(Path(__file__).with_name("lambda_worker.py"))
INIT_TIMEOUT_SECONDS = 10.0  # AWS's limit for importing the handler module
_EXIT_GRACE_SECONDS = 0.5  # how long to wait for a dead worker's last output
_STOP_SECONDS = 1.0  # how long close() lets workers exit before killing them
OUTPUT_LIMIT_BYTES = 256 * 1024  # per invocation, as lambda_worker.OUTPUT_LIMIT_BYTES
TRUNCATED_LINE = (
    f"local_aws: this invocation's output was truncated after {OUTPUT_LIMIT_BYTES} bytes"
)
# The largest frame a worker may send: a 6 MB response (AWS's payload limit) JSON-encoded.
MAX_FRAME_BYTES = 16 * 1024 * 1024
UNZIPPED_LIMIT_BYTES = 262_144_000  # AWS: 250 MB unzipped, package and layers
SWEEP_SECONDS = 1.0  # how often workers of deleted or changed functions are looked for
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
        self,
        base_environment: Mapping[str, str],
        max_workers_per_function: int = 8,
        is_current: Callable[[FunctionConfig], bool] | None = None,
    ) -> None:
        """`base_environment` is added to every worker's environment (endpoint, credentials...).

        `is_current(function)` says whether the function still exists with the same code;
        pools of functions for which it is False are stopped (see moto_function_is_current).
        """
        self._base_environment = dict(base_environment)
        self._is_current = is_current
        self._sweeper: asyncio.Task[None] | None = None
        self._reaper: subprocess.Popen[bytes] | None = None
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
        if self._sweeper is not None:
            self._sweeper.cancel()
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
        await asyncio.to_thread(self._stop_reaper)

    def _stop_reaper(self) -> None:
        """Closing its stdin is the reaper's signal that local_aws is done (blocking)."""
        reaper, self._reaper = self._reaper, None
        if reaper is None:
            return
        if reaper.stdin is not None:
            with contextlib.suppress(OSError):
                reaper.stdin.close()
        try:
            reaper.wait(timeout=_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            reaper.kill()
            reaper.wait()

    def _tell_reaper(self, line: str) -> None:
        """Send "+pgid" for a new worker's group, "-pgid" once that group is killed."""
        stdin = self._reaper.stdin if self._reaper is not None else None
        if stdin is not None:
            with contextlib.suppress(OSError, ValueError):  # a reaper that died: no cleanup
                stdin.write(line.encode() + b"\n")
                stdin.flush()

    def _pool(self, function: FunctionConfig) -> _Pool:
        """The pool of the function's current version; a new version retires the old pool."""
        pool = self._pools.get(function.arn)
        if pool is None or not pool.runs(function):
            if pool is not None:
                pool.retire()
            pool = self._pools[function.arn] = _Pool(self, function, self._max_workers)
        if self._is_current is not None and self._sweeper is None:
            self._sweeper = asyncio.ensure_future(self._sweep())
        return pool

    async def _sweep(self) -> None:
        """Stop the workers of functions that were deleted or changed (and their code)."""
        while not self._closed:
            await asyncio.sleep(SWEEP_SECONDS)
            self.sweep()

    def sweep(self) -> None:
        """One pass of _sweep: retire stale pools, then remove code no pool runs any more."""
        for arn, pool in list(self._pools.items()):
            if not self._still_current(pool.function):
                pool.retire()
                del self._pools[arn]
        in_use = {pool.function.code_sha256 for pool in self._pools.values()}
        for sha, task in list(self._code_dirs.items()):
            if sha not in in_use and task.done() and not task.cancelled() and not task.exception():
                del self._code_dirs[sha]
                # A busy worker of a retired pool keeps its open files; new ones unpack again.
                asyncio.ensure_future(asyncio.to_thread(shutil.rmtree, task.result(), True))

    def _still_current(self, function: FunctionConfig) -> bool:
        if self._is_current is None:
            return True
        try:
            return self._is_current(function)
        except Exception:  # a failing check must not stop workers that may be in use
            return True

    async def _start_worker(
        self, function: FunctionConfig, on_free: Callable[[_Worker], None]
    ) -> _Worker:
        self._raise_if_closed()
        code_dir = await self._unpack(function)
        loop = asyncio.get_running_loop()
        _, worker = await loop.subprocess_exec(
            lambda: _Worker(function, on_free),
            sys.executable,
            WORKER_PROGRAM,
            function.arn,
            str(os.getpid()),  # the worker dies when this process does
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=code_dir,
            env=self._environment(function, code_dir),
            # Its own session and process group: a Ctrl-C in the server's terminal is not for
            # the workers, and killing the group kills what the function started.
            start_new_session=True,
        )
        self._workers.add(worker)
        pgid = worker.pid
        self._tell_reaper(f"+{pgid}")

        def exited(_: object) -> None:
            self._workers.discard(worker)
            self._tell_reaper(f"-{pgid}")

        worker.exited.add_done_callback(exited)
        try:
            self._raise_if_closed()  # closed while the worker was starting
        except RuntimeError:
            worker.kill()
            raise
        return worker

    def _raise_if_closed(self) -> None:
        if self._closed:
            raise RuntimeError("the Lambda runtime is closed")

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
            code_root = self._code_root or self._make_code_root()
            target = os.path.join(code_root, f"code{next(self._code_dir_numbers)}")
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

    def _make_code_root(self) -> str:
        """The directory of every unpacked package, and the reaper that removes it."""
        self._code_root = code_root = tempfile.mkdtemp(prefix="local_aws_lambda_")
        # Removed by close(), or at exit if the server stops without calling it...
        self._remove_code = weakref.finalize(self, shutil.rmtree, code_root, True)
        # ...or by the reaper if this process dies without any cleanup (SIGKILL).
        self._reaper = subprocess.Popen(
            [sys.executable, WORKER_PROGRAM, "--reaper", code_root],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # outlives a Ctrl-C or a kill of this process's group
        )
        return code_root


def check_package(code_zip: bytes) -> None:
    """Refuse a package AWS would refuse, from its central directory, before unzipping it.

    Raises ValueError with AWS's message for more than 250 MB unzipped (a zip bomb is
    small until it is extracted), and for entries whose path would leave the package.
    """
    with zipfile.ZipFile(io.BytesIO(code_zip)) as archive:
        entries = archive.infolist()
    if sum(entry.file_size for entry in entries) > UNZIPPED_LIMIT_BYTES:
        raise ValueError(f"Unzipped size must be smaller than {UNZIPPED_LIMIT_BYTES} bytes")
    for entry in entries:
        name = entry.filename.replace("\\", "/")
        if name.startswith("/") or ".." in name.split("/") or ":" in name.split("/")[0]:
            raise ValueError(f"Could not unzip the deployment package: bad path {name!r}")


def _unzip(code_zip: bytes, target: str) -> str:
    check_package(code_zip)
    # zipfile stops each entry at its declared size, so the check above bounds the disk used.
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

    @property
    def function(self) -> FunctionConfig:
        return self._function

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


def moto_function_is_current(function: FunctionConfig) -> bool:
    """Whether moto's Lambda backend still has the function, with the same code.

    Reads only, without the lock, like the gateway's own look-ups: a dict lookup is atomic.
    """
    from moto.awslambda.utils import get_backend

    parts = function.arn.split(":")
    try:
        current = get_backend(parts[4], parts[3]).get_function(function.arn)
    except Exception:  # moto raises its UnknownFunctionException once it is deleted
        return False
    return current.code_sha_256 == function.code_sha256


def refusing_bad_packages(
    read: Callable[..., tuple[bytes, int, str, str]],
) -> Callable[..., tuple[bytes, int, str, str]]:
    """moto's reader of a deployment package, refusing what AWS refuses (check_package).

    moto's CreateFunction / UpdateFunctionCode (and CloudFormation's AWS::Lambda::Function)
    read the package through `_zipfile_content` or `_s3_content`; `local_aws.patches.moto`
    puts this wrapper around both, so a refused package answers InvalidParameterValueException.
    """
    from moto.awslambda.exceptions import InvalidParameterValueException

    def read_and_check(*args: Any, **kwargs: Any) -> tuple[bytes, int, str, str]:
        content = read(*args, **kwargs)
        try:
            check_package(content[0])
        except zipfile.BadZipFile:
            pass  # moto's own answer for a package that is not a zip stays as it is
        except ValueError as refused:
            raise InvalidParameterValueException(str(refused)) from None
        return content

    return read_and_check
