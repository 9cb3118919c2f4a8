"""LambdaRuntime: functions run in warm, isolated worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import re
import textwrap
import threading
import time
import uuid
import zipfile
from collections.abc import Awaitable, Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local_aws import lambda_node_sdk, lambda_packages, lambda_worker_process
from local_aws.lambda_runtime import LambdaRuntime, new_invocation_id
from local_aws.lambda_worker_process import FunctionConfig, InvocationResult
from local_aws.local_tls import LocalTls

ACCOUNT = "123456789012"


def function(
    code: str,
    *,
    name: str = "fn",
    environment: Mapping[str, str] | None = None,
    timeout: float = 3.0,
    handler: str = "index.handler",
    runtime: str = "python3.12",
    filename: str | None = None,
    memory_mb: int = 128,
) -> FunctionConfig:
    """A function whose deployment package holds `code` as index.py (index.js for Node.js)."""
    if filename is None:
        filename = "index.js" if runtime.startswith("nodejs") else "index.py"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(filename, textwrap.dedent(code))
    code_zip = buffer.getvalue()
    return FunctionConfig(
        name=name,
        arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}",
        handler=handler,
        runtime=runtime,
        code_zip=code_zip,
        code_sha256=hashlib.sha256(code_zip).hexdigest(),
        environment=dict(environment or {}),
        timeout_seconds=timeout,
        memory_mb=memory_mb,
    )


def run(
    scenario: Callable[[LambdaRuntime], Awaitable[Any]],
    base_environment: Mapping[str, str] | None = None,
    max_workers: int = 8,
) -> Any:
    """Run `scenario` with a fresh runtime, closed afterwards."""

    async def main() -> Any:
        runtime = LambdaRuntime(base_environment or {"AWS_REGION": "us-east-1"}, max_workers)
        try:
            return await scenario(runtime)
        finally:
            await runtime.close()

    return asyncio.run(main())


def assert_ok(result: InvocationResult) -> Any:
    assert result.error is None, result.logs
    return result.payload


ECHO = """
def handler(event, context):
    return event
"""

STATE = """
import os, time

invocations = 0

def handler(event, context):
    global invocations
    invocations += 1
    time.sleep(event.get("sleep", 0))
    if event.get("exit"):
        os._exit(1)
    if event.get("kill"):
        os.kill(os.getpid(), 9)
    return {"pid": os.getpid(), "invocations": invocations}
"""


def test_echo_handler_returns_the_event() -> None:
    event = {"body": "hello", "requestContext": {"connectionId": "abc="}, "n": [1, 2.5, None]}

    async def scenario(runtime: LambdaRuntime) -> None:
        result = await runtime.invoke(function(ECHO), event, request_id="req-1")
        assert assert_ok(result) == event
        assert result.request_id == "req-1"
        assert not result.timed_out
        assert result.duration_ms >= 0

    run(scenario)


def test_invocation_ids_are_random_uuid4s_in_their_canonical_form() -> None:
    ids = [new_invocation_id() for _ in range(2000)]
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text  # lower-case hex, dashes where uuid4() puts them
    assert len(set(ids)) == len(ids)


def test_request_id_defaults_to_a_uuid4() -> None:
    async def scenario(runtime: LambdaRuntime) -> None:
        result = await runtime.invoke(function(ECHO), {})
        assert uuid.UUID(result.request_id).version == 4
        assert f"START RequestId: {result.request_id} Version: $LATEST" in result.logs

    run(scenario)


def test_environment_is_the_functions_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_AWS_TEST_SERVER_ONLY", "secret")
    code = """
    import os

    def handler(event, context):
        return {"env": dict(os.environ), "cwd": os.getcwd()}
    """
    first = function(code, name="first", environment={"TABLE": "t1", "ONLY_FIRST": "1"})
    second = function(code, name="second", environment={"TABLE": "t2"})
    base = {"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}

    async def scenario(runtime: LambdaRuntime) -> None:
        one = assert_ok(await runtime.invoke(first, {}))
        two = assert_ok(await runtime.invoke(second, {}))
        env = one["env"]
        assert env["TABLE"] == "t1" and env["ONLY_FIRST"] == "1"
        assert env["AWS_REGION"] == "eu-west-1"
        assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
        assert env["AWS_LAMBDA_FUNCTION_NAME"] == "first"
        assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
        assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
        assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/first"
        assert re.fullmatch(
            r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"]
        )
        assert env["_HANDLER"] == "index.handler"
        assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
        assert os.path.samefile(env["LAMBDA_TASK_ROOT"], one["cwd"])
        assert "LOCAL_AWS_TEST_SERVER_ONLY" not in env
        # Nothing of the first function leaks into the second.
        assert two["env"]["TABLE"] == "t2"
        assert "ONLY_FIRST" not in two["env"]
        assert two["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "second"

    run(scenario, base)


def test_module_level_code_runs_once_per_warm_worker() -> None:
    async def scenario(runtime: LambdaRuntime) -> None:
        fn = function(STATE)
        results = [assert_ok(await runtime.invoke(fn, {})) for _ in range(3)]
        assert [r["invocations"] for r in results] == [1, 2, 3]
        assert len({r["pid"] for r in results}) == 1

    run(scenario)


def test_output_goes_to_the_logs_not_the_payload() -> None:
    code = """
    import logging, os, sys

    print("loading")
    logger = logging.getLogger()
    logger.setLevel(logging.INFO)

    def handler(event, context):
        print("to stdout")
        print("to stderr", file=sys.stderr)
        logger.info("via logging")
        os.write(1, b"straight to fd 1\\n")
        print("no newline at the end", end="")
        return "result"
    """

    async def scenario(runtime: LambdaRuntime) -> None:
        fn = function(code)
        first = await runtime.invoke(fn, {}, request_id="r1")
        assert assert_ok(first) == "result"
        logs = first.logs
        assert re.match(
            r"INIT_START Runtime Version: python3\.12 \(.*\)\nloading\nSTART RequestId: r1 ", logs
        )
        for line in ("to stdout", "to stderr", "no newline at the end"):
            assert f"\n{line}\n" in logs
        assert re.search(r"\n\[INFO\]\t\d{4}-\d\d-\d\dT[\d:.]+Z\tr1\tvia logging\n", logs)
        assert "END RequestId: r1\nREPORT RequestId: r1\tDuration: " in logs
        assert "Init Duration" in logs
        # fd 1 is stderr in the worker, which reaches the logs too (unordered, maybe late).
        second = await runtime.invoke(fn, {}, request_id="r2")
        assert "straight to fd 1" in first.logs + second.logs
        assert "INIT_START" not in second.logs and "Init Duration" not in second.logs
        assert "loading" not in second.logs

    run(scenario)


def test_exception_becomes_an_error_and_the_worker_is_reused() -> None:
    code = """
    import os

    def handler(event, context):
        if event.get("fail"):
            return helper()
        return os.getpid()

    def helper():
        raise ValueError("boom")
    """

    async def scenario(runtime: LambdaRuntime) -> None:
        fn = function(code)
        pid = assert_ok(await runtime.invoke(fn, {}))
        failed = await runtime.invoke(fn, {"fail": True})
        assert failed.payload is None
        assert failed.error["errorMessage"] == "boom"
        assert failed.error["errorType"] == "ValueError"
        trace = failed.error["stackTrace"]
        assert len(trace) == 2 and "in handler" in trace[0] and "in helper" in trace[1]
        assert 'raise ValueError("boom")' in trace[1]
        assert "lambda_worker" not in "".join(trace)
        assert "[ERROR] ValueError: boom\nTraceback (most recent call last):\n" in failed.logs
        assert assert_ok(await runtime.invoke(fn, {})) == pid

    run(scenario)


def test_unserialisable_result_is_a_marshal_error() -> None:
    code = """
    from decimal import Decimal

    def handler(event, context):
        if event.get("decimal"):
            return {"count": Decimal("3"), "price": Decimal("1.5")}
        return {1, 2}
    """

    async def scenario(runtime: LambdaRuntime) -> None:
        fn = function(code)
        result = await runtime.invoke(fn, {})
        assert result.error["errorType"] == "Runtime.MarshalError"
        assert result.error["errorMessage"] == (
            "Unable to marshal response: Object of type set is not JSON serializable"
        )
        # boto3's Decimal numbers (from DynamoDB) are returned as numbers, as on AWS.
        assert assert_ok(await runtime.invoke(fn, {"decimal": True})) == {"count": 3, "price": 1.5}

    run(scenario)


def test_import_error_is_reported_for_every_invoke() -> None:
    async def scenario(runtime: LambdaRuntime) -> None:
        broken = function("import not_installed_anywhere\n")
        for _ in range(2):
            result = await runtime.invoke(broken, {})
            assert result.error["errorType"] == "Runtime.ImportModuleError"
            assert result.error["errorMessage"] == (
                "Unable to import module 'index': No module named 'not_installed_anywhere'"
            )
            assert "[ERROR] Runtime.ImportModuleError" in result.logs

        missing = function(ECHO, name="missing", handler="index.nope")
        result = await runtime.invoke(missing, {})
        assert result.error["errorType"] == "Runtime.HandlerNotFound"
        assert result.error["errorMessage"] == "Handler 'nope' missing on module 'index'"

        no_module = function(ECHO, name="no-module", handler="other.handler")
        result = await runtime.invoke(no_module, {})
        assert result.error["errorType"] == "Runtime.ImportModuleError"
        assert result.error["errorMessage"].startswith("Unable to import module 'other'")

        syntax = function("def handler(event, context)\n    return 1\n", name="syntax")
        result = await runtime.invoke(syntax, {})
        assert result.error["errorType"] == "Runtime.UserCodeSyntaxError"

    run(scenario)


def test_timeout_kills_the_worker_and_the_next_invoke_gets_a_fresh_one() -> None:
    async def scenario(runtime: LambdaRuntime) -> None:
        fn = function(STATE, timeout=0.5)
        pid = assert_ok(await runtime.invoke(fn, {}))["pid"]
        started = time.perf_counter()
        result = await runtime.invoke(fn, {"sleep": 5}, request_id="slow")
        assert time.perf_counter() - started < 2
        assert result.timed_out
        assert result.payload is None
        assert result.error["errorType"] == "Sandbox.Timedout"
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z slow Task timed out after 0\.50 seconds",
            result.error["errorMessage"],
        )
        assert result.error["errorMessage"] in result.logs
        fresh = assert_ok(await runtime.invoke(fn, {}))
        assert fresh["pid"] != pid and fresh["invocations"] == 1

    run(scenario)


def test_worker_that_dies_is_replaced() -> None:
    async def scenario(runtime: LambdaRuntime) -> None:
        fn = function(STATE)
        pid = assert_ok(await runtime.invoke(fn, {}))["pid"]
        result = await runtime.invoke(fn, {"exit": True}, request_id="dies")
        assert result.error == {
            "errorMessage": "RequestId: dies Error: Runtime exited with error: exit status 1",
            "errorType": "Runtime.ExitError",
        }
        fresh = assert_ok(await runtime.invoke(fn, {}))
        assert fresh["pid"] != pid and fresh["invocations"] == 1

        killed = await runtime.invoke(fn, {"kill": True}, request_id="killed")
        assert killed.error["errorMessage"] == (
            "RequestId: killed Error: Runtime exited with error: signal: killed"
        )
        assert assert_ok(await runtime.invoke(fn, {}))["invocations"] == 1

    run(scenario)


def test_worker_that_exits_during_init() -> None:
    async def scenario(runtime: LambdaRuntime) -> None:
        fn = function("import sys\nprint('bye')\nsys.exit(3)\n")
        result = await runtime.invoke(fn, {}, request_id="init")
        assert result.error["errorType"] == "Runtime.ExitError"
        assert result.error["errorMessage"].endswith("exit status 3")
        assert "bye" in result.logs

    run(scenario)


def test_init_has_its_own_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lambda_worker_process, "INIT_TIMEOUT_SECONDS", 1.0)
    slow_init = "import time\ntime.sleep(float('{}'))\ndef handler(e, c):\n    return 'ok'\n"

    async def scenario(runtime: LambdaRuntime) -> None:
        # A slow import does not eat into the first invocation's timeout...
        slow = function(slow_init.format(0.6), name="slow", timeout=0.5)
        assert assert_ok(await runtime.invoke(slow, {})) == "ok"
        # ...but an import that never ends is stopped.
        stuck = function(slow_init.format(30), name="stuck", timeout=0.5)
        result = await runtime.invoke(stuck, {}, request_id="stuck")
        assert result.timed_out
        assert result.error["errorMessage"].endswith("stuck Task timed out after 1.00 seconds")

    run(scenario)


def test_concurrent_invokes_run_in_parallel_workers() -> None:
    async def scenario(runtime: LambdaRuntime) -> None:
        fn = function(STATE)
        events = [{"sleep": 0.3}] * 4
        await asyncio.gather(*(runtime.invoke(fn, e) for e in events))  # start 4 workers
        started = time.perf_counter()
        results = await asyncio.gather(*(runtime.invoke(fn, e) for e in events))
        elapsed = time.perf_counter() - started
        assert elapsed < 1.0, elapsed
        assert len({assert_ok(r)["pid"] for r in results}) == 4

    run(scenario, max_workers=4)


def test_pool_never_exceeds_max_workers() -> None:
    async def scenario(runtime: LambdaRuntime) -> None:
        fn = function(STATE)
        started = time.perf_counter()
        results = await asyncio.gather(*(runtime.invoke(fn, {"sleep": 0.2}) for _ in range(6)))
        elapsed = time.perf_counter() - started
        pids = [assert_ok(r)["pid"] for r in results]
        assert len(set(pids)) == 2
        assert elapsed >= 0.6  # three rounds of two
        assert sorted(r.payload["invocations"] for r in results) == [1, 1, 2, 2, 3, 3]

    run(scenario, max_workers=2)


def test_a_cancelled_caller_does_not_lose_the_worker() -> None:
    async def scenario(runtime: LambdaRuntime) -> None:
        fn = function(STATE)
        pid = assert_ok(await runtime.invoke(fn, {}))["pid"]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(runtime.invoke(fn, {"sleep": 0.3}), 0.05)
        # The worker finishes that invocation, then serves the next one.
        result = assert_ok(await runtime.invoke(fn, {}))
        assert result == {"pid": pid, "invocations": 3}

    run(scenario, max_workers=1)


def test_context_object() -> None:
    code = """
    import time

    def handler(event, context):
        before = context.get_remaining_time_in_millis()
        time.sleep(0.05)
        return {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining": [before, context.get_remaining_time_in_millis()],
        }
    """

    async def scenario(runtime: LambdaRuntime) -> None:
        fn = function(code, name="ctx", timeout=2.0)
        context = assert_ok(await runtime.invoke(fn, {}, request_id="the-id"))
        assert context["function_name"] == "ctx"
        assert context["function_version"] == "$LATEST"
        assert context["invoked_function_arn"] == fn.arn
        assert context["memory_limit_in_mb"] == 128
        assert context["aws_request_id"] == "the-id"
        assert context["log_group_name"] == "/aws/lambda/ctx"
        assert "[$LATEST]" in context["log_stream_name"]
        before, after = context["remaining"]
        assert 1500 < before <= 2000
        assert 30 <= before - after < 500

    run(scenario)


async def wait_until_gone(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        await asyncio.sleep(0.02)
    return False


def test_a_changed_function_gets_new_workers() -> None:
    template = (
        "import os\ndef handler(e, c):\n    return ['{}', os.getpid(), os.environ.get('X')]\n"
    )

    async def scenario(runtime: LambdaRuntime) -> None:
        v1 = function(template.format("v1"))
        version, v1_pid, _ = assert_ok(await runtime.invoke(v1, {}))
        assert version == "v1"
        v2 = function(template.format("v2"))
        version, v2_pid, _ = assert_ok(await runtime.invoke(v2, {}))
        assert version == "v2" and v2_pid != v1_pid
        assert await wait_until_gone(v1_pid)  # the old idle worker was stopped
        # New settings, same code: new workers too.
        v2_env = dataclasses.replace(v2, environment={"X": "2"})
        version, pid, x = assert_ok(await runtime.invoke(v2_env, {}))
        assert (version, x) == ("v2", "2") and pid != v2_pid

    run(scenario)


def test_unsupported_runtime_starts_no_process() -> None:
    async def scenario(runtime: LambdaRuntime) -> None:
        result = await runtime.invoke(function(ECHO, name="jv", runtime="java21"), {})
        assert result.error == {
            "errorType": "Runtime.InvalidRuntime",
            "errorMessage": "local_aws cannot run the runtime 'java21' of the function jv: it "
            "runs python3.x and nodejs18.x, nodejs20.x, nodejs22.x, nodejs24.x functions. "
            "Change the function's Runtime to one of those.",
        }
        assert not runtime._workers

    run(scenario)


@contextlib.contextmanager
def recording_server(tls: LocalTls | None = None) -> Iterator[tuple[int, list[str]]]:
    """A local HTTP server (HTTPS with `tls`'s certificates) answering 200 to every POST:
    its port, and the "POST <Host> <path>" it saw."""
    seen: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append(f"POST {self.headers['Host']} {self.path}")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    if tls is not None:
        server.socket = tls.context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def aws_look_alike() -> Iterator[tuple[dict[str, str], list[str], list[str]]]:
    """A plain and a TLS recording server standing in for local_aws's two listeners: the
    environment local_aws gives workers for them, and what each one saw."""
    tls = LocalTls()
    try:
        with (
            recording_server() as (http_port, plain),
            recording_server(tls) as (https_port, tls_seen),
        ):
            environment = {
                **MANAGEMENT_ENVIRONMENT,
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{http_port}",
                "LOCAL_AWS_HTTP_PORT": str(http_port),
                "LOCAL_AWS_HTTPS_PORT": str(https_port),
                **tls.worker_environment(),
            }
            yield environment, plain, tls_seen
    finally:
        tls.close()


MANAGEMENT_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# `@connections` endpoints as functions build them: from the event's domainName (local_aws's
# host name), AWS's public host name, the same with a port, and AWS_ENDPOINT_URL.
AWS_STYLE_ENDPOINTS = (
    "https://abc123.execute-api.localhost/api",
    "https://abc123.execute-api.us-east-1.amazonaws.com/prod",
    "http://abc123.execute-api.localhost:{http_port}/prod",
    "{endpoint}/direct",
)


def endpoints(environment: dict[str, str]) -> list[str]:
    return [
        url.format(
            http_port=environment["LOCAL_AWS_HTTP_PORT"], endpoint=environment["AWS_ENDPOINT_URL"]
        )
        for url in AWS_STYLE_ENDPOINTS
    ]


def expected_hosts(environment: dict[str, str]) -> tuple[list[str], list[str]]:
    """What the plain and the TLS server see: same paths, each Host the one signed for."""
    local = environment["AWS_ENDPOINT_URL"].removeprefix("http://")
    port = environment["LOCAL_AWS_HTTP_PORT"]
    plain = [
        f"POST abc123.execute-api.localhost:{port} /prod/@connections/x%3D",
        f"POST {local} /direct/@connections/x%3D",
    ]
    tls = [
        "POST abc123.execute-api.localhost /api/@connections/x%3D",
        "POST abc123.execute-api.us-east-1.amazonaws.com /prod/@connections/x%3D",
    ]
    return plain, tls


def test_management_api_calls_reach_the_emulator() -> None:
    code = """
    import sys

    def handler(event, context):
        import boto3

        session = boto3.session.Session() if event.get("new_session") else boto3
        client = session.client("apigatewaymanagementapi", endpoint_url=event["endpoint"])
        client.post_to_connection(ConnectionId="x=", Data=b"hello")
        return "sent"
    """
    lazy = """
    import sys

    def handler(event, context):
        return "botocore" in sys.modules
    """

    async def scenario(runtime: LambdaRuntime) -> None:
        fn = function(code)
        for url in endpoints(environment):
            assert assert_ok(await runtime.invoke(fn, {"endpoint": url})) == "sent", url
        # A new botocore session too: the redirect is below every client.
        first = {"endpoint": endpoints(environment)[0], "new_session": True}
        assert assert_ok(await runtime.invoke(fn, first)) == "sent"
        # The redirect itself imports no botocore: a function that never does not pay for it.
        assert assert_ok(await runtime.invoke(function(lazy, name="lazy"), {})) is False

    with aws_look_alike() as (environment, plain, tls):
        run(scenario, environment)
    expected_plain, expected_tls = expected_hosts(environment)
    assert plain == expected_plain
    assert tls == [*expected_tls, expected_tls[0]]


def test_node_management_api_calls_reach_the_emulator() -> None:
    """The SDK v3's PostToConnection to `https://${domainName}/${stage}`, as AWS's patterns
    write it, or to AWS's own host name, reaches local_aws with the Host it was signed for."""
    code = """
    const {
      ApiGatewayManagementApiClient,
      PostToConnectionCommand,
    } = require("@aws-sdk/client-apigatewaymanagementapi");
    exports.handler = async (event) => {
      const client = new ApiGatewayManagementApiClient({ endpoint: event.endpoint });
      await client.send(new PostToConnectionCommand({ ConnectionId: "x=", Data: "hello" }));
      return "sent";
    };
    """

    async def scenario(runtime: LambdaRuntime) -> None:
        fn = node(code, runtime="nodejs24.x")
        for url in endpoints(environment):
            assert assert_ok(await runtime.invoke(fn, {"endpoint": url})) == "sent", url

    with aws_look_alike() as (environment, plain, tls):
        run(scenario, environment)
    assert (plain, tls) == expected_hosts(environment)


def test_node_connections_to_aws_names_go_to_the_two_listeners() -> None:
    """net.connect in each of its argument forms: 443 to the TLS port, 80 to the plain one,
    any other port of an AWS name an error naming local_aws, not a lookup."""
    code = """
    const net = require("node:net");
    exports.handler = ({ host, port, form }) =>
      new Promise((resolve) => {
        const socket = form === "options" ? net.connect({ host, port }) : net.connect(port, host);
        socket.on("connect", () => {
          resolve({ port: socket.remotePort, address: socket.remoteAddress });
          socket.destroy();
        });
        socket.on("error", (error) => resolve({ error: error.message }));
      });
    """
    host = "sqs.us-east-1.amazonaws.com"

    async def scenario(runtime: LambdaRuntime) -> list[Any]:
        fn = node(code)
        return [
            assert_ok(await runtime.invoke(fn, {"host": host, "port": port, "form": form}))
            for port, form in ((443, "options"), (80, "arguments"), (8443, "options"))
        ]

    with aws_look_alike() as (environment, _, _):
        answers = run(scenario, environment)
    https_port, http_port = (int(environment[f"LOCAL_AWS_{k}_PORT"]) for k in ("HTTPS", "HTTP"))
    assert answers[:2] == [
        {"port": https_port, "address": "127.0.0.1"},
        {"port": http_port, "address": "127.0.0.1"},
    ]
    assert answers[2]["error"].startswith(f"local_aws: {host} port 8443 is not served locally")


def test_close_stops_every_worker_and_removes_the_code() -> None:
    code = "import os\ndef handler(e, c):\n    return {'pid': os.getpid(), 'root': os.getcwd()}\n"

    async def main() -> list[dict]:
        runtime = LambdaRuntime({})
        functions = [function(code, name=f"f{i}") for i in range(3)]
        results = await asyncio.gather(*(runtime.invoke(f, {}) for f in functions))
        busy = asyncio.ensure_future(runtime.invoke(function(STATE, name="busy"), {"sleep": 30}))
        await asyncio.sleep(0.3)
        started = time.perf_counter()
        await runtime.close()
        assert time.perf_counter() - started < 3
        assert (await busy).error["errorType"] == "Runtime.ExitError"
        return [assert_ok(r) for r in results]

    for payload in asyncio.run(main()):
        with pytest.raises(ProcessLookupError):
            os.kill(payload["pid"], 0)
        assert not os.path.exists(payload["root"])


def test_sequential_invokes_per_second() -> None:
    """Measures (does not assert) the hot path: an echo handler and a ~900-byte event."""
    event = {
        "requestContext": {
            "routeKey": "sendmessage",
            "eventType": "MESSAGE",
            "connectionId": "ZXhhbXBsZQ=",
            "domainName": "abc123.execute-api.localhost",
            "stage": "api",
            "apiId": "abc123",
        },
        "body": json.dumps({"action": "sendmessage", "data": "x" * 600}),
        "isBase64Encoded": False,
    }
    assert 850 < len(json.dumps(event)) < 950

    async def scenario(runtime: LambdaRuntime) -> tuple[float, float]:
        fn = function(ECHO)
        for _ in range(200):
            await runtime.invoke(fn, event)
        count = 3000
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            result = await runtime.invoke(fn, event)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert assert_ok(result) == event
        return count / wall, cpu / count * 1e6

    rate, cpu_us = run(scenario)
    print(f"\n{rate:.0f} sequential invokes/s, {cpu_us:.0f} us of parent CPU per invoke")


def test_output_is_capped_per_invocation() -> None:
    code = """
    import os
    def handler(event, context):
        if event == "fd":  # straight to the file descriptor, as a subprocess would write
            for _ in range(200):
                os.write(2, b"y" * 8192)
        else:
            for _ in range(100_000):
                print("x" * 20)
        return "done"
    """

    async def scenario(runtime: LambdaRuntime) -> list[InvocationResult]:
        fn = function(code)
        return [await runtime.invoke(fn, kind) for kind in ("print", "fd", "print")]

    for result in run(scenario):
        assert assert_ok(result) == "done"
        assert lambda_worker_process.TRUNCATED_LINE in result.logs
        assert len(result.logs) < lambda_worker_process.OUTPUT_LIMIT_BYTES + 2000


def test_packages_over_250_mb_unzipped_or_leaving_their_directory_are_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.py", ECHO)
        with archive.open("pad.bin", "w", force_zip64=True) as entry:
            for _ in range(251):
                entry.write(bytes(1 << 20))
    with pytest.raises(ValueError, match="Unzipped size must be smaller than 262144000 bytes"):
        lambda_packages.check_package(buffer.getvalue())
    for name in ("../up.py", "/abs.py", "a/../../up.py"):
        escaping = io.BytesIO()
        with zipfile.ZipFile(escaping, "w") as archive:
            archive.writestr(name, "x")
        with pytest.raises(ValueError, match="bad path"):
            lambda_packages.check_package(escaping.getvalue())
    bomb = function(ECHO)
    bomb = dataclasses.replace(bomb, code_zip=buffer.getvalue(), code_sha256="bomb")

    async def scenario(runtime: LambdaRuntime) -> InvocationResult:
        return await runtime.invoke(bomb, {})

    result = run(scenario)
    assert result.error["errorType"] == "Runtime.Unknown"
    assert "Unzipped size must be smaller" in result.error["errorMessage"]


def test_memory_size_is_an_address_space_limit() -> None:
    code = """
    import os
    def handler(event, context):
        if event:
            return len(bytearray(event << 20))
        return os.getpid()
    """

    async def scenario(runtime: LambdaRuntime) -> None:
        fn = dataclasses.replace(function(code), memory_mb=128)
        pid = assert_ok(await runtime.invoke(fn, 0))
        assert assert_ok(await runtime.invoke(fn, 64)) == 64 << 20  # within MemorySize
        result = await runtime.invoke(fn, 1024, request_id="oom")
        assert result.error == {
            "errorMessage": "RequestId: oom Error: Runtime exited with error: signal: killed",
            "errorType": "Runtime.OutOfMemory",
        }
        assert "Runtime.OutOfMemory" in result.logs
        assert "Max Memory Used: 128 MB" in result.logs
        assert await wait_until_gone(pid)
        assert assert_ok(await runtime.invoke(fn, 0)) != pid

    run(scenario)


def test_a_timeout_kills_the_processes_the_function_started() -> None:
    code = """
    import subprocess, time
    children = []
    def handler(event, context):
        children.append(subprocess.Popen(["sleep", "1000"]).pid)
        if event == "hang":
            time.sleep(30)
        return children
    """

    async def scenario(runtime: LambdaRuntime) -> None:
        fn = function(code, timeout=0.5)
        [child] = assert_ok(await runtime.invoke(fn, "start"))
        assert not await wait_until_gone(child, 0.1)  # lives on while its worker is warm
        assert (await runtime.invoke(fn, "hang")).timed_out
        assert await wait_until_gone(child)

    run(scenario)


def test_workers_of_functions_no_longer_current_are_stopped() -> None:
    current = {"fn": True}

    async def main() -> None:
        runtime = LambdaRuntime({}, is_current=lambda f: current[f.name])
        try:
            fn = function("import os\ndef handler(e, c):\n    return os.getpid()\n")
            pid = assert_ok(await runtime.invoke(fn, {}))
            runtime.sweep()
            assert not await wait_until_gone(pid, 0.2)
            current["fn"] = False  # deleted
            runtime.sweep()
            assert await wait_until_gone(pid)
        finally:
            await runtime.close()

    asyncio.run(main())


# Node.js functions: the same runtime, with lambda_worker.js as the worker program.

NODE = "nodejs22.x"
NODE_LOG_LINE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t%s\t%s\t%s\n"


def node(code: str, **kwargs: Any) -> FunctionConfig:
    return function(code, runtime=kwargs.pop("runtime", NODE), **kwargs)


def test_node_async_handler_returns_its_value_from_a_warm_worker() -> None:
    code = """
    let invocations = 0;
    exports.handler = async (event) => {
      invocations += 1;
      return { event, invocations, pid: process.pid };
    };
    """
    event = {"body": "hello", "n": [1, 2.5, None], "nested": {"ok": True}}

    async def scenario(runtime: LambdaRuntime) -> None:
        fn = node(code)
        results = [assert_ok(await runtime.invoke(fn, event)) for _ in range(3)]
        assert [r["event"] for r in results] == [event] * 3
        assert [r["invocations"] for r in results] == [1, 2, 3]
        assert len({r["pid"] for r in results}) == 1

    run(scenario)


def test_node_callback_handler_and_a_plain_return() -> None:
    callback = """
    exports.handler = (event, context, callback) => {
      setTimeout(() => callback(null, { called: event }), 20);
    };
    """
    failing = "exports.handler = (event, context, callback) => callback(new Error('no'));"
    plain = "exports.handler = (event) => 42;"  # neither a promise nor a callback

    async def scenario(runtime: LambdaRuntime) -> None:
        assert assert_ok(await runtime.invoke(node(callback, runtime="nodejs20.x"), 7)) == {
            "called": 7
        }
        failed = await runtime.invoke(node(failing, name="f"), {})
        assert failed.error["errorType"] == "Error" and failed.error["errorMessage"] == "no"
        assert assert_ok(await runtime.invoke(node(plain, name="p"), {})) == 42

    run(scenario)


def test_node_24_refuses_callback_handlers_as_aws_does() -> None:
    code = "exports.handler = (event, context, callback) => callback(null, 1);"

    async def scenario(runtime: LambdaRuntime) -> None:
        result = await runtime.invoke(node(code, runtime="nodejs24.x"), {})
        assert result.error["errorType"] == "Runtime.CallbackHandlerDeprecated"
        assert (
            "removed support for callback-based function handlers" in (result.error["errorMessage"])
        )
        asynchronous = "exports.handler = async (event, context) => 'fine';"
        assert (
            assert_ok(await runtime.invoke(node(asynchronous, name="a", runtime="nodejs24.x"), {}))
            == "fine"
        )

    run(scenario)


def test_node_es_modules() -> None:
    mjs = "export const handler = async (event) => ({ esm: 'mjs', event });"
    typed = "export const handler = async () => ({ esm: 'type module' });"

    async def scenario(runtime: LambdaRuntime) -> None:
        fn = node(mjs, filename="index.mjs")
        assert assert_ok(await runtime.invoke(fn, [1])) == {"esm": "mjs", "event": [1]}
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("src/app.js", typed)
            archive.writestr("package.json", '{"type": "module"}')
        package = dataclasses.replace(
            node(typed, name="typed"),
            handler="src/app.handler",
            code_zip=buffer.getvalue(),
            code_sha256="typed-module",
        )
        assert assert_ok(await runtime.invoke(package, {})) == {"esm": "type module"}

    run(scenario)


def test_node_context_object_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    code = """
    exports.handler = async (event, context) => {
      const before = context.getRemainingTimeInMillis();
      await new Promise((resolve) => setTimeout(resolve, 50));
      return {
        awsRequestId: context.awsRequestId,
        functionName: context.functionName,
        functionVersion: context.functionVersion,
        invokedFunctionArn: context.invokedFunctionArn,
        memoryLimitInMB: context.memoryLimitInMB,
        logGroupName: context.logGroupName,
        logStreamName: context.logStreamName,
        remaining: [before, context.getRemainingTimeInMillis()],
        table: process.env.TABLE,
        region: process.env.AWS_REGION,
        executionEnv: process.env.AWS_EXECUTION_ENV,
        leaked: process.env.LOCAL_AWS_TEST_SERVER_ONLY ?? null,
      };
    };
    """

    async def scenario(runtime: LambdaRuntime) -> None:
        fn = node(code, name="ctx", timeout=2.0, environment={"TABLE": "t1"}, memory_mb=256)
        context = assert_ok(await runtime.invoke(fn, {}, request_id="the-id"))
        assert context["awsRequestId"] == "the-id"
        assert context["functionName"] == "ctx"
        assert context["functionVersion"] == "$LATEST"
        assert context["invokedFunctionArn"] == fn.arn
        assert context["memoryLimitInMB"] == "256"  # a string, as on AWS
        assert context["logGroupName"] == "/aws/lambda/ctx"
        assert "[$LATEST]" in context["logStreamName"]
        before, after = context["remaining"]
        assert 1500 < before <= 2000
        assert 30 <= before - after < 500
        assert context["table"] == "t1" and context["region"] == "us-east-1"
        assert context["executionEnv"] == f"AWS_Lambda_{NODE}"
        assert context["leaked"] is None

    monkeypatch.setenv("LOCAL_AWS_TEST_SERVER_ONLY", "secret")
    run(scenario)


def test_node_console_lines_are_in_the_logs_with_aws_prefixes() -> None:
    code = """
    console.log("loading");
    exports.handler = async () => {
      console.log("hello", { a: 1 });
      console.error("bad %s", "news");
      console.warn("careful");
      process.stdout.write("raw write\\n");
      return "result";
    };
    """

    async def scenario(runtime: LambdaRuntime) -> None:
        fn = node(code)
        first = await runtime.invoke(fn, {}, request_id="r1")
        assert assert_ok(first) == "result"
        logs = first.logs
        assert re.match(
            r"INIT_START Runtime Version: nodejs22\.x \(local_aws on Node\.js [\d.]+\)\n"
            + NODE_LOG_LINE % ("undefined", "INFO", "loading")
            + "START RequestId: r1 ",
            logs,
        ), logs
        assert re.search(NODE_LOG_LINE % ("r1", "INFO", r"hello \{ a: 1 \}"), logs)
        assert re.search(NODE_LOG_LINE % ("r1", "ERROR", "bad news"), logs)
        assert re.search(NODE_LOG_LINE % ("r1", "WARN", "careful"), logs)
        assert "\nraw write\n" in logs
        assert "END RequestId: r1\nREPORT RequestId: r1\tDuration: " in logs
        second = await runtime.invoke(fn, {}, request_id="r2")
        assert "loading" not in second.logs and "INIT_START" not in second.logs

    run(scenario)


def test_node_thrown_error_has_aws_shape_and_the_worker_is_reused() -> None:
    code = """
    function helper() { throw new TypeError("boom"); }
    exports.handler = async (event) => (event.fail ? helper() : process.pid);
    """
    thrown_string = "exports.handler = async () => { throw 'plain'; };"

    async def scenario(runtime: LambdaRuntime) -> None:
        fn = node(code)
        pid = assert_ok(await runtime.invoke(fn, {}))
        failed = await runtime.invoke(fn, {"fail": True}, request_id="e1")
        assert failed.payload is None
        assert failed.error["errorType"] == "TypeError"
        assert failed.error["errorMessage"] == "boom"
        trace = failed.error["trace"]
        assert trace[0] == "TypeError: boom" and "at helper" in trace[1]
        assert "lambda_worker" not in "".join(trace)
        assert re.search(
            NODE_LOG_LINE
            % (
                "e1",
                "ERROR",
                r'Invoke Error \t\{"errorType":"TypeError",'
                r'"errorMessage":"boom","stack":\["TypeError: boom",.*',
            ),
            failed.logs,
        )
        assert assert_ok(await runtime.invoke(fn, {})) == pid
        plain = await runtime.invoke(node(thrown_string, name="s"), {})
        assert plain.error == {"errorType": "string", "errorMessage": "plain", "trace": []}

    run(scenario)


def test_node_init_errors_are_reported_for_every_invoke() -> None:
    async def scenario(runtime: LambdaRuntime) -> None:
        missing = await runtime.invoke(node(ECHO, filename="other.js"), {})
        assert missing.error["errorType"] == "Runtime.ImportModuleError"
        assert missing.error["errorMessage"] == "Error: Cannot find module 'index'"
        not_exported = node("exports.other = async () => 1;", name="ne")
        for _ in range(2):
            result = await runtime.invoke(not_exported, {})
            assert result.error["errorType"] == "Runtime.HandlerNotFound"
            assert result.error["errorMessage"] == "index.handler is undefined or not exported"
        syntax = await runtime.invoke(node("exports.handler = async () => {", name="sx"), {})
        assert syntax.error["errorType"] == "Runtime.UserCodeSyntaxError"

    run(scenario)


def package(files: Mapping[str, str], **kwargs: Any) -> FunctionConfig:
    """A Node.js function whose deployment package holds `files` (path -> source)."""
    fn = node("", **kwargs)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, source in files.items():
            archive.writestr(path, textwrap.dedent(source))
    code_zip = buffer.getvalue()
    sha = hashlib.sha256(code_zip).hexdigest()
    return dataclasses.replace(fn, code_zip=code_zip, code_sha256=sha)


# What the SDK v3 clients report about themselves: the endpoint and region they would call.
SDK_PROBE = """
  const client = new DynamoDBClient({});
  const region = await client.config.region();
  return { client: typeof DynamoDBClient, manage: typeof ApiGatewayManagementApiClient, region };
"""


def test_node_sdk_v3_is_preinstalled_for_require_and_import() -> None:
    """As on AWS's nodejs18.x and later: `require` and `import` find @aws-sdk/* (make installs
    local_aws/node-sdk), from .js, .mjs and a "type": "module" package, with NODE_PATH set."""
    cjs = (
        'const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");\n'
        "const { ApiGatewayManagementApiClient } =\n"
        '  require("@aws-sdk/client-apigatewaymanagementapi");\n'
        "exports.handler = async () => {" + SDK_PROBE + "};"
    )
    esm = (
        'import { DynamoDBClient } from "@aws-sdk/client-dynamodb";\n'
        'import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";\n'
        "export const handler = async () => {" + SDK_PROBE + "};"
    )
    path_probe = "exports.handler = async () => process.env.NODE_PATH;"

    async def scenario(runtime: LambdaRuntime) -> None:
        expected = {"client": "function", "manage": "function", "region": "eu-west-3"}
        for fn in (
            node(cjs, name="cjs", runtime="nodejs24.x"),
            node(esm, name="mjs", filename="index.mjs", runtime="nodejs24.x"),
            package({"package.json": '{"type": "module"}', "index.js": esm}, name="typed"),
        ):
            assert assert_ok(await runtime.invoke(fn, {})) == expected, fn.name
        node_path = assert_ok(await runtime.invoke(node(path_probe, name="np"), {}))
        sdk, task_root = node_path.split(os.pathsep)
        assert os.path.samefile(sdk, lambda_node_sdk.NODE_MODULES)
        assert os.path.isfile(os.path.join(task_root, "index.js"))

    run(scenario, {"AWS_REGION": "eu-west-3"})


def test_node_a_functions_own_sdk_wins_over_the_preinstalled_one() -> None:
    """A package's own node_modules/@aws-sdk/… is what both require and import load."""
    own = {
        "node_modules/@aws-sdk/client-dynamodb/package.json": (
            '{"name": "@aws-sdk/client-dynamodb", "main": "main.js"}'
        ),
        "node_modules/@aws-sdk/client-dynamodb/main.js": 'exports.DynamoDBClient = "bundled";',
    }
    cjs = """
    const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
    exports.handler = async () => DynamoDBClient;
    """
    esm = """
    import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
    export const handler = async () => DynamoDBClient;
    """

    async def scenario(runtime: LambdaRuntime) -> None:
        for name, files in (("cjs", {"index.js": cjs}), ("mjs", {"index.mjs": esm})):
            fn = package({**own, **files}, name=name)
            assert assert_ok(await runtime.invoke(fn, {})) == "bundled", name

    run(scenario)


def test_node_aws_sdk_v2_is_not_there_as_on_aws() -> None:
    """nodejs18.x and later have no SDK v2: AWS's own Runtime.ImportModuleError."""
    cjs = """
    const AWS = require("aws-sdk");
    exports.handler = async () => 1;
    """
    esm = """
    import AWS from "aws-sdk";
    export const handler = async () => 1;
    """

    async def scenario(runtime: LambdaRuntime) -> None:
        required = await runtime.invoke(node(cjs, runtime="nodejs24.x"), {})
        assert required.error["errorType"] == "Runtime.ImportModuleError"
        message = required.error["errorMessage"]
        assert message.startswith("Error: Cannot find module 'aws-sdk'\nRequire stack:\n- ")
        trace = required.error["trace"]
        assert trace[:2] == [
            "Runtime.ImportModuleError: Error: Cannot find module 'aws-sdk'",
            "Require stack:",
        ]
        assert "lambda_worker.js:" not in "".join(trace)  # no frames of local_aws's own
        imported = await runtime.invoke(node(esm, name="m", filename="index.mjs"), {})
        assert imported.error["errorType"] == "Runtime.ImportModuleError"
        assert "Cannot find package 'aws-sdk' imported from " in imported.error["errorMessage"]

    run(scenario)


def test_node_an_sdk_client_local_aws_does_not_carry_says_to_bundle_it() -> None:
    at_invoke = """
    export const handler = async () => {
      await import("@aws-sdk/client-rekognition");
    };
    """

    async def scenario(runtime: LambdaRuntime) -> None:
        result = await runtime.invoke(node(at_invoke, filename="index.mjs"), {})
        assert result.error["errorType"] == "Runtime.ImportModuleError"
        message = result.error["errorMessage"]
        assert "Cannot find module '@aws-sdk/client-rekognition'" in message
        assert "local_aws only @aws-sdk/client-apigatewaymanagementapi, " in message
        assert "npm install @aws-sdk/client-rekognition next to the handler" in message

    run(scenario)


def test_node_sdk_not_installed_says_to_run_make(tmp_path: Any) -> None:
    """Without `make`'s npm ci, the SDK's absence is reported as such, not as AWS's."""
    code = """
    const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
    exports.handler = async () => 1;
    """

    async def main() -> None:
        runtime = LambdaRuntime({}, node_sdk=tmp_path / "node_modules")
        try:
            for _ in range(2):  # an init error: every invocation reports it
                result = await runtime.invoke(node(code), {})
                assert result.error["errorType"] == "Runtime.ImportModuleError"
                message = result.error["errorMessage"]
                assert "Cannot find module '@aws-sdk/client-dynamodb'" in message
                assert "it is not: run `make`" in message
        finally:
            await runtime.close()

    asyncio.run(main())


def test_node_timeout_kills_the_worker_and_the_next_invoke_gets_a_fresh_one() -> None:
    code = """
    exports.handler = async (event) => {
      if (event.hang) await new Promise((resolve) => setTimeout(resolve, 30000));
      return process.pid;
    };
    """

    async def scenario(runtime: LambdaRuntime) -> None:
        fn = node(code, timeout=0.5)
        pid = assert_ok(await runtime.invoke(fn, {}))
        started = time.monotonic()
        result = await runtime.invoke(fn, {"hang": True}, request_id="slow")
        assert time.monotonic() - started < 2
        assert result.timed_out and result.error["errorType"] == "Sandbox.Timedout"
        assert "slow Task timed out after 0.50 seconds" in result.error["errorMessage"]
        assert await wait_until_gone(pid)
        assert assert_ok(await runtime.invoke(fn, {})) != pid

    run(scenario)


def test_node_crash_is_an_exit_error_and_the_heap_is_memory_size() -> None:
    code = """
    exports.handler = async (event) => {
      if (event === "exit") process.exit(3);
      if (event === "uncaught") setTimeout(() => { throw new RangeError("later"); }, 0);
      if (event === "grow") { const kept = []; for (;;) kept.push(new Array(1e6).fill(7)); }
      if (event === "uncaught") await new Promise((resolve) => setTimeout(resolve, 1000));
      return process.pid;
    };
    """

    async def scenario(runtime: LambdaRuntime) -> None:
        fn = node(code, timeout=20)
        assert assert_ok(await runtime.invoke(fn, None))
        exited = await runtime.invoke(fn, "exit", request_id="x1")
        assert exited.error == {
            "errorMessage": "RequestId: x1 Error: Runtime exited with error: exit status 3",
            "errorType": "Runtime.ExitError",
        }
        uncaught = await runtime.invoke(fn, "uncaught")
        assert uncaught.error["errorType"] == "RangeError"
        assert uncaught.error["errorMessage"] == "later"
        grown = await runtime.invoke(fn, "grow", request_id="oom")
        assert grown.error == {
            "errorMessage": "RequestId: oom Error: Runtime exited with error: signal: killed",
            "errorType": "Runtime.OutOfMemory",
        }
        assert "Max Memory Used: 128 MB" in grown.logs
        assert assert_ok(await runtime.invoke(fn, None))  # a fresh worker

    run(scenario)


def test_node_output_is_capped_per_invocation() -> None:
    code = """
    exports.handler = async (event) => {
      for (let i = 0; i < 20000; i++) {
        if (event === "raw") process.stderr.write("y".repeat(100) + "\\n");
        else console.log("x".repeat(100));
      }
      return "done";
    };
    """

    async def scenario(runtime: LambdaRuntime) -> list[InvocationResult]:
        fn = node(code)
        return [await runtime.invoke(fn, kind) for kind in ("console", "raw", "console")]

    for result in run(scenario):
        assert assert_ok(result) == "done"
        assert lambda_worker_process.TRUNCATED_LINE in result.logs
        assert len(result.logs) < lambda_worker_process.OUTPUT_LIMIT_BYTES + 2000


def test_node_a_timeout_kills_the_processes_the_function_started() -> None:
    code = """
    const { spawn } = require("node:child_process");
    const children = [];
    exports.handler = async (event) => {
      children.push(spawn("sleep", ["1000"], { stdio: "ignore" }).pid);
      if (event === "hang") await new Promise((resolve) => setTimeout(resolve, 30000));
      return children;
    };
    """

    async def scenario(runtime: LambdaRuntime) -> None:
        fn = node(code, timeout=0.5)
        [child] = assert_ok(await runtime.invoke(fn, "start"))
        assert not await wait_until_gone(child, 0.1)
        assert (await runtime.invoke(fn, "hang")).timed_out
        assert await wait_until_gone(child)

    run(scenario)
