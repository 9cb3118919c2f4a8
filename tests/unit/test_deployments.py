"""Deployments: what each stage serves, copied out of an in-process moto's API Gateway.

Held: a deployment is a snapshot (later changes reach only AutoDeploy stages), lookups of
what is not deployed give None, and removal listeners hear of a stage or API only once it
is really gone, on a thread of their own, after moto's lock is free.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_aws import services
from local_aws.deployments import Deployments, snapshot

ACCOUNT = "123456789012"
REGION = "eu-west-1"
LAMBDA_URI = (
    "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"
    "arn:aws:lambda:eu-west-1:123456789012:function:{name}/invocations"
)
WAIT = 5.0  # seconds a listener may take to be told


class Api:
    """A WebSocket API in moto, built through boto3 as a stack would build it."""

    def __init__(self) -> None:
        self.client = boto3.client("apigatewayv2", region_name=REGION)
        self.api_id: str = self.client.create_api(
            Name="chat", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
        )["ApiId"]

    def integration(self, function: str = "handler", **extra: Any) -> str:
        return str(
            self.client.create_integration(
                ApiId=self.api_id,
                IntegrationType="AWS_PROXY",
                IntegrationUri=LAMBDA_URI.format(name=function),
                **extra,
            )["IntegrationId"]
        )

    def route(self, key: str, integration_id: str | None = None, two_way: bool = False) -> str:
        extra = {"Target": f"integrations/{integration_id}"} if integration_id else {}
        route_id = str(
            self.client.create_route(ApiId=self.api_id, RouteKey=key, **extra)["RouteId"]
        )
        if two_way:
            self.client.create_route_response(
                ApiId=self.api_id, RouteId=route_id, RouteResponseKey="$default"
            )
        return route_id

    def stage(self, name: str, variables: dict[str, str] | None = None) -> None:
        self.client.create_stage(ApiId=self.api_id, StageName=name, StageVariables=variables or {})


@pytest.fixture
def api() -> Iterator[Api]:
    with mock_aws():
        built = Api()
        built.route("$connect", built.integration("connect"))
        built.route("sendmessage", built.integration("send"), two_way=True)
        yield built


def _deploy(deployments: Deployments, api: Api, stage: str = "prod") -> str:
    deployment_id = deployments.deploy(ACCOUNT, REGION, api.api_id)
    deployments.set_stage(ACCOUNT, REGION, api.api_id, stage, deployment_id, auto_deploy=False)
    return deployment_id


# --- snapshots --------------------------------------------------------------------------


def test_a_snapshot_copies_routes_integrations_and_route_responses(api: Api) -> None:
    api.route("$disconnect")  # no integration
    deployed = snapshot(ACCOUNT, REGION, api.api_id, "")
    assert deployed.api_id == api.api_id
    assert (deployed.account_id, deployed.region) == (ACCOUNT, REGION)
    assert deployed.route_selection_expression == "$request.body.action"
    assert set(deployed.routes) == {"$connect", "sendmessage", "$disconnect"}
    connect = deployed.routes["$connect"]
    assert connect.integration is not None
    assert connect.integration.integration_type == "AWS_PROXY"
    assert connect.integration.uri == LAMBDA_URI.format(name="connect")
    assert not connect.two_way
    assert deployed.routes["sendmessage"].two_way
    assert deployed.routes["$disconnect"].integration is None


def test_a_route_response_selection_expression_makes_a_route_two_way(api: Api) -> None:
    route_id = api.route("echo", api.integration())
    api.client.update_route(
        ApiId=api.api_id, RouteId=route_id, RouteResponseSelectionExpression="$default"
    )
    assert snapshot(ACCOUNT, REGION, api.api_id, "").routes["echo"].two_way


def test_integration_timeouts_are_capped_at_29_seconds(api: Api) -> None:
    api.route("slow", api.integration(TimeoutInMillis=50_000))
    api.route("quick", api.integration(TimeoutInMillis=500))
    routes = snapshot(ACCOUNT, REGION, api.api_id, "").routes
    assert routes["slow"].integration is not None
    assert routes["slow"].integration.timeout_seconds == 29.0
    assert routes["quick"].integration is not None
    assert routes["quick"].integration.timeout_seconds == 0.5


def test_integration_responses_and_templates_are_copied(api: Api) -> None:
    integration_id = str(
        api.client.create_integration(
            ApiId=api.api_id,
            IntegrationType="AWS",
            IntegrationUri="arn:aws:apigateway:eu-west-1:dynamodb:action/PutItem",
            IntegrationMethod="POST",
            CredentialsArn="arn:aws:iam::123456789012:role/gateway",
            RequestTemplates={"$default": '{"TableName": "t"}'},
            TemplateSelectionExpression="\\$default",
            PassthroughBehavior="NEVER",
        )["IntegrationId"]
    )
    api.client.create_integration_response(
        ApiId=api.api_id,
        IntegrationId=integration_id,
        IntegrationResponseKey="/2\\d\\d/",
        ResponseTemplates={"$default": '{"ok": true}'},
    )
    api.route("store", integration_id)
    integration = snapshot(ACCOUNT, REGION, api.api_id, "").routes["store"].integration
    assert integration is not None
    assert integration.integration_type == "AWS"
    assert integration.method == "POST"
    assert integration.credentials_arn == "arn:aws:iam::123456789012:role/gateway"
    assert integration.request_templates == {"$default": '{"TableName": "t"}'}
    assert integration.passthrough_behavior == "NEVER"
    (response,) = integration.responses
    assert response.key == "/2\\d\\d/"
    assert response.response_templates == {"$default": '{"ok": true}'}


# --- stages -----------------------------------------------------------------------------


def test_a_deployment_is_a_snapshot_later_changes_are_not_served(api: Api) -> None:
    deployments = Deployments()
    _deploy(deployments, api)
    api.route("join", api.integration("join"))
    api.client.update_api(ApiId=api.api_id, RouteSelectionExpression="$request.body.type")
    deployed = deployments.lookup(api.api_id, "prod")
    assert deployed is not None
    assert set(deployed.routes) == {"$connect", "sendmessage"}
    assert deployed.route_selection_expression == "$request.body.action"
    assert deployed.stage == "prod"
    # A new deployment serves the changes.
    _deploy(deployments, api)
    redeployed = deployments.lookup(api.api_id, "prod")
    assert redeployed is not None
    assert set(redeployed.routes) == {"$connect", "sendmessage", "join"}
    assert redeployed.route_selection_expression == "$request.body.type"


def test_changing_an_integration_after_deploying_does_not_change_the_deployment(
    api: Api,
) -> None:
    deployments = Deployments()
    integration_id = api.integration("before")
    api.route("change", integration_id)
    _deploy(deployments, api)
    api.client.update_integration(
        ApiId=api.api_id, IntegrationId=integration_id, IntegrationUri=LAMBDA_URI.format(name="x")
    )
    deployed = deployments.lookup(api.api_id, "prod")
    assert deployed is not None
    integration = deployed.routes["change"].integration
    assert integration is not None and integration.uri == LAMBDA_URI.format(name="before")


def test_two_stages_may_serve_two_deployments(api: Api) -> None:
    deployments = Deployments()
    _deploy(deployments, api, "old")
    api.route("join", api.integration("join"))
    _deploy(deployments, api, "new")
    old, new = deployments.lookup(api.api_id, "old"), deployments.lookup(api.api_id, "new")
    assert old is not None and new is not None
    assert "join" not in old.routes and "join" in new.routes
    assert (old.stage, new.stage) == ("old", "new")


def test_an_auto_deploy_stage_serves_the_api_as_it_is_now(api: Api) -> None:
    deployments = Deployments()
    api.stage("live", {"table": "Connections"})
    deployments.set_stage(ACCOUNT, REGION, api.api_id, "live", None, auto_deploy=True)
    api.route("join", api.integration("join"))
    deployed = deployments.lookup(api.api_id, "live")
    assert deployed is not None
    assert "join" in deployed.routes
    assert deployed.stage == "live"
    assert deployed.stage_variables == {"table": "Connections"}


def test_stage_variables_are_read_when_looked_up(api: Api) -> None:
    """A stage's variables are the stage's, not the deployment's: an update is seen at once."""
    deployments = Deployments()
    api.stage("prod", {"colour": "blue"})
    _deploy(deployments, api, "prod")
    deployed = deployments.lookup(api.api_id, "prod")
    assert deployed is not None and deployed.stage_variables == {"colour": "blue"}
    # (moto implements no UpdateStage: the stage is replaced, as a stack update may do.)
    api.client.delete_stage(ApiId=api.api_id, StageName="prod")
    api.stage("prod", {"colour": "red"})
    deployed = deployments.lookup(api.api_id, "prod")
    assert deployed is not None and deployed.stage_variables == {"colour": "red"}


def test_what_is_not_deployed_looks_up_as_none(api: Api) -> None:
    deployments = Deployments()
    assert deployments.lookup(api.api_id, "prod") is None
    assert deployments.lookup("nosuchapi", "prod") is None
    assert not deployments.serves(api.api_id, "prod")
    assert deployments.region_of(api.api_id, "prod") is None
    deployment_id = deployments.deploy(ACCOUNT, REGION, api.api_id)
    # A deployment no stage serves is not served.
    assert deployments.lookup(api.api_id, "prod") is None
    deployments.set_stage(ACCOUNT, REGION, api.api_id, "prod", "nosuchdeployment", False)
    assert deployments.serves(api.api_id, "prod")
    assert deployments.lookup(api.api_id, "prod") is None
    deployments.set_stage(ACCOUNT, REGION, api.api_id, "prod", deployment_id, False)
    assert deployments.lookup(api.api_id, "prod") is not None
    assert deployments.lookup(api.api_id, "other") is None


def test_region_of_names_the_region_of_the_serving_api(api: Api) -> None:
    deployments = Deployments()
    _deploy(deployments, api, "prod")
    assert deployments.region_of(api.api_id, "prod") == REGION
    assert deployments.serves(api.api_id, "prod")


def test_an_auto_deploy_stage_of_a_deleted_api_looks_up_as_none(api: Api) -> None:
    deployments = Deployments()
    deployments.set_stage(ACCOUNT, REGION, api.api_id, "live", None, auto_deploy=True)
    api.client.delete_api(ApiId=api.api_id)
    assert deployments.lookup(api.api_id, "live") is None


def test_deployment_ids_look_like_aws_ones(api: Api) -> None:
    deployments = Deployments()
    ids = {deployments.deploy(ACCOUNT, REGION, api.api_id) for _ in range(20)}
    assert len(ids) == 20
    assert all(len(i) == 6 and i.isalnum() and i == i.lower() for i in ids)


# --- removal ----------------------------------------------------------------------------


class Removals:
    """A listener that records what it is told, and on which thread."""

    def __init__(self) -> None:
        self.told: list[tuple[str, str | None]] = []
        self.threads: list[int] = []
        self.event = threading.Event()

    def __call__(self, api_id: str, stage: str | None) -> None:
        self.told.append((api_id, stage))
        self.threads.append(threading.get_ident())
        self.event.set()


def _join_new_threads(before: set[threading.Thread]) -> None:
    """Wait for the threads started since `before` (the listeners' notifiers) to end."""
    for thread in set(threading.enumerate()) - before:
        thread.join(WAIT)
        assert not thread.is_alive()


def test_removing_a_stage_tells_every_listener(api: Api) -> None:
    deployments = Deployments()
    first, second = Removals(), Removals()
    deployments.on_removed(first)
    deployments.on_removed(second)
    _deploy(deployments, api, "prod")
    _deploy(deployments, api, "test")
    deployments.remove_stage(api.api_id, "prod")
    assert first.event.wait(WAIT) and second.event.wait(WAIT)
    assert first.told == second.told == [(api.api_id, "prod")]
    assert first.threads[0] != threading.get_ident()  # told on a thread of its own
    assert deployments.lookup(api.api_id, "prod") is None
    assert not deployments.serves(api.api_id, "prod")
    assert deployments.lookup(api.api_id, "test") is not None


def test_removing_an_api_forgets_its_stages_and_deployments(api: Api) -> None:
    deployments = Deployments()
    removals = Removals()
    deployments.on_removed(removals)
    deployment_id = _deploy(deployments, api, "prod")
    _deploy(deployments, api, "test")
    deployments.remove_api(api.api_id)
    assert removals.event.wait(WAIT)
    assert removals.told == [(api.api_id, None)]
    assert deployments.lookup(api.api_id, "prod") is None
    assert deployments.lookup(api.api_id, "test") is None
    # Its deployments went with it: pointing a stage at one again serves nothing.
    deployments.set_stage(ACCOUNT, REGION, api.api_id, "prod", deployment_id, False)
    assert deployments.lookup(api.api_id, "prod") is None


def test_listeners_are_told_only_once_moto_is_free(api: Api) -> None:
    deployments = Deployments()
    removals = Removals()
    deployments.on_removed(removals)
    _deploy(deployments, api, "prod")
    with services.LOCK:  # a moto request is still running
        deployments.remove_stage(api.api_id, "prod")
        assert not removals.event.wait(0.2)
    assert removals.event.wait(WAIT)
    assert removals.told == [(api.api_id, "prod")]


def test_a_stage_recreated_within_one_moto_request_is_not_removed(api: Api) -> None:
    """A stack update replaces a stage by deleting and re-creating it: clients stay."""
    deployments = Deployments()
    removals = Removals()
    deployments.on_removed(removals)
    _deploy(deployments, api, "prod")
    before = set(threading.enumerate())
    with services.LOCK:
        deployments.remove_stage(api.api_id, "prod")
        _deploy(deployments, api, "prod")
    _join_new_threads(before)
    assert removals.told == []
    assert deployments.lookup(api.api_id, "prod") is not None


def test_an_api_with_a_stage_recreated_within_one_moto_request_is_not_removed(
    api: Api,
) -> None:
    deployments = Deployments()
    removals = Removals()
    deployments.on_removed(removals)
    _deploy(deployments, api, "prod")
    before = set(threading.enumerate())
    with services.LOCK:
        deployments.remove_api(api.api_id)
        _deploy(deployments, api, "prod")
    _join_new_threads(before)
    assert removals.told == []


def test_removing_what_was_never_deployed_is_harmless(api: Api) -> None:
    deployments = Deployments()
    removals = Removals()
    deployments.on_removed(removals)
    deployments.remove_stage(api.api_id, "nosuchstage")
    assert removals.event.wait(WAIT)
    assert removals.told == [(api.api_id, "nosuchstage")]
    assert deployments.lookup(api.api_id, "nosuchstage") is None
