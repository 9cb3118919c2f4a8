"""Fixtures of the fidelity suite: stacks on the session's local_aws, and a short-timeout one.

The workshop's own stack (`workshop`) comes from tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fidelity.support import TEMPLATES
from tests.support import LocalAwsProcess, deploy
from tests.support.clients import connect


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "load: 1,000 concurrent connections against a dedicated local_aws (~30 s)"
    )


@pytest.fixture
def ws(stack: dict[str, str]) -> Iterator[Any]:
    """A client connected to the module's `stack` (each module defines its own), closed after."""
    client = connect(stack["WebSocketURL"])
    yield client
    client.close()


@pytest.fixture(scope="session")
def lambda_api(local_aws: LocalAwsProcess) -> dict[str, str]:
    """Lambda proxy routes: a recording $connect/$disconnect and a configurable message route."""
    return deploy(local_aws, "fid-lambda", TEMPLATES / "lambda_api.yaml")


@pytest.fixture(scope="session")
def short_lived() -> Iterator[LocalAwsProcess]:
    """A local_aws with a 1 s idle timeout, a 5 s connection limit and a 403 connect failure.

    The limit is well apart from the idle timeout so that, even on a slow machine, a test can
    tell which one closed a connection.
    """
    with LocalAwsProcess(
        "--idle-timeout", "1", "--max-connection-seconds", "5", "--connect-failure-status", "403"
    ) as server:
        yield server


@pytest.fixture(scope="session")
def plain_selection(local_aws: LocalAwsProcess) -> dict[str, str]:
    """`$request.body.action`; routes `join`, `5`, `true`, `[a, b]`; no `$default` or `$connect`."""
    return deploy(
        local_aws,
        "fid-sel-plain",
        TEMPLATES / "selection.yaml",
        Expression="$request.body.action",
        KeyA="join",
        KeyB="5",
        KeyC="true",
        KeyD="[a, b]",
    )


@pytest.fixture(scope="session")
def braced_selection(local_aws: LocalAwsProcess) -> dict[str, str]:
    """Two braced variables, one a nested path, and static text; no `$default`."""
    return deploy(
        local_aws,
        "fid-sel-braced",
        TEMPLATES / "selection.yaml",
        Expression="${request.body.service}/${request.body.meta.kind}",
        KeyA="chat/join",
        KeyB="/join",
        KeyC="chat/",
        KeyD="/",
    )


@pytest.fixture(scope="session")
def static_selection(local_aws: LocalAwsProcess) -> dict[str, str]:
    """The static expression `\\$default`: every message goes to `$default`."""
    return deploy(
        local_aws,
        "fid-sel-static",
        TEMPLATES / "selection.yaml",
        Expression="\\$default",
        KeyA="$default",
        KeyB="join",
        KeyC="unused-c",
        KeyD="unused-d",
    )
