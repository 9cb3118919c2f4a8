"""The SQS event Lambda sends ("Using Lambda with Amazon SQS") and how a batch's answer is read."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from moto.sqs.models import Message

from local_aws import event_sources
from local_aws.lambda_worker_process import FunctionConfig, InvocationResult

QUEUE = "arn:aws:sqs:eu-west-1:123456789012:orders"
FIFO = "arn:aws:sqs:eu-west-1:123456789012:orders.fifo"


def received(body: str = "hello", attributes: dict | None = None) -> Message:
    message = Message("059f36b4-87a3-44ab-83d2-661975830a7d", body)
    message.message_attributes = attributes or {}
    message.sent_timestamp = 1545082649183  # type: ignore[assignment]
    message.mark_received(30)
    return message


def test_a_standard_queue_record_has_the_documented_keys_in_order() -> None:
    message = received()
    record = event_sources.record(message, QUEUE, "eu-west-1")
    assert list(record) == [
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ]
    assert record["messageId"] == message.id
    assert record["receiptHandle"] == message.receipt_handle
    assert record["body"] == "hello"
    assert record["md5OfBody"] == hashlib.md5(b"hello").hexdigest()
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == QUEUE
    assert record["awsRegion"] == "eu-west-1"
    assert record["messageAttributes"] == {}
    attributes = record["attributes"]
    assert list(attributes) == [
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    ]
    # Every attribute is a string, as in AWS's example.
    assert attributes["ApproximateReceiveCount"] == "1"
    assert attributes["SentTimestamp"] == "1545082649183"
    assert all(isinstance(value, str) for value in attributes.values())


def test_the_receive_count_grows_with_each_receive() -> None:
    message = received()
    message.mark_received(30)
    record = event_sources.record(message, QUEUE, "eu-west-1")
    assert record["attributes"]["ApproximateReceiveCount"] == "2"


def test_a_fifo_record_carries_sequence_number_group_and_deduplication_id() -> None:
    message = received()
    message.group_id = "connection-1"
    message.deduplication_id = "request-1"
    message.sequence_number = "18849496460467696128"
    attributes = event_sources.record(message, FIFO, "eu-west-1")["attributes"]
    assert attributes["MessageGroupId"] == "connection-1"
    assert attributes["MessageDeduplicationId"] == "request-1"
    assert attributes["SequenceNumber"] == "18849496460467696128"


def test_message_attributes_are_in_the_event_s_camel_case() -> None:
    message = received(
        attributes={
            "connectionId": {"DataType": "String", "StringValue": "abc="},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        }
    )
    record = event_sources.record(message, QUEUE, "eu-west-1")
    assert record["messageAttributes"] == {
        "connectionId": {
            "stringValue": "abc=",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "blob": {
            "binaryValue": "AAE=",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }
    assert record["md5OfMessageAttributes"] == message.attribute_md5


def test_no_or_empty_batch_item_failures_is_a_full_success() -> None:
    ids = ["a", "b"]
    for payload in (None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, "ok"):
        assert event_sources.failed_ids(payload, ids) == set()


def test_batch_item_failures_name_the_messages_to_keep() -> None:
    payload = {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert event_sources.failed_ids(payload, ["a", "b", "c"]) == {"b"}


def test_an_unknown_empty_or_missing_item_identifier_fails_the_whole_batch() -> None:
    for failure in ({"itemIdentifier": "zz"}, {"itemIdentifier": ""}, {"id": "a"}, "a"):
        assert event_sources.failed_ids({"batchItemFailures": [failure]}, ["a"]) is None
    assert event_sources.failed_ids({"batchItemFailures": "a"}, ["a"]) is None


# ---------------------------------------------------------------- the poller

MAPPING = event_sources.Mapping(
    uuid="m-1",
    account_id="123456789012",
    region="eu-west-1",
    queue_arn=QUEUE,
    function_arn="arn:aws:lambda:eu-west-1:123456789012:function:f",
    batch_size=2,
    report_item_failures=True,
)
FUNCTION = FunctionConfig("f", MAPPING.function_arn, "index.handler", "python3.12", b"", "", {})


class FakeQueue:
    """Batches handed out by `receive`, the receipts `delete` got, and the invocations run."""

    def __init__(self, batches: list[list[str]]) -> None:
        self.batches = batches
        self.deleted: list[str] = []
        self.running = 0
        self.most_running = 0

    def receive(self, mapping: event_sources.Mapping) -> event_sources.Batch | None:
        if not self.batches:
            return None
        ids = self.batches.pop(0)
        records = [{"messageId": i, "receiptHandle": f"r-{i}"} for i in ids]
        return event_sources.Batch(FUNCTION, {"Records": records}, {i: f"r-{i}" for i in ids})

    def delete(self, mapping: event_sources.Mapping, receipts: list[str]) -> None:
        self.deleted.extend(receipts)

    async def invoke(self, function: FunctionConfig, event: dict) -> InvocationResult:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        await asyncio.sleep(0.02)
        self.running -= 1
        failed = [
            {"itemIdentifier": r["messageId"]} for r in event["Records"] if "bad" in r["messageId"]
        ]
        return InvocationResult("id", {"batchItemFailures": failed}, None, "", 1.0)


def poll(queue: FakeQueue, monkeypatch: pytest.MonkeyPatch, seconds: float = 0.3) -> None:
    monkeypatch.setattr(event_sources, "enabled_sqs_mappings", lambda: [MAPPING])
    monkeypatch.setattr(event_sources, "receive", queue.receive)
    monkeypatch.setattr(event_sources, "delete", queue.delete)

    async def scenario() -> None:
        with ThreadPoolExecutor(2) as executor:
            poller = event_sources.SqsPoller(queue.invoke, executor, 0.01)
            task = asyncio.create_task(poller.run())
            await asyncio.sleep(seconds)
            task.cancel()
            await poller.close()

    asyncio.run(scenario())


def test_one_batch_at_a_time_per_mapping_and_only_successes_deleted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue = FakeQueue([["a", "bad-b"], ["c", "d"], ["bad-e"]])
    poll(queue, monkeypatch)
    assert queue.batches == []  # every batch ran, one after the other
    assert queue.most_running == 1
    assert queue.deleted == ["r-a", "r-c", "r-d"]


def test_a_function_error_deletes_nothing_and_is_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    queue = FakeQueue([["a"], ["b"], ["c"]])

    async def failing(function: FunctionConfig, event: dict) -> InvocationResult:
        return InvocationResult("id", None, {"errorType": "ValueError"}, "", 1.0)

    queue.invoke = failing  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, "local_aws.event_sources"):
        poll(queue, monkeypatch)
    assert queue.batches == [] and queue.deleted == []
    assert caplog.text.count("failed (ValueError)") == 1


def test_a_missing_queue_is_logged_once_not_per_poll(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    queue = FakeQueue([])

    def gone(mapping: event_sources.Mapping) -> None:
        raise event_sources.Unavailable(f"the queue {mapping.queue_arn} does not exist")

    queue.receive = gone  # type: ignore[assignment,method-assign]
    with caplog.at_level(logging.WARNING, "local_aws.event_sources"):
        poll(queue, monkeypatch)
    assert caplog.text.count("does not exist") == 1


def test_the_command_line_sets_the_poll_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m local_aws --sqs-poll-seconds S` reaches the settings; 0.2 s by default."""
    from local_aws import __main__, server

    started = []
    monkeypatch.setattr(server, "serve", started.append)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(name, os.environ.get(name, "testing"))
    monkeypatch.setattr("sys.argv", ["local_aws", "--sqs-poll-seconds", "0.05"])
    __main__.main()
    monkeypatch.setattr("sys.argv", ["local_aws"])
    __main__.main()
    assert [settings.sqs_poll_seconds for settings in started] == [0.05, 0.2]
    monkeypatch.setattr("sys.argv", ["local_aws", "--sqs-poll-seconds", "0"])
    with pytest.raises(SystemExit):
        __main__.main()
