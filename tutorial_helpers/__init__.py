"""Small helpers for the API Gateway WebSocket workshop: plain boto3 and websocket-client.

| module | what it does |
|---|---|
| `target` | local_aws or AWS (`TUTORIAL_TARGET`), boto3 clients, stack name, identity |
| `local_server` | start local_aws if nothing answers, stop it if we started it |
| `template` | where cfn/template.yaml is, read as a dict, checked by cfn-lint |
| `resource_purposes` | why each resource of the template exists (the table in 01_deploy) |
| `stack` | deploy (create or update), status, outputs, delete |
| `stack_watch` | stack events as lines, counting finished resources, until the stack settles |
| `stack_states` | what each stack status means, and what to do about it |
| `websocket_client` | connect (query string, headers), send, receive with timeouts |
| `tables` | DynamoDB items as DataFrames, item reads, waiting for `$disconnect` |
| `connections_api` | `@connections`: post, connection info, broadcast with stale-id cleanup |
| `original_pattern` | the seed pattern (bugs kept) as a second stack; checks for its bugs |
| `quotas` | frame and message sizes, close codes, an extra local_aws, the throttled stack |
| `pricing` | a month's cost: connection minutes and messages in 32 KB increments |
| `cleanup` | delete the stack(s), list what is left (`python -m tutorial_helpers.cleanup`) |
| `room` | one stack for a room: who is there, a message to all (`python -m ...room`) |
| `observe` | notebook 09's stack (`cfn/observed.yaml`), its logs, metrics and error probes |
| `workflows` | notebook 09's callback stack (`cfn/sfn.yaml`): its workflow and history |
| `chat` | notebook 07's chat stack (`cfn/chat.yaml`), handshake status, its browser page |
| `notebook_errors` | errors in a notebook as one line saying what to do (installed on import) |

Every mistake a learner can make raises `WorkshopError`, whose message says what to do; in a
notebook it shows as that one line.
"""

from __future__ import annotations

from tutorial_helpers.cleanup import delete_workshop_stacks, leftovers, stack_resources
from tutorial_helpers.connections_api import (
    broadcast,
    connection_info,
    management_client,
    management_endpoint,
    post,
)
from tutorial_helpers.errors import WorkshopError
from tutorial_helpers.local_server import (
    ensure_local_aws,
    start_workshop,
    stop_local_aws_if_we_started_it,
)
from tutorial_helpers.notebook_errors import install as _install_notebook_errors
from tutorial_helpers.resource_purposes import template_resources
from tutorial_helpers.stack import (
    WORKSHOP_TAG,
    delete_stack,
    deploy_stack,
    ensure_stack,
    outputs_table,
    stack_outputs,
    stack_status,
)
from tutorial_helpers.tables import (
    deserialize,
    get_item,
    items_to_dataframe,
    scan_items,
    wait_until,
    wait_until_item_gone,
)
from tutorial_helpers.target import Target, describe, select_target, whoami
from tutorial_helpers.template import TEMPLATE_PATH, lint_template, load_template
from tutorial_helpers.websocket_client import (
    connect,
    drop,
    is_closed_by_server,
    my_connection_id,
    receive,
    receive_json,
    send_json,
)

__all__ = [
    "TEMPLATE_PATH",
    "WORKSHOP_TAG",
    "Target",
    "WorkshopError",
    "broadcast",
    "connect",
    "connection_info",
    "delete_stack",
    "delete_workshop_stacks",
    "deploy_stack",
    "describe",
    "deserialize",
    "drop",
    "ensure_local_aws",
    "ensure_stack",
    "get_item",
    "is_closed_by_server",
    "items_to_dataframe",
    "leftovers",
    "lint_template",
    "load_template",
    "management_client",
    "management_endpoint",
    "my_connection_id",
    "outputs_table",
    "post",
    "receive",
    "receive_json",
    "scan_items",
    "select_target",
    "send_json",
    "stack_outputs",
    "stack_resources",
    "stack_status",
    "start_workshop",
    "stop_local_aws_if_we_started_it",
    "template_resources",
    "wait_until",
    "wait_until_item_gone",
    "whoami",
]

_install_notebook_errors()
