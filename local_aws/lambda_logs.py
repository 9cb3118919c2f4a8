"""CloudWatch Logs for Lambda: each invocation's output goes to `/aws/lambda/<function>`.

As on AWS, the log group is created on first use if the stack did not create it, so
`logs.filter_log_events` shows prints, errors and stack traces. Writing to moto takes its
lock, so lines are buffered on the event loop and written in batches from a worker thread,
a few times per second, never per message. Even splitting the output into lines happens on
that thread: a big output must not hold up the event loop.

Log storage is bounded, unlike CloudWatch's (kept for ever by default): a local_aws that
runs for days must not grow with every print. Each stream written here keeps its newest
MAX_EVENTS_PER_STREAM events, and each log group its newest MAX_BYTES_PER_GROUP bytes of
messages; older events are dropped first. A line is cut at MAX_EVENT_BYTES, like AWS's
256 KB event size limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from concurrent.futures import Executor
from datetime import UTC, datetime

from local_aws import services
from local_aws.lambda_worker_process import InvocationResult

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.2
MAX_EVENTS_PER_STREAM = 10_000
MAX_BYTES_PER_GROUP = 8 * 1024 * 1024
MAX_EVENT_BYTES = 256 * 1024
# Invocations queued between two flushes, per function: with more, the oldest are dropped.
MAX_PENDING_INVOCATIONS = 1_000

# (account, region, function name) → [(timestamp ms, an invocation's logs)]
_Pending = dict[tuple[str, str, str], list[tuple[int, str]]]


class LambdaLogs:
    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._pending: _Pending = defaultdict(list)
        self._flush_scheduled = False

    def add(
        self, account_id: str, region: str, function_name: str, result: InvocationResult
    ) -> None:
        """Queue one invocation's logs (called on the event loop)."""
        if not result.logs:
            return
        queued = self._pending[(account_id, region, function_name)]
        queued.append((int(time.time() * 1000), result.logs))
        if len(queued) > MAX_PENDING_INVOCATIONS:
            del queued[0]
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
    for (account_id, region, function_name), invocations in pending.items():
        group = f"/aws/lambda/{function_name}"
        events = log_events(invocations)
        try:
            with services.LOCK:
                backend = logs_backends[account_id][region]
                if group not in backend.groups:
                    backend.create_log_group(group, {})
                if stream not in backend.groups[group].streams:
                    backend.create_log_stream(group, stream)
                backend.put_log_events(group, stream, events)
                trim(backend.groups[group], stream)
        except Exception:  # logs are a convenience: never fail anything because of them
            logger.exception("could not write the logs of %s", function_name)


def log_events(invocations: list[tuple[int, str]]) -> list[dict[str, object]]:
    """One event per non-blank line, at most the newest MAX_EVENTS_PER_STREAM of them."""
    events = [
        {"timestamp": timestamp, "message": line[:MAX_EVENT_BYTES]}
        for timestamp, logs in invocations
        for line in logs.splitlines()
        if line.strip()
    ]
    return events[-MAX_EVENTS_PER_STREAM:]


def trim(group: object, stream_name: str) -> None:
    """Drop the oldest events past the stream's and the group's limits (moto's models)."""
    streams = group.streams  # type: ignore[attr-defined]
    _drop_oldest(streams[stream_name], len(streams[stream_name].events) - MAX_EVENTS_PER_STREAM)
    excess = sum(stream.stored_bytes for stream in streams.values()) - MAX_BYTES_PER_GROUP
    for stream in sorted(streams.values(), key=lambda s: s.creation_time):
        if excess <= 0:
            break
        count = size = 0
        for event in stream.events:
            if size >= excess:
                break
            count, size = count + 1, size + len(event.message)
        excess -= _drop_oldest(stream, count)


def _drop_oldest(stream: object, count: int) -> int:
    """Remove a moto LogStream's `count` oldest events; return the bytes freed."""
    if count <= 0:
        return 0
    events = stream.events  # type: ignore[attr-defined]
    freed = sum(len(event.message) for event in events[:count])
    del events[:count]
    stream.stored_bytes = max(0, stream.stored_bytes - freed)  # type: ignore[attr-defined]
    return freed
