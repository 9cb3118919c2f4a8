"""AWS's public host names, as local_aws's TLS listener and its routing read them.

Code written for AWS names AWS's hosts: `dynamodb.us-east-1.amazonaws.com`,
`{apiId}.execute-api.{region}.amazonaws.com/{stage}` for `@connections`, the China partition's
`….amazonaws.com.cn`. Inside a Lambda worker such names are sent to local_aws (see
docs/aws-host-names.md); this module says which names those are, which API an execute-api
name is for, and which certificate names (SANs) a leaf for a name carries. Pure functions only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Partitions whose names the workers send to local_aws: aws and aws-cn. (aws-us-gov shares
# `amazonaws.com`; the newer `api.aws` dual-stack names are not covered, see the doc.)
AWS_DOMAINS = ("amazonaws.com", "amazonaws.com.cn")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_AWS_NAME = re.compile(rf"^(?:{_LABEL}\.)+amazonaws\.com(?:\.cn)?$")
# The host name local_aws itself puts in events' `domainName`.
_LOCAL_API_NAME = re.compile(r"^[a-z0-9]+\.execute-api\.localhost$")
_EXECUTE_API = re.compile(
    r"^(?P<api>[a-z0-9]+)\.execute-api\."
    r"(?:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?|localhost)$"
)
_HOST_PORT = re.compile(r"^(?P<name>[^:\[\]]+)(?::(?P<port>\d{1,5}))?$")


@dataclass(frozen=True)
class ExecuteApiHost:
    """`{api}.execute-api.{region}.amazonaws.com` (region named) or local_aws's
    `{api}.execute-api.localhost` (region None: the API's own)."""

    api_id: str
    region: str | None


def split_host(host: str) -> tuple[str, int | None] | None:
    """A `Host` header as (name lower-cased, without a final dot; port or None), or None if it
    is no host name (an IPv6 literal, or junk)."""
    match = _HOST_PORT.match(host.strip())
    if match is None:
        return None
    name = match["name"].lower().removesuffix(".")
    return name, int(match["port"]) if match["port"] else None


def is_aws_name(name: str) -> bool:
    """Whether `name` (lower-case, no port) is a host of AWS's aws or aws-cn partitions."""
    return len(name) <= 253 and _AWS_NAME.match(name) is not None


def is_worker_redirected(name: str) -> bool:
    """Whether a Lambda worker sends connections to `name` to local_aws: AWS's names, and the
    `{api}.execute-api.localhost` names local_aws hands out (no resolver needs to know them)."""
    return is_aws_name(name) or _LOCAL_API_NAME.match(name) is not None


def execute_api(host: str) -> ExecuteApiHost | None:
    """The API a `Host` header names, AWS's way or local_aws's, with any port; else None."""
    split = split_host(host)
    match = _EXECUTE_API.match(split[0]) if split else None
    if match is None:
        return None
    return ExecuteApiHost(match["api"], match["region"])


def certificate_names(server_name: str) -> tuple[str, ...]:
    """The names (SANs) of the leaf certificate served for `server_name` (a TLS SNI).

    One wildcard one level up covers every sibling, so one leaf serves all of a region's
    services (`*.us-east-1.amazonaws.com`), all of its APIs (`*.execute-api.us-east-1…`) or
    all buckets (`*.s3.amazonaws.com`); a wildcard covers one label only, as TLS says (RFC
    6125 §6.4.3), so each of those groups has its own leaf. A name of two labels is its own.
    """
    parent = server_name.partition(".")[2]
    if "." not in parent:
        return (server_name,)
    return (f"*.{parent}",)
