"""`python -m local_aws [--port 4566]`: an offline AWS for the workshop, on 127.0.0.1."""

from __future__ import annotations

import argparse
import os

from local_aws import settings


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m local_aws",
        description="Serve CloudFormation, DynamoDB, IAM, STS, Lambda, Logs, API Gateway v2 "
        "and WebSocket APIs on 127.0.0.1, offline.",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("LOCAL_AWS_PORT", settings.DEFAULT_PORT)),
        help="port to listen on; 0 picks a free one, named in the ready line "
        "(default: $LOCAL_AWS_PORT or 4566)",
    )
    defaults = settings.Settings()
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=defaults.idle_timeout_seconds,
        help="close a WebSocket connection after this many seconds without a message (600)",
    )
    parser.add_argument(
        "--max-connection-seconds",
        type=float,
        default=defaults.max_connection_seconds,
        help="close every WebSocket connection after this many seconds (7200)",
    )
    parser.add_argument(
        "--ttl-sweep-seconds",
        type=float,
        default=defaults.ttl_sweep_seconds,
        help="how often items whose DynamoDB TTL has passed are deleted (5)",
    )
    parser.add_argument(
        "--sqs-poll-seconds",
        type=float,
        default=defaults.sqs_poll_seconds,
        help="how often SQS event source mappings look for messages to run their function on (0.2)",
    )
    parser.add_argument(
        "--connect-failure-status",
        type=int,
        default=defaults.connect_failure_status,
        help="handshake status when a $connect service integration fails (500)",
    )
    parser.add_argument(
        "--handshake-timeout",
        type=float,
        default=defaults.handshake_timeout_seconds,
        help="close a TCP connection that has not finished its HTTP or WebSocket handshake "
        "within this many seconds (10)",
    )
    parser.add_argument(
        "--connections-rate-limit",
        type=float,
        default=defaults.connections_rate_limit,
        help="@connections calls a second per account before 429 LimitExceededException "
        "(10000, AWS's account quota)",
    )
    parser.add_argument(
        "--connections-burst-limit",
        type=int,
        default=defaults.connections_burst_limit,
        help="@connections calls allowed at once per account (5000, AWS's account quota)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let web pages from ORIGIN (e.g. http://localhost:8000) call the AWS APIs; "
        "repeatable. Off by default: any page allowed here can deploy and run code on this "
        "machine (docs/security.md)",
    )
    parser.add_argument(
        "--dashboard",
        action="store_true",
        help="serve moto's /moto-api admin endpoints (reset, recorder); off by default",
    )
    parser.add_argument(
        "--http-integration-host",
        action="append",
        default=[],
        metavar="HOST",
        help="let HTTP and HTTP_PROXY integrations call HOST (a name or an address), "
        "repeatable. Off by default: they call only backends on this machine (loopback), "
        "never local_aws itself (docs/security.md)",
    )
    parser.add_argument(
        "--sfn-wait-scale",
        type=float,
        default=defaults.sfn_wait_scale,
        help="Step Functions Wait states wait this many times as long as they say, e.g. 0.01 "
        "for tests and demos (1: real time)",
    )
    parser.add_argument(
        "--sfn-max-running-executions",
        type=int,
        default=defaults.sfn_max_running_executions,
        help="Step Functions executions (StartExecution) running at a time before "
        "ExecutionLimitExceeded (16)",
    )
    parser.add_argument(
        "--max-api-body-mb",
        type=int,
        default=defaults.max_api_body_bytes // (1024 * 1024),
        help="the largest AWS API request body local_aws reads, in MiB; a larger one is "
        "refused with 413 (128); the bodies of all requests at once may hold twice that, "
        "past which a request is answered 503",
    )
    args = parser.parse_args()
    if args.sfn_wait_scale < 0:
        parser.error("--sfn-wait-scale must be 0 or more")
    if args.sfn_max_running_executions < 1:
        parser.error("--sfn-max-running-executions must be 1 or more")
    if args.max_api_body_mb < 1:
        parser.error("--max-api-body-mb must be 1 or more")
    if args.sqs_poll_seconds <= 0:
        parser.error("--sqs-poll-seconds must be more than 0")
    if args.connections_rate_limit < 0 or args.connections_burst_limit < 0:
        parser.error("--connections-rate-limit and --connections-burst-limit must be 0 or more")
    # Dummy credentials and a default region, so moto and the functions need no AWS setup.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    configured = settings.Settings(
        port=args.port,
        idle_timeout_seconds=args.idle_timeout,
        max_connection_seconds=args.max_connection_seconds,
        ttl_sweep_seconds=args.ttl_sweep_seconds,
        sqs_poll_seconds=args.sqs_poll_seconds,
        connect_failure_status=args.connect_failure_status,
        handshake_timeout_seconds=args.handshake_timeout,
        connections_rate_limit=args.connections_rate_limit,
        connections_burst_limit=args.connections_burst_limit,
        allowed_origins=tuple(args.allow_origin),
        dashboard=args.dashboard,
        http_integration_hosts=tuple(args.http_integration_host),
        sfn_wait_scale=args.sfn_wait_scale,
        sfn_max_running_executions=args.sfn_max_running_executions,
        max_api_body_bytes=args.max_api_body_mb * 1024 * 1024,
    )
    from local_aws.server import serve  # imports moto: only once the arguments are valid

    serve(configured)


if __name__ == "__main__":
    main()
