"""One exception for every mistake a learner can make, each message saying what to do next."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

# Error codes AWS returns when the credentials exist but are not (or no longer) valid.
_REJECTED_CREDENTIALS = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
}
# Error codes of a throttled call; botocore retries these (`target.AWS_CLIENT_CONFIG`) and
# raises only once its attempts are used up.
_THROTTLED = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests"}


# How a learner starts local_aws again: the first cells of every notebook do it.
START_LOCAL_AWS = (
    "Re-run this notebook's first cells (`start_workshop()` starts local_aws; in 00_setup, "
    "`ensure_local_aws`), or run `make local-aws` in a terminal"
)


class WorkshopError(Exception):
    """Something the learner can fix; the message says how.

    In a notebook IPython shows it as its one message line (`_render_traceback_`), not as a
    traceback through the helpers: the message is the useful part. `%tb` shows the frames.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


def is_local_endpoint(endpoint_url: str | None) -> bool:
    """True for an endpoint on this machine (local_aws), False for AWS itself."""
    if not endpoint_url:
        return False
    return "127.0.0.1" in endpoint_url or "localhost" in endpoint_url


@contextmanager
def explain_aws_errors(
    endpoint_url: str | None = None, region: str | None = None
) -> Iterator[None]:
    """Turn the usual botocore errors into a `WorkshopError` that says what to do.

    `endpoint_url` is the local_aws URL when the target is local (None on AWS), `region` the
    region in use; both only make the messages precise. Other errors pass through unchanged.
    """
    try:
        yield
    except EndpointConnectionError as error:
        if is_local_endpoint(endpoint_url):
            raise WorkshopError(
                f"local_aws is not running on {endpoint_url}. {START_LOCAL_AWS}, then run "
                "this cell again."
            ) from None
        raise WorkshopError(
            f"Cannot reach AWS in region {region!r} ({error.kwargs.get('endpoint_url')}). "
            "Check the region name (AWS_DEFAULT_REGION or `region` in your profile), "
            "and your internet connection."
        ) from None
    except (NoCredentialsError, PartialCredentialsError):
        raise WorkshopError(
            "No AWS credentials found. Configure them with `aws configure` or "
            "`aws sso login --profile NAME` and set AWS_PROFILE=NAME (or export "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), then restart the kernel. "
            "To work offline instead, unset TUTORIAL_TARGET."
        ) from None
    except (TokenRetrievalError, UnauthorizedSSOTokenError):
        raise WorkshopError(
            "Your AWS SSO session has expired. Run `aws sso login` (with your --profile) "
            "in a terminal, then run this cell again."
        ) from None
    except ProfileNotFound as error:
        raise WorkshopError(
            f"AWS_PROFILE names a profile that does not exist ({error.kwargs.get('profile')}). "
            "Fix the name (`aws configure list-profiles` lists them) or unset AWS_PROFILE, "
            "then restart the kernel."
        ) from None
    except NoRegionError:
        raise WorkshopError(
            "No AWS region is configured. Set AWS_DEFAULT_REGION (for example us-east-1) "
            "or `region` in your AWS profile, then restart the kernel."
        ) from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _REJECTED_CREDENTIALS:
            raise WorkshopError(
                f"AWS rejected your credentials ({code}): they are wrong or have expired. "
                "Refresh them (`aws sso login`, or new access keys), then restart the kernel."
            ) from None
        if code in _THROTTLED:
            raise WorkshopError(
                f"AWS kept throttling the calls ({code}): too many requests in this account "
                "and region right now, even after retries. What was started goes on without "
                "you; wait a minute, then run this cell again."
            ) from None
        if code == "AccessDenied" or code == "AccessDeniedException":
            raise WorkshopError(
                "AWS denied the call: your identity lacks a permission the workshop needs "
                f"({error.response['Error'].get('Message', '')}). Ask your instructor for a "
                "role with CloudFormation, IAM, Lambda, DynamoDB, API Gateway and Logs access."
            ) from None
        raise
