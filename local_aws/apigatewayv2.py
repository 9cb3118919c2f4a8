"""API Gateway v2's control plane where moto's answers differ from AWS's.

- The list calls moto lacks: GetAuthorizers, GetRouteResponses (the deployment calls are in
  `deployments_api`).
- API ids: AWS's are 10 characters of lower-case letters and digits (`u9jlm1pv1h`); moto's
  are 8 lower-case letters. Lambda code, templates and lessons that show or check ids see
  AWS's shape (docs/fidelity.md 2d).
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable
from typing import Any

API_ID_ALPHABET = string.ascii_lowercase + string.digits
API_ID_LENGTH = 10


def new_api_id(taken: Any) -> str:
    """A random API id of AWS's shape that is not in `taken`."""
    while True:
        api_id = "".join(secrets.choice(API_ID_ALPHABET) for _ in range(API_ID_LENGTH))
        if api_id not in taken:
            return api_id


def create_api_with_aws_ids(create_api: Callable[..., Any]) -> Callable[..., Any]:
    """moto's CreateApi, with the API (its endpoint, ARN and tags) under an AWS-shaped id."""

    def create(backend: Any, *args: Any, **kwargs: Any) -> Any:
        api = create_api(backend, *args, **kwargs)
        old_id, old_arn = api.api_id, api.arn
        new_id = new_api_id(backend.apis)
        tags = backend.get_tags(old_arn)
        if tags:
            backend.untag_resource(old_arn, list(tags))
        del backend.apis[old_id]
        api.api_id = new_id
        api.api_endpoint = api.api_endpoint.replace(old_id, new_id, 1)
        api.arn = old_arn.replace(f"/apis/{old_id}", f"/apis/{new_id}")
        backend.apis[new_id] = api
        if tags:
            backend.tag_resource(api.arn, tags)
        return api

    return create


def get_authorizers(self: Any) -> tuple[int, dict[str, str], str]:
    """`GET /v2/apis/{apiId}/authorizers`, which moto lacks (it has GetAuthorizer only)."""
    api = self.apigatewayv2_backend.get_api(self.path.split("/")[-2])
    items = [authorizer.to_json() for authorizer in api.authorizers.values()]
    return 200, {}, json.dumps({"items": items})


def get_route_responses(self: Any) -> tuple[int, dict[str, str], str]:
    """`GET /v2/apis/{apiId}/routes/{routeId}/routeresponses`, which moto lacks."""
    parts = self.path.split("/")
    route = self.apigatewayv2_backend.get_route(parts[-4], parts[-2])
    items = [response.to_json() for response in route.route_responses.values()]
    return 200, {}, json.dumps({"items": items})
