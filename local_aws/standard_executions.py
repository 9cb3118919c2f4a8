"""Step Functions `StartExecution`: an execution that runs in the background, and the calls
that follow it (`DescribeExecution`, `GetExecutionHistory`, `ListExecutions`,
`StopExecution`).

moto 5.2.5 only records a started execution (its status stays RUNNING, nothing runs) unless
a process-wide option switches its whole backend to the interpreter; local_aws answers these
five actions itself instead, for callers of the `states` API and for `AWS` integrations
(`…:states:action/StartExecution`). `StartExecution` answers at once with `executionArn` and
`startDate`; the execution runs on a thread of its own with moto's ASL interpreter, as a
`StartSyncExecution` does (`local_aws.step_functions`, which says what it runs), and ends
SUCCEEDED, FAILED, TIMED_OUT or ABORTED.

Bounds (docs/fidelity.md): at most `Settings.sfn_max_running_executions` run at a time (one
more is 400 `ExecutionLimitExceeded`, AWS's error for its open-executions quota); each runs
for at most AWS's limit, a year for STANDARD and 5 minutes for EXPRESS, clipped to
`LOCAL_LIMIT_SECONDS` (the definition's own `TimeoutSeconds` applies within it); its history
to AWS's 25,000 events. Ended executions are kept for Describe and List up to
`MAX_KEPT` executions and `MAX_KEPT_EVENTS` history events in all, the oldest forgotten first.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import JsonRESTError

from local_aws import step_functions

logger = logging.getLogger(__name__)

ACTIONS = frozenset(
    {
        "StartExecution",
        "DescribeExecution",
        "GetExecutionHistory",
        "ListExecutions",
        "StopExecution",
    }
)
DEFAULT_MAX_RUNNING = 16
STANDARD_LIMIT_SECONDS = 365 * 24 * 3600.0  # AWS: a Standard execution runs a year at most
LOCAL_LIMIT_SECONDS = 3600.0  # local_aws's own bound on any one execution
MAX_KEPT = 1000
MAX_KEPT_EVENTS = 200_000
MAX_RESULTS = 1000  # AWS: maxResults is at most 1000
DEFAULT_LIST_RESULTS = 100


@dataclass
class Record:
    """One execution local_aws started: what Describe, List and Stop read of it."""

    arn: str
    machine: step_functions.Machine
    name: str
    input_text: str
    started: datetime.datetime
    execution: Any  # moto's interpreter's execution
    trace_header: str | None = None
    status: str = "RUNNING"
    stopped: datetime.datetime | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)  # the history, once ended
    stop_reason: tuple[str | None, str | None] | None = None  # StopExecution's error, cause


class Executions:
    """The executions of one local_aws, running and ended (bounded)."""

    def __init__(self, max_running: int = DEFAULT_MAX_RUNNING) -> None:
        self.max_running = max_running
        self._lock = threading.Lock()
        self._records: OrderedDict[str, Record] = OrderedDict()  # oldest first
        self._running = 0
        self._threads: dict[str, threading.Thread] = {}

    def answer(self, action: str, account_id: str, region: str, body: str) -> tuple[int, str]:
        """Answer one of `ACTIONS`: (status, JSON answer), errors as the `states` API's."""
        try:
            request = json.loads(body or "{}")
        except (ValueError, RecursionError) as error:
            return step_functions.error_answer("SerializationException", f"not JSON: {error}")
        if not isinstance(request, dict):
            return step_functions.error_answer("SerializationException", "not a JSON object")
        try:
            if action == "StartExecution":
                return 200, json.dumps(self.start(account_id, region, body))
            if action == "ListExecutions":
                return 200, json.dumps(self.list(account_id, region, request))
            record = self._record(request.get("executionArn"))
            if action == "DescribeExecution":
                return 200, json.dumps(describe(record))
            if action == "GetExecutionHistory":
                return 200, json.dumps(history_page(self.history(record), request))
            return 200, json.dumps(self.stop(record, request))
        except JsonRESTError as error:
            return error.code, error.get_body()

    def start(self, account_id: str, region: str, body: str) -> dict[str, Any]:
        """Start the execution the request asks for; its `executionArn` and `startDate`."""
        request = step_functions.read_request(body)
        machine = step_functions.read_machine(account_id, region, request["stateMachineArn"])
        name = request.get("name") or str(uuid.uuid4())
        kind = "execution" if machine.sm_type == "STANDARD" else "express"
        arn = f"arn:aws:states:{region}:{account_id}:{kind}:{machine.name}:{name}"
        if kind == "express":
            arn += f":{uuid.uuid4()}"
        started = datetime.datetime.now(tz=datetime.UTC)
        with self._lock:
            existing = self._records.get(arn)
            if existing is not None:
                # AWS: the same name and input while it runs is the same execution (idempotent).
                if existing.status == "RUNNING" and existing.input_text == request["input"]:
                    return _start_answer(existing)
                raise JsonRESTError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
            if self._running >= self.max_running:
                logger.warning(
                    "StartExecution refused: %d executions are running, local_aws's limit",
                    self._running,
                )
                raise JsonRESTError(
                    "ExecutionLimitExceeded",
                    f"The maximum number of running executions has been reached: local_aws "
                    f"runs at most {self.max_running} at a time (--sfn-max-running-executions)."
                    " Running executions must end or be stopped before a new execution can "
                    "be started.",
                )
            execution = step_functions.interpreter_execution(
                machine, request["input"], arn, name, started
            )
            record = Record(
                arn=arn,
                machine=machine,
                name=name,
                input_text=request["input"],
                started=started,
                execution=execution,
                trace_header=request.get("traceHeader")
                if isinstance(request.get("traceHeader"), str)
                else None,
            )
            self._records[arn] = record
            self._running += 1
            self._forget_ended()
        refusal = step_functions.unsupported_state(machine.definition)
        if refusal is not None:
            logger.warning("state machine %s: %s", machine.arn, refusal)
            self._ended(record, "FAILED", error="States.Runtime", cause=refusal)
            self._release()
            return _start_answer(record)
        thread = threading.Thread(
            target=self._run, args=(record,), name=f"sfn-standard-{machine.name}", daemon=True
        )
        try:
            thread.start()
        except BaseException:
            self._ended(record, "FAILED", error="States.Runtime", cause="no thread to run it")
            self._release()
            raise
        return _start_answer(record)

    def _run(self, record: Record) -> None:
        """The execution's own thread: run it to its end, then record how it ended."""
        aws_limit = (
            step_functions.EXPRESS_LIMIT_SECONDS
            if record.machine.sm_type == "EXPRESS"
            else STANDARD_LIMIT_SECONDS
        )
        limit = min(aws_limit, LOCAL_LIMIT_SECONDS)
        try:
            # The slot is released when the execution's thread really ends.
            ending = step_functions.run_bounded(
                record.execution, record.machine, limit, self._release
            )
        except Exception as problem:  # no thread to run it (run_bounded released the slot)
            logger.exception("execution %s could not run", record.arn)
            self._ended(record, "FAILED", error="States.Runtime", cause=repr(problem))
            return
        execution = record.execution
        if ending.failure is not None:
            self._ended(record, "FAILED", error="States.Runtime", cause=ending.failure)
        elif ending.timed_out:
            self._ended(
                record,
                "TIMED_OUT",
                error="States.Timeout",
                cause=f"local_aws stopped the execution after {limit:g} s, its local limit",
            )
        else:
            status = getattr(execution.exec_status, "value", None) or "FAILED"
            output = execution.output if status == "SUCCEEDED" else None
            error, cause = execution.error, execution.cause
            if status == "ABORTED" and record.stop_reason is not None:
                error, cause = record.stop_reason
            self._ended(
                record,
                status,
                output=None if output is None else json.dumps(output, separators=(",", ":")),
                error=error,
                cause=cause,
            )

    def _ended(
        self,
        record: Record,
        status: str,
        *,
        output: str | None = None,
        error: str | None = None,
        cause: str | None = None,
    ) -> None:
        events = _events_of(record.execution)
        if status == "ABORTED" and events and events[-1].get("type") != "ExecutionAborted":
            # Stopped before its first state ran: moto's interpreter then never gets to
            # writing the event that ends an aborted execution's history on AWS.
            events.append(_aborted_event(events[-1], record.stop_reason))
        with self._lock:
            if record.status != "RUNNING":
                return
            record.status = status
            record.stopped = datetime.datetime.now(tz=datetime.UTC)
            record.output, record.error, record.cause = output, error, cause
            record.events = events
            record.execution = None  # its interpreter state can go: the answers are kept
            self._forget_ended()

    def _release(self) -> None:
        """An execution's thread has ended: its slot is free."""
        with self._lock:
            self._running -= 1

    def _forget_ended(self) -> None:
        """Forget the oldest ended executions beyond the bounds (called under the lock)."""
        ended = [r for r in self._records.values() if r.status != "RUNNING"]
        kept_events = sum(len(r.events) for r in ended)
        for record in ended:
            if len(ended) <= MAX_KEPT and kept_events <= MAX_KEPT_EVENTS:
                break
            del self._records[record.arn]
            ended = ended[1:]
            kept_events -= len(record.events)

    def _record(self, arn: object) -> Record:
        if not isinstance(arn, str) or not arn:
            raise JsonRESTError(
                "ValidationException",
                "1 validation error detected: Value null at 'executionArn' failed to satisfy "
                "constraint: Member must not be null",
            )
        if not arn.startswith("arn:") or arn.count(":") < 7:
            raise JsonRESTError("InvalidArn", f"Invalid Arn: '{arn}'")
        with self._lock:
            record = self._records.get(arn)
        if record is None:
            raise JsonRESTError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return record

    def history(self, record: Record) -> list[dict[str, Any]]:
        """The execution's history events so far, oldest first."""
        with self._lock:
            execution, events = record.execution, record.events
        return _events_of(execution) if execution is not None else events

    def list(self, account_id: str, region: str, request: dict[str, Any]) -> dict[str, Any]:
        """ListExecutions of a state machine, newest first, by pages."""
        machine_arn = request.get("stateMachineArn")
        if not isinstance(machine_arn, str) or not machine_arn:
            raise JsonRESTError(
                "ValidationException", "Must provide a StateMachine ARN or MapRun ARN"
            )
        step_functions.read_machine(account_id, region, machine_arn)  # exists, or the error
        wanted = request.get("statusFilter")
        with self._lock:
            records = [
                r
                for r in reversed(self._records.values())
                if r.machine.arn == machine_arn and wanted in (None, r.status)
            ]
        items = [_list_item(r) for r in records]
        return _page(items, request, "executions", DEFAULT_LIST_RESULTS)

    def stop(self, record: Record, request: dict[str, Any]) -> dict[str, Any]:
        """StopExecution: a running execution ends ABORTED (its thread is told at once)."""
        step_functions.check_lengths(request, ("error", "cause"))
        error, cause = request.get("error"), request.get("cause")
        with self._lock:
            execution = record.execution
            running = record.status == "RUNNING"
            if running:
                record.stop_reason = (
                    error if isinstance(error, str) else None,
                    cause if isinstance(cause, str) else None,
                )
        if running and execution is not None:
            now = datetime.datetime.now(tz=datetime.UTC)
            env = _wait_for_env(execution)
            if env is not None:
                env.set_stop(stop_date=now, cause=cause, error=error)
        stopped = record.stopped or datetime.datetime.now(tz=datetime.UTC)
        return {"stopDate": stopped.timestamp()}


def _wait_for_env(execution: Any) -> Any:
    """The interpreter's environment of a running execution (it is made once the
    definition is parsed, a moment after the start); None if it never comes."""
    ready = threading.Event()
    for _ in range(100):
        worker = getattr(execution, "exec_worker", None)
        env = getattr(worker, "env", None) if worker is not None else None
        if env is not None:
            return env
        ready.wait(0.01)
    return None


def _events_of(execution: Any) -> list[dict[str, Any]]:
    """The interpreter's history events, as the `states` API sends them (JSON-ready)."""
    worker = getattr(execution, "exec_worker", None) if execution is not None else None
    env = getattr(worker, "env", None) if worker is not None else None
    if env is None:
        return []
    return [_json_ready(event) for event in env.event_manager.get_event_history()]


def _aborted_event(
    last: dict[str, Any], reason: tuple[str | None, str | None] | None
) -> dict[str, Any]:
    error, cause = reason or (None, None)
    details = {
        key: value for key, value in (("error", error), ("cause", cause)) if value is not None
    }
    return {
        "timestamp": datetime.datetime.now(tz=datetime.UTC).timestamp(),
        "type": "ExecutionAborted",
        "id": int(last.get("id", 0)) + 1,
        "previousEventId": 0,
        "executionAbortedEventDetails": details,
    }


def _json_ready(value: Any) -> Any:
    """Timestamps as epoch seconds (the JSON protocol's form), enums as their value."""
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, str) and _is_iso(value):
        return datetime.datetime.fromisoformat(value).timestamp()
    if hasattr(value, "value") and not isinstance(value, str | int | float | bool):
        return value.value
    return value


def _is_iso(text: str) -> bool:
    """Whether a string is one of the interpreter's timestamps (2024-01-02T03:04:05.678Z)."""
    return len(text) in (20, 24, 27) and text[4:5] == "-" and text[10:11] == "T"


def _start_answer(record: Record) -> dict[str, Any]:
    return {"executionArn": record.arn, "startDate": record.started.timestamp()}


def describe(record: Record) -> dict[str, Any]:
    """DescribeExecution's answer."""
    answer: dict[str, Any] = {
        "executionArn": record.arn,
        "stateMachineArn": record.machine.arn,
        "name": record.name,
        "status": record.status,
        "startDate": record.started.timestamp(),
        "input": record.input_text,
        "inputDetails": {"included": True},
    }
    if record.stopped is not None:
        answer["stopDate"] = record.stopped.timestamp()
    if record.output is not None:
        answer["output"] = record.output
        answer["outputDetails"] = {"included": True}
    if record.error is not None:
        answer["error"] = record.error
    if record.cause is not None:
        answer["cause"] = record.cause
    if record.trace_header is not None:
        answer["traceHeader"] = record.trace_header
    return answer


def _list_item(record: Record) -> dict[str, Any]:
    item = {
        "executionArn": record.arn,
        "stateMachineArn": record.machine.arn,
        "name": record.name,
        "status": record.status,
        "startDate": record.started.timestamp(),
    }
    if record.stopped is not None:
        item["stopDate"] = record.stopped.timestamp()
    return item


def history_page(events: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
    """GetExecutionHistory's answer: one page of events, `reverseOrder` newest first;
    without `includeExecutionData` the events carry no input or output."""
    if request.get("reverseOrder") is True:
        events = list(reversed(events))
    if request.get("includeExecutionData") is False:
        events = [_without_data(event) for event in events]
    return _page(events, request, "events", MAX_RESULTS)


_DATA_KEYS = frozenset({"input", "output"})


def _without_data(event: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {k: v for k, v in value.items() if k not in _DATA_KEYS}
        if isinstance(value, dict) and key.endswith("EventDetails")
        else value
        for key, value in event.items()
    }


def _page(
    items: list[dict[str, Any]], request: dict[str, Any], key: str, default: int
) -> dict[str, Any]:
    """One page of a list answer: `maxResults` (0 or absent: the default) from `nextToken`."""
    most = request.get("maxResults") or default
    if not isinstance(most, int) or not 0 < most <= MAX_RESULTS:
        raise JsonRESTError(
            "ValidationException",
            f"1 validation error detected: Value '{most}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value less than or equal to {MAX_RESULTS}",
        )
    start = 0
    token = request.get("nextToken")
    if token is not None:
        try:
            start = int(base64.b64decode(str(token), validate=True).decode())
        except ValueError:
            raise JsonRESTError("InvalidToken", f"Invalid Token: '{token}'") from None
        if not 0 <= start <= len(items):
            raise JsonRESTError("InvalidToken", f"Invalid Token: '{token}'")
    answer: dict[str, Any] = {key: items[start : start + most]}
    if start + most < len(items):
        answer["nextToken"] = base64.b64encode(str(start + most).encode()).decode()
    return answer


# The executions of this process (one local_aws a process): `configure` sets its bound.
EXECUTIONS = Executions()


def configure(max_running: int) -> None:
    """At most ``max_running`` executions run at a time (`Settings.sfn_max_running_executions`)."""
    EXECUTIONS.max_running = max_running


def is_execution_action(service: str, headers: dict[str, str]) -> str | None:
    """The action of a request `Executions.answer` serves (by its `X-Amz-Target`), or None."""
    target = next((v for k, v in headers.items() if k.lower() == "x-amz-target"), "")
    action = target.rpartition(".")[2]
    return action if service == "states" and action in ACTIONS else None
