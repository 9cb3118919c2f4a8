"""Signature Version 4 checks for the `@connections` API (IAM auth, service `execute-api`).

AWS refuses unsigned calls and calls signed with unknown keys or a wrong signature, so
local_aws does too (reference §3.8, §4.1). The signature is recomputed with botocore's own
signer from what arrived on the wire, so nothing about SigV4 is re-implemented here.

Accepted keys: the key pair in local_aws's own environment (`AWS_ACCESS_KEY_ID` /
`AWS_SECRET_ACCESS_KEY`, by default `testing` / `testing`, the usual local convention) and
every access key created in local_aws's IAM (`iam.create_access_key`).
"""

from __future__ import annotations

import hmac
import os
import re
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[^,]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: AWS's status, error type and message."""

    status: int
    error_type: str
    message: str


MISSING = Refusal(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
UNKNOWN_KEY = Refusal(
    403,
    "UnrecognizedClientException",
    "The security token included in the request is invalid.",
)
BAD_SIGNATURE = Refusal(
    403,
    "InvalidSignatureException",
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method.",
)


def secret_for(access_key: str) -> str | None:
    """The secret of an accepted access key, or None."""
    if access_key == os.environ.get("AWS_ACCESS_KEY_ID", "testing"):
        return os.environ.get("AWS_SECRET_ACCESS_KEY", "testing")
    from moto.iam.models import iam_backends

    for account_backends in list(iam_backends.values()):
        for backend in list(account_backends.values()):
            for user in list(backend.users.values()):
                for key in list(user.access_keys):
                    if key.access_key_id == access_key and key.status == "Active":
                        return key.secret_access_key
    return None


def check(
    method: str, raw_path: str, query: str, headers: dict[str, str], body: bytes
) -> Refusal | None:
    """None if the request is correctly signed with an accepted key, else why not.

    `headers` maps lower-case names to values, as they arrived.
    """
    match = _AUTHORIZATION.match(headers.get("authorization", ""))
    if match is None or "x-amz-date" not in headers:
        return MISSING
    secret = secret_for(match["key"])
    if secret is None:
        return UNKNOWN_KEY
    signed_names = match["signed"].split(";")
    host = headers.get("host", "")
    url = f"http://{host}{raw_path}" + (f"?{query}" if query else "")
    request = AWSRequest(
        method=method,
        url=url,
        headers={name: headers.get(name, "") for name in signed_names if name != "host"},
        data=body,
    )
    request.context["timestamp"] = headers["x-amz-date"]
    credentials = Credentials(match["key"], secret, headers.get("x-amz-security-token"))
    signer = SigV4Auth(credentials, match["service"], match["region"])
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, match["signature"]):
        return BAD_SIGNATURE
    return None
