"""tutorial_helpers: target selection, error messages, DataFrames, the WebSocket client."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import socket
import ssl
import threading
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from botocore.stub import Stubber
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tutorial_helpers import WorkshopError, connect, drop, items_to_dataframe, receive, whoami
from tutorial_helpers.connections_api import (
    broadcast,
    connection_info,
    management_endpoint,
)
from tutorial_helpers.errors import explain_aws_errors
from tutorial_helpers.resource_purposes import RESOURCE_PURPOSES, template_resources
from tutorial_helpers.tables import deserialize, flatten, plain
from tutorial_helpers.target import (
    Target,
    describe,
    local_endpoint_url,
    select_target,
    stack_name_for,
    target_name,
)
from tutorial_helpers.template import TEMPLATE_PATH, find_template, load_template
from tutorial_helpers.websocket_client import connection_url

REPOSITORY = Path(__file__).resolve().parents[2]

TARGET_VARIABLES = (
    "TUTORIAL_TARGET",
    "TUTORIAL_STACK_NAME",
    "AWS_ENDPOINT_URL",
    "LOCAL_AWS_PORT",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)


@dataclass(frozen=True)
class StubbedTarget(Target):
    """A Target whose clients are given (wrapped in botocore Stubbers by the test)."""

    clients: dict[str, Any] = field(default_factory=dict, compare=False)
    requested: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False)

    def client(self, service: str, **kwargs: Any) -> Any:
        self.requested[service] = kwargs
        return self.clients[service]


def aws_client(service: str, **kwargs: Any) -> Any:
    """A client for real AWS that a Stubber will answer (dummy keys: nothing leaves)."""
    return boto3.client(
        service,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        **kwargs,
    )


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from an environment without any target settings."""
    for name in TARGET_VARIABLES:
        monkeypatch.delenv(name, raising=False)


# ---------------------------------------------------------------- target selection


def test_default_target_is_local_on_port_4566() -> None:
    target = select_target()
    assert target == Target("local", "us-east-1", "ws-workshop", "http://127.0.0.1:4566")
    assert "offline, free" in describe(target)


def test_local_endpoint_follows_aws_endpoint_url_then_local_aws_port(monkeypatch) -> None:
    monkeypatch.setenv("LOCAL_AWS_PORT", "4600")
    assert local_endpoint_url() == "http://127.0.0.1:4600"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4601/")
    assert local_endpoint_url() == "http://127.0.0.1:4601"


def test_local_clients_use_the_endpoint_and_dummy_keys(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA-A-REAL-ONE")
    client = Target("local", "us-east-1", "s", "http://127.0.0.1:4599").client("dynamodb")
    assert client.meta.endpoint_url == "http://127.0.0.1:4599"
    assert client._request_signer._credentials.access_key == "testing"


def test_a_profile_that_does_not_exist_is_explained(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "tipo")
    with pytest.raises(WorkshopError, match=r"profile that does not exist \(tipo\)"):
        Target("local", "us-east-1", "s", "http://127.0.0.1:4599").client("dynamodb")
    monkeypatch.setenv("TUTORIAL_TARGET", "aws")
    with pytest.raises(WorkshopError, match="unset AWS_PROFILE"):
        select_target()


def test_aws_clients_ignore_a_leftover_endpoint_url(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    client = Target("aws", "eu-west-1", "ws-workshop-ada").client("sts")
    assert client.meta.endpoint_url == "https://sts.eu-west-1.amazonaws.com"


def test_unknown_target_says_which_values_work(monkeypatch) -> None:
    monkeypatch.setenv("TUTORIAL_TARGET", "cloud")
    with pytest.raises(WorkshopError, match="TUTORIAL_TARGET=local .*TUTORIAL_TARGET=aws"):
        target_name()


def test_aws_target_without_region_says_how_to_set_one(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TUTORIAL_TARGET", "aws")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(WorkshopError, match="AWS_DEFAULT_REGION"):
        select_target()


def test_aws_target_with_stack_name_override(monkeypatch) -> None:
    monkeypatch.setenv("TUTORIAL_TARGET", "aws")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("TUTORIAL_STACK_NAME", "ws-workshop-room-7")
    target = select_target()
    assert (target.name, target.region, target.stack_name) == (
        "aws",
        "eu-west-1",
        "ws-workshop-room-7",
    )
    assert "cost money" in describe(target)


def test_aws_target_without_credentials_says_how_to_configure_them(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TUTORIAL_TARGET", "aws")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(WorkshopError, match="No AWS credentials found"):
        select_target()


@pytest.mark.parametrize(
    ("arn", "stack_name"),
    [
        ("arn:aws:iam::123456789012:user/Alice", "ws-workshop-alice"),
        (
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Dev_1a2b/ada.lovelace@example.com",
            "ws-workshop-ada-lovelace-example-com",
        ),
        ("arn:aws:sts::123456789012:assumed-role/Participant/i-0abc", "ws-workshop-i-0abc"),
        ("arn:aws:iam::123456789012:root", "ws-workshop-root"),
        ("arn:aws:sts::123456789012:assumed-role/R/___", "ws-workshop-learner"),
        (
            "arn:aws:iam::123456789012:user/a-very-long-user-name-that-goes-on-and-on",
            "ws-workshop-a-very-long-user-name-th",
        ),
    ],
)
def test_stack_name_is_unique_per_learner_and_valid_for_cloudformation(arn, stack_name) -> None:
    assert stack_name_for(arn) == stack_name
    assert len(stack_name) <= 36 and stack_name[0].isalpha() and not stack_name.endswith("-")


# ---------------------------------------------------------------- error messages


def _client_error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "GetCallerIdentity")


def test_connection_error_on_the_local_endpoint_says_start_local_aws() -> None:
    with (
        pytest.raises(WorkshopError, match=r"local_aws is not running.*00_setup"),
        explain_aws_errors("http://127.0.0.1:4566", "us-east-1"),
    ):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/")


def test_connection_error_on_aws_points_at_the_region() -> None:
    with (
        pytest.raises(WorkshopError, match=r"region 'us-east-7'"),
        explain_aws_errors(None, "us-east-7"),
    ):
        raise EndpointConnectionError(endpoint_url="https://sts.us-east-7.amazonaws.com/")


def test_missing_and_rejected_credentials_are_explained() -> None:
    with pytest.raises(WorkshopError, match="aws configure"), explain_aws_errors():
        raise NoCredentialsError()
    with pytest.raises(WorkshopError, match="ExpiredToken.*Refresh"), explain_aws_errors():
        raise _client_error("ExpiredToken")
    with pytest.raises(WorkshopError, match="lacks a permission"), explain_aws_errors():
        raise _client_error("AccessDenied", "not allowed: iam:CreateRole")


def test_throttling_that_outlasts_botocores_retries_says_to_wait_and_rerun() -> None:
    with (
        pytest.raises(WorkshopError, match=r"throttling.*\(Throttling\).*wait a minute"),
        explain_aws_errors(None, "eu-west-1"),
    ):
        raise _client_error("Throttling", "Rate exceeded")


def test_other_errors_pass_through_unchanged() -> None:
    with pytest.raises(ClientError, match="ValidationError"), explain_aws_errors():
        raise _client_error("ValidationError", "bad template")


def test_unreachable_local_aws_gives_the_fix_through_a_real_client() -> None:
    target = Target("local", "us-east-1", "ws-workshop", "http://127.0.0.1:9")
    with pytest.raises(WorkshopError, match="local_aws is not running on http://127.0.0.1:9"):
        whoami(target)


# ---------------------------------------------------------------- items as tables


def test_deserialize_makes_numbers_maps_and_sets_plain() -> None:
    item = {
        "connectionid": {"S": "abc="},
        "ttl": {"N": "1700000000"},
        "ratio": {"N": "0.5"},
        "querystring": {"M": {"name": {"S": "Ada"}, "n": {"N": "2"}}},
        "tags": {"SS": ["b", "a"]},
        "flags": {"L": [{"BOOL": True}, {"NULL": True}]},
    }
    assert deserialize(item) == {
        "connectionid": "abc=",
        "ttl": 1700000000,
        "ratio": 0.5,
        "querystring": {"name": "Ada", "n": 2},
        "tags": ["a", "b"],
        "flags": [True, None],
    }
    assert plain(Decimal("3")) == 3 and isinstance(plain(Decimal("3")), int)


def test_flatten_names_nested_map_columns_with_dots() -> None:
    record = {"a": 1, "querystring": {"name": "Ada", "deep": {"x": 1}}, "empty": {}}
    assert flatten(record) == {
        "a": 1,
        "querystring.name": "Ada",
        "querystring.deep.x": 1,
        "empty": {},
    }


def test_items_to_dataframe_sorts_by_key_and_adds_readable_times() -> None:
    items = [
        {
            "connectionid": {"S": "b"},
            "connectedAt": {"N": "1700000000123"},
            "ttl": {"N": "1700086400"},
            "querystring": {"M": {"name": {"S": "Bob"}}},
        },
        {
            "connectionid": {"S": "a"},
            "ttl": {"N": "1700000000"},
            "headers": {"M": {"Host": {"S": "h"}}},
        },
    ]
    frame = items_to_dataframe(items)
    assert list(frame["connectionid"]) == ["a", "b"]
    assert list(frame.columns[:5]) == [
        "connectionid",
        "connectedAt",
        "connectedAt (UTC)",
        "ttl",
        "ttl (UTC)",
    ]
    assert frame.loc[1, "querystring.name"] == "Bob"
    assert frame.loc[0, "headers.Host"] == "h"
    assert str(frame.loc[1, "ttl (UTC)"]) == "2023-11-15 22:13:20+00:00"
    assert str(frame.loc[1, "connectedAt (UTC)"]) == "2023-11-14 22:13:20+00:00"


def test_items_to_dataframe_shows_the_seed_patterns_far_future_ttl() -> None:
    ttl_in_milliseconds = 1652722217711 + 86400  # the seed pattern's bug
    frame = items_to_dataframe(
        [{"connectionid": {"S": "x"}, "ttl": {"N": str(ttl_in_milliseconds)}}]
    )
    assert frame.loc[0, "ttl (UTC)"].year > 50_000


def test_items_to_dataframe_of_nothing_is_empty() -> None:
    assert items_to_dataframe([]).empty


def test_every_template_resource_says_why_it_is_there() -> None:
    resources = load_template()["Resources"]
    assert set(resources) == set(RESOURCE_PURPOSES)
    table = template_resources()
    assert list(table.columns) == ["logical id", "type", "why"]
    assert table["why"].str.len().min() > 10
    assert load_template()["Resources"]["ConnectIntegration"]["Properties"]["CredentialsArn"] == {
        "Fn::GetAtt": ["SessionsTableAccessRole", "Arn"]
    }


# ---------------------------------------------------------------- the template, installed or not


def test_the_template_is_the_checkouts_cfn_template_yaml() -> None:
    assert TEMPLATE_PATH == REPOSITORY / "cfn" / "template.yaml"


def test_an_installed_package_finds_the_template_it_carries(tmp_path) -> None:
    installed = tmp_path / "site-packages" / "tutorial_helpers" / "cfn" / "template.yaml"
    installed.parent.mkdir(parents=True)
    installed.write_text("Resources: {}\n")
    no_checkout = tmp_path / "cfn" / "template.yaml"
    assert find_template(checkout=no_checkout, installed=installed) == installed
    checkout = REPOSITORY / "cfn" / "template.yaml"
    assert find_template(checkout=checkout, installed=installed) == checkout  # checkout first
    assert find_template(checkout=no_checkout, installed=tmp_path / "gone") == no_checkout


def _packages_on_disk(*roots: str) -> set[str]:
    return {
        ".".join(init.parent.relative_to(REPOSITORY).parts)
        for root in roots
        for init in (REPOSITORY / root).rglob("__init__.py")
    }


def test_the_wheel_lists_every_package_and_carries_the_templates() -> None:
    with open(REPOSITORY / "pyproject.toml", "rb") as file:
        setuptools = tomllib.load(file)["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    # A subpackage missing here would be missing from a non-editable install.
    assert _packages_on_disk("local_aws", "tutorial_helpers") <= listed
    assert setuptools["package-dir"]["tutorial_helpers.cfn"] == "cfn"
    # Every template in cfn/ (the workshop's, and 08's throttled API) is carried.
    templates = sorted(path.name for path in (REPOSITORY / "cfn").glob("*.yaml"))
    assert sorted(setuptools["package-data"]["tutorial_helpers.cfn"]) == templates


# ---------------------------------------------------------------- @connections


def test_management_endpoint_swaps_the_scheme() -> None:
    aws_url = "wss://abc123defg.execute-api.eu-west-1.amazonaws.com/api"
    assert (
        management_endpoint(aws_url) == "https://abc123defg.execute-api.eu-west-1.amazonaws.com/api"
    )
    assert management_endpoint("ws://127.0.0.1:4566/abc/api") == "http://127.0.0.1:4566/abc/api"
    with pytest.raises(ValueError, match="not a WebSocket URL"):
        management_endpoint("https://example.com/api")


def test_broadcast_posts_to_each_id_and_deletes_stale_ones() -> None:
    dynamodb = aws_client("dynamodb")
    connections = aws_client("apigatewaymanagementapi", endpoint_url="https://x/api")
    table = "ws-workshop-ada-Sessions"
    with Stubber(dynamodb) as dynamodb_stub, Stubber(connections) as connections_stub:
        dynamodb_stub.add_response(
            "scan",
            {"Items": [{"connectionid": {"S": "live2="}}, {"connectionid": {"S": "gone1="}}]},
            {"TableName": table, "ProjectionExpression": "connectionid"},
        )
        connections_stub.add_client_error(
            "post_to_connection",
            service_error_code="GoneException",
            http_status_code=410,
            expected_params={"ConnectionId": "gone1=", "Data": b"hi"},
        )
        dynamodb_stub.add_response(
            "delete_item", {}, {"TableName": table, "Key": {"connectionid": {"S": "gone1="}}}
        )
        connections_stub.add_response(
            "post_to_connection", {}, {"ConnectionId": "live2=", "Data": b"hi"}
        )
        target = StubbedTarget(
            "aws",
            "eu-west-1",
            "ws-workshop-ada",
            clients={"dynamodb": dynamodb, "apigatewaymanagementapi": connections},
        )
        results = broadcast(target, "wss://x/api", table, "hi")
        dynamodb_stub.assert_no_pending_responses()
        connections_stub.assert_no_pending_responses()
    assert results.to_dict("records") == [
        {"connectionid": "gone1=", "result": "gone: item deleted"},
        {"connectionid": "live2=", "result": "delivered"},
    ]
    assert target.requested["apigatewaymanagementapi"] == {"endpoint_url": "https://x/api"}


def test_connection_info_reports_times_in_utc() -> None:
    connections = aws_client("apigatewaymanagementapi", endpoint_url="https://x/api")
    with Stubber(connections) as stub:
        stub.add_response(
            "get_connection",
            {
                "ConnectedAt": datetime(2024, 5, 16, 17, 30, 17, 711000, tzinfo=UTC),
                "LastActiveAt": datetime(2024, 5, 16, 17, 31, 0, tzinfo=UTC),
                "Identity": {"SourceIp": "203.0.113.9", "UserAgent": "wscat"},
            },
            {"ConnectionId": "abc="},
        )
        info = connection_info(connections, "abc=")
    assert info == {
        "connectedAt (UTC)": datetime(2024, 5, 16, 17, 30, 17, tzinfo=UTC),
        "lastActiveAt (UTC)": datetime(2024, 5, 16, 17, 31, 0, tzinfo=UTC),
        "sourceIp": "203.0.113.9",
        "userAgent": "wscat",
    }


# ---------------------------------------------------------------- WebSocket client


def test_connection_url_encodes_the_query() -> None:
    url = connection_url("wss://abc.execute-api.eu-west-1.amazonaws.com/api", {"q": 'a "b" & c'})
    assert url == "wss://abc.execute-api.eu-west-1.amazonaws.com/api?q=a+%22b%22+%26+c"
    assert connection_url("ws://h/api") == "ws://h/api"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


Reply = bytes | Callable[[bytes], bytes]


def accept_websocket(request: bytes) -> bytes:
    """A valid `101 Switching Protocols` answer to a WebSocket handshake request."""
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    guid = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    accept = base64.b64encode(hashlib.sha1(key + guid).digest())
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )


def serve_replies(
    server: socket.socket, replies: list[Reply], tls: ssl.SSLContext | None
) -> list[socket.socket]:
    """Answer each connection to `server` with the next reply, in a background thread."""
    accepted: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
                if tls is not None:
                    connection = tls.wrap_socket(connection, server_side=True)
            except OSError:  # the server closed, or the client gave up on TLS
                if server.fileno() == -1:
                    return
                continue
            accepted.append(connection)
            request = connection.recv(4096)
            if replies:
                reply = replies.pop(0)
                connection.sendall(reply(request) if callable(reply) else reply)

    threading.Thread(target=serve, daemon=True).start()
    return accepted


@pytest.fixture
def fake_server() -> Iterator[tuple[int, list[Reply]]]:
    """A TCP server on loopback that answers each connection with the next canned reply."""
    replies: list[Reply] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        accepted = serve_replies(server, replies, tls=None)
        yield server.getsockname()[1], replies
    for connection in accepted:
        connection.close()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_path, key_path = directory / "certificate.pem", directory / "key.pem"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, list[Reply], Path]]:
    """Like `fake_server`, but over TLS, as `wss://` URLs on AWS are."""
    certificate, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    replies: list[Reply] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        accepted = serve_replies(server, replies, tls=context)
        yield server.getsockname()[1], replies, certificate
    for connection in accepted:
        connection.close()


def test_connect_to_nothing_says_local_aws_is_not_running() -> None:
    with pytest.raises(WorkshopError, match="local_aws is not running"):
        connect(f"ws://127.0.0.1:{_free_port()}/abc/api", timeout=2)


def test_refused_handshake_explains_403(fake_server) -> None:
    port, replies = fake_server
    replies.append(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    with pytest.raises(WorkshopError, match="HTTP 403.*stack was deleted"):
        connect(f"ws://127.0.0.1:{port}/abc/api", timeout=2)


def test_handshake_without_answer_times_out_with_advice(fake_server) -> None:
    port, _ = fake_server
    with pytest.raises(WorkshopError, match="No handshake answer .* within 0.3 s"):
        connect(f"ws://127.0.0.1:{port}/abc/api", timeout=0.3)


def test_receive_times_out_with_advice(fake_server) -> None:
    port, replies = fake_server
    replies.append(accept_websocket)
    ws = connect(f"ws://127.0.0.1:{port}/abc/api", timeout=2)
    with pytest.raises(WorkshopError, match="No message arrived within 0.2 s"):
        receive(ws, timeout=0.2)
    ws.close(timeout=0.1)


def test_drop_of_a_closed_connection_says_to_open_a_new_one(fake_server) -> None:
    port, replies = fake_server
    replies.append(accept_websocket)
    ws = connect(f"ws://127.0.0.1:{port}/abc/api", timeout=2)
    ws.close(timeout=0.1)
    with pytest.raises(WorkshopError, match="already closed.*connect"):
        drop(ws)


def test_wss_url_connects_over_tls(tls_server, monkeypatch) -> None:
    port, replies, certificate = tls_server
    monkeypatch.setenv("WEBSOCKET_CLIENT_CA_BUNDLE", str(certificate))
    replies.append(accept_websocket)
    ws = connect(f"wss://127.0.0.1:{port}/api", timeout=5)
    assert ws.is_ssl()
    with pytest.raises(WorkshopError, match="No message arrived"):
        receive(ws, timeout=0.2)
    ws.close(timeout=0.1)


def test_untrusted_tls_certificate_says_how_to_trust_it(tls_server, monkeypatch) -> None:
    port, _, _ = tls_server
    monkeypatch.delenv("WEBSOCKET_CLIENT_CA_BUNDLE", raising=False)
    with pytest.raises(WorkshopError, match="TLS handshake .* failed .*WEBSOCKET_CLIENT_CA_BUNDLE"):
        connect(f"wss://127.0.0.1:{port}/api", timeout=5)
