"""Deployments: the frozen copy of an API's routes and integrations that a stage serves.

On AWS a deployment is a snapshot: routes added after it are not served until the next
deployment (reference §1.6 B3). moto has no deployments, so they are kept here, built from
moto's apigatewayv2 objects at the moment the deployment is created. A stage with
AutoDeploy serves the API as it is now, so its snapshot is rebuilt when it is looked up.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.apigatewayv2.models import apigatewayv2_backends

from local_aws import services


@dataclass(frozen=True)
class IntegrationResponse:
    key: str  # "$default" or a regex between slashes, e.g. "/200/"
    template_selection_expression: str | None
    response_templates: dict[str, str]


@dataclass(frozen=True)
class Integration:
    integration_id: str
    integration_type: str  # AWS, AWS_PROXY, HTTP, HTTP_PROXY or MOCK
    uri: str | None
    method: str | None
    credentials_arn: str | None
    request_templates: dict[str, str]
    template_selection_expression: str | None
    passthrough_behavior: str | None
    timeout_seconds: float
    responses: tuple[IntegrationResponse, ...]
    # e.g. {"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"}
    request_parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    route_key: str
    integration: Integration | None
    two_way: bool  # reference §3.4: a reply is sent only if the route has a route response
    authorization_type: str = "NONE"  # NONE, AWS_IAM or CUSTOM (only `$connect` has one)
    authorizer_id: str | None = None  # the CUSTOM route's authorizer


@dataclass(frozen=True)
class Authorizer:
    """An API's Lambda authorizer, as `local_aws.authorizers` calls it."""

    authorizer_id: str
    authorizer_type: str  # REQUEST for WebSocket APIs
    uri: str | None  # the function's invocation URI
    identity_sources: tuple[str, ...]  # e.g. route.request.querystring.token
    result_ttl_seconds: int  # 0: no caching
    credentials_arn: str | None = None  # a role API Gateway assumes to invoke the function


@dataclass(frozen=True)
class DeployedApi:
    """What one stage of one API serves."""

    account_id: str
    region: str
    api_id: str
    stage: str
    route_selection_expression: str
    routes: dict[str, Route]
    stage_variables: dict[str, str] = field(default_factory=dict)
    authorizers: dict[str, Authorizer] = field(default_factory=dict)


def snapshot(account_id: str, region: str, api_id: str, stage: str) -> DeployedApi:
    """Copy the API's current configuration out of moto."""
    api = apigatewayv2_backends[account_id][region].get_api(api_id)
    moto_stage = api.stages.get(stage)
    routes: dict[str, Route] = {}
    for route in list(api.routes.values()):
        integration = None
        target = route.target or ""
        if target.startswith("integrations/"):
            moto_integration = api.integrations.get(target.split("/", 1)[1])
            if moto_integration is not None:
                integration = _copy_integration(moto_integration)
        two_way = bool(route.route_responses) or bool(route.route_response_selection_expression)
        routes[route.route_key] = Route(
            route.route_key,
            integration,
            two_way,
            authorization_type=route.authorization_type or "NONE",
            authorizer_id=route.authorizer_id,
        )
    return DeployedApi(
        account_id=account_id,
        region=region,
        api_id=api_id,
        stage=stage,
        route_selection_expression=api.route_selection_expression,
        routes=routes,
        stage_variables=dict(moto_stage.stage_variables or {}) if moto_stage else {},
        authorizers={
            authorizer.id: _copy_authorizer(authorizer)
            for authorizer in list(api.authorizers.values())
        },
    )


def _copy_authorizer(authorizer: Any) -> Authorizer:
    sources = authorizer.identity_source or ()
    if isinstance(sources, str):  # the API takes a comma-separated string, CloudFormation a list
        sources = sources.split(",")
    try:
        ttl = int(authorizer.auth_result_ttl or 0)
    except (TypeError, ValueError):
        ttl = 0
    return Authorizer(
        authorizer_id=authorizer.id,
        authorizer_type=authorizer.authorizer_type or "",
        uri=authorizer.authorizer_uri,
        identity_sources=tuple(str(source).strip() for source in sources if str(source).strip()),
        result_ttl_seconds=max(0, min(ttl, 3600)),  # AWS's maximum is 3600 s
        credentials_arn=authorizer.auth_creds_arn,
    )


def _copy_integration(integration: Any) -> Integration:
    responses = tuple(
        IntegrationResponse(
            key=response.integration_response_key,
            template_selection_expression=response.template_selection_expression,
            response_templates=dict(response.response_templates or {}),
        )
        for response in list(integration.responses.values())
    )
    return Integration(
        integration_id=integration.id,
        integration_type=integration.integration_type,
        uri=integration.integration_uri,
        method=integration.integration_method,
        credentials_arn=integration.credentials_arn,
        request_templates=dict(integration.request_templates or {}),
        template_selection_expression=integration.template_selection_expression,
        passthrough_behavior=integration.passthrough_behavior,
        timeout_seconds=min(integration.timeout_in_millis or 29000, 29000) / 1000,
        responses=responses,
        request_parameters=dict(integration.request_parameters or {}),
    )


def new_deployment_id() -> str:
    """AWS deployment ids look like `a1b2c3`."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(6))


class Deployments:
    """Deployments and the stage that serves each, for every API in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deployments: dict[tuple[str, str], DeployedApi] = {}  # (api_id, deployment_id)
        self._created: dict[tuple[str, str], tuple[float, str]] = {}  # when, description
        self._stages: dict[tuple[str, str], tuple[str, str, str | None, bool]] = {}
        self._removal_listeners: list[Callable[[str, str | None], None]] = []

    def on_removed(self, listener: Callable[[str, str | None], None]) -> None:
        """Call `listener(api_id, stage)` once a stage, or a whole API (stage None), is gone.

        Listeners are called on a thread of their own: they must hand work over to wherever
        it belongs (the event loop) and return.
        """
        self._removal_listeners.append(listener)

    def _removed(self, api_id: str, stage: str | None) -> None:
        if self._removal_listeners:
            threading.Thread(
                target=self._notify_when_settled, args=(api_id, stage), daemon=True
            ).start()

    def _notify_when_settled(self, api_id: str, stage: str | None) -> None:
        # A stack update replaces a stage by deleting and re-creating it, within one moto
        # request that holds moto's lock throughout: wait for that request to end, and tell
        # only what is still gone (on AWS a stage update keeps its clients connected).
        with services.LOCK:
            pass
        with self._lock:
            if stage is None:
                still_served = any(key[0] == api_id for key in self._stages)
            else:
                still_served = (api_id, stage) in self._stages
        if still_served:
            return
        for listener in list(self._removal_listeners):
            listener(api_id, stage)

    def deploy(self, account_id: str, region: str, api_id: str, description: str = "") -> str:
        """Snapshot the API now; return the new deployment id."""
        deployment_id = new_deployment_id()
        deployed = snapshot(account_id, region, api_id, stage="")
        with self._lock:
            self._deployments[(api_id, deployment_id)] = deployed
            self._created[(api_id, deployment_id)] = (time.time(), description)
        return deployment_id

    def deployments_of(self, api_id: str) -> list[tuple[str, float, str]]:
        """The API's deployments as (id, created epoch seconds, description), oldest first."""
        with self._lock:
            found = [
                (deployment_id, *self._created.get((api, deployment_id), (0.0, "")))
                for api, deployment_id in self._deployments
                if api == api_id
            ]
        return sorted(found, key=lambda entry: entry[1])

    def stage_deployment(self, api_id: str, stage: str) -> tuple[str | None, bool] | None:
        """The deployment id a stage serves and its AutoDeploy, or None for no such stage."""
        with self._lock:
            entry = self._stages.get((api_id, stage))
        return None if entry is None else (entry[2], entry[3])

    def delete_deployment(self, api_id: str, deployment_id: str) -> None:
        """Forget a deployment; `ValueError` if a stage still serves it, `KeyError` if none."""
        with self._lock:
            if (api_id, deployment_id) not in self._deployments:
                raise KeyError(deployment_id)
            if any(k[0] == api_id and v[2] == deployment_id for k, v in self._stages.items()):
                raise ValueError(deployment_id)
            del self._deployments[(api_id, deployment_id)]
            self._created.pop((api_id, deployment_id), None)

    def set_stage(
        self,
        account_id: str,
        region: str,
        api_id: str,
        stage: str,
        deployment_id: str | None,
        auto_deploy: bool,
    ) -> None:
        """Record which deployment a stage serves (AutoDeploy: always the latest API)."""
        with self._lock:
            self._stages[(api_id, stage)] = (account_id, region, deployment_id, auto_deploy)

    def remove_stage(self, api_id: str, stage: str) -> None:
        """Stop serving the stage; its open connections are closed (listeners)."""
        with self._lock:
            self._stages.pop((api_id, stage), None)
        self._removed(api_id, stage)

    def remove_api(self, api_id: str) -> None:
        """Forget the API's stages and deployments; its open connections are closed."""
        with self._lock:
            for key in [key for key in self._stages if key[0] == api_id]:
                del self._stages[key]
            for key in [key for key in self._deployments if key[0] == api_id]:
                del self._deployments[key]
                self._created.pop(key, None)
        self._removed(api_id, None)

    def serves(self, api_id: str, stage: str) -> bool:
        """Whether `/{api_id}/{stage}` is deployed (cheap: no snapshot is built)."""
        return (api_id, stage) in self._stages

    def region_of(self, api_id: str, stage: str) -> str | None:
        """The region of the API serving `/{api_id}/{stage}`, or None if none is deployed."""
        entry = self._stages.get((api_id, stage))
        return entry[1] if entry is not None else None

    def account_and_region(self, api_id: str, stage: str) -> tuple[str, str] | None:
        """The account and region of the API serving `/{api_id}/{stage}` (cheap: no snapshot
        is built), or None if none is deployed."""
        entry = self._stages.get((api_id, stage))
        return (entry[0], entry[1]) if entry is not None else None

    def lookup(self, api_id: str, stage: str) -> DeployedApi | None:
        """What `/{api_id}/{stage}` serves, or None if nothing is deployed there."""
        with self._lock:
            entry = self._stages.get((api_id, stage))
            if entry is None:
                return None
            account_id, region, deployment_id, auto_deploy = entry
            deployed = (
                None
                if auto_deploy or deployment_id is None
                else self._deployments.get((api_id, deployment_id))
            )
        if auto_deploy:
            try:
                return snapshot(account_id, region, api_id, stage)
            except Exception:  # the API was deleted behind our back (e.g. a moto reset)
                return None
        if deployed is None:
            return None
        stage_variables = _stage_variables(account_id, region, api_id, stage)
        return DeployedApi(
            account_id=deployed.account_id,
            region=deployed.region,
            api_id=api_id,
            stage=stage,
            route_selection_expression=deployed.route_selection_expression,
            routes=deployed.routes,
            stage_variables=stage_variables,
            authorizers=deployed.authorizers,
        )


def _stage_variables(account_id: str, region: str, api_id: str, stage: str) -> dict[str, str]:
    try:
        moto_stage = apigatewayv2_backends[account_id][region].get_api(api_id).stages.get(stage)
    except Exception:
        return {}
    return dict(moto_stage.stage_variables or {}) if moto_stage else {}
