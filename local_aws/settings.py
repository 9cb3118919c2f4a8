"""Settings of one running local_aws: where it listens and the gateway's quotas.

One `Settings` is built by `python -m local_aws` and handed to every part that needs it
(`server.LocalAws`, the gateway, the integrations, the management API); nothing reads it
from a global. The defaults are AWS's own (reference apigw-websocket.md §5.1); tests
shorten the timeouts.
"""

from __future__ import annotations

from dataclasses import dataclass

HOST = "127.0.0.1"  # loopback only: local_aws must never be reachable from another machine
DEFAULT_PORT = 4566


@dataclass(frozen=True)
class Settings:
    port: int = DEFAULT_PORT  # 0: any free port (the server replaces it with the bound one)
    # The TLS listener for AWS host names from Lambda workers (docs/aws-host-names.md): a free
    # port the server picks at start; None: no such listener.
    tls_port: int | None = None
    idle_timeout_seconds: float = 600.0  # AWS: 10 minutes without a message
    max_connection_seconds: float = 7200.0  # AWS: 2 hours per connection
    integration_timeout_seconds: float = 29.0  # AWS: 50 ms to 29 s, all integration types
    frame_limit_bytes: int = 32 * 1024  # AWS: a larger frame closes the connection with 1009
    message_limit_bytes: int = 128 * 1024  # AWS: a larger message closes it with 1009
    ttl_sweep_seconds: float = 5.0  # how often expired items are deleted (AWS: within days)
    # How often each enabled SQS event source mapping looks for messages (AWS long-polls).
    sqs_poll_seconds: float = 0.2
    connect_failure_status: int = 500  # handshake status when a $connect AWS integration fails
    # Throttling (docs/fidelity.md): a route without ThrottlingRateLimit/ThrottlingBurstLimit
    # has the account's limits, AWS's default quota of 10,000 requests a second, burst 5,000.
    account_rate_limit: float = 10_000.0
    account_burst_limit: int = 5_000
    # @connections calls per account and region. AWS documents no limit of its own for them
    # (they count towards the account's quota above, whose figures are the default).
    connections_rate_limit: float = 10_000.0
    connections_burst_limit: int = 5_000
    # The trust boundary (docs/security.md): who may call the AWS APIs.
    allowed_origins: tuple[str, ...] = ()  # browser origins allowed to call the AWS APIs (risky)
    dashboard: bool = False  # serve moto's /moto-api admin endpoints (same Host/Origin checks)
    # Hosts besides loopback that HTTP and HTTP_PROXY integrations may call (risky: a
    # template could then reach them from this machine); local_aws's own port never.
    http_integration_hosts: tuple[str, ...] = ()
    # Bounds on what one client may hold (docs/security.md). AWS documents no handshake limit.
    handshake_timeout_seconds: float = 10.0  # a TCP connection must finish its handshake by then
    # A client that does not read what it is sent (replies, pongs, @connections posts) is
    # disconnected once this much waits in its write buffer, instead of growing memory.
    max_buffered_bytes_per_connection: int = 1024 * 1024
    # Open TCP connections beyond this are answered 503 at once (None: from the fd limit),
    # so that moto, Lambda workers and log files keep file descriptors of their own.
    max_open_connections: int | None = None
    # An AWS API request's body longer than this is refused with 413 before moto reads it
    # (moto holds a whole body in memory). AWS's own largest, a Lambda CreateFunction with
    # its zip inline, is about 70 MB; the SDKs upload larger files to S3 in 8 MB parts.
    max_api_body_bytes: int = 128 * 1024 * 1024
    # Step Functions: Wait states wait this many times as long as they say (tests and demos
    # run a Wait of minutes in a moment; 1 is AWS's real time), and at most this many
    # executions started with StartExecution run at a time (local_aws's bound: AWS allows
    # a million open executions an account).
    sfn_wait_scale: float = 1.0
    sfn_max_running_executions: int = 16

    @property
    def api_bodies_total_bytes(self) -> int:
        """What the bodies of every AWS API request at once may hold: two of the largest
        (each open connection could otherwise hold one, request_bodies)."""
        return 2 * self.max_api_body_bytes

    @property
    def endpoint_url(self) -> str:
        """The URL boto3 uses for every AWS API (AWS_ENDPOINT_URL)."""
        return f"http://{HOST}:{self.port}"

    def api_endpoint(self, api_id: str) -> str:
        """What AWS calls the API's `ApiEndpoint`; the WebSocket URL is this plus `/{stage}`."""
        return f"ws://{HOST}:{self.port}/{api_id}"

    @staticmethod
    def domain_name(api_id: str) -> str:
        """The `domainName` put in events; Lambda code turns it into an @connections URL."""
        return f"{api_id}.execute-api.localhost"
