"""Lambda functions cannot hang, bloat or outlive local_aws.

Each test acts as a user with a hostile or buggy function: a printing loop, background
processes, a big allocation, a zip bomb, a deleted function. They run against dedicated
local_aws processes, since several of them kill things.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.support import LocalAwsProcess, deploy, wait_for
from tests.support.clients import ask, connect

BAD_CODE = """\
import json
import os
import subprocess
import time


def handler(event, context):
    message = json.loads(event["body"])
    do = message["do"]
    if do == "pid":
        return {"statusCode": 200, "body": json.dumps(os.getpid())}
    if do == "print-loop":
        while True:
            print("x" * 100)
    if do == "alloc":
        hog = bytearray(1 << 30)
        return {"statusCode": 200, "body": str(len(hog))}
    if do == "spawn-loop":
        child = subprocess.Popen(["sleep", "1000"])
        facts = {"pid": os.getpid(), "pgid": os.getpgrp(), "child": child.pid, "cwd": os.getcwd()}
        with open(message["file"] + ".tmp", "w") as file:
            json.dump(facts, file)
        os.rename(message["file"] + ".tmp", message["file"])
        while True:
            pass
    return {"statusCode": 400, "body": "unknown"}
"""

ECHO_CODE = """\
def handler(event, context):
    return {"statusCode": 200, "body": event["body"]}
"""


_INVOCATIONS_URI = (
    "arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31"
    "/functions/${{{name}.Arn}}/invocations"
)


def _function(name: str, code: str, timeout: int) -> str:
    indented = "".join(f"          {line}\n" if line else "\n" for line in code.splitlines())
    return f"""
  {name}:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Timeout: {timeout}
      MemorySize: 128
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: |
{indented}
  {name}Permission:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref {name}
      Principal: apigateway.amazonaws.com
  {name}Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub "{_INVOCATIONS_URI.format(name=name)}"
  {name}Route:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: {name.lower()}
      RouteResponseSelectionExpression: $default
      Target: !Sub "integrations/${{{name}Integration}}"
  {name}RouteResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties:
      ApiId: !Ref Api
      RouteId: !Ref {name}Route
      RouteResponseKey: $default
"""


TEMPLATE = (
    """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: !Sub "${AWS::StackName}-Api"
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: "$request.body.action"
  Deployment:
    Type: AWS::ApiGatewayV2::Deployment
    DependsOn: [BadRoute, BadRouteResponse, EchoRoute, EchoRouteResponse]
    Properties:
      ApiId: !Ref Api
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref Api
      StageName: api
      DeploymentId: !Ref Deployment
"""
    + _function("Bad", BAD_CODE, 2)
    + _function("Echo", ECHO_CODE, 3)
    + """
Outputs:
  WebSocketURL:
    Value: !Sub "${Api.ApiEndpoint}/api"
  BadFunctionName:
    Value: !Ref Bad
  EchoFunctionName:
    Value: !Ref Echo
"""
)

INTERNAL_SERVER_ERROR = '{"message": "Internal server error"'


@pytest.fixture(scope="module")
def server() -> Iterator[LocalAwsProcess]:
    process = LocalAwsProcess()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def stack(server: LocalAwsProcess) -> dict[str, str]:
    return deploy(server, "safety", TEMPLATE)


def gone(pgid: int) -> bool:
    """Whether no process of the group is left (zombies waiting for init count as gone)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return all(_state(pid) in ("Z", None) for pid in _members(pgid))


def _members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def spawn_and_loop(url: str, facts_file: Path):
    """Start the function that spawns `sleep 1000` then spins; return (socket, its facts)."""
    ws = connect(url)
    ws.send(json.dumps({"action": "bad", "do": "spawn-loop", "file": str(facts_file)}))
    assert wait_for(facts_file.exists, timeout=10), "the function did not start"
    return ws, json.loads(facts_file.read_text())


def log_messages(server: LocalAwsProcess, function_name: str) -> list[str]:
    logs = server.client("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function_name}")["events"]
    except logs.exceptions.ResourceNotFoundException:  # not written yet
        return []
    return [event["message"] for event in events]


def test_printing_loop_neither_stalls_other_functions_nor_bloats_the_server(
    server: LocalAwsProcess, stack: dict[str, str]
) -> None:
    echo = connect(stack["WebSocketURL"])
    assert ask(echo, {"action": "echo", "n": 0})  # warm
    rss_before = rss_mb(server.process.pid)
    looping = connect(stack["WebSocketURL"])
    looping.send(json.dumps({"action": "bad", "do": "print-loop"}))
    slowest, started = 0.0, time.monotonic()
    while time.monotonic() - started < 1.8:  # within the function's 2 s timeout
        sent = time.perf_counter()
        assert json.loads(ask(echo, {"action": "echo", "n": 1}))["n"] == 1
        slowest = max(slowest, time.perf_counter() - sent)
        time.sleep(0.02)
    # A stall would last the function's 2 s timeout; a loaded machine is slow, but not that slow.
    assert slowest < 1.0, f"an echo took {slowest * 1000:.0f} ms"
    assert looping.recv().startswith(INTERNAL_SERVER_ERROR)
    assert rss_mb(server.process.pid) - rss_before < 100
    messages = wait_for(
        lambda: (
            [m for m in log_messages(server, stack["BadFunctionName"]) if "truncated" in m]
            and log_messages(server, stack["BadFunctionName"])
        )
    )
    assert any("output was truncated after 262144 bytes" in m for m in messages)
    assert sum(len(m) for m in messages) < 300 * 1024
    echo.close()
    looping.close()


def test_timeout_kills_the_processes_the_function_started(
    stack: dict[str, str], tmp_path: Path
) -> None:
    ws, facts = spawn_and_loop(stack["WebSocketURL"], tmp_path / "facts.json")
    assert facts["pgid"] == facts["pid"]  # the worker leads its own process group
    assert ws.recv().startswith(INTERNAL_SERVER_ERROR)  # timed out after 2 s
    assert wait_for(lambda: gone(facts["pgid"]), timeout=2)
    ws.close()


def test_memory_size_is_enforced(server: LocalAwsProcess, stack: dict[str, str]) -> None:
    ws = connect(stack["WebSocketURL"])
    pid = json.loads(ask(ws, {"action": "bad", "do": "pid"}))
    assert ask(ws, {"action": "bad", "do": "alloc"}).startswith(INTERNAL_SERVER_ERROR)
    assert wait_for(lambda: gone(pid), timeout=2)  # the environment is gone, as on AWS
    assert json.loads(ask(ws, {"action": "echo", "n": 2}))["n"] == 2
    assert json.loads(ask(ws, {"action": "bad", "do": "pid"})) != pid
    messages = wait_for(
        lambda: [m for m in log_messages(server, stack["BadFunctionName"]) if "OutOfMemory" in m]
    )
    assert messages
    report = wait_for(
        lambda: [m for m in log_messages(server, stack["BadFunctionName"]) if "Max Memory" in m]
    )
    assert report and not [
        m for m in report if int(m.split("Max Memory Used: ")[1].split()[0]) > 128
    ]
    ws.close()


def zip_of(entries: dict[str, int | bytes]) -> bytes:
    """A deflated zip in memory; an int is that many zero bytes (tiny once compressed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            if isinstance(content, int):
                with archive.open(name, "w", force_zip64=True) as entry:
                    chunk = bytes(1 << 20)
                    for _ in range(content >> 20):
                        entry.write(chunk)
            else:
                archive.writestr(name, content)
    return buffer.getvalue()


def test_zip_bomb_and_paths_leaving_the_package_are_refused(server: LocalAwsProcess) -> None:
    lambda_ = server.client("lambda")
    iam = server.client("iam")
    role = iam.create_role(RoleName="bomb", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    bomb = zip_of({"index.py": b"def handler(e, c):\n    return 1\n", "pad.bin": 300 << 20})
    assert len(bomb) < 1 << 20  # small compressed
    settings = {"Runtime": "python3.12", "Role": role, "Handler": "index.handler"}
    with pytest.raises(ClientError) as refused:
        lambda_.create_function(FunctionName="bomb", Code={"ZipFile": bomb}, **settings)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert refused.value.response["Error"]["Message"] == (
        "Unzipped size must be smaller than 262144000 bytes"
    )
    small = zip_of({"index.py": b"def handler(e, c):\n    return 1\n"})
    lambda_.create_function(FunctionName="bomb", Code={"ZipFile": small}, **settings)
    with pytest.raises(ClientError) as refused:
        lambda_.update_function_code(FunctionName="bomb", ZipFile=bomb)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    for name in ("../escape.py", "/etc/escape.py"):
        with pytest.raises(ClientError) as refused:
            lambda_.update_function_code(FunctionName="bomb", ZipFile=zip_of({name: b"x"}))
        assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_workers_of_a_deleted_function_are_stopped(server: LocalAwsProcess) -> None:
    outputs = deploy(server, "safety-deleted", TEMPLATE)
    ws = connect(outputs["WebSocketURL"])
    pid = json.loads(ask(ws, {"action": "bad", "do": "pid"}))
    assert not gone(pid)
    server.client("lambda").delete_function(FunctionName=outputs["BadFunctionName"])
    assert wait_for(lambda: gone(pid), timeout=3)
    ws.close()


def test_sigkill_of_local_aws_leaves_no_worker_and_no_code(tmp_path: Path) -> None:
    dedicated = LocalAwsProcess()
    try:
        outputs = deploy(dedicated, "safety-sigkill", TEMPLATE)
        ws, facts = spawn_and_loop(outputs["WebSocketURL"], tmp_path / "facts.json")
        dedicated.process.send_signal(signal.SIGKILL)
        dedicated.process.wait(timeout=5)
        assert wait_for(lambda: gone(facts["pgid"]), timeout=3)
        assert wait_for(lambda: not os.path.exists(facts["cwd"]), timeout=3)
        ws.close()
    finally:
        if dedicated.process.poll() is None:
            dedicated.process.kill()
        dedicated.process.wait()
        if dedicated.process.stdout:
            dedicated.process.stdout.close()


def test_shutdown_while_a_function_runs_is_quick_and_complete(tmp_path: Path) -> None:
    dedicated = LocalAwsProcess()
    outputs = deploy(dedicated, "safety-shutdown", TEMPLATE)
    ws, facts = spawn_and_loop(outputs["WebSocketURL"], tmp_path / "facts.json")
    started = time.monotonic()
    dedicated.stop()  # SIGTERM, as Ctrl-C would
    assert time.monotonic() - started < 5
    assert wait_for(lambda: gone(facts["pgid"]), timeout=2)
    assert not os.path.exists(facts["cwd"])
    ws.close()
