"""SQS event source mappings ("Using Lambda with Amazon SQS"): a function mapped to a queue
runs on its messages in batches; successes are deleted, failures retried after the
visibility timeout, then moved to the dead-letter queue; ReportBatchItemFailures deletes
only the successes; a FIFO group is processed in order; a disabled mapping runs nothing.

The stack comes from templates/sqs_event_sources.yaml; the WebSocket route `send` is the
pattern: the client's message goes to a FIFO queue and the mapped function answers it
through @connections.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.fidelity.support import TEMPLATES
from tests.support import deploy, wait_for
from tests.support.clients import connect, send_json

TEMPLATE = TEMPLATES / "sqs_event_sources.yaml"


@pytest.fixture(scope="module")
def stack(local_aws) -> dict[str, str]:
    return deploy(local_aws, "fid-esm", TEMPLATE)


def records(server, queue_url: str, wanted: int, timeout: float = 20) -> list[dict]:
    """What a function recorded on its record queue, waiting until `wanted` records arrived."""
    sqs = server.client("sqs")
    seen: list[dict] = []

    def arrived() -> bool:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        for message in answer.get("Messages", []):
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(seen) >= wanted

    wait_for(arrived, timeout, f"fewer than {wanted} records arrived in {queue_url}")
    return seen


def counts(server, queue_url: str) -> tuple[int, int]:
    """The queue's (visible, in flight) message counts."""
    attributes = server.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def test_sent_message_is_answered_through_the_queue_and_connections(stack) -> None:
    ws = connect(stack["WebSocketURL"])
    try:
        send_json(ws, {"action": "send", "message": {"text": "first"}})
        send_json(ws, {"action": "send", "message": {"text": "second"}})
        answers = [json.loads(ws.recv()), json.loads(ws.recv())]
    finally:
        ws.close()
    # One message group per connection: answered in the order sent.
    assert [answer["message"] for answer in answers] == [{"text": "first"}, {"text": "second"}]
    first, second = answers
    assert first["eventSource"] == "aws:sqs"
    # The function posted to the connectionId the message carried: the sender got it.
    assert first["connectionId"] == second["connectionId"] == first["messageGroupId"]
    assert first["requestId"] and first["requestId"] != second["requestId"]


def test_answered_messages_are_deleted_from_the_queue(local_aws, stack) -> None:
    ws = connect(stack["WebSocketURL"])
    try:
        send_json(ws, {"action": "send", "message": "gone after"})
        ws.recv()
    finally:
        ws.close()
    wait_for(lambda: counts(local_aws, stack["SendQueueUrl"]) == (0, 0), 10, "still queued")


def test_failing_function_is_retried_then_the_message_goes_to_the_dead_letter_queue(
    local_aws, stack
) -> None:
    local_aws.client("sqs").send_message(QueueUrl=stack["RetryQueueUrl"], MessageBody="poison")
    seen = records(local_aws, stack["RetryRecordsUrl"], 3)
    assert [record["count"] for record in seen[:3]] == ["1", "2", "3"]
    assert {record["body"] for record in seen} == {"poison"}
    dead = local_aws.client("sqs")

    def dead_letter() -> list[dict]:
        answer = dead.receive_message(QueueUrl=stack["DeadLettersUrl"], MaxNumberOfMessages=10)
        return answer.get("Messages", [])

    assert wait_for(dead_letter, 15, "the message never reached the DLQ")[0]["Body"] == "poison"
    assert "this function always fails" not in local_aws.log()  # the function's own logs
    # One warning for the cause, not one per retry.
    assert local_aws.log().count("FailingFunction") == 1


def test_report_batch_item_failures_deletes_only_the_successes(local_aws, stack) -> None:
    local_aws.client("sqs").send_message_batch(
        QueueUrl=stack["PartialQueueUrl"],
        Entries=[
            {"Id": "a", "MessageBody": "ok-1"},
            {"Id": "b", "MessageBody": "fail-1"},
            {"Id": "c", "MessageBody": "ok-2"},
        ],
    )
    first = records(local_aws, stack["PartialRecordsUrl"], 3)
    assert sorted(record["body"] for record in first) == ["fail-1", "ok-1", "ok-2"]
    # The failure stays in flight until its visibility timeout (2 s); the rest are deleted.
    assert counts(local_aws, stack["PartialQueueUrl"]) == (0, 1)
    retried = records(local_aws, stack["PartialRecordsUrl"], 1)
    assert retried == [{"body": "fail-1", "count": "2"}]
    wait_for(lambda: counts(local_aws, stack["PartialQueueUrl"]) == (0, 0), 10, "not deleted")


def test_fifo_group_is_processed_in_order_even_across_a_retry(local_aws, stack) -> None:
    sqs = local_aws.client("sqs")
    for body in ("1", "2", "3"):
        sqs.send_message(QueueUrl=stack["OrderQueueUrl"], MessageBody=body, MessageGroupId="g")
    seen = records(local_aws, stack["OrderRecordsUrl"], 4)
    # "2" failed once: "3" waited for its retry instead of overtaking it.
    assert seen == [
        {"body": "1", "count": "1"},
        {"body": "2", "count": "1"},
        {"body": "2", "count": "2"},
        {"body": "3", "count": "1"},
    ]


def test_disabled_mapping_runs_nothing(local_aws, stack) -> None:
    sqs = local_aws.client("sqs")
    sqs.send_message(QueueUrl=stack["DisabledQueueUrl"], MessageBody="untouched")
    time.sleep(1.5)  # several poll intervals (0.2 s)
    answer = sqs.receive_message(
        QueueUrl=stack["DisabledQueueUrl"], AttributeNames=["ApproximateReceiveCount"]
    )
    [message] = answer["Messages"]
    assert message["Body"] == "untouched"
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"  # this receive, the first


def test_a_flooded_queue_does_not_starve_websocket_clients(local_aws, stack) -> None:
    sqs = local_aws.client("sqs")
    for start in range(0, 500, 10):
        sqs.send_message_batch(
            QueueUrl=stack["FloodQueueUrl"],
            Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(start, start + 10)],
        )
    ws = connect(stack["WebSocketURL"])
    try:
        began = time.monotonic()
        send_json(ws, {"action": "send", "message": "during the flood"})
        assert json.loads(ws.recv())["message"] == "during the flood"
        assert time.monotonic() - began < 5
    finally:
        ws.close()
    # Batches of 10, one at a time: the queue drains.
    wait_for(lambda: counts(local_aws, stack["FloodQueueUrl"]) == (0, 0), 60, "never drained")


def test_a_function_that_never_answers_is_ended_by_its_timeout_and_retried(
    local_aws, stack
) -> None:
    local_aws.client("sqs").send_message(QueueUrl=stack["HangQueueUrl"], MessageBody="stuck")
    seen = records(local_aws, stack["HangRecordsUrl"], 2, timeout=30)
    assert [record["count"] for record in seen[:2]] == ["1", "2"]


def test_deleting_the_stack_stops_polling(local_aws) -> None:
    outputs = deploy(local_aws, "fid-esm-deleted", TEMPLATE)
    lambda_client = local_aws.client("lambda")
    mappings = lambda_client.list_event_source_mappings()["EventSourceMappings"]
    queue_arn = local_aws.client("sqs").get_queue_attributes(
        QueueUrl=outputs["PartialQueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert any(mapping["EventSourceArn"] == queue_arn for mapping in mappings)
    cloudformation = local_aws.client("cloudformation")
    cloudformation.delete_stack(StackName="fid-esm-deleted")
    cloudformation.get_waiter("stack_delete_complete").wait(
        StackName="fid-esm-deleted", WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    mappings = lambda_client.list_event_source_mappings()["EventSourceMappings"]
    assert not any(mapping["EventSourceArn"] == queue_arn for mapping in mappings)


def test_a_queue_whose_visibility_timeout_is_below_the_function_timeout_is_refused(
    local_aws, stack
) -> None:
    """AWS refuses the mapping: the batch would be handed out again while the function runs."""
    sqs = local_aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="esm-short", Attributes={"VisibilityTimeout": "3"})[
        "QueueUrl"
    ]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    lambda_client = local_aws.client("lambda")
    [answer] = [
        function["FunctionName"]
        for function in lambda_client.list_functions()["Functions"]
        if function["FunctionName"].startswith("fid-esm-AnswerFunction")
    ]
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as refused:
        lambda_client.create_event_source_mapping(FunctionName=answer, EventSourceArn=queue_arn)
    assert "Queue visibility timeout: 3 seconds is less than Function timeout: 10 seconds" in (
        str(refused.value)
    )
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "60"})
    created = lambda_client.create_event_source_mapping(
        FunctionName=answer, EventSourceArn=queue_arn, Enabled=False
    )
    lambda_client.delete_event_source_mapping(UUID=created["UUID"])
