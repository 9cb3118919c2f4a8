"""Service requests run by moto in process, as the service's own endpoint would answer them.

DynamoDB, on `$connect`'s hot path, goes straight to its request handler
(`services.call_dynamodb`). The other services go through moto's own request dispatch: one
WSGI call in this process, no socket, so each request is parsed and answered by moto exactly
as for a boto3 client (XML for the query-protocol services, JSON for the others, moto's
error codes). About 2 ms a call.
"""

from __future__ import annotations

import logging
from typing import Any

# werkzeug comes with moto[server]: moto itself reads every request through it.
from werkzeug.test import EnvironBuilder

from local_aws import services, standard_executions, step_functions

logger = logging.getLogger(__name__)

# moto routes a request to its service by the SigV4 credential scope; nothing checks the
# signature inside the process, so this one only names the service and the region.
_SCOPE = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20200101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"  # noqa: E501


def call(
    service: str,
    region: str,
    account_id: str,
    path: str,
    body: str,
    headers: dict[str, str],
    time_limit: float = step_functions.EXPRESS_LIMIT_SECONDS,
) -> tuple[int, str]:
    """POST ``body`` to the service's endpoint at ``path``: (status, answer).

    An action moto does not implement is answered like any unknown action (400), with a
    line in the log that says so. Step Functions' `StartSyncExecution`, which moto lacks,
    is run by `local_aws.step_functions`, for ``time_limit`` seconds at most;
    `StartExecution` and the calls about executions by `local_aws.standard_executions`.
    """
    if step_functions.is_sync_start(service, headers):
        return step_functions.start_sync_execution(account_id, region, body, time_limit)
    action = standard_executions.is_execution_action(service, headers)
    if action is not None:  # StartExecution: it runs, in the background
        return standard_executions.EXECUTIONS.answer(action, account_id, region, body)
    all_headers = dict(headers)
    all_headers["Authorization"] = _SCOPE.format(region=region, service=service)
    all_headers["x-moto-account-id"] = account_id
    environ = EnvironBuilder(
        method="POST",
        path="/" + path.lstrip("/"),
        base_url=f"https://{service}.{region}.amazonaws.com",
        data=body.encode("utf-8", "surrogatepass"),
        headers=list(all_headers.items()),
    ).get_environ()
    answer: dict[str, Any] = {}

    def start_response(status: str, _headers: Any, _exc_info: Any = None) -> None:
        answer["status"] = int(status.split(" ", 1)[0])

    try:
        with services.LOCK:
            chunks = b"".join(services.moto_dispatcher()(environ, start_response))
    except NotImplementedError as missing:
        logger.error("moto does not implement this %s action: %s", service, missing)
        return 400, f"UnknownOperationException: {missing}"
    return answer.get("status", 500), chunks.decode("utf-8", "replace")
