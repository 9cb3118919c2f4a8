"""Notebook 07's chat page (notebooks/chat/chat.html) in a real browser, against local_aws.

Chromium (the system's, driven by Playwright) opens the page from a loopback HTTP server that
serves it as JupyterLab's /files/ does (`Content-Security-Policy: sandbox allow-scripts`, so the
page has an opaque origin). The page connects to the chat stack with its token and joins the
lobby; a Python client in the same room sees what the page sends, and the page shows what
Python sends, through the chat function and through @connections.

Playwright's own browser download is not used: the test needs Chromium at /usr/bin/chromium
(Debian/Ubuntu: `sudo apt-get install chromium`), or at the path in $CHROMIUM_PATH.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import CHAT_TOKEN
from tests.support import LocalAwsProcess
from tutorial_helpers import connect, management_client, receive_json, send_json
from tutorial_helpers.chat import CHAT_PAGE_FILE, chat_page_url, messages_within
from tutorial_helpers.target import Target

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--no-first-run",
    # Loopback only: no host but 127.0.0.1 resolves, so the browser cannot reach the internet.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
TIMEOUT_MS = 10_000


class JupyterLikeFiles(SimpleHTTPRequestHandler):
    """Serves the chat page's folder with the header JupyterLab's /files/ handler sends."""

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", "sandbox allow-scripts")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def page_server() -> Iterator[str]:
    """The base URL of a loopback HTTP server serving notebooks/chat/."""
    handler = functools.partial(JupyterLikeFiles, directory=str(CHAT_PAGE_FILE.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the chat page test drives the system's "
            "Chromium. Install it with `sudo apt-get install chromium` (Debian/Ubuntu; .ci/run "
            "does this), or set CHROMIUM_PATH to a Chromium or Chrome executable.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 720, "height": 400})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        yield page
    finally:
        context.close()


def open_chat(page: Page, page_server: str, websocket_url: str, token: str, name: str) -> None:
    page_path = chat_page_url(websocket_url, token, room="lobby", name=name, page="/chat.html")
    page.goto(page_server + page_path)


def test_the_page_and_a_python_client_talk_in_both_directions(
    page: Page,
    page_server: str,
    chat_room: dict[str, str],
    local_aws: LocalAwsProcess,
    tmp_path: Path,
) -> None:
    url = chat_room["WebSocketURL"]
    python = connect(url, query={"token": CHAT_TOKEN})
    try:
        send_json(python, {"action": "join", "room": "lobby", "name": "python"})
        assert receive_json(python) == {"type": "joined", "room": "lobby", "name": "python"}

        open_chat(page, page_server, url, CHAT_TOKEN, name="browser")
        expect(page.locator("#status")).to_have_text("connected")
        # The page joined the lobby: Python hears it, and the page shows its own join.
        assert receive_json(python) == {"type": "joined", "room": "lobby", "name": "browser"}
        messages = page.locator("#messages li")
        expect(messages.last).to_have_text("browser joined lobby")

        # Python -> the chat function -> the page.
        send_json(python, {"action": "sendmessage", "text": "hello from <b>python</b>"})
        expect(messages.last).to_have_text("python: hello from <b>python</b>")  # as text
        assert receive_json(python)["text"] == "hello from <b>python</b>"

        # Python -> @connections (plain text, not JSON) -> the page.
        target = Target("local", "us-east-1", "chat", local_aws.endpoint_url)
        connections = management_client(target, url)
        members = local_aws.client("dynamodb").scan(TableName=chat_room["MembersTableName"])
        browser_id = next(
            item["connectionid"]["S"] for item in members["Items"] if item["name"]["S"] == "browser"
        )
        connections.post_to_connection(ConnectionId=browser_id, Data=b"pushed by the backend")
        expect(messages.last).to_have_text("pushed by the backend")

        # The page -> the chat function -> Python (and the page itself).
        page.locator("#text").fill("hello from the browser")
        page.locator("#send").click()
        assert receive_json(python) == {
            "type": "message",
            "room": "lobby",
            "name": "browser",
            "text": "hello from the browser",
        }
        expect(messages.last).to_have_text("browser: hello from the browser")
        expect(page.locator("#text")).to_have_value("")
        page.locator("#text").fill("and Enter sends too")
        page.locator("#text").press("Enter")
        assert receive_json(python)["text"] == "and Enter sends too"
        expect(messages.last).to_have_text("browser: and Enter sends too")
        page.screenshot(path=str(tmp_path / "chat-page.png"))
    finally:
        python.close()


def test_a_wrong_token_leaves_the_page_disconnected(
    page: Page, page_server: str, chat_room: dict[str, str]
) -> None:
    python = connect(chat_room["WebSocketURL"], query={"token": CHAT_TOKEN})
    try:
        send_json(python, {"action": "join", "room": "lobby", "name": "watcher"})
        receive_json(python)
        open_chat(page, page_server, chat_room["WebSocketURL"], "not-the-token", name="intruder")
        # The authorizer's 403 fails the handshake; browsers report it as close code 1006.
        expect(page.locator("#status")).to_have_text("disconnected (1006)")
        expect(page.locator("#send")).to_be_disabled()
        assert messages_within(python, 0.5) == []  # nobody joined
    finally:
        python.close()


def test_without_a_url_the_page_says_how_to_open_it(page: Page, page_server: str) -> None:
    page.goto(page_server + "/chat.html")
    expect(page.locator("#status")).to_have_text("no URL or token")
    expect(page.locator("#messages li")).to_contain_text("chat.html?url=wss://")
