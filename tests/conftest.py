"""Shared fixtures: the session's `python -m local_aws`, and the workshop's stacks on it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support import ROOT, LocalAwsProcess, deploy

CHAT_TOKEN = "chat-token-for-tests"

# Keep any credentials or endpoint of the machine out of the tests.
for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(name, None)


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAwsProcess]:
    """One local_aws for the session; its TTL sweep runs every 0.5 s (tests/fidelity/test_ttl)."""
    with LocalAwsProcess("--ttl-sweep-seconds", "0.5") as server:
        yield server


@pytest.fixture(scope="session")
def workshop(local_aws: LocalAwsProcess) -> dict[str, str]:
    """The workshop's own template (cfn/template.yaml) as stack `workshop`; its outputs."""
    return deploy(local_aws, "workshop")


@pytest.fixture(scope="session")
def chat_room(local_aws: LocalAwsProcess) -> dict[str, str]:
    """Notebook 07's chat room (cfn/chat.yaml, token CHAT_TOKEN) as stack `chat`; its outputs."""
    return deploy(local_aws, "chat", ROOT / "cfn" / "chat.yaml", ChatToken=CHAT_TOKEN)
