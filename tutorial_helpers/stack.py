"""The workshop's CloudFormation stack: deploy it, read its status and outputs, delete it.

`deploy_stack` creates the stack or updates it; it prints the stack events as they happen,
counting the resources that finished (`stack_watch`). A deploy takes a second on
local_aws and a few minutes on AWS. Every function takes the `Target` from `select_target()`.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

import pandas as pd
from botocore.exceptions import ClientError

from tutorial_helpers.errors import WorkshopError
from tutorial_helpers.stack_states import (
    DEPLOYED,
    ONLY_DELETABLE,
    SUCCESS,
    cannot_update_message,
    next_step_after_failed_deploy,
)
from tutorial_helpers.stack_watch import describe_stack, event_ids, failure_reasons, watch_stack
from tutorial_helpers.target import Target
from tutorial_helpers.template import TEMPLATE_PATH, load_template

WORKSHOP_TAG = {"Key": "workshop", "Value": "apigw-websocket"}
CAPABILITIES = ["CAPABILITY_IAM"]  # the template creates IAM roles (with generated names)


def stack_status(target: Target) -> str:
    """The stack's status, e.g. `CREATE_COMPLETE`, or `DOES_NOT_EXIST`."""
    with target.errors():
        stack = describe_stack(target.client("cloudformation"), target.stack_name)
    return stack["StackStatus"] if stack else "DOES_NOT_EXIST"


def stack_outputs(target: Target) -> dict[str, str]:
    """The stack's outputs as `{OutputKey: OutputValue}`; `WorkshopError` if not deployed."""
    with target.errors():
        stack = describe_stack(target.client("cloudformation"), target.stack_name)
    if stack is None or stack["StackStatus"] not in DEPLOYED:
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
        seen = event_ids(cloudformation, stack_id)
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
        reasons = "\n".join(failure_reasons(cloudformation, stack_id))
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
    capabilities: list[str] | None = None,
    parameters: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    out: TextIO | None = None,
) -> dict[str, str]:
    """Create the stack, or update it if it exists, and wait; return its outputs.

    `template_path` is the template to deploy (the workshop's by default) and `parameters`
    its parameter values (`{name: value}`; the template's defaults for the others).

    Prints the stack events as they happen. "No updates are to be performed" is not an error.
    A stack CloudFormation can only delete (its first creation failed, `ROLLBACK_COMPLETE`,
    or a delete failed, `DELETE_FAILED`) cannot be updated: pass `replace_failed=True` to
    delete it and create it again. Raises `WorkshopError` if the deploy fails, with the
    reasons CloudFormation gave. `capabilities` defaults to `CAPABILITY_IAM` (a SAM template
    also needs `CAPABILITY_AUTO_EXPAND`).
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
                seen_event_ids=event_ids(cloudformation, stack["StackId"]),
                poll_seconds=_poll_seconds(target),
                sleep=sleep,
                out=out,
            )
            stack = describe_stack(cloudformation, target.stack_name)
        if stack and stack["StackStatus"] in ONLY_DELETABLE:
            if not replace_failed:
                raise WorkshopError(cannot_update_message(target.stack_name, stack["StackStatus"]))
            delete_stack(target, sleep=sleep, out=out)
            stack = None
        arguments = {
            "StackName": target.stack_name,
            "TemplateBody": body,
            "Capabilities": capabilities or CAPABILITIES,
            "Tags": [WORKSHOP_TAG],
        }
        if parameters:
            arguments["Parameters"] = [
                {"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()
            ]
        if stack is None:
            print(f"Creating stack {target.stack_name} ({total} resources)...", file=out)
            stack_id = cloudformation.create_stack(**arguments)["StackId"]
            seen: set[str] = set()
        else:
            stack_id = stack["StackId"]
            seen = event_ids(cloudformation, stack_id)
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
            reasons = "\n".join(failure_reasons(cloudformation, stack_id)) or "(no reason given)"
            raise WorkshopError(
                f"Deploying {target.stack_name} ended in {status}:\n{reasons}\n"
                f"{next_step_after_failed_deploy(status)}"
            )
        print(f"Stack {target.stack_name}: {status}", file=out)
    return stack_outputs(target)


def ensure_stack(
    target: Target,
    *,
    template_path: Path = TEMPLATE_PATH,
    parameters: dict[str, str] | None = None,
    capabilities: list[str] | None = None,
    out: TextIO | None = None,
) -> dict[str, str]:
    """The stack's outputs; deploys the stack first if it is missing (so a notebook runs alone).

    `template_path`, `parameters` and `capabilities` are those of `deploy_stack`, used only
    for that deploy.

    A stack whose last update was rolled back (`UPDATE_ROLLBACK_COMPLETE`) is deployed and
    used as it is. Locally that deploy is silent (it takes a second); on AWS it shows its
    progress.
    """
    out = out or sys.stdout
    if stack_status(target) not in DEPLOYED:
        deploy_stack(
            target,
            replace_failed=True,
            template_path=template_path,
            parameters=parameters,
            capabilities=capabilities,
            out=io.StringIO() if target.is_local else out,
        )
    print(f"Stack {target.stack_name} is deployed.", file=out)
    return stack_outputs(target)
