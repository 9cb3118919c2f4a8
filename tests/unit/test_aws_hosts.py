"""AWS's host names: which ones the workers send to local_aws, how they are routed, and the
certificates the TLS listener serves for them."""

from __future__ import annotations

import re
import socket
import ssl
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from local_aws import aws_hosts, lambda_worker, trust
from local_aws.aws_hosts import ExecuteApiHost
from local_aws.local_tls import LEAF_CACHE_SIZE, LocalTls
from local_aws.server import listener
from local_aws.settings import Settings

REDIRECTED = (
    "dynamodb.us-east-1.amazonaws.com",
    "DynamoDB.US-East-1.AmazonAWS.com",
    "iam.amazonaws.com",
    "abc123.execute-api.eu-west-1.amazonaws.com",
    "my-bucket.s3.amazonaws.com",
    "my-bucket.s3.us-west-2.amazonaws.com",
    "dynamodb-fips.us-east-1.amazonaws.com",
    "sqs.cn-north-1.amazonaws.com.cn",
    "abc123.execute-api.localhost",
)
LEFT_ALONE = (
    "amazonaws.com",  # the bare domain: no service there
    "amazonaws.com.evil.example",
    "evilamazonaws.com",
    "dynamodb.us-east-1.amazonaws.co",
    "example.com",
    "localhost",
    "127.0.0.1",
    "abc.execute-api.localhost.evil.example",
    "-bad-.amazonaws.com",
    "a..amazonaws.com",
    "dynamodb.us-east-1.api.aws",  # the dual-stack names: documented as not covered
)


@pytest.mark.parametrize("name", REDIRECTED)
def test_aws_names_and_local_api_names_are_redirected(name: str) -> None:
    assert aws_hosts.is_worker_redirected(name.lower())


@pytest.mark.parametrize("name", LEFT_ALONE)
def test_other_names_are_left_alone(name: str) -> None:
    assert not aws_hosts.is_worker_redirected(name)


def test_the_workers_redirect_exactly_the_names_local_aws_serves() -> None:
    """lambda_worker.py and lambda_worker.js carry their own copy of the rule (they import
    nothing from local_aws): the three must agree, or a name would be sent to local_aws
    that it refuses, or leave the machine."""
    source = (Path(lambda_worker.__file__).with_suffix(".js")).read_text()
    literal = re.search(r"const REDIRECTED_NAME =\s*/(?P<body>.+)/i;", source)
    assert literal is not None
    node_rule = re.compile(literal["body"], re.IGNORECASE)
    python_rule = lambda_worker._REDIRECTED_NAME
    for name in (*REDIRECTED, *LEFT_ALONE):
        expected = aws_hosts.is_worker_redirected(name.lower())
        assert bool(python_rule.fullmatch(name)) is expected, name
        assert bool(node_rule.fullmatch(name)) is expected, name


def test_the_python_worker_sends_ports_443_and_80_to_the_two_listeners() -> None:
    def local(host: object, port: object) -> int | None:
        return lambda_worker.local_port(host, port, http_port=4566, https_port=4443)

    assert local("dynamodb.us-east-1.amazonaws.com", 443) == 4443
    assert local(b"dynamodb.us-east-1.amazonaws.com", "https") == 4443
    assert local("sts.amazonaws.com.", None) == 4443
    assert local("dynamodb.us-east-1.amazonaws.com", "80") == 4566
    assert local("abc.execute-api.localhost", 4566) == 4566  # http://{domainName}:{port}
    # Another port of an AWS name is refused (0), never resolved for real.
    assert local("dynamodb.us-east-1.amazonaws.com", 8443) == 0
    assert local("example.com", 443) is None
    assert local("127.0.0.1", 443) is None


@pytest.mark.parametrize(
    ("host", "named"),
    [
        ("abc123.execute-api.us-east-1.amazonaws.com", ExecuteApiHost("abc123", "us-east-1")),
        (
            "abc123.execute-api.us-gov-west-1.amazonaws.com:443",
            ExecuteApiHost("abc123", "us-gov-west-1"),
        ),
        ("abc123.execute-api.cn-north-1.amazonaws.com.cn", ExecuteApiHost("abc123", "cn-north-1")),
        ("ABC123.execute-api.localhost:4566", ExecuteApiHost("abc123", None)),
        ("abc123.execute-api.amazonaws.com", None),
        ("dynamodb.us-east-1.amazonaws.com", None),
        ("abc123.execute-api.us-east-1.amazonaws.com.evil.example", None),
        ("[::1]:4566", None),
    ],
)
def test_an_execute_api_host_names_its_api_and_region(
    host: str, named: ExecuteApiHost | None
) -> None:
    assert aws_hosts.execute_api(host) == named


@pytest.mark.parametrize(
    ("server_name", "names"),
    [
        ("dynamodb.us-east-1.amazonaws.com", ("*.us-east-1.amazonaws.com",)),
        ("abc.execute-api.us-east-1.amazonaws.com", ("*.execute-api.us-east-1.amazonaws.com",)),
        ("iam.amazonaws.com", ("*.amazonaws.com",)),
        ("bucket.s3.amazonaws.com", ("*.s3.amazonaws.com",)),
        ("abc.execute-api.localhost", ("*.execute-api.localhost",)),
    ],
)
def test_one_leaf_covers_a_name_and_its_siblings(server_name: str, names: tuple[str, ...]) -> None:
    assert aws_hosts.certificate_names(server_name) == names


def test_aws_hosts_are_trusted_over_tls_only() -> None:
    host = "dynamodb.us-east-1.amazonaws.com"
    assert trust.host_allowed(host, 4443, over_tls=True)
    assert trust.host_allowed(f"{host}:443", 4443, over_tls=True)
    assert not trust.host_allowed(f"{host}:8443", 4443, over_tls=True)
    assert not trust.host_allowed(host, 4566)
    assert not trust.host_allowed("evil.example", 4443, over_tls=True)
    assert trust.host_allowed("127.0.0.1:4443", 4443, over_tls=True)
    plain = trust.check_http("/", {"host": host, "authorization": "x"}, 4566, (), False, True)
    assert plain == trust.AWS_NAME_OVER_HTTP


def test_only_the_tls_sockets_own_port_makes_a_request_a_tls_one() -> None:
    settings = Settings(port=4566, tls_port=4443)
    assert listener({"server": ("127.0.0.1", 4443)}, settings) == (4443, True)
    assert listener({"server": ("127.0.0.1", 4566), "scheme": "https"}, settings) == (4566, False)
    assert listener({}, settings) == (4566, False)
    assert listener({}, Settings(port=4566)) == (4566, False)  # no TLS listener


@pytest.fixture
def tls() -> Iterator[LocalTls]:
    local = LocalTls()
    yield local
    local.close()


def handshake(tls: LocalTls, server_name: str, client: ssl.SSLContext) -> x509.Certificate:
    """A TLS handshake with `tls`'s server context for `server_name`; the leaf it served."""
    server_side, client_side = socket.socketpair()
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            with tls.context.wrap_socket(server_side, server_side=True):
                pass
        except (ssl.SSLError, OSError) as error:
            failure.append(error)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client.wrap_socket(client_side, server_hostname=server_name) as wrapped:
            der = wrapped.getpeercert(binary_form=True)
    finally:
        thread.join(10)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def sans(certificate: x509.Certificate) -> list[str]:
    extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return [str(name.value) for name in extension.value]


def test_the_leaf_for_an_aws_name_verifies_against_the_ca_only(tls: LocalTls) -> None:
    trusting = ssl.create_default_context(cafile=str(tls.ca_file))
    leaf = handshake(tls, "dynamodb.us-east-1.amazonaws.com", trusting)
    assert sans(leaf) == ["*.us-east-1.amazonaws.com"]
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(tls, "dynamodb.us-east-1.amazonaws.com", ssl.create_default_context())


def test_a_foreign_server_name_gets_the_loopback_leaf_and_fails_verification(
    tls: LocalTls,
) -> None:
    """No leaf is ever minted for a name that is not AWS's: a page's domain gets nothing."""
    assert tls.leaf_context("evil.example") is tls.context
    trusting = ssl.create_default_context(cafile=str(tls.ca_file))
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(tls, "evil.example", trusting)


def test_siblings_share_a_leaf_and_the_cache_is_bounded(tls: LocalTls) -> None:
    dynamodb = tls.leaf_context("dynamodb.us-east-1.amazonaws.com")
    assert tls.leaf_context("sqs.us-east-1.amazonaws.com") is dynamodb
    for number in range(LEAF_CACHE_SIZE):
        tls.leaf_context(f"api{number}.execute-api.region-{number}-1.amazonaws.com")
    assert tls.leaf_context("dynamodb.us-east-1.amazonaws.com") is not dynamodb  # evicted
    assert len(tls._leaves) == LEAF_CACHE_SIZE


def test_the_trust_files_are_private_keyless_and_removed_on_close() -> None:
    local = LocalTls()
    directory = local.directory
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = list(directory.iterdir())
    assert {f.name for f in files} == {"ca.pem", "bundle.pem"}
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    local.leaf_context("dynamodb.us-east-1.amazonaws.com")  # a leaf minted: no key stays
    assert sorted(directory.iterdir()) == sorted(files)
    assert not any(b"PRIVATE KEY" in f.read_bytes() for f in files)
    environment = local.worker_environment()
    assert environment["NODE_EXTRA_CA_CERTS"] == str(local.ca_file)
    assert environment["AWS_CA_BUNDLE"] == environment["SSL_CERT_FILE"] == str(local.bundle_file)
    local.close()
    assert not directory.exists()
