"""Where the workshop runs: `local_aws` on this machine (default) or a real AWS account.

`TUTORIAL_TARGET=aws` selects AWS, with your usual credentials, profile and region. Every
client the lessons use comes from `Target.client`, so the same cells work on both targets.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from tutorial_helpers.errors import WorkshopError, explain_aws_errors

LOCAL_REGION = "us-east-1"
LOCAL_STACK_NAME = "ws-workshop"
STACK_NAME_PREFIX = "ws-workshop-"
DEFAULT_LOCAL_PORT = 4566
# Locally any keys work; passing them explicitly keeps your real credentials out of it.
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# On AWS, let botocore retry throttled calls with backoff (the default gives up sooner).
AWS_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 10},
    ignore_configured_endpoint_urls=True,  # a leftover AWS_ENDPOINT_URL must not redirect AWS calls
)


@dataclass(frozen=True)
class Target:
    """The selected target: its name, region, endpoint and the stack name to use there."""

    name: str  # "local" or "aws"
    region: str
    stack_name: str
    endpoint_url: str | None = None  # local_aws URL; None means AWS itself
    _session: Any = field(default=None, repr=False, compare=False)

    @property
    def is_local(self) -> bool:
        return self.name == "local"

    def client(self, service: str, **kwargs: Any) -> Any:
        """A standard boto3 client for `service` on this target."""
        with self.errors():
            if self.is_local:
                kwargs.setdefault("endpoint_url", self.endpoint_url)
                return boto3.client(service, region_name=self.region, **LOCAL_CREDENTIALS, **kwargs)
            session = self._session or boto3.Session()
            kwargs.setdefault("config", AWS_CLIENT_CONFIG)
            return session.client(service, region_name=self.region, **kwargs)

    def errors(self) -> Any:
        """A context manager that explains AWS errors for this target (see `explain_aws_errors`)."""
        return explain_aws_errors(self.endpoint_url, self.region)


def target_name() -> str:
    """`local` unless TUTORIAL_TARGET says `aws`."""
    name = os.environ.get("TUTORIAL_TARGET", "local").strip().lower() or "local"
    if name not in ("local", "aws"):
        raise WorkshopError(
            f"TUTORIAL_TARGET={name!r} is not a target. Use TUTORIAL_TARGET=local (the default, "
            "offline) or TUTORIAL_TARGET=aws (your AWS account; costs money), then restart the "
            "kernel."
        )
    return name


def local_endpoint_url() -> str:
    """The local_aws URL: AWS_ENDPOINT_URL if set, else port LOCAL_AWS_PORT (4566) on loopback."""
    configured = os.environ.get("AWS_ENDPOINT_URL", "").strip()
    if configured:
        return configured.rstrip("/")
    port = os.environ.get("LOCAL_AWS_PORT", "").strip() or str(DEFAULT_LOCAL_PORT)
    return f"http://127.0.0.1:{port}"


def stack_name_for(identity_arn: str) -> str:
    """A CloudFormation-safe stack name unique to the caller, e.g. `ws-workshop-alice`.

    The user part is the last segment of the caller's ARN (the IAM user, or the session name
    of an assumed role or SSO login), lower-cased, with anything but letters and digits
    turned into dashes, and cut to 24 characters so generated role names stay short.
    """
    user = identity_arn.rsplit("/", 1)[-1] if "/" in identity_arn else identity_arn.rsplit(":")[-1]
    user = re.sub(r"[^a-z0-9]+", "-", user.lower()).strip("-")[:24].strip("-")
    return STACK_NAME_PREFIX + (user or "learner")


def select_target() -> Target:
    """The target the environment asks for (nothing is started or created).

    Locally: local_aws's URL, region us-east-1, stack `ws-workshop`. On AWS: your default
    session's region and a stack name unique to you (TUTORIAL_STACK_NAME overrides it).
    Raises `WorkshopError` for an unknown target, a missing region or missing credentials.
    """
    override = os.environ.get("TUTORIAL_STACK_NAME", "").strip()
    if target_name() == "local":
        return Target("local", LOCAL_REGION, override or LOCAL_STACK_NAME, local_endpoint_url())
    with explain_aws_errors():
        session = boto3.Session()
    if not session.region_name:
        raise WorkshopError(
            "No AWS region is configured. Set AWS_DEFAULT_REGION (for example us-east-1) or "
            "`region` in your AWS profile, then restart the kernel."
        )
    if override:
        return Target("aws", session.region_name, override, None, session)
    with explain_aws_errors(None, session.region_name):
        arn = session.client("sts", config=AWS_CLIENT_CONFIG).get_caller_identity()["Arn"]
    return Target("aws", session.region_name, stack_name_for(arn), None, session)


def describe(target: Target) -> str:
    """One line per fact about the target, for the top of a notebook."""
    if target.is_local:
        where = f"local_aws at {target.endpoint_url} (offline, free)"
    else:
        where = f"your AWS account, region {target.region} (this creates resources that cost money)"
    return f"Target: {target.name} - {where}\nStack:  {target.stack_name}"


def whoami(target: Target) -> dict[str, str]:
    """`sts.get_caller_identity`: the account and identity every call is made as."""
    with target.errors():
        identity = target.client("sts").get_caller_identity()
    return {key: identity[key] for key in ("Account", "Arn", "UserId")}
