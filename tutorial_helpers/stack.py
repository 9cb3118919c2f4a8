"""The workshop's CloudFormation stack: read the template, deploy it, watch it, read its outputs.

`deploy_stack` creates the stack or updates it; it prints the stack events as they happen and
a progress bar over the template's resources. A deploy takes a second on local_aws and a few
minutes on AWS. Every function takes the `Target` from `select_target()`.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
import yaml
from botocore.exceptions import ClientError
from tqdm import tqdm

from tutorial_helpers.errors import WorkshopError
from tutorial_helpers.target import Target

TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "cfn" / "template.yaml"
WORKSHOP_TAG = {"Key": "workshop", "Value": "apigw-websocket"}
CAPABILITIES = ["CAPABILITY_IAM"]  # the template creates IAM roles (with generated names)

# Stack states after which an update is impossible: the first create failed and rolled back.
FAILED_FIRST_CREATE = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED"}
SUCCESS = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}
THROTTLING = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests"}

# Why each resource of cfn/template.yaml exists, for the table in 01_deploy.
RESOURCE_PURPOSES = {
    "SessionsTable": "one item per open connection; TTL deletes items whose `ttl` has passed",
    "SessionsTableAccessRole": "lets API Gateway call PutItem and DeleteItem on that table only",
    "WebSocketApi": "the WebSocket API; routes on the `action` field of JSON messages",
    "ConnectRoute": "$connect: runs during the handshake, before the connection exists",
    "ConnectIntegration": "writes the connection's item with PutItem (VTL template, no Lambda)",
    "ConnectIntegrationResponse": "accepts DynamoDB's 200 answer, so the handshake succeeds",
    "DisconnectRoute": "$disconnect: runs after a connection closed (best-effort)",
    "DisconnectIntegration": "deletes the connection's item with DeleteItem (VTL template)",
    "DisconnectIntegrationResponse": "accepts DynamoDB's 200 answer",
    "DefaultRoute": "$default: every message that no other route matches",
    "DefaultRouteResponse": "makes $default two-way: the Lambda's `body` goes back to the client",
    "DefaultIntegration": "hands the message to the echo Lambda as a proxy event",
    "DefaultRouteFunction": "the echo Lambda: returns the event it received",
    "DefaultRouteFunctionLogGroup": "the Lambda's logs, kept 7 days and deleted with the stack",
    "DefaultRouteFunctionRole": "lets the Lambda write its logs, nothing else",
    "DefaultRouteFunctionPermission": "lets this API (and only this API) invoke the Lambda",
    "Deployment": "a snapshot of the routes, taken after all of them exist",
    "Stage": "publishes the deployment at .../api, the URL clients connect to",
}


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML loader that reads `!Ref x` as `{"Ref": x}`, `!Sub s` as `{"Fn::Sub": s}`, etc."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = tag_suffix if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as a dict (short-form intrinsics like `!Sub` become `{"Fn::Sub": ...}`)."""
    return yaml.load(path.read_text(), Loader=_CloudFormationLoader)


def template_resources(path: Path = TEMPLATE_PATH) -> pd.DataFrame:
    """One row per resource of the template: logical id, type and why it is there."""
    resources = load_template(path)["Resources"]
    rows = [
        {
            "logical id": logical_id,
            "type": resource["Type"],
            "why": RESOURCE_PURPOSES.get(logical_id, ""),
        }
        for logical_id, resource in resources.items()
    ]
    return pd.DataFrame(rows)


def lint_template(path: Path = TEMPLATE_PATH) -> list[str]:
    """cfn-lint's findings for the template (errors and warnings), as text; [] means clean.

    cfn-lint knows each resource type's rules (allowed values, deprecated runtimes, …), which
    `validate_template` does not check.
    """
    try:
        from cfnlint.api import lint_file
    except ImportError:
        raise WorkshopError(
            "cfn-lint is not installed: `pip install cfn-lint` (optional)."
        ) from None
    return [str(match) for match in lint_file(path)]


def describe_stack(cloudformation: Any, stack_name: str) -> dict[str, Any] | None:
    """The stack as `describe_stacks` returns it, or None if there is no such stack."""
    try:
        return cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in error.response["Error"].get("Message", ""):
            return None
        raise


def stack_status(target: Target) -> str:
    """The stack's status, e.g. `CREATE_COMPLETE`, or `DOES_NOT_EXIST`."""
    with target.errors():
        stack = describe_stack(target.client("cloudformation"), target.stack_name)
    return stack["StackStatus"] if stack else "DOES_NOT_EXIST"


def stack_outputs(target: Target) -> dict[str, str]:
    """The stack's outputs as `{OutputKey: OutputValue}`; `WorkshopError` if not deployed."""
    with target.errors():
        stack = describe_stack(target.client("cloudformation"), target.stack_name)
    if stack is None or stack["StackStatus"] not in SUCCESS - {"DELETE_COMPLETE"}:
        status = stack["StackStatus"] if stack else "not found"
        raise WorkshopError(
            f"Stack {target.stack_name} in {target.region} is {status}. "
            "Run 01_deploy.ipynb (or `deploy_stack(target)`) first; if you deployed to another "
            "region, set AWS_DEFAULT_REGION to it and restart the kernel."
        )
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def outputs_table(target: Target) -> pd.DataFrame:
    """The stack's outputs as a table: key, value, description."""
    with target.errors():
        stack = describe_stack(target.client("cloudformation"), target.stack_name)
    outputs = (stack or {}).get("Outputs", [])
    return pd.DataFrame(
        [
            {
                "key": output["OutputKey"],
                "value": output["OutputValue"],
                "description": output.get("Description", ""),
            }
            for output in outputs
        ]
    )


def _event_line(event: dict[str, Any]) -> str:
    when = event["Timestamp"].astimezone(UTC).strftime("%H:%M:%S")
    reason = event.get("ResourceStatusReason") or ""
    return (
        f"{when}  {event['LogicalResourceId']:<32} {event['ResourceStatus']:<20} {reason}".rstrip()
    )


def _is_throttled(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in THROTTLING


def _call_with_backoff(call: Callable[[], Any], sleep: Callable[[float], None]) -> Any:
    """Make an AWS call; if AWS throttles it, wait (1, 2, 4 … 20 s) and try again."""
    delay = 1.0
    for _attempt in range(8):
        try:
            return call()
        except ClientError as error:
            if not _is_throttled(error):
                raise
            sleep(delay)
            delay = min(delay * 2, 20.0)
    return call()


def _event_ids(cloudformation: Any, stack_id: str) -> set[str]:
    events = cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]
    return {event["EventId"] for event in events}


def watch_stack(
    cloudformation: Any,
    stack_id: str,
    *,
    total_resources: int,
    seen_event_ids: Iterable[str] = (),
    poll_seconds: float = 5.0,
    timeout_seconds: float = 1800.0,
    sleep: Callable[[float], None] = time.sleep,
    out: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Print the stack's new events until it settles; return its final status.

    `stack_id` is the stack's id (ARN), which still answers after the stack is deleted. Each
    new event is printed as one plain line; a progress bar counts the resources that reached
    a `*_COMPLETE` state and is filled at the end (local_aws reports only stack events).
    """
    out = out or sys.stdout
    seen = set(seen_event_ids)
    done: set[str] = set()
    stack_name = stack_id.split("/")[1] if stack_id.startswith("arn:") else stack_id
    started = clock()
    with tqdm(total=total_resources, unit="resource", file=out, leave=True) as bar:
        while True:
            events = _call_with_backoff(
                lambda: cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"],
                sleep,
            )
            for event in reversed(events):  # AWS lists the newest first
                if event["EventId"] in seen:
                    continue
                seen.add(event["EventId"])
                bar.write(_event_line(event), file=out)
                is_resource = event["LogicalResourceId"] != stack_name
                finished = event["ResourceStatus"].endswith(("_COMPLETE", "_SKIPPED"))
                if is_resource and finished and event["LogicalResourceId"] not in done:
                    done.add(event["LogicalResourceId"])
                    bar.update(1)
            stack = _call_with_backoff(lambda: describe_stack(cloudformation, stack_id), sleep)
            status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
            if not status.endswith("_IN_PROGRESS"):
                if status in SUCCESS:
                    bar.update(total_resources - bar.n)
                return status
            if clock() - started > timeout_seconds:
                raise WorkshopError(
                    f"Stack {stack_name} is still {status} after {timeout_seconds / 60:.0f} "
                    "minutes. Look at its Events tab in the CloudFormation console."
                )
            sleep(poll_seconds)


def _failure_reasons(cloudformation: Any, stack_id: str) -> list[str]:
    events = cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]
    return [
        f"{event['LogicalResourceId']}: {event['ResourceStatusReason']}"
        for event in reversed(events)
        if event["ResourceStatus"].endswith("_FAILED") and event.get("ResourceStatusReason")
    ]


def _poll_seconds(target: Target) -> float:
    return 0.2 if target.is_local else 5.0


def delete_stack(
    target: Target, *, sleep: Callable[[float], None] = time.sleep, out: TextIO | None = None
) -> str:
    """Delete the stack and wait until it is gone; return the final status.

    Returns `DOES_NOT_EXIST` if there was nothing to delete.
    """
    out = out or sys.stdout
    with target.errors():
        cloudformation = target.client("cloudformation")
        stack = describe_stack(cloudformation, target.stack_name)
        if stack is None:
            print(f"Stack {target.stack_name} does not exist: nothing to delete.", file=out)
            return "DOES_NOT_EXIST"
        stack_id = stack["StackId"]
        seen = _event_ids(cloudformation, stack_id)
        total = len(cloudformation.describe_stack_resources(StackName=stack_id)["StackResources"])
        print(f"Deleting stack {target.stack_name} ({total} resources)...", file=out)
        cloudformation.delete_stack(StackName=target.stack_name)
        status = watch_stack(
            cloudformation,
            stack_id,
            total_resources=total,
            seen_event_ids=seen,
            poll_seconds=_poll_seconds(target),
            sleep=sleep,
            out=out,
        )
    if status != "DELETE_COMPLETE":
        reasons = "\n".join(_failure_reasons(cloudformation, stack_id))
        raise WorkshopError(
            f"Deleting {target.stack_name} ended in {status}:\n{reasons}\n"
            "Fix what blocks it (see the reasons above), then run the delete again."
        )
    print(f"Stack {target.stack_name}: {status}", file=out)
    return status


def deploy_stack(
    target: Target,
    *,
    replace_failed: bool = False,
    template_path: Path = TEMPLATE_PATH,
    sleep: Callable[[float], None] = time.sleep,
    out: TextIO | None = None,
) -> dict[str, str]:
    """Create the stack, or update it if it exists, and wait; return its outputs.

    Prints the stack events as they happen. "No updates are to be performed" is not an error.
    A stack whose first creation failed (`ROLLBACK_COMPLETE`) cannot be updated: pass
    `replace_failed=True` to delete it and create it again. Raises `WorkshopError` if the
    deploy fails, with the reasons CloudFormation gave.
    """
    out = out or sys.stdout
    body = template_path.read_text()
    total = len(load_template(template_path)["Resources"])
    with target.errors():
        cloudformation = target.client("cloudformation")
        stack = describe_stack(cloudformation, target.stack_name)
        if stack and stack["StackStatus"].endswith("_IN_PROGRESS"):
            print(f"Stack {target.stack_name} is {stack['StackStatus']}: waiting.", file=out)
            watch_stack(
                cloudformation,
                stack["StackId"],
                total_resources=total,
                seen_event_ids=_event_ids(cloudformation, stack["StackId"]),
                poll_seconds=_poll_seconds(target),
                sleep=sleep,
                out=out,
            )
            stack = describe_stack(cloudformation, target.stack_name)
        if stack and stack["StackStatus"] in FAILED_FIRST_CREATE:
            if not replace_failed:
                raise WorkshopError(
                    f"Stack {target.stack_name} is {stack['StackStatus']}: its first creation "
                    "failed, and such a stack cannot be updated. Run "
                    "`deploy_stack(target, replace_failed=True)` to delete it and deploy again."
                )
            delete_stack(target, sleep=sleep, out=out)
            stack = None
        arguments = {
            "StackName": target.stack_name,
            "TemplateBody": body,
            "Capabilities": CAPABILITIES,
            "Tags": [WORKSHOP_TAG],
        }
        if stack is None:
            print(f"Creating stack {target.stack_name} ({total} resources)...", file=out)
            stack_id = cloudformation.create_stack(**arguments)["StackId"]
            seen: set[str] = set()
        else:
            stack_id = stack["StackId"]
            seen = _event_ids(cloudformation, stack_id)
            try:
                cloudformation.update_stack(**arguments)
            except ClientError as error:
                if "No updates are to be performed" not in str(error):
                    raise
                print(f"Stack {target.stack_name} is up to date: no changes.", file=out)
                return stack_outputs(target)
            print(f"Updating stack {target.stack_name}...", file=out)
        status = watch_stack(
            cloudformation,
            stack_id,
            total_resources=total,
            seen_event_ids=seen,
            poll_seconds=_poll_seconds(target),
            sleep=sleep,
            out=out,
        )
        if status not in SUCCESS:
            reasons = "\n".join(_failure_reasons(cloudformation, stack_id)) or "(no reason given)"
            hint = (
                "Run `deploy_stack(target, replace_failed=True)` to start over."
                if status in FAILED_FIRST_CREATE
                else "The stack was rolled back to its previous version; fix and deploy again."
            )
            raise WorkshopError(
                f"Deploying {target.stack_name} ended in {status}:\n{reasons}\n{hint}"
            )
        print(f"Stack {target.stack_name}: {status}", file=out)
    return stack_outputs(target)


def ensure_stack(target: Target, *, out: TextIO | None = None) -> dict[str, str]:
    """The stack's outputs; deploys the stack first if it is missing (so a notebook runs alone).

    Locally that deploy is silent (it takes a second); on AWS it shows its progress.
    """
    out = out or sys.stdout
    if stack_status(target) not in SUCCESS - {"DELETE_COMPLETE"}:
        deploy_stack(target, replace_failed=True, out=io.StringIO() if target.is_local else out)
    print(f"Stack {target.stack_name} is deployed.", file=out)
    return stack_outputs(target)
