"""IAM: may this role perform this action on this resource?

API Gateway calls a service integration with the role in the integration's `CredentialsArn`,
so the call succeeds only if that role's policies allow it. moto has a policy evaluator, but it
matches actions case-sensitively and treats `.` in ARNs as a regex wildcard (reference
local-aws-building-blocks.md §6.2); this small evaluator implements IAM's own matching rules
instead: `*` and `?` wildcards, case-insensitive actions, NotAction/NotResource, and an explicit
Deny always wins over an Allow.

In a role's policies Conditions are not evaluated: to err on the safe side, an Allow with a
Condition allows nothing and a Deny with a Condition always denies. In a function's resource
policy (`AWS::Lambda::Permission`), conditions on `aws:SourceArn` and `aws:SourceAccount`
with the String/Arn Equals/Like operators and their negations are evaluated; any other
condition errs on the safe side in the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
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
        holds = _invoke_condition_holds(statement.get("Condition") or {}, source_arn)
        # A condition this evaluator cannot judge (None) errs on the safe side, as for roles.
        if statement.get("Effect") == "Deny" and holds is not False:
            denied = True
        elif statement.get("Effect") == "Allow" and holds is True:
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


# The condition operators a Lambda permission uses, on one request value and the statement's
# values. ArnEquals is kept exact, as the SDKs describe it ("exact matching").
_OPERATORS: dict[str, Callable[[list[str], str], bool]] = {
    "ArnEquals": lambda patterns, value: value in patterns,
    "StringEquals": lambda patterns, value: value in patterns,
    "ArnLike": lambda patterns, value: _any_match(patterns, value, ignore_case=False),
    "StringLike": lambda patterns, value: _any_match(patterns, value, ignore_case=False),
    "ArnNotEquals": lambda patterns, value: value not in patterns,
    "StringNotEquals": lambda patterns, value: value not in patterns,
    "ArnNotLike": lambda patterns, value: not _any_match(patterns, value, ignore_case=False),
    "StringNotLike": lambda patterns, value: not _any_match(patterns, value, ignore_case=False),
}


def _invoke_condition_holds(condition: dict[str, Any], source_arn: str) -> bool | None:
    """Whether a permission's Condition holds for an invoke from `source_arn`.

    The request's context has `aws:SourceArn` and `aws:SourceAccount` (keys in any case);
    every operator must hold for every key. None if the condition uses another key or
    operator, which this evaluator cannot judge.
    """
    parts = source_arn.split(":")
    context = {
        "aws:sourcearn": source_arn,
        "aws:sourceaccount": parts[4] if len(parts) > 4 else "",
    }
    for operator, values in condition.items():
        test = _OPERATORS.get(operator)
        if test is None or not isinstance(values, dict):
            return None
        for key, patterns in values.items():
            value = context.get(str(key).lower())
            if value is None:
                return None
            wanted = [patterns] if isinstance(patterns, str) else [str(p) for p in patterns]
            if not test(wanted, value):
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
