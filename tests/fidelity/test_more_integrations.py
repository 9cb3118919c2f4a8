"""Reference §3.3, §3.4: MOCK integrations, non-proxy (AWS) Lambda integrations and AWS
service integrations beyond DynamoDB (SQS, SNS, EventBridge, Kinesis, Step Functions), with
the integration's role enforced and stage variables in templates and in a Lambda URI.

The stack comes from templates/more_integrations.yaml; every route is on one API.
"""

from __future__ import annotations

import json

import pytest

from tests.fidelity.support import TEMPLATES, error_frame_pattern
from tests.support import deploy, wait_for
from tests.support.clients import ask, connect, send_json

INTERNAL_SERVER_ERROR = error_frame_pattern("Internal server error")


@pytest.fixture(scope="module")
def stack(local_aws) -> dict[str, str]:
    return deploy(local_aws, "fid-more", TEMPLATES / "more_integrations.yaml")


def connection_id_of(ws) -> str:
    """The connection's id, as the MOCK route's response template prints it."""
    return json.loads(ask(ws, {"action": "mock", "code": 200}))["connectionId"]


def received_messages(server, queue_url: str, wanted: int = 1) -> list[str]:
    """The bodies of the queue's messages, waiting until at least `wanted` arrived."""
    sqs = server.client("sqs")
    bodies: list[str] = []

    def arrived() -> bool:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        bodies.extend(message["Body"] for message in answer.get("Messages", []))
        return len(bodies) >= wanted

    wait_for(arrived, 10, f"fewer than {wanted} messages arrived in {queue_url}")
    return bodies


# ---------------------------------------------------------------- MOCK


def test_mock_route_answers_from_its_response_template(ws) -> None:
    answer = json.loads(ask(ws, {"action": "mock", "code": 201}))
    assert answer["mocked"] == "201"  # the template's statusCode picked /2\d\d/
    assert answer["greeting"] == "hello-from-the-stage"  # $stageVariables in a template
    assert len(answer["connectionId"]) == 16


def test_mock_status_selects_the_integration_response(ws) -> None:
    assert json.loads(ask(ws, {"action": "mock", "code": 404})) == {"refused": 404}


def test_mock_status_no_response_matches_is_an_internal_error(local_aws, ws) -> None:
    assert INTERNAL_SERVER_ERROR.match(ask(ws, {"action": "mock", "code": 500}))
    assert "No match for output mapping" in local_aws.log()


def test_mock_template_without_a_status_is_a_configuration_error(local_aws, ws) -> None:
    """`$input.path('$.code')` renders nothing: the template gives no integer statusCode."""
    assert INTERNAL_SERVER_ERROR.match(ask(ws, {"action": "mock"}))
    assert "statusCode should be an integer which defined in request template" in local_aws.log()


# ---------------------------------------------------------------- AWS Lambda (non-proxy)


def test_lambda_gets_the_rendered_request_template(ws) -> None:
    """The function is named by a stage variable in the URI; its event is the template."""
    connection_id = connection_id_of(ws)
    answer = json.loads(ask(ws, {"action": "sendmessage", "text": 'hi "there"'}))
    assert answer == {
        "reply": {
            "connectionId": connection_id,
            "text": 'hi "there"',
            "greeting": "hello-from-the-stage",
        }
    }


def test_lambda_error_message_selects_the_integration_response(ws) -> None:
    answer = json.loads(ask(ws, {"action": "sendmessage", "text": "fail"}))
    assert answer == {"error": "bad text: fail"}


def test_lambda_without_a_permission_for_this_api_is_not_invoked(local_aws, ws) -> None:
    assert INTERNAL_SERVER_ERROR.match(ask(ws, {"action": "unpermitted"}))
    assert "may not invoke fid-more-unpermitted from" in local_aws.log()


# ---------------------------------------------------------------- SQS


def test_sqs_route_sends_the_rendered_message_to_the_queue(local_aws, stack, ws) -> None:
    connection_id = connection_id_of(ws)
    assert json.loads(ask(ws, {"action": "sqs", "text": "hello & bye"})) == {"queued": 200}
    assert received_messages(local_aws, stack["QueueUrl"]) == [f"{connection_id} says hello & bye"]


def test_a_role_without_the_permission_is_an_internal_error(local_aws, stack, ws) -> None:
    assert INTERNAL_SERVER_ERROR.match(ask(ws, {"action": "denied"}))
    log = local_aws.log()
    assert "NarrowRole" in log and "is not authorized to perform sqs:SendMessage" in log
    sqs = local_aws.client("sqs")
    answer = sqs.receive_message(QueueUrl=stack["QueueUrl"], WaitTimeSeconds=0)
    assert "denied" not in [message["Body"] for message in answer.get("Messages", [])]


# ---------------------------------------------------------------- SNS, EventBridge


def test_sns_route_publishes_the_rendered_message(local_aws, stack, ws) -> None:
    """A one-way route; the topic delivers to a queue the test reads."""
    local_aws.client("sns").subscribe(
        TopicArn=stack["TopicArn"],
        Protocol="sqs",
        Endpoint=stack["DeliveryQueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    connection_id = connection_id_of(ws)
    send_json(ws, {"action": "sns", "text": "news"})
    assert f"news from {connection_id}" in received_messages(local_aws, stack["DeliveryQueueUrl"])


def test_eventbridge_route_puts_the_rendered_event(local_aws, stack) -> None:
    events = local_aws.client("events")
    events.put_rule(
        Name="fid-more-chat",
        EventBusName=stack["BusName"],
        EventPattern=json.dumps({"source": ["websocket.chat"]}),
    )
    events.put_targets(
        Rule="fid-more-chat",
        EventBusName=stack["BusName"],
        Targets=[{"Id": "queue", "Arn": stack["DeliveryQueueArn"]}],
    )
    client = connect(stack["WebSocketURL"])
    try:
        connection_id = connection_id_of(client)
        send_json(client, {"action": "events", "text": 'say "hi"'})
        delivered = [
            json.loads(body) for body in received_messages(local_aws, stack["DeliveryQueueUrl"])
        ]
    finally:
        client.close()
    [event] = [body for body in delivered if body.get("source") == "websocket.chat"]
    assert event["detail-type"] == "message"
    assert event["detail"] == {"connectionId": connection_id, "text": 'say "hi"'}


# ---------------------------------------------------------------- Kinesis, Step Functions


def test_kinesis_route_puts_the_rendered_record(local_aws, stack, ws) -> None:
    connection_id = connection_id_of(ws)
    answer = json.loads(ask(ws, {"action": "kinesis", "n": 1}))
    assert answer == {"shard": "shardId-000000000000"}
    kinesis = local_aws.client("kinesis")
    iterator = kinesis.get_shard_iterator(
        StreamName=stack["StreamName"],
        ShardId="shardId-000000000000",
        ShardIteratorType="TRIM_HORIZON",
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=iterator)["Records"]
    mine = [record for record in records if record["PartitionKey"] == connection_id]
    assert [json.loads(record["Data"]) for record in mine] == [{"action": "kinesis", "n": 1}]


def test_step_functions_route_starts_an_execution_with_the_rendered_input(
    local_aws, stack, ws
) -> None:
    connection_id = connection_id_of(ws)
    answer = json.loads(ask(ws, {"action": "states"}))
    described = local_aws.client("stepfunctions").describe_execution(
        executionArn=answer["execution"]
    )
    assert described["stateMachineArn"] == stack["MachineArn"]
    assert json.loads(described["input"]) == {"connectionId": connection_id}
