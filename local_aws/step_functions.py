"""Step Functions `StartSyncExecution`: an Express state machine run to its end, in process.

moto 5.2.5 answers `StartSyncExecution` with "not implemented". local_aws runs the state
machine's definition with the ASL interpreter moto ships (`moto.stepfunctions.parser`) and
answers as AWS does: 200 with `status` SUCCEEDED, FAILED or TIMED_OUT, and `output` or
`error`/`cause` (API reference: StartSyncExecution). Only EXPRESS state machines may be
started this way (400 StateMachineTypeNotSupported otherwise).

What the interpreter runs (docs/fidelity.md): Pass, Choice, Wait, Succeed, Fail, Parallel,
inline Map states, and Task states calling Lambda, DynamoDB items, SQS, SNS or EventBridge
(`RUN_TASKS`), which it calls through boto3 at local_aws's own endpoint (`register`), and
`apigateway:invoke` to a local WebSocket API's @connections (in process: `invoke_task`).
Wait states wait the registered scale of their time (`scaled_wait`); an inline Map runs
at most 40 iterations at once (`inline_map_bounded`). The same pieces run `StartExecution`
in the background (`local_aws.standard_executions`).
(`states:startExecution` is not among them: moto 5.2.5's interpreter sends it with
`StateMachineArn`, which botocore does not know, and the Task fails.) A definition with
any other Task resource (or a distributed Map reading from S3) is not run: the answer is
FAILED with `States.Runtime` and a cause naming the state.

Bounds: the state machine is read under moto's lock, the execution runs without it (a
state that called back into moto would otherwise deadlock). It runs on a thread of its own
and is stopped (TIMED_OUT) at the caller's time limit: the integration's timeout (at most
29 s), or AWS's 5 minutes for an Express execution. At most `MAX_RUNNING` executions run at
a time for integrations and `MAX_RUNNING_FOR_API` for callers of the `states` API (half of
the threads serving the AWS APIs, so that the others keep serving every other call); one
more is refused (400 ThrottlingException) until one ends.

boto3 callers: botocore sends `StartSyncExecution` to `sync-<endpoint host>`, a name that
does not resolve for 127.0.0.1; they need `Config(inject_host_prefix=False)`.
"""

from __future__ import annotations

import datetime
import importlib
import json
import logging
import math
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from moto.core.exceptions import JsonRESTError

from local_aws import services

logger = logging.getLogger(__name__)

ACTION = "StartSyncExecution"
EXPRESS_LIMIT_SECONDS = 300.0  # AWS: an Express execution runs for 5 minutes at most
# Executions running at a time in one local_aws (local_aws's own bounds): for integrations
# (which have 8 threads in all) and for callers of the `states` API (moto's 8 HTTP threads).
MAX_RUNNING = 8
MAX_RUNNING_FOR_API = 4
MAX_INPUT_BYTES = 256 * 1024  # AWS: `input` is at most 262,144 bytes (UTF-8)
# A request body may be longer than its input (escaped in JSON: up to 6 bytes a byte).
MAX_REQUEST_BYTES = 8 * MAX_INPUT_BYTES
MAX_NAME = 80  # AWS: an execution name is 1 to 80 characters
# AWS's lengths of the other strings an execution keeps (StartExecution's traceHeader,
# StopExecution's error and cause; the API reference of each): what 1,000 kept executions hold.
MAX_LENGTHS = {"traceHeader": 256, "error": 256, "cause": 32_768}
# Once stopped, an execution has this long to wind down (its state ends its current step)
# before the caller is answered without waiting for it any longer.
STOP_GRACE_SECONDS = 1.0

# The states the interpreter runs without calling another service.
RUN_STATES = frozenset({"Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"})

_running = threading.BoundedSemaphore(MAX_RUNNING)
_running_for_api = threading.BoundedSemaphore(MAX_RUNNING_FOR_API)


@dataclass(frozen=True)
class Machine:
    """What an execution needs of a state machine, copied out of moto under its lock."""

    arn: str
    name: str
    definition: str
    role_arn: str
    sm_type: str  # STANDARD or EXPRESS


def is_sync_start(service: str, headers: dict[str, str]) -> bool:
    """Whether a request is Step Functions' `StartSyncExecution` (by its `X-Amz-Target`)."""
    target = next((v for k, v in headers.items() if k.lower() == "x-amz-target"), "")
    return service == "states" and target.rpartition(".")[2] == ACTION


def start_sync_execution(
    account_id: str, region: str, body: str, time_limit: float, for_api: bool = False
) -> tuple[int, str]:
    """Run the Express state machine the request names to its end: (status, JSON answer).

    Blocks for up to ``time_limit`` seconds (capped at AWS's 5 minutes), never holding
    moto's lock while the execution runs. Errors that prevent the run are 400 with AWS's
    error type; an execution that fails is 200 with `status: FAILED`, as on AWS.
    ``for_api``: the caller is a client of the `states` API, not an integration.
    """
    try:
        request = read_request(body)
        machine = read_machine(account_id, region, request["stateMachineArn"])
    except JsonRESTError as error:
        return error.code, error.get_body()
    if machine.sm_type != "EXPRESS":
        return error_answer(
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine",
        )
    slots, most = (_running_for_api, MAX_RUNNING_FOR_API) if for_api else (_running, MAX_RUNNING)
    if not slots.acquire(blocking=False):
        logger.warning(
            "StartSyncExecution refused: %d executions are running, local_aws's limit", most
        )
        return error_answer(
            "ThrottlingException",
            f"local_aws runs at most {most} synchronous executions at a time for "
            f"{'callers of the states API' if for_api else 'integrations'}; "
            "retry when one has ended",
        )
    limit = min(max(time_limit, 0.0), EXPRESS_LIMIT_SECONDS)
    answer = _run(machine, request, account_id, region, limit, slots.release)
    return 200, json.dumps(answer)


_SCOPE = re.compile(r"Credential=(?P<key>[^/,]+)/\d{8}/(?P<region>[^/,]+)/states/aws4_request")


def serve_http(environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """Answer a `states` API request for `StartSyncExecution` or one of the actions of
    `standard_executions.ACTIONS` (a WSGI request, which moto would answer "not implemented"
    or only record): (status, headers, body), or None for any other request.

    Called before moto's lock is taken: the execution runs without it.
    """
    from local_aws import standard_executions

    target = environ.get("HTTP_X_AMZ_TARGET", "")
    prefix, _, action = target.partition(".")
    if prefix != "AWSStepFunctions" or not (
        action == ACTION or action in standard_executions.ACTIONS
    ):
        return None
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope is None:
        return None  # not signed for Step Functions: moto answers it as any other request
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_REQUEST_BYTES:
        status, body = error_answer(
            "ValidationException",
            f"the request is over {MAX_REQUEST_BYTES} bytes: `input` is at most "
            f"{MAX_INPUT_BYTES} bytes",
        )
    else:
        data = environ["wsgi.input"].read(length) if length > 0 else b""
        account_id = environ.get("HTTP_X_MOTO_ACCOUNT_ID") or _account_of(scope["key"])
        text = data.decode("utf-8", "replace")
        if action == ACTION:
            status, body = start_sync_execution(
                account_id, scope["region"], text, EXPRESS_LIMIT_SECONDS, for_api=True
            )
        else:
            status, body = standard_executions.EXECUTIONS.answer(
                action, account_id, scope["region"], text
            )
    encoded = body.encode()
    headers = [
        ("Content-Type", "application/x-amz-json-1.0"),
        ("Content-Length", str(len(encoded))),
    ]
    if status != 200:
        headers.append(("x-amzn-ErrorType", json.loads(body)["__type"]))
    return f"{status} {'OK' if status == 200 else 'Bad Request'}", headers, encoded


def _account_of(access_key: str) -> str:
    """The account an access key belongs to, as moto reads it (its default account for a
    key no local IAM user has)."""
    from moto.iam.models import get_account_id_from

    with services.LOCK:
        return get_account_id_from(access_key)


# The Task integrations run (`arn:aws:states:::<service>:<action>`, lower-case as moto's
# interpreter reads them), and Lambda functions named by their own ARN. Request-response
# only: Express state machines do not support `.sync` or `.waitForTaskToken` (AWS).
RUN_TASKS = frozenset(
    {
        "lambda:invoke",
        "dynamodb:getitem",
        "dynamodb:putitem",
        "dynamodb:deleteitem",
        "dynamodb:updateitem",
        "sqs:sendmessage",
        "sns:publish",
        "events:putevents",
        "apigateway:invoke",  # local WebSocket APIs' @connections (local_aws.invoke_task)
    }
)
_TASK_RESOURCE = re.compile(r"^arn:[\w-]+:states:::(?P<service>[\w-]+):(?P<action>\w+)$")
_FUNCTION_RESOURCE = re.compile(r"^arn:[\w-]+:lambda:[\w-]+:\d{12}:function:[\w-]+(?::[\w$-]+)?$")


def unsupported_state(definition: str) -> str | None:
    """Why the interpreter will not run this definition (the first state it cannot run, by
    name and type), or None. A definition that is not a JSON object is left to it."""
    try:
        document = json.loads(definition)
    except (ValueError, RecursionError):
        return None
    for name, state in _states(document):
        kind = state.get("Type")
        if kind == "Task":
            refusal = _task_refusal(state.get("Resource"))
            if refusal is not None:
                return f"state '{name}': {refusal}"
        elif kind not in RUN_STATES:
            return (
                f"local_aws does not run {kind} states: state '{name}'. It runs Pass, Choice, "
                "Wait, Succeed, Fail, Parallel, inline Map and Task states"
            )
        elif kind == "Map" and ("ItemReader" in state or "ResultWriter" in state):
            return (
                f"local_aws does not run a distributed Map's ItemReader or ResultWriter: "
                f"state '{name}'. Inline Map states are run"
            )
    return None


def _task_refusal(resource: object) -> str | None:
    """Why a Task state's `Resource` is not run, or None."""
    if isinstance(resource, str) and _FUNCTION_RESOURCE.match(resource):
        return None
    match = _TASK_RESOURCE.match(resource) if isinstance(resource, str) else None
    if match and f"{match['service']}:{match['action']}".lower() in RUN_TASKS:
        return None
    return (
        f"local_aws does not run this Task state's Resource, {resource!r}. It runs Lambda "
        "functions (their ARN or arn:aws:states:::lambda:invoke) and arn:aws:states::: "
        "dynamodb:getItem, putItem, deleteItem, updateItem, sqs:sendMessage, sns:publish, "
        "events:putEvents and apigateway:invoke (request-response)"
    )


def _states(document: object) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state of a definition, nested Parallel branches and Map processors included
    (iteratively: a definition can nest deeper than Python's recursion limit)."""
    pending = [document]
    while pending:
        machine = pending.pop()
        states = machine.get("States") if isinstance(machine, dict) else None
        for name, state in (states if isinstance(states, dict) else {}).items():
            if not isinstance(state, dict):
                continue
            yield str(name), state
            branches = state.get("Branches")
            pending.extend(branches if isinstance(branches, list) else [])
            pending.extend(state[key] for key in ("ItemProcessor", "Iterator") if key in state)


def read_request(body: str) -> dict[str, Any]:
    """The request's parameters, checked as Step Functions checks them."""
    try:
        request = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise JsonRESTError("SerializationException", f"not JSON: {error}") from None
    if not isinstance(request, dict):
        raise JsonRESTError("SerializationException", "the request is not a JSON object")
    arn = request.get("stateMachineArn")
    if not isinstance(arn, str) or not arn:
        raise JsonRESTError(
            "ValidationException",
            "1 validation error detected: Value null at 'stateMachineArn' failed to satisfy "
            "constraint: Member must not be null",
        )
    name = request.get("name")
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME):
        raise JsonRESTError("InvalidName", f"Invalid Name: '{name}' (1 to 80 characters)")
    given = request.get("input")
    text = "{}" if given is None else given
    if not isinstance(text, str):
        raise JsonRESTError("InvalidExecutionInput", "input must be a string of JSON")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_INPUT_BYTES:
        raise _too_long("input", MAX_INPUT_BYTES)
    check_lengths(request, ("traceHeader",))
    try:
        json.loads(text)
    except (ValueError, RecursionError) as error:
        raise JsonRESTError(
            "InvalidExecutionInput", f"Invalid State Machine Execution Input: '{error}'"
        ) from None
    return {**request, "input": text}


def check_lengths(request: dict[str, Any], fields: tuple[str, ...]) -> None:
    """Refuse, as AWS does, a string of `fields` longer than its `MAX_LENGTHS`."""
    for field in fields:
        value = request.get(field)
        if isinstance(value, str) and len(value) > MAX_LENGTHS[field]:
            raise _too_long(field, MAX_LENGTHS[field])


def _too_long(field: str, limit: int) -> JsonRESTError:
    return JsonRESTError(
        "ValidationException",
        f"1 validation error detected: Value at '{field}' failed to satisfy constraint: "
        f"Member must have length less than or equal to {limit}",
    )


def read_machine(account_id: str, region: str, arn: str) -> Machine:
    """The state machine, read from moto under its lock. Raises moto's errors
    (InvalidArn, StateMachineDoesNotExist)."""
    from moto.stepfunctions.models import stepfunctions_backends

    with services.LOCK:
        machine = stepfunctions_backends[account_id][region].describe_state_machine(arn)
        return Machine(
            arn=machine.arn,
            name=machine.name,
            definition=machine.definition,
            role_arn=machine.roleArn,
            sm_type=machine.type,
        )


def _run(
    machine: Machine,
    request: dict[str, Any],
    account_id: str,
    region: str,
    limit: float,
    on_end: Callable[[], None],
) -> dict[str, Any]:
    """Run the execution on a thread of its own, stopping it at ``limit`` seconds.

    ``on_end`` is called once, when the execution really ends (it may outlive the answer).
    """
    name = request.get("name") or str(uuid.uuid4())
    started = datetime.datetime.now(tz=datetime.UTC)
    answer: dict[str, Any] = {
        "executionArn": (
            f"arn:aws:states:{region}:{account_id}:express:{machine.name}:{name}:{uuid.uuid4()}"
        ),
        "stateMachineArn": machine.arn,
        "name": name,
        "startDate": started.timestamp(),
        "input": request["input"],
        "inputDetails": {"included": True},
    }
    if isinstance(request.get("traceHeader"), str):
        answer["traceHeader"] = request["traceHeader"]
    refusal = unsupported_state(machine.definition)
    if refusal is not None:
        logger.warning("state machine %s: %s", machine.arn, refusal)
        on_end()
        return _ended(answer, started, "FAILED", error="States.Runtime", cause=refusal)
    try:
        execution = interpreter_execution(
            machine, request["input"], answer["executionArn"], name, started
        )
    except BaseException:
        on_end()
        raise
    ending = run_bounded(execution, machine, limit, on_end)
    if ending.failure is not None:
        return _ended(answer, started, "FAILED", error="States.Runtime", cause=ending.failure)
    status = getattr(execution, "sync_execution_status", None)
    if ending.timed_out or status is None:
        return _ended(
            answer,
            started,
            "TIMED_OUT",
            error="States.Timeout",
            cause=f"local_aws stopped the execution after {limit:g} s, its caller's time limit",
        )
    output = execution.output if status.value == "SUCCEEDED" else None
    return _ended(
        answer,
        started,
        status.value,
        output=None if output is None else json.dumps(output, separators=(",", ":")),
        error=execution.error,
        cause=execution.cause,
    )


@dataclass(frozen=True)
class Ending:
    """How `run_bounded` saw an execution end."""

    timed_out: bool  # stopped at the time limit
    failure: str | None = None  # why the interpreter could not run it (a cause)


# AWS: an execution's history holds at most 25,000 events; one that would write more fails.
# local_aws applies it to every execution it runs (an Express one too, which has no
# history on AWS): an endless loop of Pass and Choice states is stopped by it.
MAX_HISTORY_EVENTS = 25_000
_WATCH_SECONDS = 0.05  # how often a running execution's history is counted


def run_bounded(
    execution: Any, machine: Machine, limit: float, on_end: Callable[[], None]
) -> Ending:
    """Run an interpreter execution (`interpreter_execution`) on a thread of its own until it
    ends, stopping it at ``limit`` seconds (TIMED_OUT) or at `MAX_HISTORY_EVENTS` (FAILED,
    `States.Runtime`). Blocks the caller meanwhile; ``on_end`` is called once, when the
    execution's thread really ends (it may outlive this call by `STOP_GRACE_SECONDS`)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            execution.start()
        except Exception as error:  # a definition the interpreter cannot parse, say
            failure.append(error)
        finally:
            forget_finished_threads()
            on_end()

    try:
        thread = threading.Thread(target=run, name=f"sfn-{machine.name}", daemon=True)
        thread.start()
    except BaseException:
        on_end()
        raise
    deadline = time.monotonic() + limit
    while thread.is_alive() and time.monotonic() < deadline:
        thread.join(min(_WATCH_SECONDS, max(deadline - time.monotonic(), 0.0)))
        if history_length(execution) > MAX_HISTORY_EVENTS:
            _fail_for_history(execution, thread)
            break
    timed_out = thread.is_alive()
    if timed_out:
        logger.warning(
            "state machine %s: the execution was stopped after %.1f s (the caller's limit)",
            machine.arn,
            limit,
        )
        stop_execution_thread(execution, thread, lambda env: env.set_timed_out())
    if failure:
        cause = f"{type(failure[0]).__name__}: {failure[0]}"
        logger.warning("state machine %s could not run: %s", machine.arn, cause)
        return Ending(timed_out=False, failure=cause)
    return Ending(timed_out=timed_out)


def history_length(execution: Any) -> int:
    """How many events the execution's history holds so far (0 before it started)."""
    env = getattr(execution.exec_worker, "env", None) if execution.exec_worker else None
    events = getattr(getattr(env, "event_manager", None), "_history_event_list", None)
    return len(events) if events is not None else 0


def _fail_for_history(execution: Any, thread: threading.Thread) -> None:
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails

    cause = (
        f"The execution reached the maximum number of history events "
        f"({MAX_HISTORY_EVENTS}): local_aws stopped it"
    )
    logger.warning("%s: %s", execution.exec_arn, cause)
    details = ExecutionFailedEventDetails(error="States.Runtime", cause=cause)
    stop_execution_thread(execution, thread, lambda env: env.set_error(details))


def interpreter_execution(
    machine: Machine,
    input_text: str,
    execution_arn: str,
    name: str,
    started: datetime.datetime,
) -> Any:
    """moto's interpreter's execution of the machine (not started). It runs on the thread
    that starts it (moto's "sync" execution), whatever the machine's type."""
    from moto.stepfunctions.parser.api import StateMachineType
    from moto.stepfunctions.parser.backend.execution import SyncExecution

    sm_type = StateMachineType(machine.sm_type)
    snapshot = _Snapshot(
        arn=machine.arn, name=machine.name, definition=machine.definition, sm_type=sm_type
    )
    return SyncExecution(
        name=name,
        sm_type=sm_type,
        role_arn=machine.role_arn,
        exec_arn=execution_arn,
        account_id=execution_arn.split(":")[4],
        region_name=execution_arn.split(":")[3],
        state_machine=snapshot,  # type: ignore[arg-type]  # what the interpreter reads of one
        start_date=started,
        cloud_watch_logging_session=None,
        activity_store={},
        input_data=input_text,
    )


@dataclass(frozen=True)
class _Snapshot:
    """The attributes moto's interpreter reads of a state machine."""

    arn: str
    name: str
    definition: str
    sm_type: Any


def stop_execution_thread(
    execution: Any, thread: threading.Thread, how: Callable[[Any], None]
) -> None:
    """Tell the interpreter to end the execution (``how(env)``: timed out, stopped, failed;
    a Wait state wakes up, a loop ends at its next state) and give it `STOP_GRACE_SECONDS`
    to end."""
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while thread.is_alive() and time.monotonic() < deadline:
        env = getattr(execution.exec_worker, "env", None) if execution.exec_worker else None
        if env is not None:
            how(env)
            thread.join(max(deadline - time.monotonic(), 0.0))
            return
        thread.join(0.01)  # the interpreter is still parsing the definition


_threads_lock = threading.Lock()


def forget_finished_threads() -> None:
    """moto's interpreter keeps every thread it starts in a module-level list; without this
    a long-running local_aws would keep one entry per execution and state forever."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    with _threads_lock:
        TMP_THREADS[:] = [thread for thread in TMP_THREADS if thread.is_alive()]


def _ended(
    answer: dict[str, Any],
    started: datetime.datetime,
    status: str,
    *,
    output: str | None = None,
    error: str | None = None,
    cause: str | None = None,
) -> dict[str, Any]:
    """The answer of an ended execution, with AWS's billing details (Express executions are
    billed in 100 ms steps and 64 MB of memory)."""
    stopped = datetime.datetime.now(tz=datetime.UTC)
    answer = {**answer, "stopDate": stopped.timestamp(), "status": status}
    if output is not None:
        answer["output"] = output
        answer["outputDetails"] = {"included": True}
    if error is not None:
        answer["error"] = error
    if cause is not None:
        answer["cause"] = cause
    elapsed_ms = (stopped - started).total_seconds() * 1000
    answer["billingDetails"] = {
        "billedMemoryUsedInMB": 64,
        "billedDurationInMilliseconds": max(100, math.ceil(elapsed_ms / 100) * 100),
    }
    return answer


def error_answer(error_type: str, message: str) -> tuple[int, str]:
    """A 400 answer of the `states` API: (status, JSON body with `__type` and `message`)."""
    return 400, json.dumps({"__type": error_type, "message": message})


# --------------------------------------------------------------------------------------
# Task states' service calls
# --------------------------------------------------------------------------------------

# The modules of moto's interpreter that make service calls, each through its own import of
# `boto_client_for` (Task states, a distributed Map's S3 reads and writes).
CLIENT_MODULES = tuple(
    f"moto.stepfunctions.parser.asl.{name}"
    for name in (
        "utils.boto_client",
        "component.state.exec.state_task.lambda_eval_utils",
        *(
            f"component.state.exec.state_task.service.state_task_service_{service}"
            for service in (
                "aws_sdk",
                "batch",
                "dynamodb",
                "ecs",
                "events",
                "glue",
                "sfn",
                "sns",
                "sqs",
                "unsupported",
            )
        ),
        "component.state.exec.state_map.item_reader.eval.resource_eval_s3",
        "component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
    )
)


def loaded_client_modules() -> list[str]:
    """The first of `CLIENT_MODULES`, where `boto_client_for` is defined (imported now), and
    the others imported so far."""
    importlib.import_module(CLIENT_MODULES[0])
    return [module for module in CLIENT_MODULES if module in sys.modules]


@dataclass
class _Endpoint:
    url: str | None = None
    wait_scale: float = 1.0


_endpoint = _Endpoint()


def register(endpoint_url: str, wait_scale: float = 1.0) -> None:
    """Send the interpreter's service calls (Task states) to the running local_aws, and
    make its Wait states wait ``wait_scale`` times as long as they say (1: real time)."""
    _endpoint.url = endpoint_url
    _endpoint.wait_scale = wait_scale


# --------------------------------------------------------------------------------------
# Wait states and inline Map states
# --------------------------------------------------------------------------------------


def scaled_wait(function: Any, env: Any, wait_seconds: float) -> None:
    """moto's `WaitFunction._wait_interval`, waiting ``wait_seconds`` times the registered
    scale (`Settings.sfn_wait_scale`: tests and demos run a Wait of minutes in a moment).

    Hand-written in place of moto's: it waits again after an unrelated wake-up with the
    remaining whole seconds, recursively; this waits for the exact rest, in a loop, and
    returns as soon as the execution stops running (stopped, timed out, failed).
    """
    deadline = time.monotonic() + max(float(wait_seconds), 0.0) * _endpoint.wait_scale
    while env.is_running():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        if not env.program_state_event.wait(left):
            return
        time.sleep(min(left, 0.01))  # woken by another frame's change: do not spin


# AWS: an inline Map state runs at most 40 iterations at a time, whatever its MaxConcurrency
# (0 means "as many as possible"). moto's interpreter starts one thread per item for 0: a
# Map over 100,000 items would start 100,000 threads.
MAX_INLINE_MAP_CONCURRENCY = 40


def inline_map_bounded(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto's inline Map evaluation, running at most `MAX_INLINE_MAP_CONCURRENCY`
    iterations at a time."""

    def eval_body(component: Any, env: Any) -> None:
        eval_input = env.stack[-1]
        wanted = getattr(eval_input, "max_concurrency", None)
        if isinstance(wanted, int) and not 0 < wanted <= MAX_INLINE_MAP_CONCURRENCY:
            eval_input.max_concurrency = MAX_INLINE_MAP_CONCURRENCY
        original(component, env)

    return eval_body


def clients_at_local_aws(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto's `boto_client_for`, sending its calls to local_aws's endpoint (moto's own is
    `localhost:$MOTO_PORT`, 5000, which nothing serves) with the keys functions get. Under
    moto's `mock_aws` (tests), calls stay in process, as moto makes them."""

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        import boto3
        from botocore.config import Config
        from moto.core.models import botocore_stubber

        if botocore_stubber.enabled or _endpoint.url is None:
            return original(region=region, service=service, state_credentials=state_credentials)
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=_endpoint.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=10,
                read_timeout=EXPRESS_LIMIT_SECONDS,
                inject_host_prefix=False,
            ),
        )

    return boto_client_for


# --------------------------------------------------------------------------------------
# State machines from templates
# --------------------------------------------------------------------------------------

MACHINE_TYPES = ("STANDARD", "EXPRESS")


def definition_properties(properties: dict[str, Any]) -> dict[str, Any]:
    """A template's state machine properties with the `DefinitionString` moto reads: the
    `Definition` object as JSON if there is no string, and `DefinitionSubstitutions` applied
    to it (each `${key}` of the map replaced by its value; AWS::StepFunctions::StateMachine
    in the CloudFormation reference). moto 5.2.5 does neither."""
    properties = dict(properties)
    definition = properties.get("Definition")
    if "DefinitionString" not in properties and isinstance(definition, dict):
        properties["DefinitionString"] = json.dumps(definition)
    substitutions = properties.get("DefinitionSubstitutions")
    text = properties.get("DefinitionString")
    if isinstance(substitutions, dict) and substitutions and isinstance(text, str):
        properties["DefinitionString"] = substitute(text, substitutions)
    return properties


_PLACEHOLDER = re.compile(r"\$\{(?P<key>[^${}]{1,256})\}")


def substitute(definition: str, substitutions: dict[str, Any]) -> str:
    """Replace each `${key}` whose key the map has by its value (a string, or a number or
    boolean as its JSON text); other `${...}` are left as they are (pure, one pass)."""
    values = {str(key): value for key, value in substitutions.items()}

    def value_of(match: re.Match[str]) -> str:
        value = values.get(match["key"])
        if value is None:
            return match[0]
        return value if isinstance(value, str) else json.dumps(value)

    return _PLACEHOLDER.sub(value_of, definition)


def creating_with_its_type(create: Callable[..., Any]) -> Callable[..., Any]:
    """moto's `AWS::StepFunctions::StateMachine` creation, honouring `StateMachineType`
    (moto 5.2.5 makes every template's machine STANDARD), a `Definition` given as an object
    rather than a `DefinitionString`, and `DefinitionSubstitutions`."""

    def create_from_template(
        cls: Any,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = definition_properties(cloudformation_json.get("Properties") or {})
        machine_type = properties.get("StateMachineType", "STANDARD")
        if machine_type not in MACHINE_TYPES:
            raise ValueError(f"StateMachineType must be STANDARD or EXPRESS, not {machine_type!r}")
        template = {**cloudformation_json, "Properties": properties}
        machine = create(cls, resource_name, template, account_id, region_name, **kwargs)
        machine.type = machine_type
        return machine

    return create_from_template


def updating_its_definition(update: Callable[..., Any]) -> Callable[..., Any]:
    """moto's update of a template's state machine, reading its definition as creation does
    (`definition_properties`): moto's reads only `DefinitionString`, unsubstituted."""

    def update_from_template(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        properties = definition_properties(cloudformation_json.get("Properties") or {})
        template = {**cloudformation_json, "Properties": properties}
        return update(cls, original_resource, new_resource_name, template, account_id, region_name)

    return update_from_template
