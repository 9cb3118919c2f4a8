"""The SQS event Lambda sends ("Using Lambda with Amazon SQS") and how a batch's answer is read."""

from __future__ import annotations

import hashlib

from moto.sqs.models import Message

from local_aws import event_sources

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
