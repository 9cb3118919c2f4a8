"""CloudWatch Logs for Lambda: each invocation's output goes to `/aws/lambda/<function>`.

As on AWS, the log group is created on first use if the stack did not create it, so
`logs.filter_log_events` shows prints, errors and stack traces. Writing to moto takes its
lock, so lines are buffered on the event loop and written in batches from a worker thread,
a few times per second, never per message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from concurrent.futures import Executor
from datetime import UTC, datetime

from local_aws import services
from local_aws.lambda_runtime import InvocationResult

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.2

# (account, region, function name) → [(timestamp ms, line)]
_Pending = dict[tuple[str, str, str], list[tuple[int, str]]]


class LambdaLogs:
    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._pending: _Pending = defaultdict(list)
        self._flush_scheduled = False

    def add(
        self, account_id: str, region: str, function_name: str, result: InvocationResult
    ) -> None:
        """Queue one invocation's lines (called on the event loop)."""
        now = int(time.time() * 1000)
        lines = [(now, line) for line in result.logs.splitlines() if line.strip()]
        if not lines:
            return
        self._pending[(account_id, region, function_name)].extend(lines)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._flush)

    def _flush(self) -> None:
        pending, self._pending = self._pending, defaultdict(list)
        self._flush_scheduled = False
        asyncio.get_running_loop().run_in_executor(self._executor, write, pending)


def write(pending: _Pending) -> None:
    """Append the lines to their log groups (blocking: moto)."""
    from moto.logs.models import logs_backends

    stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]local_aws"
    for (account_id, region, function_name), lines in pending.items():
        group = f"/aws/lambda/{function_name}"
        try:
            with services.LOCK:
                backend = logs_backends[account_id][region]
                if group not in backend.groups:
                    backend.create_log_group(group, {})
                if stream not in backend.groups[group].streams:
                    backend.create_log_stream(group, stream)
                events = [{"timestamp": ts, "message": line} for ts, line in lines]
                backend.put_log_events(group, stream, events)
        except Exception:  # logs are a convenience: never fail anything because of them
            logger.exception("could not write the logs of %s", function_name)
