"""S3 bucket policies as moto enforces them, without the conditions it cannot evaluate.

moto checks a bucket's policy on object requests, but gives the policy no request context: a
statement with a `Condition` then counts as a Deny, whatever its effect. The bucket SAM CLI
makes for `sam deploy --resolve-s3` carries the usual "deny when
`aws:SecureTransport` is false" statement, so every upload to it was refused with 403.

Here a statement with a `Condition` is left out of moto's evaluation: such statements narrow
access by the request's context (transport, source account, IP), which a loopback endpoint
has none of worth checking. Statements without conditions are enforced as moto enforces them.
"""

from __future__ import annotations

import json
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult


def permission(bucket: Any, action: str, resource: str) -> PermissionResult:
    """moto's `FakeBucket.get_permission`, evaluating only the unconditional statements."""
    if bucket.policy is None:
        return PermissionResult.NEUTRAL
    try:
        policy = json.loads(bucket.policy)
    except ValueError:
        return PermissionResult.NEUTRAL  # PutBucketPolicy's caller was told; nothing to enforce
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return PermissionResult.NEUTRAL
    unconditional = [s for s in statements if isinstance(s, dict) and "Condition" not in s]
    if not unconditional:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({**policy, "Statement": unconditional})).is_action_permitted(
        action, resource
    )
