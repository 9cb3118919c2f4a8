"""tutorial_helpers.chat: notebook 07's stack name, handshakes, messages and browser page URL.

The live tests deploy cfn/chat.yaml on the session's local_aws with `deploy_stack`, as the
notebook does, and talk to it as the notebook's clients do.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import websocket

from tests.support import LocalAwsProcess
from tutorial_helpers import connect, delete_stack, deploy_stack, send_json, stack_status
from tutorial_helpers.chat import (
    CHAT_PAGE,
    CHAT_PAGE_FILE,
    CHAT_TEMPLATE_PATH,
    ChatFrame,
    chat_page_url,
    chat_target,
    handshake_status,
    messages_within,
)
from tutorial_helpers.target import Target

TOKEN = "a-token-for-helpers"


def test_the_chat_stack_is_named_after_the_workshop_stack() -> None:
    target = Target("aws", "eu-west-1", "ws-workshop-ada")
    chat = chat_target(target)
    assert chat.stack_name == "ws-workshop-ada-chat"
    assert (chat.region, chat.name) == ("eu-west-1", "aws")
    assert target.stack_name == "ws-workshop-ada"  # the workshop's target is unchanged


def test_the_template_and_the_page_are_in_the_checkout() -> None:
    assert CHAT_TEMPLATE_PATH.name == "chat.yaml" and CHAT_TEMPLATE_PATH.is_file()
    assert CHAT_PAGE_FILE.is_file()
    # JupyterLab serves the page at /files/ + its path from the checkout.
    assert CHAT_PAGE.endswith("/".join(CHAT_PAGE_FILE.parts[-3:]))


def test_the_page_url_shows_the_websocket_url_and_round_trips_every_value() -> None:
    url = chat_page_url("wss://abc.example/chat", "t&k=n #1", room="a b", name="Zoë")
    assert url.startswith(f"{CHAT_PAGE}?url=wss://abc.example/chat&")
    query = parse_qs(urlsplit(url).query)
    assert query == {
        "url": ["wss://abc.example/chat"],
        "chat_token": ["t&k=n #1"],  # not `token`: Jupyter's own login parameter
        "room": ["a b"],
        "name": ["Zoë"],
    }


def test_the_frame_escapes_its_url_and_reads_as_text_where_html_does_not_show() -> None:
    frame = ChatFrame('/files/chat.html?a=1&b="x"')
    html = frame._repr_html_()
    assert 'src="/files/chat.html?a=1&amp;b=&quot;x&quot;"' in html
    assert "/files/chat.html?a=1&b=" in repr(frame)


class QuietAfter:
    """A WebSocket stand-in: these frames, then a receive timeout."""

    def __init__(self, *frames: str) -> None:
        self.frames = list(frames)

    def settimeout(self, seconds: float) -> None:
        self.timeout = seconds

    def recv(self) -> str:
        if not self.frames:
            raise websocket.WebSocketTimeoutException("quiet")
        return self.frames.pop(0)


def test_messages_within_parses_json_and_keeps_other_text() -> None:
    ws = QuietAfter('{"type": "message"}', "the lobby closes at 18:00")
    assert messages_within(ws, 0.3) == [{"type": "message"}, "the lobby closes at 18:00"]  # type: ignore[arg-type]
    assert ws.timeout == 0.3


@pytest.fixture(scope="module")
def chat_stack(local_aws: LocalAwsProcess) -> Iterator[tuple[Target, dict[str, str]]]:
    chat = chat_target(Target("local", "us-east-1", "helpers", local_aws.endpoint_url))
    outputs = deploy_stack(
        chat, template_path=CHAT_TEMPLATE_PATH, parameters={"ChatToken": TOKEN}, out=io.StringIO()
    )
    yield chat, outputs
    delete_stack(chat, out=io.StringIO())
    assert stack_status(chat) == "DOES_NOT_EXIST"


def test_the_handshake_status_says_what_the_authorizer_decided(chat_stack) -> None:
    _, outputs = chat_stack
    url = outputs["WebSocketURL"]
    assert handshake_status(url) == 401  # no token: the identity source is missing
    assert handshake_status(url, {"token": TOKEN + "x"}) == 403  # the policy denies
    assert handshake_status(url, {"token": TOKEN}) == 101  # the parameter deploy_stack passed


def test_messages_within_collects_in_order_then_returns_when_quiet(chat_stack) -> None:
    chat, outputs = chat_stack
    ws = connect(outputs["WebSocketURL"], query={"token": TOKEN})
    try:
        assert messages_within(ws, 0.2) == []
        send_json(ws, {"action": "join", "room": "den", "name": "ivy"})
        send_json(ws, {"action": "sendmessage", "text": "hi"})
        got = messages_within(ws, 1.0)
        assert got == [
            {"type": "joined", "room": "den", "name": "ivy"},
            {"type": "message", "room": "den", "name": "ivy", "text": "hi"},
        ]
    finally:
        ws.close()
