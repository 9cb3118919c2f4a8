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


def check_invoke_allowed(function: Any, source_arn: str, principal: str) -> None:
    """Raise AccessDenied unless the function's resource policy lets `principal` invoke it
    from `source_arn` (what `AWS::Lambda::Permission` grants; reference §3.8)."""
    policy = getattr(function, "policy", None)
    statements = list(policy.statements) if policy is not None else []
    denied = False
    allowed = False
    for statement in statements:
        if not _any_match(statement.get("Action", []), "lambda:InvokeFunction", ignore_case=True):
            continue
        if not _principal_matches(statement.get("Principal"), principal):
            continue
        if not _source_matches(statement.get("Condition") or {}, source_arn):
            continue
        if statement.get("Effect") == "Deny":
            denied = True
        elif statement.get("Effect") == "Allow":
            allowed = True
    if denied or not allowed:
        raise AccessDenied(
            f"{principal} may not invoke {function.function_name} from {source_arn}: "
            "add an AWS::Lambda::Permission whose SourceArn matches"
        )


def _principal_matches(principal: Any, wanted: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, str):
        return principal == wanted
    if isinstance(principal, dict):
        services = principal.get("Service", [])
        return wanted in ([services] if isinstance(services, str) else services)
    return False


def _source_matches(condition: dict[str, Any], source_arn: str) -> bool:
    """ArnLike, ArnEquals, StringEquals or StringLike on aws:SourceArn (key in any case)."""
    for operator, values in condition.items():
        for key, patterns in values.items():
            if key.lower() != "aws:sourcearn":
                continue
            exact = operator in ("ArnEquals", "StringEquals")
            patterns = [patterns] if isinstance(patterns, str) else patterns
            if exact and source_arn not in patterns:
                return False
            if not exact and not _any_match(patterns, source_arn, ignore_case=False):
                return False
    return True


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
