"""CloudWatch metrics and access logs of WebSocket APIs, as API Gateway publishes them.

The gateway reports each finished request (a connect, a message or a disconnect) with
`Observer.request_done`, on the event loop. That call only appends to a bounded queue; a
flush a second later, on a worker thread, aggregates the queue and writes to moto under
`services.LOCK`:

- metrics in the `AWS/ApiGateway` namespace, one aggregated datum (sum, min, max, count)
  per metric, dimension set and minute, so `get_metric_statistics` works at 1-minute
  resolution and moto's store grows by series, not by request;
- access log lines in the log group a stage's `AccessLogSettings.DestinationArn` names,
  rendered from its `Format`;
- execution log lines (`execution_logs`) in `API-Gateway-Execution-Logs_{apiId}/{stage}`,
  at the route's `LoggingLevel`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local_aws import events, execution_logs, lambda_logs, services, stage_settings
from local_aws.deployments import DeployedApi
from local_aws.integrations import Outcome

logger = logging.getLogger(__name__)

NAMESPACE = "AWS/ApiGateway"
FLUSH_SECONDS = 1.0
MAX_PENDING_REQUESTS = 10_000  # between two flushes; past it the newest are dropped
MAX_STORED_DATUMS = 50_000  # AWS/ApiGateway datums kept in moto; the oldest go first
MAX_FORMAT_BYTES = 3 * 1024  # AWS's quota for an access log format (reference §10)


@dataclass(frozen=True)
class Finished:
    """One request as it ended: what the metrics and the access log line are made of."""

    request: events.Request
    status: int  # what API Gateway answered: the handshake's status or the message's
    integration_status: int | None  # None: no integration was called
    integration_latency_ms: int | None  # None: not measured (no integration, or MOCK)
    error_message: str | None = None
    integration_failed: bool = False  # the call itself failed: timeout, crash, bad answer
    response_body: str | None = None  # what the integration answered (execution data traces)


def finished(
    request: events.Request,
    outcome: Outcome | None,
    latency_ms: int,
    integration_type: str | None,
) -> Finished:
    """What a request's integration outcome means for API Gateway's status and metrics."""
    if outcome is None:  # no integration: $connect/$disconnect succeed, a message fails
        status = 500 if request.event_type == "MESSAGE" else 200
        error = "Internal server error" if status == 500 else None
        return Finished(request, status, None, None, error)
    return Finished(
        request,
        status=outcome.status,
        integration_status=outcome.status,
        integration_latency_ms=None if integration_type == "MOCK" else latency_ms,
        error_message=outcome.error,
        integration_failed=outcome.error is not None and outcome.status >= 500,
        response_body=outcome.body,
    )


def refused(request: events.Request, status: int, message: str) -> Finished:
    """A request API Gateway answered itself with a 4XX, before any integration."""
    return Finished(request, status, None, None, message)


@dataclass(frozen=True)
class Sent:
    """One message API Gateway sent a client: a route's reply or an `@connections` post."""

    client: events.Client
    epoch_ms: int
    account_id: str  # of the client's API, whose metrics count it
    region: str


# ------------------------------------------------------------------------- metrics


@dataclass
class _Statistics:
    total: float = 0.0
    minimum: float = float("inf")
    maximum: float = float("-inf")
    count: int = 0

    def add(self, value: float) -> None:
        self.total += value
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)
        self.count += 1


Dimensions = tuple[tuple[str, str], ...]


class MetricAggregator:
    """Sums data points per (metric, dimensions, minute): memory grows with series only."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, Dimensions, int, str], _Statistics] = {}

    def add(
        self, metric: str, dimensions: Dimensions, epoch_ms: int, value: float, unit: str
    ) -> None:
        """Count one data point into its 1-minute bucket."""
        minute = epoch_ms // 60_000 * 60
        key = (metric, dimensions, minute, unit)
        self._series.setdefault(key, _Statistics()).add(value)

    def drain(self) -> list[dict[str, Any]]:
        """The buckets as `PutMetricData` entries (StatisticValues); empties the aggregator."""
        series, self._series = self._series, {}
        return [
            {
                "MetricName": metric,
                "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions],
                # moto compares naive UTC times (an aware one fails GetMetricStatistics)
                "Timestamp": datetime.fromtimestamp(minute, UTC).replace(tzinfo=None),
                "Unit": unit,
                "StatisticValues": {
                    "Sum": stats.total,
                    "Minimum": stats.minimum,
                    "Maximum": stats.maximum,
                    "SampleCount": float(stats.count),
                },
            }
            for (metric, dimensions, minute, unit), stats in series.items()
        ]


def record_metrics(aggregator: MetricAggregator, done: Finished, by_route: bool) -> None:
    """Add one request's data points, under every dimension set AWS documents for WebSocket
    APIs: `ApiId`; `ApiId, Stage`; and, with detailed metrics, `ApiId, Stage, Route`."""
    request = done.request
    client = request.client
    dimension_sets: list[Dimensions] = [
        (("ApiId", client.api_id),),
        (("ApiId", client.api_id), ("Stage", client.stage)),
    ]
    if by_route and request.route_key:  # a message no route matched has no Route
        dimension_sets.append(
            (("ApiId", client.api_id), ("Route", request.route_key), ("Stage", client.stage))
        )
    points: list[tuple[str, float, str]] = []
    called = done.integration_status is not None
    client_error = not called and 400 <= done.status < 500
    if request.event_type == "CONNECT" and (called or done.status < 400):  # reached $connect
        points.append(("ConnectCount", 1, "Count"))
    elif request.event_type == "MESSAGE":
        points.append(("MessageCount", 1, "Count"))
    # AWS publishes error metrics as 0 or 1 per request, so Average is an error rate.
    points.append(("ClientError", float(client_error), "Count"))
    if called:
        assert done.integration_status is not None
        points.append(("IntegrationError", float(done.integration_status >= 400), "Count"))
        points.append(("ExecutionError", float(done.integration_failed), "Count"))
    if done.integration_latency_ms is not None:
        points.append(("IntegrationLatency", float(done.integration_latency_ms), "Milliseconds"))
    for dimensions in dimension_sets:
        for metric, value, unit in points:
            aggregator.add(metric, dimensions, request.request_time_epoch, value, unit)


def record_sent(aggregator: MetricAggregator, sent: Sent) -> None:
    """A message to the client is a `MessageCount` ("messages sent to the WebSocket API,
    either from or to the client" [doc]), by `ApiId` and by `ApiId, Stage`."""
    client = sent.client
    for dimensions in (
        (("ApiId", client.api_id),),
        (("ApiId", client.api_id), ("Stage", client.stage)),
    ):
        aggregator.add("MessageCount", dimensions, sent.epoch_ms, 1, "Count")


# ------------------------------------------------------------------------- access logs

# Access log formats only substitute `$context.*` variables: no directives, no methods,
# so a full Velocity engine would accept templates AWS rejects. Hand-written for that reason.
_VARIABLE = re.compile(r"\$(?:\{context\.([A-Za-z0-9_.]+)\}|context\.([A-Za-z0-9_.]*[A-Za-z0-9_]))")


def context_values(done: Finished) -> dict[str, str]:
    """The `$context` variables AWS documents for WebSocket access logs, as text."""
    request = done.request
    client = request.client
    values = {
        "apiId": client.api_id,
        "connectedAt": str(client.connected_at),
        "connectionId": client.connection_id,
        "domainName": client.domain_name,
        "error.message": done.error_message,
        "error.messageString": None if done.error_message is None else f'"{done.error_message}"',
        "eventType": request.event_type,
        "extendedRequestId": request.request_id,
        "identity.sourceIp": client.source_ip,
        "identity.userAgent": client.user_agent,
        "integration.latency": _text(done.integration_latency_ms),
        "integration.status": _text(done.integration_status),
        "integrationLatency": _text(done.integration_latency_ms),
        "integrationStatus": _text(done.integration_status),
        "messageId": request.message_id,
        "requestId": request.request_id,
        "requestTime": events.request_time(request.request_time_epoch),
        "requestTimeEpoch": str(request.request_time_epoch),
        "routeKey": request.route_key,
        "stage": client.stage,
        "status": str(done.status),
    }
    if client.authorizer is not None:
        for name, value in client.authorizer.items():
            values[f"authorizer.{name}"] = str(value)
    return {name: value for name, value in values.items() if value is not None}


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


def render_access_log(log_format: str, values: dict[str, str]) -> str:
    """`Format` with each `$context.x` replaced; AWS writes `-` for a variable with no value."""
    return _VARIABLE.sub(lambda match: values.get(match[1] or match[2], "-"), log_format)


def log_group_name(destination_arn: str) -> str | None:
    """`arn:aws:logs:{region}:{account}:log-group:{name}[:*]` → name, or None if not one."""
    parts = destination_arn.split(":")
    if len(parts) < 7 or parts[2] != "logs" or parts[5] != "log-group" or not parts[6]:
        return None
    return parts[6]


# ------------------------------------------------------------------------- the observer


class Observer:
    """Collects finished requests on the event loop; writes them from a worker thread."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._pending: list[tuple[DeployedApi | None, Finished | Sent]] = []
        self._flush_scheduled = False
        # AWS names a stage's log streams with opaque ids; one per stage and kind here.
        self._streams: dict[tuple[str, str], str] = {}
        self._execution_streams: dict[tuple[str, str], str] = {}
        self._warned: set[str] = set()  # a misconfiguration is logged once, not per request

    def message_sent(self, account_id: str, region: str, client: events.Client) -> None:
        """Queue one message sent to a client of an API of `account_id` in `region` (on the
        event loop: cheap, never blocks)."""
        self._queue(None, Sent(client, events.now_ms(), account_id, region))

    def request_done(self, deployed: DeployedApi, done: Finished) -> None:
        """Queue one finished request (on the event loop: cheap, never blocks)."""
        self._queue(deployed, done)

    def _queue(self, deployed: DeployedApi | None, done: Finished | Sent) -> None:
        if len(self._pending) >= MAX_PENDING_REQUESTS:
            return
        self._pending.append((deployed, done))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._flush)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        self._flush_scheduled = False
        asyncio.get_running_loop().run_in_executor(self._executor, self.write, pending)

    def write(self, pending: Iterable[tuple[DeployedApi | None, Finished | Sent]]) -> None:
        """Publish the metrics and access log lines of `pending` to moto (blocking).

        Each entry is a finished request with the API that served it, or a message sent
        (`Sent`, which names its API's account and region) with None.
        """
        by_account: dict[tuple[str, str], MetricAggregator] = {}
        lines: dict[tuple[str, str, str, str], list[dict[str, object]]] = {}
        executions: dict[tuple[str, str, str, str], list[dict[str, object]]] = {}
        try:
            pending = list(pending)
            stages = {
                (d.account_id, d.region, d.api_id, d.stage): d for d, _ in pending if d is not None
            }
            with services.LOCK:  # only moto's reads and writes hold the lock, not rendering
                settings = {key: _stage_settings(d) for key, d in stages.items()}
            for deployed, done in pending:
                if isinstance(done, Sent):
                    sent_to = by_account.setdefault(
                        (done.account_id, done.region), MetricAggregator()
                    )
                    record_sent(sent_to, done)
                    continue
                assert deployed is not None
                stage = settings[
                    (deployed.account_id, deployed.region, deployed.api_id, deployed.stage)
                ]
                aggregator = by_account.setdefault(
                    (deployed.account_id, deployed.region), MetricAggregator()
                )
                record_metrics(aggregator, done, stage.route(None).detailed_metrics)
                line = self._access_log_line(deployed, done, stage.access_log)
                if line is not None:
                    key, event = line
                    lines.setdefault(key, []).append(event)
                self._execution_log(deployed, done, stage, executions)
            with services.LOCK:
                for (account_id, region), aggregator in by_account.items():
                    _put_metrics(account_id, region, aggregator.drain())
                missing = [key for key, batch in lines.items() if not _put_log_events(*key, batch)]
                for key, batch in executions.items():  # API Gateway makes this group itself
                    _put_log_events(*key, batch, create_group=True)
            for key in missing:
                self._warn_once(
                    f"access log group {key[2]} does not exist: create it to get access logs"
                )
        except Exception:  # metrics and logs must never break the requests they describe
            logger.exception("could not publish metrics or access logs")

    def _access_log_line(
        self, deployed: DeployedApi, done: Finished, access: Any
    ) -> tuple[tuple[str, str, str, str], dict[str, object]] | None:
        if not isinstance(access, dict):
            return None
        log_format, group = access.get("format"), log_group_name(access.get("destinationArn", ""))
        if not isinstance(log_format, str) or group is None:
            return None
        if len(log_format.encode()) > MAX_FORMAT_BYTES:
            self._warn_once(
                f"the access log format of stage {deployed.stage} of API {deployed.api_id} "
                f"is over {MAX_FORMAT_BYTES} bytes (AWS's quota): shorten it to get access logs"
            )
            return None
        stream = self._streams.setdefault((deployed.api_id, deployed.stage), secrets.token_hex(16))
        message = render_access_log(log_format, context_values(done))
        event = {"timestamp": done.request.request_time_epoch, "message": message}
        return (deployed.account_id, deployed.region, group, stream), event

    def _execution_log(
        self,
        deployed: DeployedApi,
        done: Finished,
        stage: stage_settings.StageSettings,
        into: dict[tuple[str, str, str, str], list[dict[str, object]]],
    ) -> None:
        """Add the request's execution log lines, at its route's logging level, to `into`."""
        messages = execution_logs.lines(deployed, done, stage.route(done.request.route_key))
        if not messages:
            return
        stream = self._execution_streams.setdefault(
            (deployed.api_id, deployed.stage), secrets.token_hex(16)
        )
        group = execution_logs.group_name(deployed.api_id, deployed.stage)
        timestamp = done.request.request_time_epoch
        into.setdefault((deployed.account_id, deployed.region, group, stream), []).extend(
            {"timestamp": timestamp, "message": message} for message in messages
        )

    def _warn_once(self, message: str) -> None:
        if message not in self._warned and len(self._warned) < 1000:
            self._warned.add(message)
            logger.warning("%s", message)


def _stage_settings(deployed: DeployedApi) -> stage_settings.StageSettings:
    """The stage's settings, read from moto now (a stage update takes effect without a new
    deployment, as on AWS); none once the API is gone, whose last requests still count."""
    return stage_settings.read(
        deployed.account_id, deployed.region, deployed.api_id, deployed.stage
    )


def _put_metrics(account_id: str, region: str, metric_data: list[dict[str, Any]]) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    if not metric_data:
        return
    backend = cloudwatch_backends[account_id][region]
    backend.put_metric_data(NAMESPACE, metric_data)
    ours = [datum for datum in backend.metric_data if datum.namespace == NAMESPACE]
    if len(ours) > MAX_STORED_DATUMS:
        oldest = {id(datum) for datum in ours[: len(ours) - MAX_STORED_DATUMS]}
        backend.metric_data = [datum for datum in backend.metric_data if id(datum) not in oldest]


def _put_log_events(
    account_id: str,
    region: str,
    group: str,
    stream: str,
    log_events: list[dict[str, object]],
    create_group: bool = False,
) -> bool:
    """Append the lines to the group's stream; False if the group does not exist (and is not
    to be created: access logs go only to a group that exists, as on AWS)."""
    from moto.logs.models import logs_backends

    backend = logs_backends[account_id][region]
    if group not in backend.groups:
        if not create_group:
            return False
        backend.create_log_group(group, {})
    if stream not in backend.groups[group].streams:
        backend.create_log_stream(group, stream)
    backend.put_log_events(group, stream, sorted(log_events, key=_timestamp))
    lambda_logs.trim(backend.groups[group], stream)
    return True


def _timestamp(event: dict[str, object]) -> int:
    value = event["timestamp"]
    return value if isinstance(value, int) else 0
