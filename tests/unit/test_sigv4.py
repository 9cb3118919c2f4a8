"""SigV4 checks agree with botocore's signer, and refuse what AWS refuses."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto import mock_aws

from local_aws import sigv4


def signed(
    url: str,
    body: bytes = b"",
    secret: str = "testing",
    token: str | None = None,
    key: str = "testing",
):
    """A request signed by botocore, as the server receives it."""
    request = AWSRequest(method="POST", url=url, data=body)
    SigV4Auth(Credentials(key, secret, token), "execute-api", "us-east-1").add_auth(request)
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


def test_every_refusal_is_403_with_its_error_type() -> None:
    refusals = [sigv4.MISSING, sigv4.UNKNOWN_KEY, sigv4.BAD_SIGNATURE]
    assert [(r.status, r.error_type) for r in refusals] == [
        (403, "MissingAuthenticationTokenException"),
        (403, "UnrecognizedClientException"),
        (403, "InvalidSignatureException"),
    ]
    late = sigv4.check("POST", *signed(URL), now=datetime.now(UTC) + timedelta(hours=1))
    assert late is not None and (late.status, late.error_type) == (403, "InvalidSignatureException")


def test_a_signature_without_its_date_or_a_date_without_a_signature_is_missing() -> None:
    path, query, headers, body = signed(URL)
    no_date = {name: value for name, value in headers.items() if name != "x-amz-date"}
    assert sigv4.check("POST", path, query, no_date, body) == sigv4.MISSING
    no_signature = {name: value for name, value in headers.items() if name != "authorization"}
    assert sigv4.check("POST", path, query, no_signature, body) == sigv4.MISSING


def test_exactly_five_minutes_either_way_is_still_accepted() -> None:
    request = signed(URL, b"hi")
    signed_at = datetime.strptime(request[2]["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    five = timedelta(minutes=5)
    assert sigv4.check("POST", *request, now=signed_at + five) is None
    assert sigv4.check("POST", *request, now=signed_at - five) is None
    second = timedelta(seconds=1)
    assert sigv4.check("POST", *request, now=signed_at + five + second) is not None
    assert sigv4.check("POST", *request, now=signed_at - five - second) is not None


def test_expiry_messages_name_the_window_as_aws_does() -> None:
    request = signed(URL, b"hi")
    amz_date = request[2]["x-amz-date"]
    signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

    def stamp(moment: datetime) -> str:
        return moment.strftime("%Y%m%dT%H%M%SZ")

    now = signed_at + timedelta(minutes=6)
    late = sigv4.check("POST", *request, now=now)
    assert late is not None
    earliest = stamp(now - timedelta(minutes=5))
    assert late.message == (
        f"Signature expired: {amz_date} is now earlier than {earliest} ({stamp(now)} - 5 min.)"
    )
    now = signed_at - timedelta(minutes=6)
    early = sigv4.check("POST", *request, now=now)
    assert early is not None
    latest = stamp(now + timedelta(minutes=5))
    assert early.message == (
        f"Signature not yet current: {amz_date} is still later than {latest} "
        f"({stamp(now)} + 5 min.)"
    )


def test_a_malformed_or_mismatched_date_is_refused_in_awss_words() -> None:
    path, query, headers, body = signed(URL)
    malformed = sigv4.check("POST", path, query, {**headers, "x-amz-date": "yesterday"}, body)
    assert malformed is not None and malformed.error_type == "InvalidSignatureException"
    assert malformed.message == "Date must be in ISO-8601 'basic format'. Got 'yesterday'."
    scope_date = headers["authorization"].split("/")[1]
    other = "20010101T000000Z"
    mismatched = sigv4.check("POST", path, query, {**headers, "x-amz-date": other}, body)
    assert mismatched is not None
    assert mismatched.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
        f"from HTTP: '{scope_date}' != '20010101', from '{other}'."
    )


def test_active_keys_created_in_iam_are_accepted_inactive_ones_are_not() -> None:
    with mock_aws():
        iam = boto3.client(
            "iam",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        iam.create_user(UserName="other")
        iam.create_access_key(UserName="other")  # a key of someone else, listed first
        iam.create_user(UserName="learner")
        created = iam.create_access_key(UserName="learner")["AccessKey"]
        key, secret = created["AccessKeyId"], created["SecretAccessKey"]
        assert sigv4.secret_for(key) == secret
        assert sigv4.check("POST", *signed(URL, b"hi", secret=secret, key=key)) is None
        iam.update_access_key(UserName="learner", AccessKeyId=key, Status="Inactive")
        assert sigv4.secret_for(key) is None
        refused = sigv4.check("POST", *signed(URL, b"hi", secret=secret, key=key))
        assert refused == sigv4.UNKNOWN_KEY
