"""Delete what the workshop created, and check that nothing is left.

`python -m tutorial_helpers.cleanup` deletes every stack that carries the workshop tag in the
selected target and region (`make clean-aws` runs it with TUTORIAL_TARGET=aws); add
`--dry-run` to only list them.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TextIO

import pandas as pd

from tutorial_helpers.errors import WorkshopError
from tutorial_helpers.stack import WORKSHOP_TAG, delete_stack
from tutorial_helpers.stack_watch import describe_stack
from tutorial_helpers.target import Target, select_target
from tutorial_helpers.template import load_template

# Resource types the stack creates that could outlive it, and how to list what exists.
CHECKED_TYPES = {
    "AWS::DynamoDB::Table": "table",
    "AWS::ApiGatewayV2::Api": "API",
    "AWS::Lambda::Function": "function",
    "AWS::IAM::Role": "role",
    "AWS::Logs::LogGroup": "log group",
}


def stack_resources(target: Target) -> pd.DataFrame:
    """The stack's resources (logical id, type, physical id); empty if there is no stack."""
    columns = ["logical id", "type", "physical id"]
    with target.errors():
        cloudformation = target.client("cloudformation")
        if describe_stack(cloudformation, target.stack_name) is None:
            return pd.DataFrame(columns=columns)
        resources = cloudformation.describe_stack_resources(StackName=target.stack_name)
    rows = [
        (item["LogicalResourceId"], item["ResourceType"], item.get("PhysicalResourceId", ""))
        for item in resources["StackResources"]
    ]
    return pd.DataFrame(rows, columns=columns)


def _pages(client: Any, operation: str, key: str, **arguments: Any) -> list[Any]:
    found: list[Any] = []
    for page in client.get_paginator(operation).paginate(**arguments):
        found.extend(page[key])
    return found


def existing_names(target: Target, stack_name: str) -> dict[str, list[str]]:
    """Per kind of resource, the names or ids of those that exist now and belong to the stack.

    CloudFormation names them `{stack}-{logical id}-{random}`; the template names the table
    `{stack}-Sessions` and the API `{stack}-WebSocketApi`. Looking them up by name also finds
    what a failed delete left behind.
    """
    prefixes = tuple(f"{stack_name}-{logical_id}" for logical_id in load_template()["Resources"])
    with target.errors():
        tables = _pages(target.client("dynamodb"), "list_tables", "TableNames")
        apis = target.client("apigatewayv2").get_apis()["Items"]
        functions = _pages(target.client("lambda"), "list_functions", "Functions")
        roles = _pages(target.client("iam"), "list_roles", "Roles")
        log_groups = _pages(
            target.client("logs"),
            "describe_log_groups",
            "logGroups",
            logGroupNamePrefix=f"/aws/lambda/{stack_name}-",
        )
    return {
        "table": [name for name in tables if name == f"{stack_name}-Sessions"],
        "API": [api["ApiId"] for api in apis if api.get("Name") == f"{stack_name}-WebSocketApi"],
        "function": [
            function["FunctionName"]
            for function in functions
            if function["FunctionName"].startswith(prefixes)
        ],
        "role": [role["RoleName"] for role in roles if role["RoleName"].startswith(prefixes)],
        "log group": [
            group["logGroupName"]
            for group in log_groups
            if group["logGroupName"].removeprefix("/aws/lambda/").startswith(prefixes)
        ],
    }


def leftovers(target: Target, recorded: pd.DataFrame | None = None) -> pd.DataFrame:
    """What still exists of the workshop's stack: one row per leftover resource (empty = clean).

    `recorded` is `stack_resources(target)` taken before the delete: its physical ids are
    checked too, which also covers names CloudFormation shortened for a long stack name.
    """
    existing = existing_names(target, target.stack_name)
    rows = [(kind, name) for kind, names in existing.items() for name in names]
    if recorded is not None and not recorded.empty:
        all_existing = {name for names in existing.values() for name in names}
        for _, resource in recorded.iterrows():
            kind = CHECKED_TYPES.get(resource["type"])
            if kind and resource["physical id"] in all_existing:
                continue  # already listed above
            if kind and _still_exists(target, kind, resource["physical id"]):
                rows.append((kind, resource["physical id"]))
    with target.errors():
        stack = describe_stack(target.client("cloudformation"), target.stack_name)
    if stack is not None:
        rows.insert(0, ("stack", f"{target.stack_name} ({stack['StackStatus']})"))
    return pd.DataFrame(rows, columns=["kind", "name"])


def _still_exists(target: Target, kind: str, physical_id: str) -> bool:
    """Ask the owning service for one resource by its physical id."""
    try:
        if kind == "table":
            target.client("dynamodb").describe_table(TableName=physical_id)
        elif kind == "API":
            target.client("apigatewayv2").get_api(ApiId=physical_id)
        elif kind == "function":
            target.client("lambda").get_function(FunctionName=physical_id)
        elif kind == "role":
            target.client("iam").get_role(RoleName=physical_id)
        elif kind == "log group":
            groups = target.client("logs").describe_log_groups(logGroupNamePrefix=physical_id)
            return any(g["logGroupName"] == physical_id for g in groups["logGroups"])
    except Exception as error:  # each service names "not found" differently
        if "NotFound" in type(error).__name__ or "NoSuchEntity" in type(error).__name__:
            return False
        raise
    return True


def workshop_stacks(target: Target) -> list[dict[str, Any]]:
    """Every stack in the target's region that carries the workshop tag (not yet deleted)."""
    with target.errors():
        stacks = _pages(target.client("cloudformation"), "describe_stacks", "Stacks")
    return [
        stack
        for stack in stacks
        if WORKSHOP_TAG in stack.get("Tags", []) and stack["StackStatus"] != "DELETE_COMPLETE"
    ]


def delete_workshop_stacks(
    target: Target,
    *,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    out: TextIO | None = None,
) -> list[str]:
    """Delete every workshop-tagged stack, wait for each, and check nothing is left.

    Returns the names of the stacks found. Raises `WorkshopError` if something remains.
    """
    out = out or sys.stdout
    names = [stack["StackName"] for stack in workshop_stacks(target)]
    where = "local_aws" if target.is_local else f"region {target.region}"
    if not names:
        print(f"No workshop stacks in {where}.", file=out)
        return []
    print(f"Workshop stacks in {where}: {', '.join(names)}", file=out)
    if dry_run:
        return names
    problems = []
    for name in names:
        one = replace(target, stack_name=name)
        recorded = stack_resources(one)
        delete_stack(one, sleep=sleep, out=out)
        remaining = leftovers(one, recorded)
        if not remaining.empty:
            problems.append(f"{name}:\n{remaining.to_string(index=False)}")
    if problems:
        raise WorkshopError(
            "Some resources are still there; delete them in the console:\n" + "\n".join(problems)
        )
    print(f"Deleted {len(names)} stack(s); nothing is left.", file=out)
    return names


def main(argv: list[str] | None = None) -> int:
    """Command line: delete every workshop stack of the selected target (see module doc)."""
    parser = argparse.ArgumentParser(
        prog="python -m tutorial_helpers.cleanup",
        description="Delete every stack tagged workshop=apigw-websocket in the selected target "
        "(TUTORIAL_TARGET=local|aws, your AWS region) and check that nothing is left.",
    )
    parser.add_argument("--dry-run", action="store_true", help="only list the stacks")
    args = parser.parse_args(argv)
    try:
        target = select_target()
        delete_workshop_stacks(target, dry_run=args.dry_run)
    except WorkshopError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
