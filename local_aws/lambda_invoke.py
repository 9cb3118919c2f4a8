"""Lambda's Invoke API runs the function, in the same warm workers as API Gateway's calls.

moto's own Invoke tries Docker and answers "error running docker"; with `bind` done (at
start-up, by `server.LocalAws`), `invoke_running_the_function` replaces it (see
`local_aws.patches.moto`) and answers as AWS does:

- `RequestResponse`: 200, the function's result as the payload; on a function error the
  header `X-Amz-Function-Error: Unhandled` and the error (`errorType`, `errorMessage`...)
  as the payload; with `LogType=Tail`, `X-Amz-Log-Result` = base64 of the logs' last 4 KB;
- `Event`: 202 at once, the function runs in the background;
- `DryRun`: 204, nothing runs.

Every invocation's logs go to CloudWatch Logs, as API Gateway's do.

moto answers on one of its worker threads, while the runtime lives on the event loop: the
invocation is handed to the loop (`asyncio.run_coroutine_threadsafe`) and the thread waits
for it, never the loop. While it waits it gives moto's lock back (`services.LOCK`, which
every moto request holds): a function that calls DynamoDB or @connections would otherwise
wait for its own caller, and every other request would wait for the function.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from concurrent.futures import Future as ThreadFuture
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moto.core.exceptions import JsonRESTError

from local_aws.lambda_runtime import function_config
from local_aws.lambda_worker_process import (
    INIT_TIMEOUT_SECONDS,
    FunctionConfig,
    InvocationResult,
)

if TYPE_CHECKING:
    # Imported by local_aws.patches at `import local_aws`: the server's modules (moto's
    # whole WSGI app with them) are only imported once local_aws runs.
    from local_aws.lambda_logs import LambdaLogs
    from local_aws.lambda_runtime import LambdaRuntime

LOG_TAIL_BYTES = 4 * 1024  # AWS's LogResult: the last 4 KB of the invocation's logs
# AWS's payload quotas: 6 MB for a synchronous invocation, 1 MB for an asynchronous one.
MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
MAX_EVENT_PAYLOAD_BYTES = 1024 * 1024
# Event invocations queued or running at once; more are refused (429) instead of piling up.
MAX_PENDING_EVENTS = 1000
_WAIT_MARGIN_SECONDS = 5.0  # on top of init and the function's timeout
_POLL_SECONDS = 0.005  # how often a waiting moto thread looks whether the result is in


@dataclass
class _Binding:
    runtime: LambdaRuntime
    loop: asyncio.AbstractEventLoop
    logs: LambdaLogs
    pending_events: int = 0


_binding: _Binding | None = None
_pending_lock = threading.Lock()


def bind(runtime: LambdaRuntime, loop: asyncio.AbstractEventLoop, executor: Executor) -> None:
    """Run invocations in `runtime` on `loop`; logs are written to moto from `executor`."""
    from local_aws.lambda_logs import LambdaLogs

    global _binding
    _binding = _Binding(runtime, loop, LambdaLogs(executor))


def unbind() -> None:
    """Back to moto's own Invoke (local_aws is shutting down)."""
    global _binding
    _binding = None


async def invoke_and_log(function: FunctionConfig, event: Any) -> InvocationResult:
    """Run the function in the bound runtime (on its loop) and send its logs to CloudWatch Logs,
    as Invoke does: for event source mappings."""
    binding = _binding
    if binding is None:
        return InvocationResult(
            "",
            None,
            {"errorType": "Runtime.Unknown", "errorMessage": "local_aws is stopping"},
            "",
            0.0,
        )
    return await _invoke_and_log(binding, function, event)


def invoke_running_the_function(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto's `LambdaBackend.invoke`, running the function when local_aws is bound."""

    def invoke(
        backend: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> str | bytes | None:
        binding = _binding
        if binding is None:
            return original(backend, function_name, qualifier, body, headers, response_headers)
        function = function_config(backend.get_function(function_name, qualifier))
        kind = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if kind not in ("RequestResponse", "Event", "DryRun"):
            raise JsonRESTError(
                "InvalidParameterValueException",
                f"Invalid InvocationType {kind!r}: use RequestResponse, Event or DryRun.",
            )
        if kind == "DryRun":  # AWS checks the request and runs nothing
            return b""
        event = _event(body, kind)
        if kind == "Event":
            _start_in_background(binding, function, event)
            return b""
        result = _run_and_wait(binding, function, event)
        response_headers["x-amz-executed-version"] = "$LATEST"
        # moto drops it again unless the request asked for LogType=Tail.
        response_headers["x-amz-log-result"] = log_tail(result.logs)
        if result.error is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(result.error).encode()
        return json.dumps(result.payload).encode()

    return invoke


def log_tail(logs: str) -> str:
    """Base64 of the logs' last LOG_TAIL_BYTES, without a character cut in two."""
    tail = logs.encode()[-LOG_TAIL_BYTES:]
    tail = tail.decode("utf-8", "ignore").encode()
    return base64.b64encode(tail).decode("ascii")


def _event(body: Any, kind: str) -> Any:
    """The request's payload as the function's event; AWS's errors for a bad one."""
    raw = body.encode() if isinstance(body, str) else bytes(body or b"")
    limit = MAX_EVENT_PAYLOAD_BYTES if kind == "Event" else MAX_SYNC_PAYLOAD_BYTES
    if len(raw) > limit:
        error = JsonRESTError(
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
        )
        error.code = 413
        raise error
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise JsonRESTError(
            "InvalidRequestContentException",
            f"Could not parse request body into json: {exc}. Send the Payload as JSON.",
        ) from None


async def _invoke_and_log(
    binding: _Binding, function: FunctionConfig, event: Any
) -> InvocationResult:
    result = await binding.runtime.invoke(function, event)
    account_id, region = function.arn.split(":")[4], function.arn.split(":")[3]
    binding.logs.add(account_id, region, function.name, result)
    return result


def _on_the_loop(
    binding: _Binding, function: FunctionConfig, event: Any
) -> ThreadFuture[InvocationResult]:
    """Hand the invocation to the runtime's event loop (from a moto thread)."""
    coroutine = _invoke_and_log(binding, function, event)
    try:
        return asyncio.run_coroutine_threadsafe(coroutine, binding.loop)
    except RuntimeError:  # the loop is closed: local_aws is stopping
        coroutine.close()
        error = JsonRESTError("ServiceException", "local_aws is stopping: try again")
        error.code = 503
        raise error from None


def _start_in_background(binding: _Binding, function: FunctionConfig, event: Any) -> None:
    with _pending_lock:
        if binding.pending_events >= MAX_PENDING_EVENTS:
            error = JsonRESTError("TooManyRequestsException", "Rate Exceeded.")
            error.code = 429
            raise error
        binding.pending_events += 1
    try:
        future = _on_the_loop(binding, function, event)
    except BaseException:
        with _pending_lock:
            binding.pending_events -= 1
        raise

    def done(_: ThreadFuture[Any]) -> None:
        with _pending_lock:
            binding.pending_events -= 1

    future.add_done_callback(done)


def _run_and_wait(binding: _Binding, function: FunctionConfig, event: Any) -> InvocationResult:
    """Run the invocation on the loop; wait for it here, with moto's lock given back."""
    from local_aws import services

    future = _on_the_loop(binding, function, event)
    deadline = (
        time.monotonic() + INIT_TIMEOUT_SECONDS + function.timeout_seconds + _WAIT_MARGIN_SECONDS
    )
    # Condition.wait releases the re-entrant lock however often this thread holds it, and
    # takes it back before returning: the documented way to give back an RLock for a while.
    # Polling instead of a notify keeps the event loop from ever waiting for this lock.
    waiting = threading.Condition(services.LOCK)
    with waiting:
        while not future.done() and time.monotonic() < deadline:
            waiting.wait(_POLL_SECONDS)
    if not future.done():
        future.cancel()
        error = JsonRESTError(
            "ServiceException", f"The function {function.name} did not answer in time"
        )
        error.code = 500
        raise error
    result: InvocationResult = future.result()
    return result
