"""Signature Version 4 checks for the `@connections` API (IAM auth, service `execute-api`).

AWS refuses unsigned calls and calls signed with unknown keys or a wrong signature, so
local_aws does too (reference §3.8, §4.1). The signature is recomputed from what arrived on
the wire. This is written out here rather than done with botocore's signer because
botocore's, built for signing any request, cost half of a `post_to_connection` (~0.4 ms);
the steps below are those of AWS's "Create a signed AWS API request" guide and are checked
against botocore-signed requests by the tests.

Accepted keys: the key pair in local_aws's own environment (`AWS_ACCESS_KEY_ID` /
`AWS_SECRET_ACCESS_KEY`, by default `testing` / `testing`, the usual local convention) and
every access key created in local_aws's IAM (`iam.create_access_key`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from botocore.utils import normalize_url_path

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

    `raw_path` and `query` are as they arrived (still percent-encoded); `headers` maps
    lower-case names to values.
    """
    match = _AUTHORIZATION.match(headers.get("authorization", ""))
    amz_date = headers.get("x-amz-date")
    if match is None or amz_date is None:
        return MISSING
    secret = secret_for(match["key"])
    if secret is None:
        return UNKNOWN_KEY
    signed_names = match["signed"].split(";")
    canonical_request = "\n".join(
        [
            method.upper(),
            quote(normalize_url_path(raw_path), safe="/~"),
            _canonical_query(query),
            "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed_names),
            match["signed"],
            headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{match['date']}/{match['region']}/{match['service']}/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = _signing_key(secret, match["date"], match["region"], match["service"])
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        return BAD_SIGNATURE
    return None


def _canonical_query(query: str) -> str:
    """Pairs sorted by key, then value, still encoded as sent."""
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&")) if query else []
    return "&".join(f"{key}={value}" for key, value in pairs)


@lru_cache(maxsize=64)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The day's signing key: a chain of HMACs, the same for every request that day."""
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
