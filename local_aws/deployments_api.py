"""Deploying a WebSocket API by hand: the API Gateway V2 calls moto lacks, and stages served.

moto answers `CreateDeployment`, `GetDeployments`, `GetDeployment`, `DeleteDeployment` and
`UpdateStage` with a 404 HTML page, and a stage made with `CreateStage` is stored but never
served. The usual fix for a stage that serves an old deployment is
`aws apigatewayv2 create-deployment --api-id X --stage-name S`; here these calls work on the
deployments local_aws serves (`Deployments`), the same ones CloudFormation's
`AWS::ApiGatewayV2::Deployment` and `Stage` make. Answers and errors follow the API
reference (CreateDeployment, UpdateStage, DeleteDeployment: 201, 200, 204; NotFoundException,
BadRequestException).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from moto.apigatewayv2.exceptions import APIGatewayV2Error
from moto.apigatewayv2.responses import ApiGatewayV2Response

from local_aws.deployments import Deployments

Response = tuple[int, dict[str, str], str]

# URL paths moto's apigatewayv2 app lacks (moto.apigatewayv2.urls.url_paths' form).
URL_PATHS = (
    "{0}/v2/apis/(?P<api_id>[^/]+)/deployments$",
    "{0}/v2/apis/(?P<api_id>[^/]+)/deployments/(?P<deployment_id>[^/]+)$",
)
_STAGE_FIELDS = {  # UpdateStage's body field -> moto Stage attribute
    "accessLogSettings": "access_log_settings",
    "autoDeploy": "auto_deploy",
    "defaultRouteSettings": "default_route_settings",
    "description": "description",
    "routeSettings": "route_settings",
}


class _Bound:
    deployments: Deployments | None = None


def bind(deployments: Deployments) -> None:
    """Hand the handlers the running local_aws's deployments."""
    _Bound.deployments = deployments


def _deployments() -> Deployments:
    assert _Bound.deployments is not None, "local_aws.deployments_api.bind was not called"
    return _Bound.deployments


class NotFound(APIGatewayV2Error):
    code = 404

    def __init__(self, message: str) -> None:
        super().__init__("NotFoundException", message)


class BadRequest(APIGatewayV2Error):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("BadRequestException", message)


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _body(self: ApiGatewayV2Response) -> dict[str, Any]:
    try:
        body = json.loads(self.body or "{}")
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {}


def _api(self: ApiGatewayV2Response, api_id: str) -> Any:
    return self.apigatewayv2_backend.get_api(api_id)  # moto's NotFoundException if none


def _deployment_json(deployment_id: str, created: float, description: str) -> dict[str, Any]:
    answer = {
        "createdDate": _iso(created),
        "deploymentId": deployment_id,
        "deploymentStatus": "DEPLOYED",
    }
    if description:
        answer["description"] = description
    return answer


def create_deployment(self: ApiGatewayV2Response) -> Response:
    """`POST /v2/apis/{apiId}/deployments`: snapshot the API; with `stageName`, serve it."""
    api_id = self.path.split("/")[-2]
    api = _api(self, api_id)
    body = _body(self)
    stage_name = body.get("stageName")
    stage = api.stages.get(stage_name) if isinstance(stage_name, str) else None
    if stage_name is not None and stage is None:
        raise NotFound("Invalid stage identifier specified")
    description = str(body.get("description") or "")
    deployments = _deployments()
    deployment_id = deployments.deploy(self.current_account, self.region, api_id, description)
    if stage is not None:
        deployments.set_stage(
            self.current_account,
            self.region,
            api_id,
            stage.name,
            deployment_id,
            bool(stage.auto_deploy),
        )
    created = deployments.deployments_of(api_id)
    when = next(entry[1] for entry in created if entry[0] == deployment_id)
    return 201, {}, json.dumps(_deployment_json(deployment_id, when, description))


def get_deployments(self: ApiGatewayV2Response) -> Response:
    """`GET /v2/apis/{apiId}/deployments`."""
    api_id = self.path.split("/")[-2]
    _api(self, api_id)
    items = [_deployment_json(*entry) for entry in _deployments().deployments_of(api_id)]
    return 200, {}, json.dumps({"items": items})


def get_deployment(self: ApiGatewayV2Response) -> Response:
    """`GET /v2/apis/{apiId}/deployments/{deploymentId}`."""
    api_id, deployment_id = self.path.split("/")[-3], unquote(self.path.split("/")[-1])
    _api(self, api_id)
    for entry in _deployments().deployments_of(api_id):
        if entry[0] == deployment_id:
            return 200, {}, json.dumps(_deployment_json(*entry))
    raise NotFound("Invalid Deployment identifier specified")


def delete_deployment(self: ApiGatewayV2Response) -> Response:
    """`DELETE /v2/apis/{apiId}/deployments/{deploymentId}`: not while a stage serves it."""
    api_id, deployment_id = self.path.split("/")[-3], unquote(self.path.split("/")[-1])
    _api(self, api_id)
    try:
        _deployments().delete_deployment(api_id, deployment_id)
    except KeyError:
        raise NotFound("Invalid Deployment identifier specified") from None
    except ValueError:
        raise BadRequest(
            "Active stages pointing to this deployment must be moved or deleted"
        ) from None
    return 204, {}, ""


def update_stage(self: ApiGatewayV2Response) -> Response:
    """`PATCH /v2/apis/{apiId}/stages/{stageName}`: a new `deploymentId` is served at once."""
    api_id, stage_name = self.path.split("/")[-3], unquote(self.path.split("/")[-1])
    stage = self.apigatewayv2_backend.get_stage(api_id, stage_name)  # StageNotFound if none
    body = _body(self)
    deployments = _deployments()
    served = deployments.stage_deployment(api_id, stage_name)
    deployment_id = served[0] if served else None
    if "deploymentId" in body:
        known = {entry[0] for entry in deployments.deployments_of(api_id)}
        if body["deploymentId"] not in known:
            raise NotFound("Invalid Deployment identifier specified")
        deployment_id = body["deploymentId"]
    for field, attribute in _STAGE_FIELDS.items():
        if field in body:
            setattr(stage, attribute, body[field])
    if isinstance(body.get("stageVariables"), dict):
        stage.stage_variables = {**(stage.stage_variables or {}), **body["stageVariables"]}
    stage.updated = datetime.now()
    deployments.set_stage(
        self.current_account,
        self.region,
        api_id,
        stage_name,
        deployment_id,
        bool(stage.auto_deploy),
    )
    return 200, {}, json.dumps(_with_deployment_id(stage.to_json(), api_id))


def create_stage_served(original: Callable[..., Response]) -> Callable[..., Response]:
    """moto's CreateStage, and the stage served (its `deploymentId`, or `autoDeploy`)."""

    def handler(self: ApiGatewayV2Response) -> Response:
        answer = original(self)
        if _Bound.deployments is None:  # moto on its own (a unit test): nothing is served
            return answer
        config = _body(self)
        api_id = self.path.split("/")[-2]
        _Bound.deployments.set_stage(
            self.current_account,
            self.region,
            api_id,
            str(config.get("stageName")),
            config.get("deploymentId"),
            bool(config.get("autoDeploy")),
        )
        return answer

    return handler


def delete_stage_served(original: Callable[..., Response]) -> Callable[..., Response]:
    """moto's DeleteStage, and the stage no longer served (its clients are disconnected)."""

    def handler(self: ApiGatewayV2Response) -> Response:
        answer = original(self)
        if _Bound.deployments is not None:
            api_id, stage = self.path.split("/")[-3], unquote(self.path.split("/")[-1])
            _Bound.deployments.remove_stage(api_id, stage)
        return answer

    return handler


def _with_deployment_id(stage: dict[str, Any], api_id: str) -> dict[str, Any]:
    if _Bound.deployments is None:
        return stage
    served = _Bound.deployments.stage_deployment(api_id, str(stage.get("stageName")))
    if served is not None and served[0]:
        return {**stage, "deploymentId": served[0]}
    return stage


def get_stage_served(original: Callable[..., Response]) -> Callable[..., Response]:
    """moto's GetStage, with the `deploymentId` the stage serves (moto keeps none)."""

    def handler(self: ApiGatewayV2Response) -> Response:
        status, headers, body = original(self)
        stage = _with_deployment_id(json.loads(body), self.path.split("/")[-3])
        return status, headers, json.dumps(stage)

    return handler


def get_stages_served(original: Callable[..., Response]) -> Callable[..., Response]:
    """moto's GetStages, each with the `deploymentId` it serves."""

    def handler(self: ApiGatewayV2Response) -> Response:
        status, headers, body = original(self)
        api_id = self.path.split("/")[-2]
        items = [_with_deployment_id(stage, api_id) for stage in json.loads(body)["items"]]
        return status, headers, json.dumps({"items": items})

    return handler
