"""The program inside every local Lambda execution environment.

local_aws starts this file with the function's own environment and working directory
(``python lambda_worker.py <function arn>``, cwd = the unpacked deployment package), much
like the bootstrap of a real Lambda runtime:

1. init: import the handler module once (its module-level code runs here);
2. then, for ever: read an event, call ``handler(event, context)``, send back the result.

It talks to local_aws over its stdin/stdout with frames::

    body length (4 bytes, big-endian) | kind (1 byte) | body

    local_aws -> worker   b"I" invoke  {"id", "timeout_ms", "event"}
    worker -> local_aws   b"R" ready   (empty)              once, after init
                          b"L" log     text the function printed or logged
                          b"T" truncated (empty)            output past the limit was dropped
                          b"D" done    {"id", "duration_ms", "max_memory_mb", "payload" or "error"}
                                       (+ "exiting": true if the worker ends after it)

lambda_worker.js, the program of Node.js functions, speaks the same protocol.

Before the function's code loads, the worker resolves AWS's host names (and the
``{apiId}.execute-api.localhost`` of events) to local_aws, in this process only, when its
environment names local_aws's ports (``redirect_aws_names``, docs/aws-host-names.md).

The function's prints must never corrupt those frames, so the worker keeps private copies
of the two pipes and points file descriptor 1 at stderr; ``sys.stdout``, ``sys.stderr`` and
the root logger all write log frames instead. It imports nothing from local_aws.

Limits, so that a function cannot hang, bloat or outlive local_aws:

- at most OUTPUT_LIMIT_BYTES of log frames per invocation (and per init); the rest is
  dropped here, before it costs local_aws anything, and a "truncated" frame says so;
- an address-space limit (RLIMIT_AS) of MemorySize + ADDRESS_SPACE_HEADROOM_MB: an
  allocation past it raises MemoryError, reported as AWS's Runtime.OutOfMemory;
- the worker dies with local_aws: PR_SET_PDEATHSIG on Linux, and a watchdog thread that
  kills the worker's whole process group (its own children too) once its parent is gone.

``python lambda_worker.py --reaper <code root>`` is a second program: the one watchdog
process of a local_aws, which kills the process groups it is told about and removes the
unpacked code once local_aws has exited, however it exited (SIGKILL included).
"""

import contextlib
import importlib
import io
import json
import logging
import os
import re
import shutil
import signal
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from types import ModuleType
from typing import Any

resource: ModuleType | None
try:
    import resource  # for "Max Memory Used"; Unix only
except ImportError:
    resource = None

FRAME = struct.Struct(">Ic")
OUTPUT_LIMIT_BYTES = (
    256 * 1024
)  # same value as local_aws's lambda_worker_process.OUTPUT_LIMIT_BYTES
# The interpreter, its shared libraries, thread stacks and malloc arenas take address space
# that is not memory in use: 512 MB on top of MemorySize leaves room for them (an idle worker
# with boto3 imported maps ~55 MB, ~190 MB with 8 threads), while 1 GB past MemorySize fails.
ADDRESS_SPACE_HEADROOM_MB = 512
WATCHDOG_SECONDS = 0.2
_PR_SET_PDEATHSIG = 1
_request_id = ""  # the invocation in progress, for the log format


class Channel:
    """Frames to and from local_aws over private duplicates of stdin and stdout."""

    def __init__(self) -> None:
        self._in = os.fdopen(os.dup(0), "rb")
        self._out = os.fdopen(os.dup(1), "wb")
        self._lock = threading.Lock()  # functions may print from their own threads
        # From now on the function's own stdin reads nothing and fd 1 writes go to stderr.
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.dup2(2, 1)

    def send(self, kind: bytes, body: bytes) -> None:
        with self._lock:
            self._out.write(FRAME.pack(len(body), kind) + body)
            self._out.flush()

    def receive(self) -> dict | None:
        """The next request, or None once local_aws has closed the pipe."""
        header = self._in.read(FRAME.size)
        if len(header) < FRAME.size:
            return None
        size, _kind = FRAME.unpack(header)
        return json.loads(self._in.read(size))


class LogWriter(io.RawIOBase):
    """The bytes under sys.stdout/sys.stderr: every flushed chunk becomes a log frame."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._room = OUTPUT_LIMIT_BYTES  # bytes this invocation may still send
        self.truncated = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        size = len(data)
        if size > self._room:
            # Past the limit, output is dropped here: a printing loop must not flood the pipe.
            data = memoryview(data)[: self._room]
        if len(data):
            self._room -= len(data)
            self._channel.send(b"L", bytes(data))
        if size > len(data) and not self.truncated:
            self.truncated = True
            self._channel.send(b"T", b"")  # local_aws adds a line saying so
        return size

    def reset(self) -> None:
        """A new invocation: a new output allowance."""
        self._room = OUTPUT_LIMIT_BYTES
        self.truncated = False

    def fileno(self) -> int:
        # Code that needs a real descriptor (faulthandler, subprocess) gets stderr, whose
        # output local_aws also adds to the logs.
        return 2


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _request_id
        return True


class LambdaContext:
    """The handler's second argument, with the attributes of AWS's context object."""

    # The same for every invocation: read once from the environment at start, see main().
    function_name = function_version = invoked_function_arn = None
    log_group_name = log_stream_name = None
    memory_limit_in_mb = 128
    identity = client_context = None

    def __init__(self, request_id: str, timeout_ms: int) -> None:
        self.aws_request_id = request_id
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    @classmethod
    def describe_function(cls, function_arn: str) -> None:
        cls.invoked_function_arn = function_arn
        cls.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        cls.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        cls.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        cls.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        cls.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")


class Fault(Exception):
    """An error of the runtime itself (bad handler, import error...), not of the function."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None):
        super().__init__(message)
        self.error = {
            "errorMessage": message,
            "errorType": error_type,
            "stackTrace": stack_trace or [],
        }


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    """Import the handler module (running its module-level code) and return the function.

    On failure, return a function that raises the same Fault at every invocation, as AWS
    reports an init error for every invoke.
    """
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        return _always(Fault("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}"))
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        return _always(Fault("Runtime.ImportModuleError", message))
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        message = f"Syntax error in module '{module_name}': {exc}"
        return _always(Fault("Runtime.UserCodeSyntaxError", message, trace))
    except Exception as exc:
        return _always(Fault(type(exc).__name__, str(exc), stack_trace(exc)))
    function = getattr(module, function_name, None)
    if function is None:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        return _always(Fault("Runtime.HandlerNotFound", message))
    return function


def _always(fault: Fault) -> Callable[[Any, Any], Any]:
    def raise_fault(event: Any, context: Any) -> Any:
        raise fault

    return raise_fault


def stack_trace(exc: BaseException) -> list[str]:
    """The traceback as AWS returns it: formatted frames, without this file's own."""
    frames = traceback.extract_tb(exc.__traceback__)
    # As plain tuples the frames print without Python 3.11's "^^^^" markers, like AWS's.
    plain: list[Any] = [
        (f.filename, f.lineno, f.name, f.line) for f in frames if f.filename != __file__
    ]
    return traceback.format_list(plain)


def log_error(error: dict[str, Any], logs: io.TextIOBase) -> None:
    """Log an error the way the AWS Python runtime does: `[ERROR] Type: message` + traceback."""
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if error["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(line for frame in error["stackTrace"] for line in frame.splitlines())
    logs.write("\n".join(lines) + "\n")


def json_default(value: Any) -> int | float:
    """Like the AWS runtime, send boto3's Decimal numbers (from DynamoDB) as JSON numbers."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


to_json = json.JSONEncoder(default=json_default).encode


def max_memory_mb() -> int:
    if resource is None:
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // (1 << 20) if sys.platform == "darwin" else peak // 1024  # bytes vs KiB


def out_of_memory(request_id: str) -> dict[str, str]:
    """The error AWS returns when a function goes past its MemorySize."""
    return {
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
        "errorType": "Runtime.OutOfMemory",
    }


def invoke(
    handler: Callable[[Any, Any], Any], request: dict[str, Any], logs: io.TextIOBase
) -> bytes:
    """Run one invocation; return the body of its "done" frame."""
    global _request_id
    _request_id = request_id = request["id"]
    context = LambdaContext(request_id, request["timeout_ms"])
    started = time.perf_counter()
    payload = error = None
    try:
        payload = handler(request["event"], context)
    except Fault as fault:
        error = fault.error
    except MemoryError:
        # Not the function's error but the platform's: local_aws stops this worker, and the
        # memory is free again once the exception is gone, so the frame can still be sent.
        logs.flush()
        done = {"id": request_id, "duration_ms": (time.perf_counter() - started) * 1000}
        return to_json({**done, "max_memory_mb": 0, "error": out_of_memory(request_id)}).encode()
    except Exception as exc:
        error = {
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "stackTrace": stack_trace(exc),
        }
    done = {
        "id": request_id,
        "duration_ms": (time.perf_counter() - started) * 1000,
        "max_memory_mb": max_memory_mb(),
    }
    if error is None:
        try:
            body = to_json({**done, "payload": payload})
        except (TypeError, ValueError) as exc:
            error = Fault("Runtime.MarshalError", f"Unable to marshal response: {exc}").error
    if error is not None:
        log_error(error, logs)
        body = to_json({**done, "error": error})
    logs.flush()  # the last partial line goes out before the result
    return body.encode()


# AWS's host names (aws and aws-cn partitions) and the `{apiId}.execute-api.localhost` names
# local_aws puts in events: the names local_aws's aws_hosts.is_worker_redirected accepts
# (tests/unit/test_aws_hosts.py checks the two agree).
_REDIRECTED_NAME = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+amazonaws\.com(?:\.cn)?"
    r"|[a-z0-9]+\.execute-api\.localhost",
    re.IGNORECASE,
)
_PORT_NAMES = {"https": 443, "http": 80}


def local_port(host: Any, port: Any, http_port: int, https_port: int) -> int | None:
    """Where a connection to (`host`, `port`) goes on 127.0.0.1, or None: not redirected.

    AWS's names: port 443 to local_aws's TLS listener, 80 to its plain port; any other port
    is 0, refused, so that nothing for AWS leaves the machine. `….execute-api.localhost`
    keeps any other port (its `http://{domainName}:{port}` form names local_aws's port).
    """
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str) or not _REDIRECTED_NAME.fullmatch(host.rstrip(".")):
        return None
    number = _PORT_NAMES.get(port, port) if isinstance(port, str) else port
    try:
        number = int(number) if number is not None else 443
    except ValueError:
        number = -1
    if number in (443, 80):
        return https_port if number == 443 else http_port
    if host.lower().rstrip(".").endswith(".localhost") and 0 < number < 65536:
        return number
    return 0


def redirect_aws_names(http_port: int, https_port: int) -> None:
    """Resolve AWS's host names to local_aws, in this worker only, before the function loads.

    Every Python client looks a host up with socket.getaddrinfo (which calls
    _socket.getaddrinfo, replaced here) and connects to the address it returns (urllib3
    under botocore and requests, http.client, asyncio): answering with 127.0.0.1 and
    local_aws's port sends the connection there, while the URL, the TLS server name (SNI)
    and the Host header, and so the SigV4 signature, keep the AWS name.
    """
    # The C module under `socket`: socket.getaddrinfo looks its function up at every call,
    # and importing it costs 0.5 ms where `socket` (with selectors) costs 4 ms.
    import _socket

    resolve = _socket.getaddrinfo

    def getaddrinfo(
        host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[Any]:
        local = local_port(host, port, http_port, https_port)
        if local is None:
            return resolve(host, port, family, type, proto, flags)
        if local == 0:
            raise _socket.gaierror(
                _socket.EAI_NONAME,
                f"local_aws: {host} port {port} is not served locally: a Lambda function's "
                "connections to AWS host names go to local_aws on ports 443 and 80 only",
            )
        return resolve("127.0.0.1", local, _socket.AF_INET, type, proto, flags)

    _socket.getaddrinfo = getaddrinfo


def limit_memory() -> None:
    """Cap the address space at MemorySize plus the interpreter's headroom."""
    if resource is None or not hasattr(resource, "RLIMIT_AS"):
        return
    memory_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
    limit = (memory_mb + ADDRESS_SPACE_HEADROOM_MB) << 20
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    with contextlib.suppress(ValueError, OSError):  # a stricter limit is already in place
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def die_with_parent(parent_pid: int) -> None:
    """End this worker, and everything it started, when local_aws ends (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        import ctypes

        # The kernel kills this process at once when local_aws dies; the reaper process of
        # local_aws then kills the rest of the group (the function's own children).
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    threading.Thread(target=watch_parent, args=(parent_pid,), daemon=True).start()


def watch_parent(parent_pid: int) -> None:
    """Kill this worker's process group once its parent is gone (reparented: a new ppid)."""
    while os.getppid() == parent_pid:
        time.sleep(WATCHDOG_SECONDS)
    kill_group()


def kill_group() -> None:
    """SIGKILL this worker's process group: the worker and every child it did not detach."""
    try:
        os.killpg(os.getpgrp(), signal.SIGKILL)
    except OSError:
        os._exit(1)


def reap(code_root: str) -> None:
    """The reaper: track "+pgid" / "-pgid" lines until local_aws exits, then clean up."""
    groups: set[int] = set()
    for line in sys.stdin.buffer:  # ends when local_aws closes the pipe or dies
        try:
            sign, pgid = line[:1], int(line[1:])
        except ValueError:
            continue
        if sign == b"+":
            groups.add(pgid)
        else:
            groups.discard(pgid)
    for pgid in groups:
        with contextlib.suppress(OSError):  # that group is gone already
            os.killpg(pgid, signal.SIGKILL)
    shutil.rmtree(code_root, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--reaper":
        reap(sys.argv[2])
        return
    if len(sys.argv) > 2:
        die_with_parent(int(sys.argv[2]))
    limit_memory()
    channel = Channel()
    writer = LogWriter(channel)
    logs = io.TextIOWrapper(
        io.BufferedWriter(writer),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )
    sys.stdout = sys.stderr = logs

    # The root logger writes like AWS's: "[LEVEL]\t<UTC time>\t<request id>\t<message>".
    logging.Formatter.converter = time.gmtime
    log_handler = logging.StreamHandler(logs)
    log_handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    log_handler.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(log_handler)

    # The function's code comes first on the path, instead of this file's directory.
    sys.path[0] = os.environ["LAMBDA_TASK_ROOT"]
    https_port = os.environ.get("LOCAL_AWS_HTTPS_PORT")
    if https_port:  # before the function's code, and its botocore, loads
        redirect_aws_names(int(os.environ.get("LOCAL_AWS_HTTP_PORT", "80")), int(https_port))

    LambdaContext.describe_function(sys.argv[1] if len(sys.argv) > 1 else "")
    handler = load_handler(os.environ["_HANDLER"])
    logs.flush()
    channel.send(b"R", b"")

    while (request := channel.receive()) is not None:
        writer.reset()
        channel.send(b"D", invoke(handler, request, logs))
    # Stopped by local_aws: the function's background processes go with this environment.
    logs.flush()
    kill_group()


if __name__ == "__main__":
    main()
