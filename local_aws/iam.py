"""IAM: may this role perform this action on this resource?

API Gateway calls a service integration with the role in the integration's `CredentialsArn`,
so the call succeeds only if that role's policies allow it. moto has a policy evaluator, but it
matches actions case-sensitively and treats `.` in ARNs as a regex wildcard (reference
local-aws-building-blocks.md §6.2); this small evaluator implements IAM's own matching rules
instead: `*` and `?` wildcards, case-insensitive actions, NotAction/NotResource, and an explicit
Deny always wins over an Allow.

Conditions are not evaluated. To err on the safe side, an Allow with a Condition allows
nothing and a Deny with a Condition always denies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from moto.iam.models import iam_backends


class AccessDenied(Exception):
    """The role may not perform the action: the message says which role, action and resource."""


def check_role_allows(account_id: str, role_arn: str, action: str, resource: str) -> None:
    """Raise AccessDenied unless the role's policies allow `action` on `resource`."""
    partition = role_arn.split(":")[1] if role_arn.count(":") >= 5 else "aws"
    try:
        role = iam_backends[account_id][partition].get_role_by_arn(role_arn)
    except Exception as error:
        raise AccessDenied(f"role {role_arn} does not exist") from error
    if not policies_allow(_role_documents(role), action, resource):
        raise AccessDenied(f"{role_arn} is not authorized to perform {action} on {resource}")


def _role_documents(role: Any) -> list[Any]:
    documents = list(role.policies.values())
    for policy in list(role.managed_policies.values()):
        default = next((v for v in policy.versions if v.is_default), None)
        if default is not None:
            documents.append(default.document)
    return documents


def policies_allow(documents: Iterable[Any], action: str, resource: str) -> bool:
    """True if some statement allows the request and no statement denies it."""
    allowed = False
    for document in documents:
        policy = json.loads(document) if isinstance(document, str) else document
        statements = policy.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if not _applies(statement, action, resource):
                continue
            if statement.get("Effect") == "Deny":
                return False
            if statement.get("Effect") == "Allow" and "Condition" not in statement:
                allowed = True
    return allowed


def _applies(statement: dict[str, Any], action: str, resource: str) -> bool:
    if "NotAction" in statement:
        action_matches = not _any_match(statement["NotAction"], action, ignore_case=True)
    else:
        action_matches = _any_match(statement.get("Action", []), action, ignore_case=True)
    if "NotResource" in statement:
        resource_matches = not _any_match(statement["NotResource"], resource, ignore_case=False)
    else:
        resource_matches = _any_match(statement.get("Resource", []), resource, ignore_case=False)
    return action_matches and resource_matches


def _any_match(patterns: str | list[str], value: str, ignore_case: bool) -> bool:
    if isinstance(patterns, str):
        patterns = [patterns]
    return any(_wildcard(pattern, ignore_case).fullmatch(value) for pattern in patterns)


@lru_cache(maxsize=1024)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM wildcards: `*` any run of characters, `?` one character, everything else literal."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)
