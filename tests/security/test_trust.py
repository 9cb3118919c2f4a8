"""The trust boundary: local_aws's AWS APIs answer only local, non-browser callers.

Each test sends what a browser or a DNS-rebinding page would send (the headers are what
Chromium sends on a cross-origin fetch, a form post or an `<img>`), then checks the refusal
and that nothing was created, deleted or run.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import websocket

from tests.support import LocalAwsProcess

SIGNED = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/cloudformation/aws4_request, "
    "SignedHeaders=host, Signature=" + "0" * 64
)
FORM = "application/x-www-form-urlencoded"
ALLOWED = "http://localhost:8000"


def request(
    server: LocalAwsProcess,
    method: str,
    path: str,
    headers: dict[str, str],
    body: str = "",
) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request; returns status, lower-cased headers and body."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        headers = {"Host": f"127.0.0.1:{server.port}", **headers}
        for name, value in headers.items():
            connection.putheader(name, value)
        data = body.encode()
        connection.putheader("Content-Length", str(len(data)))
        connection.endheaders(data)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def create_stack_body(name: str, template: str) -> str:
    return urlencode(
        {
            "Action": "CreateStack",
            "Version": "2010-05-15",
            "StackName": name,
            "TemplateBody": template,
        }
    )


def stack_names(server: LocalAwsProcess) -> set[str]:
    stacks = server.client("cloudformation").describe_stacks()["Stacks"]
    return {stack["StackName"] for stack in stacks}


def no_cors_headers(headers: dict[str, str]) -> bool:
    return not any(name.startswith("access-control-") for name in headers)


@pytest.fixture(scope="module")
def loosened() -> Iterator[LocalAwsProcess]:
    """A local_aws started with one allowed origin and the dashboard on."""
    server = LocalAwsProcess("--allow-origin", ALLOWED, "--dashboard")
    yield server
    server.stop()


def test_a_rebinding_page_is_refused_and_creates_nothing(local_aws: LocalAwsProcess) -> None:
    status, headers, body = request(
        local_aws,
        "POST",
        "/",
        {
            "Host": f"attacker.example:{local_aws.port}",
            "Content-Type": FORM,
            "Authorization": SIGNED,
        },
        create_stack_body("rebound", "Resources: {}"),
    )
    assert status == 403
    assert "127.0.0.1, localhost or [::1]" in json.loads(body)["message"]
    assert no_cors_headers(headers)
    assert "rebound" not in stack_names(local_aws)


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:8888"])
def test_a_cross_origin_post_never_reaches_the_template_parser(
    local_aws: LocalAwsProcess, tmp_path: Path, origin: str
) -> None:
    marker = tmp_path / "marker"
    template = f'!!python/object/apply:os.system ["touch {marker}"]'
    status, headers, body = request(
        local_aws,
        "POST",
        "/",
        {"Origin": origin, "Content-Type": FORM, "Sec-Fetch-Mode": "no-cors"},
        create_stack_body("from-a-page", template),
    )
    assert status == 403
    assert "does not answer web pages" in json.loads(body)["message"]
    assert no_cors_headers(headers)
    assert not marker.exists()
    assert "from-a-page" not in stack_names(local_aws)


def test_a_preflight_gets_no_cors_headers(local_aws: LocalAwsProcess) -> None:
    status, headers, _ = request(
        local_aws,
        "OPTIONS",
        "/",
        {
            "Origin": "http://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert status == 403
    assert no_cors_headers(headers)


def test_an_image_tag_get_cannot_delete_a_stack(local_aws: LocalAwsProcess, workshop) -> None:
    """An `<img src=...>` sends no Origin, but Sec-Fetch-*; old browsers send neither, and no
    Authorization header either."""
    query = urlencode({"Action": "DeleteStack", "StackName": "workshop"})
    img = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}
    assert request(local_aws, "GET", f"/?{query}", img)[0] == 403
    status, _, body = request(local_aws, "GET", f"/?{query}", {})
    assert status == 403
    assert "Authorization header" in json.loads(body)["message"]
    assert "workshop" in stack_names(local_aws)


def test_plain_sdk_calls_get_no_cors_headers(local_aws: LocalAwsProcess) -> None:
    status, headers, _ = request(
        local_aws,
        "POST",
        "/",
        {"Content-Type": FORM, "Authorization": SIGNED},
        "Action=ListStacks&Version=2010-05-15",
    )
    assert status == 200
    assert no_cors_headers(headers)


def test_moto_admin_api_is_off_by_default(local_aws: LocalAwsProcess, workshop) -> None:
    for path in ("/moto-api/reset", "/moto-api/reset-auth", "/moto-api/recorder/start-recording"):
        status, _, body = request(local_aws, "POST", path, {"Authorization": SIGNED})
        assert status == 404, path
        assert "--dashboard" in json.loads(body)["message"]
    assert "workshop" in stack_names(local_aws)
    assert not (Path(__file__).resolve().parents[2] / "moto_recording").exists()


def test_the_health_check_names_the_process(local_aws: LocalAwsProcess) -> None:
    status, _, body = request(local_aws, "GET", "/_local_aws/health", {})
    assert status == 200
    assert json.loads(body) == {
        "service": "local_aws",
        "status": "running",
        "pid": local_aws.process.pid,
    }
    assert (
        request(local_aws, "GET", "/_local_aws/health", {"Origin": "http://evil.example"})[0] == 403
    )


def test_an_allowed_origin_is_served_with_cors_and_others_still_refused(
    loosened: LocalAwsProcess,
) -> None:
    preflight = request(
        loosened,
        "OPTIONS",
        "/",
        {"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
    )
    assert preflight[0] == 200
    assert preflight[1].get("access-control-allow-origin") == ALLOWED
    status, headers, _ = request(
        loosened,
        "POST",
        "/",
        {"Origin": ALLOWED, "Content-Type": FORM, "Authorization": SIGNED},
        "Action=ListStacks&Version=2010-05-15",
    )
    assert status == 200
    assert headers.get("access-control-allow-origin") == ALLOWED
    other = {"Origin": "http://localhost:8001", "Content-Type": FORM, "Authorization": SIGNED}
    assert request(loosened, "POST", "/", other, "Action=ListStacks")[0] == 403


def test_the_dashboard_when_on_still_refuses_pages(loosened: LocalAwsProcess) -> None:
    assert request(loosened, "GET", "/moto-api/", {})[0] == 200
    evil = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    assert request(loosened, "POST", "/moto-api/reset", evil)[0] == 403
    rebound = {"Host": f"attacker.example:{loosened.port}"}
    assert request(loosened, "POST", "/moto-api/reset", rebound)[0] == 403


def test_websocket_clients_may_come_from_any_origin_but_not_any_host(
    local_aws: LocalAwsProcess, workshop
) -> None:
    url = workshop["WebSocketURL"]
    ws = websocket.create_connection(url, origin="http://evil.example", timeout=10)
    ws.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(url, host=f"attacker.example:{local_aws.port}", timeout=10)
    assert refused.value.status_code == 403
