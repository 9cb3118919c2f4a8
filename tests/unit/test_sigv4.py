"""SigV4 checks agree with botocore's signer, and refuse what AWS refuses."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_aws import sigv4


def signed(url: str, body: bytes = b"", secret: str = "testing", token: str | None = None):
    """A request signed by botocore, as the server receives it."""
    request = AWSRequest(method="POST", url=url, data=body)
    SigV4Auth(Credentials("testing", secret, token), "execute-api", "us-east-1").add_auth(request)
    parts = urlsplit(url)
    headers = {name.lower(): value for name, value in request.headers.items()}
    headers["host"] = parts.netloc
    return parts.path, parts.query, headers, body


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:4566/abc/api/@connections/AbC-_dEf%3D",
        "http://abc.execute-api.localhost/api/@connections/x%3D",
        "http://127.0.0.1:4566/abc/api/@connections/x?b=2&a=1&a-=0&a=0",
    ],
)
@pytest.mark.parametrize("body", [b"", b"hello \xe2\x9c\x93", b"x" * 70_000])
def test_botocore_signed_requests_verify(url: str, body: bytes) -> None:
    assert sigv4.check("POST", *signed(url, body)) is None


def test_session_tokens_are_signed_too() -> None:
    url = "http://127.0.0.1:4566/abc/api/@connections/x%3D"
    assert sigv4.check("POST", *signed(url, b"hi", token="session")) is None


def test_tampering_is_detected() -> None:
    path, query, headers, body = signed("http://127.0.0.1:4566/abc/api/@connections/x%3D", b"a")
    assert sigv4.check("POST", path, query, headers, b"b") == sigv4.BAD_SIGNATURE
    assert sigv4.check("DELETE", path, query, headers, body) == sigv4.BAD_SIGNATURE
    assert sigv4.check("POST", path + "y", query, headers, body) == sigv4.BAD_SIGNATURE


def test_wrong_secret_unknown_key_and_unsigned() -> None:
    url = "http://127.0.0.1:4566/abc/api/@connections/x%3D"
    assert sigv4.check("POST", *signed(url, secret="nope")) == sigv4.BAD_SIGNATURE
    path, query, headers, body = signed(url)
    headers["authorization"] = headers["authorization"].replace("testing/", "AKIDNOPE/", 1)
    assert sigv4.check("POST", path, query, headers, body) == sigv4.UNKNOWN_KEY
    assert sigv4.check("POST", path, query, {"host": "127.0.0.1:4566"}, body) == sigv4.MISSING


URL = "http://127.0.0.1:4566/abc/api/@connections/x%3D"


def test_a_supplied_body_hash_is_not_trusted() -> None:
    """A captured request replayed with a new body and the old body's hash header is refused."""
    path, query, headers, _ = signed(URL, b"original")
    headers["x-amz-content-sha256"] = hashlib.sha256(b"original").hexdigest()
    assert sigv4.check("POST", path, query, headers, b"original") is None
    assert sigv4.check("POST", path, query, headers, b"forged") == sigv4.BAD_SIGNATURE


def test_signatures_expire_after_five_minutes_either_way() -> None:
    request = signed(URL, b"hi")
    signed_at = datetime.strptime(request[2]["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert sigv4.check("POST", *request, now=signed_at + timedelta(minutes=4)) is None
    late = sigv4.check("POST", *request, now=signed_at + timedelta(minutes=6))
    assert late is not None and late.error_type == "InvalidSignatureException"
    assert late.message.startswith(f"Signature expired: {request[2]['x-amz-date']} is now earlier")
    early = sigv4.check("POST", *request, now=signed_at - timedelta(minutes=6))
    assert early is not None and early.message.startswith("Signature not yet current:")


def test_a_request_signed_in_2001_is_refused() -> None:
    path, query, headers, body = signed(URL)
    headers["x-amz-date"] = "20010101T000000Z"
    headers["authorization"] = headers["authorization"].replace(
        headers["authorization"].split("/")[1], "20010101", 1
    )
    refusal = sigv4.check("POST", path, query, headers, body)
    assert refusal is not None and refusal.message.startswith("Signature expired: 20010101T")


def test_the_scope_must_name_execute_api_and_the_apis_region() -> None:
    request = AWSRequest(method="POST", url=URL, data=b"")
    SigV4Auth(Credentials("testing", "testing"), "dynamodb", "us-east-1").add_auth(request)
    headers = {name.lower(): value for name, value in request.headers.items()}
    headers["host"] = "127.0.0.1:4566"
    path = urlsplit(URL).path
    wrong_service = sigv4.check("POST", path, "", headers, b"")
    assert wrong_service is not None
    assert wrong_service.message.startswith("Credential should be scoped to correct service")
    request = signed(URL)
    assert sigv4.check("POST", *request, region="us-east-1") is None
    wrong_region = sigv4.check("POST", *request, region="eu-west-1")
    assert wrong_region is not None
    assert (
        wrong_region.message == "Credential should be scoped to a valid region, not 'us-east-1'. "
    )


def test_testing_keys_work_whatever_keys_the_environment_holds(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEYEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    assert sigv4.check("POST", *signed(URL, b"hi")) is None
