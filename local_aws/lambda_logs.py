"""CloudWatch Logs for Lambda: each invocation's output goes to `/aws/lambda/<function>`.

As on AWS, the log group is created on first use if the stack did not create it, and every
warm worker writes to its own stream, so `logs.filter_log_events` shows prints, errors and
stack traces.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from local_aws import services
from local_aws.lambda_runtime import InvocationResult

logger = logging.getLogger(__name__)


def publish(account_id: str, region: str, function_name: str, result: InvocationResult) -> None:
    """Append one invocation's log lines to the function's log group (blocking: moto)."""
    from moto.logs.models import logs_backends

    group = f"/aws/lambda/{function_name}"
    stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]local_aws"
    now = int(time.time() * 1000)
    lines = [line for line in result.logs.splitlines() if line.strip()]
    if not lines:
        return
    try:
        with services.LOCK:
            backend = logs_backends[account_id][region]
            if group not in backend.groups:
                backend.create_log_group(group, {})
            if stream not in backend.groups[group].streams:
                backend.create_log_stream(group, stream)
            backend.put_log_events(
                group, stream, [{"timestamp": now, "message": line} for line in lines]
            )
    except Exception:  # logs are a convenience: never fail an invocation because of them
        logger.exception("could not write the logs of %s", function_name)
