"""Signature Version 4 checks for the `@connections` API (IAM auth, service `execute-api`).

AWS refuses unsigned calls and calls signed with unknown keys or a wrong signature, so
local_aws does too (reference §3.8, §4.1). The signature is recomputed from what arrived on
the wire. This is written out here rather than done with botocore's signer because
botocore's, built for signing any request, cost half of a `post_to_connection` (~0.4 ms);
the steps below are those of AWS's "Create a signed AWS API request" guide and are checked
against botocore-signed requests by the tests.

What is checked, as AWS does: the signature over the request as it arrived, with the body's
hash computed here (a supplied `x-amz-content-sha256` is never trusted, so a replayed
signature cannot carry a new body); the time of signing within 5 minutes of now (the window
execute-api reports in its "Signature expired" messages; most other services allow 15); the
credential scope's date, service (`execute-api`) and region (the API's).

Accepted keys: `testing` / `testing`, the usual local convention, whatever keys the
environment holds (a learner with real keys exported still reaches local_aws the same way),
and every access key created in local_aws's IAM (`iam.create_access_key`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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


LOCAL_KEY = ("testing", "testing")
SKEW = timedelta(minutes=5)


def secret_for(access_key: str) -> str | None:
    """The secret of an accepted access key, or None."""
    if access_key == LOCAL_KEY[0]:
        return LOCAL_KEY[1]
    from moto.iam.models import iam_backends

    for account_backends in list(iam_backends.values()):
        for backend in list(account_backends.values()):
            for user in list(backend.users.values()):
                for key in list(user.access_keys):
                    if key.access_key_id == access_key and key.status == "Active":
                        return key.secret_access_key
    return None


_BASIC_FORMAT = "%Y%m%dT%H%M%SZ"  # ISO 8601 basic format, as in X-Amz-Date


# A client signs many requests within one second: each X-Amz-Date is parsed once (strptime
# costs a fifth of a check). Bounded: the size of an lru_cache, not of what clients send.
@lru_cache(maxsize=16)
def _signing_time(amz_date: str) -> datetime | None:
    """X-Amz-Date as an aware UTC time; None if it is not in ISO 8601 basic format."""
    try:
        return datetime.strptime(amz_date, _BASIC_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _invalid(message: str) -> Refusal:
    return Refusal(403, "InvalidSignatureException", message)


def _scope_refusal(
    date: str, region: str, service: str, amz_date: str, now: datetime, api_region: str | None
) -> Refusal | None:
    """Why the credential scope or the time of signing is wrong, in AWS's words, or None."""
    signed_at = _signing_time(amz_date)
    if signed_at is None:
        return _invalid(f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'.")
    if date != amz_date[:8]:
        return _invalid(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    if signed_at < now - SKEW:
        earliest = (now - SKEW).strftime(_BASIC_FORMAT)
        stamp = now.strftime(_BASIC_FORMAT)
        return _invalid(
            f"Signature expired: {amz_date} is now earlier than {earliest} ({stamp} - 5 min.)"
        )
    if signed_at > now + SKEW:
        latest = (now + SKEW).strftime(_BASIC_FORMAT)
        stamp = now.strftime(_BASIC_FORMAT)
        return _invalid(
            f"Signature not yet current: {amz_date} is still later than {latest} ({stamp} + 5 min.)"
        )
    if service != "execute-api":
        return _invalid("Credential should be scoped to correct service: 'execute-api'. ")
    if api_region is not None and region != api_region:
        return _invalid(f"Credential should be scoped to a valid region, not '{region}'. ")
    return None


def check(
    method: str,
    raw_path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    *,
    region: str | None = None,
    now: datetime | None = None,
) -> Refusal | None:
    """None if the request is correctly signed with an accepted key, else why not.

    `raw_path` and `query` are as they arrived (still percent-encoded); `headers` maps
    lower-case names to values; `region` is the API's (None: any region); `now` is for tests.
    """
    match = _AUTHORIZATION.match(headers.get("authorization", ""))
    amz_date = headers.get("x-amz-date")
    if match is None or amz_date is None:
        return MISSING
    secret = secret_for(match["key"])
    if secret is None:
        return UNKNOWN_KEY
    refusal = _scope_refusal(
        match["date"],
        match["region"],
        match["service"],
        amz_date,
        now or datetime.now(UTC),
        region,
    )
    if refusal is not None:
        return refusal
    signed_names = match["signed"].split(";")
    canonical_request = "\n".join(
        [
            method.upper(),
            _canonical_path(raw_path),
            _canonical_query(query),
            "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed_names),
            match["signed"],
            hashlib.sha256(body).hexdigest(),
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
    expected = hmac.digest(key, string_to_sign.encode(), "sha256").hex()
    if not hmac.compare_digest(expected, match["signature"]):
        return BAD_SIGNATURE
    return None


@lru_cache(maxsize=256)
def _canonical_path(raw_path: str) -> str:
    """The path as SigV4 signs it: normalized, then URI-encoded (each connection's path is
    signed again and again: computed once per path; bounded like any lru_cache)."""
    return quote(normalize_url_path(raw_path), safe="/~")


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
