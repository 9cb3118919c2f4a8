"""A Lambda that answers through `@connections`, building the endpoint from its event as on AWS."""

from __future__ import annotations

import json

import websocket

from tests.conftest import TEMPLATE, deploy

CALLBACK_HANDLER = """
          import json
          import boto3


          def handler(event, context):
              context_ = event["requestContext"]
              endpoint = "https://" + context_["domainName"] + "/" + context_["stage"]
              client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
              client.post_to_connection(
                  ConnectionId=context_["connectionId"], Data=b"via @connections"
              )
              return {"statusCode": 200, "body": json.dumps({"posted": True})}
"""


def callback_template() -> str:
    """The workshop template, with a $default function that posts back via @connections."""
    template = TEMPLATE.read_text()
    start = template.index("        ZipFile: |\n") + len("        ZipFile: |\n")
    end = template.index("  DefaultRouteFunctionLogGroup:")
    return template[:start] + CALLBACK_HANDLER.lstrip("\n") + "\n" + template[end:]


def test_lambda_posts_back_through_the_endpoint_in_its_event(local_aws) -> None:
    outputs = deploy(local_aws, "callback", callback_template())
    ws = websocket.create_connection(outputs["WebSocketURL"], timeout=10)
    try:
        ws.send('{"action": "anything"}')
        received = {ws.recv(), ws.recv()}
        assert received == {"via @connections", json.dumps({"posted": True})}
    finally:
        ws.close()
