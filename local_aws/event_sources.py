"""Lambda event source mappings for SQS: a poller that runs the mapped function on batches.

moto stores `AWS::Lambda::EventSourceMapping` (and SAM's `Events: {Type: SQS}`, which
expands to one) but polls nothing; it even tries to run the function inside SendMessage,
with Docker. `without_moto_s_delivery` stops that, and `SqsPoller` does what Lambda's
poller does ("Using Lambda with Amazon SQS"):

- every `sqs_poll_seconds`, each enabled mapping of an SQS queue receives up to its
  BatchSize messages (default 10) with the queue's visibility timeout;
- the function runs once per batch in the same warm workers as every other invocation,
  with the event AWS sends (`record`); its logs go to CloudWatch Logs;
- on success the batch is deleted; on a function error it is left to reappear after the
  visibility timeout (moto's receive then moves it to the dead-letter queue past the
  redrive policy's maxReceiveCount); with `FunctionResponseTypes: [ReportBatchItemFailures]`
  every message but the `batchItemFailures` ids is deleted;
- FIFO: moto's receive keeps a message group back while one of its messages is in flight,
  so a group's messages run in order, one batch at a time.

Bounds: one batch in flight per mapping (batches are sequential), moto's lock is held only
to receive and to delete, never while a function runs, and every moto call runs on the
executor, never on the event loop. A failure is logged once per mapping and cause.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from local_aws.lambda_worker_process import INIT_TIMEOUT_SECONDS, FunctionConfig, InvocationResult

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 10  # AWS's default for a standard and a FIFO queue
_WAIT_MARGIN_SECONDS = 5.0  # on top of init and the function's timeout
_MAX_LOGGED_CAUSES = 1_000  # causes remembered as logged; then forgotten (logged again)

Invoke = Callable[[FunctionConfig, Any], Coroutine[Any, Any, InvocationResult]]


def without_moto_s_delivery(create: Callable[..., Any]) -> Callable[..., Any]:
    """moto's `LambdaBackend.create_event_source_mapping`, without moto's own delivery.

    moto registers an SQS mapping on the queue, whose SendMessage then invokes the function
    in the sender's request (with Docker). The mapping stays in the Lambda backend, where
    `SqsPoller` finds it. As AWS does, a queue whose visibility timeout is shorter than the
    function's timeout is refused.
    """

    def create_event_source_mapping(backend: Any, spec: dict[str, Any]) -> Any:
        from moto.sqs.models import sqs_backends

        queues = sqs_backends[backend.account_id][backend.region_name].queues
        queue = next(
            (q for q in queues.values() if q.queue_arn == spec.get("EventSourceArn")), None
        )
        if queue is not None:
            _check_visibility_timeout(backend, queue, spec.get("FunctionName") or "")
        mapping = create(backend, spec)
        if queue is not None:
            queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
        return mapping

    return create_event_source_mapping


def _check_visibility_timeout(backend: Any, queue: Any, function_name: str) -> None:
    """AWS's refusal of a queue that would hand a batch out again while the function runs."""
    from moto.core.exceptions import JsonRESTError

    try:
        function = backend.get_function(function_name)
    except Exception:  # moto's own create answers for a missing function
        return
    visibility = int(getattr(queue, "visibility_timeout", 30))
    timeout = int(function.timeout)
    if visibility < timeout:
        raise JsonRESTError(
            "InvalidParameterValueException",
            f"Queue visibility timeout: {visibility} seconds is less than Function timeout: "
            f"{timeout} seconds. Raise the queue's VisibilityTimeout (AWS recommends six "
            "times the function's timeout) or lower the function's Timeout.",
        )


def record(message: Any, queue_arn: str, region: str) -> dict[str, Any]:
    """One message of moto's (as received) as a record of the event Lambda sends."""
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": str(message.sender_id),
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    if queue_arn.endswith(".fifo"):
        attributes["SequenceNumber"] = str(message.sequence_number)
        attributes["MessageGroupId"] = str(message.group_id)
        attributes["MessageDeduplicationId"] = str(message.deduplication_id)
    result: dict[str, Any] = {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {
            name: message_attribute(value) for name, value in message.message_attributes.items()
        },
        "md5OfBody": message.body_md5,
    }
    if message.message_attributes:
        result["md5OfMessageAttributes"] = message.attribute_md5
    result.update(eventSource="aws:sqs", eventSourceARN=queue_arn, awsRegion=region)
    return result


def message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute as SQS's API has it (`StringValue`...) as an event has it."""
    converted: dict[str, Any] = {}
    if value.get("StringValue") is not None:
        converted["stringValue"] = value["StringValue"]
    if value.get("BinaryValue") is not None:
        binary = value["BinaryValue"]
        converted["binaryValue"] = (
            base64.b64encode(binary).decode("ascii") if isinstance(binary, bytes) else binary
        )
    converted["stringListValues"] = list(value.get("StringListValues") or [])
    converted["binaryListValues"] = list(value.get("BinaryListValues") or [])
    converted["dataType"] = value.get("DataType", "String")
    return converted


def failed_ids(payload: Any, batch_ids: list[str]) -> set[str] | None:
    """The ids a ReportBatchItemFailures response names as failed; None: the whole batch failed.

    As AWS documents: no response, an empty or null `batchItemFailures` is a full success; an
    `itemIdentifier` that is missing, empty or not in the batch fails the whole batch.
    """
    if not isinstance(payload, dict) or not payload.get("batchItemFailures"):
        return set()
    failures = payload["batchItemFailures"]
    if not isinstance(failures, list):
        return None
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in batch_ids:
            return None
        failed.add(identifier)
    return failed


@dataclass(frozen=True)
class Mapping:
    """What the poller needs of one of moto's EventSourceMapping objects."""

    uuid: str
    account_id: str
    region: str
    queue_arn: str
    function_arn: str
    batch_size: int
    report_item_failures: bool


@dataclass
class Batch:
    """Messages received for a mapping, and the function to run on them."""

    function: FunctionConfig
    event: dict[str, Any]
    receipts: dict[str, str] = field(default_factory=dict)  # messageId -> receipt handle


def enabled_sqs_mappings() -> list[Mapping]:
    """Every enabled mapping of an SQS queue, in every account and region (blocking)."""
    from moto.awslambda.models import lambda_backends

    from local_aws import services

    found = []
    with services.LOCK:
        for account_backends in list(lambda_backends.values()):
            for backend in list(account_backends.values()):
                for mapping in backend.list_event_source_mappings("", ""):
                    if mapping.event_source_arn.split(":")[2] != "sqs":
                        continue
                    if not _true(mapping.enabled):
                        continue
                    found.append(
                        Mapping(
                            uuid=mapping.uuid,
                            account_id=mapping.account_id,
                            region=mapping.region,
                            queue_arn=mapping.event_source_arn,
                            function_arn=mapping.function_arn,
                            batch_size=int(mapping.batch_size or DEFAULT_BATCH_SIZE),
                            report_item_failures="ReportBatchItemFailures"
                            in (mapping.function_response_types or []),
                        )
                    )
    return found


def _true(value: Any) -> bool:
    """A template's `Enabled`: a boolean, or a string from a parameter."""
    return value.lower() != "false" if isinstance(value, str) else bool(value)


class Unavailable(Exception):
    """The mapping's queue or function is gone, or the function cannot run."""


def receive(mapping: Mapping) -> Batch | None:
    """Up to BatchSize of the queue's messages as the function's event; None if none (blocking)."""
    from moto.awslambda.utils import get_backend
    from moto.sqs.models import sqs_backends

    from local_aws import services
    from local_aws.lambda_runtime import function_config

    queue_name = mapping.queue_arn.split(":")[5]
    with services.LOCK:
        sqs = sqs_backends[mapping.account_id][mapping.region]
        queue = sqs.queues.get(queue_name)
        if queue is None or queue.queue_arn != mapping.queue_arn:
            raise Unavailable(f"the queue {mapping.queue_arn} does not exist")
        try:
            function = get_backend(mapping.account_id, mapping.region).get_function(
                mapping.function_arn
            )
        except Exception:
            raise Unavailable(f"the function {mapping.function_arn} does not exist") from None
        messages = sqs.receive_message(
            queue_name,
            min(mapping.batch_size, 10_000),
            0,
            int(getattr(queue, "visibility_timeout", 30)),  # an attribute moto sets at run time
            ["All"],
        )
        if not messages:
            return None
        records = [record(message, mapping.queue_arn, mapping.region) for message in messages]
        config = function_config(function)
    return Batch(
        config,
        {"Records": records},
        {entry["messageId"]: entry["receiptHandle"] for entry in records},
    )


def delete(mapping: Mapping, receipts: list[str]) -> None:
    """Delete these messages from the mapping's queue (blocking)."""
    from moto.sqs.models import sqs_backends

    from local_aws import services

    queue_name = mapping.queue_arn.split(":")[5]
    with services.LOCK:
        sqs = sqs_backends[mapping.account_id][mapping.region]
        if sqs.queues.get(queue_name) is None:
            return
        for receipt in receipts:
            try:
                sqs.delete_message(queue_name, receipt)
            except Exception:  # noqa: S112 - gone already (purged, or the queue was recreated)
                continue


class SqsPoller:
    """Polls every enabled SQS event source mapping and runs its function on each batch."""

    def __init__(self, invoke: Invoke, executor: Executor, poll_seconds: float) -> None:
        """`invoke(function, event)` runs a function (and logs it); moto is called on `executor`."""
        self._invoke = invoke
        self._executor = executor
        self._poll_seconds = max(0.01, poll_seconds)
        self._running: dict[str, asyncio.Task[None]] = {}  # mapping uuid -> its batches
        self._logged: set[tuple[str, str]] = set()  # (mapping uuid, cause) already logged

    async def run(self) -> None:
        """Poll until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._poll_seconds)
            try:
                mappings = await loop.run_in_executor(self._executor, enabled_sqs_mappings)
            except Exception as error:
                self._log_once("*", f"listing the event source mappings failed: {error!r}")
                continue
            current = {mapping.uuid for mapping in mappings}
            # Forget what was logged of mappings that are gone, so the set cannot grow.
            self._logged = {key for key in self._logged if key[0] in current or key[0] == "*"}
            for mapping in mappings:
                if mapping.uuid not in self._running:
                    task = asyncio.create_task(self._drain(mapping))
                    self._running[mapping.uuid] = task
                    task.add_done_callback(functools.partial(self._done, mapping.uuid))

    def _done(self, uuid: str, _: object) -> None:
        self._running.pop(uuid, None)

    async def close(self) -> None:
        """Stop the batches in flight (their messages reappear after the visibility timeout)."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def _drain(self, mapping: Mapping) -> None:
        """Run batches one after the other while the queue has messages."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                batch = await loop.run_in_executor(self._executor, receive, mapping)
            except Unavailable as error:
                self._log_once(mapping.uuid, f"event source mapping {mapping.uuid}: {error}")
                return
            except Exception as error:
                self._log_once(mapping.uuid, f"receiving for {mapping.uuid} failed: {error!r}")
                return
            if batch is None:
                return
            to_delete = await self._run(mapping, batch)
            if to_delete:
                await loop.run_in_executor(self._executor, delete, mapping, to_delete)

    async def _run(self, mapping: Mapping, batch: Batch) -> list[str]:
        """Run the function on the batch; the receipt handles of the messages to delete."""
        function = batch.function
        bound = INIT_TIMEOUT_SECONDS + function.timeout_seconds + _WAIT_MARGIN_SECONDS
        try:
            result = await asyncio.wait_for(self._invoke(function, batch.event), bound)
        except TimeoutError:
            self._log_once(mapping.uuid, f"{function.name} did not answer in {bound:.0f} s")
            return []
        if result.error is not None:
            cause = result.error.get("errorType", "error")
            self._log_once(
                mapping.uuid,
                f"{function.name} failed ({cause}) on a batch of {mapping.queue_arn}: its "
                "messages are received again after the queue's visibility timeout",
            )
            return []
        ids = list(batch.receipts)
        if not mapping.report_item_failures:
            return list(batch.receipts.values())
        failed = failed_ids(result.payload, ids)
        if failed is None:
            self._log_once(
                mapping.uuid,
                f"{function.name} answered batchItemFailures naming no message of the batch: "
                "the whole batch is retried, as on AWS",
            )
            return []
        return [batch.receipts[i] for i in ids if i not in failed]

    def _log_once(self, uuid: str, message: str) -> None:
        cause = message.split(":")[0] if uuid == "*" else message
        if len(self._logged) >= _MAX_LOGGED_CAUSES:
            self._logged.clear()
        if (uuid, cause) not in self._logged:
            self._logged.add((uuid, cause))
            logger.warning("%s", message)
