"""SigV4 checks agree with botocore's signer, and refuse what AWS refuses."""

from __future__ import annotations

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
