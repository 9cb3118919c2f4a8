"""Resource models moto lacks: `AWS::ApiGatewayV2::*`, a table's TTL, a Lambda permission's id,
an S3 bucket policy.

moto deploys DynamoDB, IAM, Lambda and Logs resources itself, but has no models for
`AWS::ApiGatewayV2::*`, ignores a table's `TimeToLiveSpecification` (reference
local-aws-building-blocks.md §2) and gives an `AWS::Lambda::Permission` no physical id.

The API Gateway resource types are one table, `API_GATEWAY_V2_TYPES`: how each is created
from its resolved properties, what Fn::GetAtt returns, how it is deleted. moto looks models up
as the direct subclasses of `CloudFormationModel` (`parsing.get_model_list`), one per resource
type, so one class per row is generated from the table: each subclasses `CloudFormationModel`
directly, with `ApiGatewayV2Resource` (a plain mixin) for the behaviour they share.

`bind()` hands the models what they need of the running local_aws: moto finds model classes,
not instances, so that state is bound to the classes once, at start-up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

from moto.apigatewayv2.models import apigatewayv2_backends
from moto.awslambda.models import lambda_backends
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.s3.exceptions import S3ClientError
from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition

from local_aws.deployments import Deployments
from local_aws.settings import Settings

logger = logging.getLogger(__name__)

Properties = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """Where a resource is created or deleted, and the running local_aws's state."""

    account_id: str
    region_name: str
    resource_name: str  # the physical name moto generated (an API's default Name)
    settings: Settings
    deployments: Deployments

    @property
    def backend(self) -> Any:
        """moto's API Gateway V2 backend of this account and region."""
        return apigatewayv2_backends[self.account_id][self.region_name]


@dataclass(frozen=True)
class ApiGatewayV2Type:
    """How local_aws handles one `AWS::ApiGatewayV2::<name>` resource type."""

    name: str
    # Creates the resource from its resolved properties; returns its physical resource id.
    create: Callable[[Properties, Context], str]
    # Deletes it (moto also calls this before a replacement on update).
    delete: Callable[[ApiGatewayV2Resource, Context], None]
    # The properties naming what the resource belongs to (its API, then its route or
    # integration), kept for the delete: the ids the backend's delete method takes first.
    owners: tuple[str, ...] = ("ApiId",)
    # Fn::GetAtt attribute -> its value for a created resource.
    attributes: Mapping[str, Callable[[ApiGatewayV2Resource], Any]] = field(default_factory=dict)

    @property
    def cloudformation_type(self) -> str:
        return f"AWS::ApiGatewayV2::{self.name}"


class ApiGatewayV2Resource:
    """What every generated model shares (a mixin: moto must see direct subclasses only).

    An instance is one created resource: its physical resource id (what Ref returns) and the
    ids of the resources it belongs to.
    """

    kind: ClassVar[ApiGatewayV2Type]
    # Handed in by `bind()`.
    settings: ClassVar[Settings]
    deployments: ClassVar[Deployments]

    def __init__(self, physical_resource_id: str, owner_ids: tuple[str, ...]) -> None:
        self.physical_resource_id = physical_resource_id
        self.owner_ids = owner_ids

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.kind.cloudformation_type

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.kind.attributes

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        read = self.kind.attributes.get(attribute_name)
        if read is None:
            raise UnformattedGetAttTemplateException()
        return read(self)

    def is_created(self) -> bool:
        return True

    @classmethod
    def context(cls, account_id: str, region_name: str, resource_name: str = "") -> Context:
        return Context(account_id, region_name, resource_name, cls.settings, cls.deployments)

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> ApiGatewayV2Resource:
        properties = cloudformation_json["Properties"]
        context = cls.context(account_id, region_name, resource_name)
        physical_resource_id = cls.kind.create(properties, context)
        return cls(physical_resource_id, tuple(properties[name] for name in cls.kind.owners))

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: ApiGatewayV2Resource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> ApiGatewayV2Resource:
        # Replacement: simple and correct for these small configuration objects.
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    def delete(self, account_id: str, region_name: str) -> None:
        self.kind.delete(self, self.context(account_id, region_name))


# ------------------------------------------------------------------------- create


def _create_api(properties: Properties, context: Context) -> str:
    api = context.backend.create_api(
        api_key_selection_expression=properties.get("ApiKeySelectionExpression"),
        cors_configuration=properties.get("CorsConfiguration"),
        description=properties.get("Description"),
        disable_schema_validation=properties.get("DisableSchemaValidation"),
        disable_execute_api_endpoint=properties.get("DisableExecuteApiEndpoint"),
        name=properties.get("Name", context.resource_name),
        protocol_type=properties["ProtocolType"],
        route_selection_expression=properties.get("RouteSelectionExpression"),
        tags=properties.get("Tags") or {},
        version=properties.get("Version"),
    )
    if api.protocol_type == "WEBSOCKET":
        api.api_endpoint = context.settings.api_endpoint(api.api_id)
    return api.api_id


def _create_route(properties: Properties, context: Context) -> str:
    route = context.backend.create_route(
        api_id=properties["ApiId"],
        api_key_required=properties.get("ApiKeyRequired", False),
        authorization_scopes=properties.get("AuthorizationScopes"),
        authorization_type=properties.get("AuthorizationType", "NONE"),
        authorizer_id=properties.get("AuthorizerId"),
        model_selection_expression=properties.get("ModelSelectionExpression"),
        operation_name=properties.get("OperationName"),
        request_models=properties.get("RequestModels"),
        request_parameters=properties.get("RequestParameters"),
        route_key=properties["RouteKey"],
        route_response_selection_expression=properties.get("RouteResponseSelectionExpression"),
        target=properties.get("Target"),
    )
    return route.route_id


def _create_route_response(properties: Properties, context: Context) -> str:
    route_response = context.backend.create_route_response(
        api_id=properties["ApiId"],
        route_id=properties["RouteId"],
        route_response_key=properties["RouteResponseKey"],
        model_selection_expression=properties.get("ModelSelectionExpression"),
        response_models=properties.get("ResponseModels"),
    )
    return route_response.id


def _create_integration(properties: Properties, context: Context) -> str:
    timeout = properties.get("TimeoutInMillis")
    integration = context.backend.create_integration(
        api_id=properties["ApiId"],
        connection_id=properties.get("ConnectionId"),
        connection_type=properties.get("ConnectionType"),
        content_handling_strategy=properties.get("ContentHandlingStrategy"),
        credentials_arn=properties.get("CredentialsArn"),
        description=properties.get("Description"),
        integration_method=properties.get("IntegrationMethod"),
        integration_subtype=properties.get("IntegrationSubtype"),
        integration_type=properties["IntegrationType"],
        integration_uri=properties.get("IntegrationUri"),
        passthrough_behavior=properties.get("PassthroughBehavior"),
        payload_format_version=properties.get("PayloadFormatVersion"),
        request_parameters=properties.get("RequestParameters"),
        request_templates=properties.get("RequestTemplates"),
        response_parameters=properties.get("ResponseParameters"),
        template_selection_expression=properties.get("TemplateSelectionExpression"),
        timeout_in_millis=str(timeout) if timeout else None,
        tls_config=properties.get("TlsConfig"),
    )
    return integration.id


def _create_integration_response(properties: Properties, context: Context) -> str:
    response = context.backend.create_integration_response(
        api_id=properties["ApiId"],
        integration_id=properties["IntegrationId"],
        content_handling_strategy=properties.get("ContentHandlingStrategy"),
        integration_response_key=properties["IntegrationResponseKey"],
        response_parameters=properties.get("ResponseParameters"),
        response_templates=properties.get("ResponseTemplates"),
        template_selection_expression=properties.get("TemplateSelectionExpression"),
    )
    return response.id


def _create_authorizer(properties: Properties, context: Context) -> str:
    ttl = properties.get("AuthorizerResultTtlInSeconds")
    authorizer = context.backend.create_authorizer(
        api_id=properties["ApiId"],
        auth_creds_arn=properties.get("AuthorizerCredentialsArn"),
        auth_payload_format_version=properties.get("AuthorizerPayloadFormatVersion"),
        auth_result_ttl=str(ttl) if ttl is not None else None,
        authorizer_type=properties["AuthorizerType"],
        authorizer_uri=properties.get("AuthorizerUri"),
        enable_simple_response=properties.get("EnableSimpleResponses"),
        identity_source=properties.get("IdentitySource"),
        identity_validation_expr=properties.get("IdentityValidationExpression"),
        jwt_config=properties.get("JwtConfiguration"),
        name=properties.get("Name", context.resource_name),
    )
    return authorizer.id


def _create_deployment(properties: Properties, context: Context) -> str:
    api_id = properties["ApiId"]
    deployments = context.deployments
    deployment_id = deployments.deploy(context.account_id, context.region_name, api_id)
    stage = properties.get("StageName")
    if stage:  # a deployment may name the stage it updates
        deployments.set_stage(
            context.account_id, context.region_name, api_id, stage, deployment_id, False
        )
    return deployment_id


def _create_stage(properties: Properties, context: Context) -> str:
    api_id = properties["ApiId"]
    stage_name = properties["StageName"]
    config = {
        "stageName": stage_name,
        "autoDeploy": properties.get("AutoDeploy"),
        "description": properties.get("Description"),
        "stageVariables": properties.get("StageVariables") or {},
        "tags": properties.get("Tags") or {},
        "deploymentId": properties.get("DeploymentId"),
    }
    if properties.get("DefaultRouteSettings"):
        config["defaultRouteSettings"] = _camel_keys(properties["DefaultRouteSettings"])
    if isinstance(properties.get("RouteSettings"), dict):  # keyed by route key, kept as written
        config["routeSettings"] = {
            route_key: _camel_keys(settings)
            for route_key, settings in properties["RouteSettings"].items()
        }
    if properties.get("AccessLogSettings"):  # {"DestinationArn", "Format"}
        config["accessLogSettings"] = _camel_keys(properties["AccessLogSettings"])
    context.backend.create_stage(api_id, config)
    context.deployments.set_stage(
        context.account_id,
        context.region_name,
        api_id,
        stage_name,
        properties.get("DeploymentId"),
        bool(properties.get("AutoDeploy")),
    )
    return stage_name


def _camel_keys(value: Any) -> Any:
    """CloudFormation's `LoggingLevel` is the API's `loggingLevel`."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _camel_keys(item) for key, item in value.items()}
    return value


# ------------------------------------------------------------------------- delete


def _delete_api(resource: ApiGatewayV2Resource, context: Context) -> None:
    context.deployments.remove_api(resource.physical_resource_id)
    context.backend.delete_api(resource.physical_resource_id)


def _delete_child(method: str) -> Callable[[ApiGatewayV2Resource, Context], None]:
    """A delete through the backend's `method(*owner ids, physical id)`.

    Deleting a child after its API is gone is not an error: the delete order is moto's.
    """

    def delete(resource: ApiGatewayV2Resource, context: Context) -> None:
        try:
            getattr(context.backend, method)(*resource.owner_ids, resource.physical_resource_id)
        except Exception as error:  # moto raises ApiNotFound, NotFoundException, KeyError…
            logger.debug("nothing to delete: %s", error)

    return delete


def _keep_deployment(resource: ApiGatewayV2Resource, context: Context) -> None:
    """Deployments are kept until their API goes: a stage may still serve one."""


def _delete_stage(resource: ApiGatewayV2Resource, context: Context) -> None:
    api_id, stage_name = resource.owner_ids[0], resource.physical_resource_id
    context.deployments.remove_stage(api_id, stage_name)
    _delete_child("delete_stage")(resource, context)


# ------------------------------------------------------------------------- GetAtt


def _api_endpoint(resource: ApiGatewayV2Resource) -> Any:
    api_id = resource.physical_resource_id
    for region_backends in apigatewayv2_backends.values():
        for backend in region_backends.values():
            if api_id in backend.apis:
                return backend.apis[api_id].api_endpoint
    raise UnformattedGetAttTemplateException()


def _physical_resource_id(resource: ApiGatewayV2Resource) -> str:
    return resource.physical_resource_id


API_GATEWAY_V2_TYPES: tuple[ApiGatewayV2Type, ...] = (
    ApiGatewayV2Type(
        "Api",
        create=_create_api,
        delete=_delete_api,
        owners=(),
        attributes={"ApiEndpoint": _api_endpoint, "ApiId": _physical_resource_id},
    ),
    ApiGatewayV2Type("Route", create=_create_route, delete=_delete_child("delete_route")),
    ApiGatewayV2Type(
        "RouteResponse",
        create=_create_route_response,
        delete=_delete_child("delete_route_response"),
        owners=("ApiId", "RouteId"),
    ),
    ApiGatewayV2Type(
        "Integration", create=_create_integration, delete=_delete_child("delete_integration")
    ),
    ApiGatewayV2Type(
        "IntegrationResponse",
        create=_create_integration_response,
        delete=_delete_child("delete_integration_response"),
        owners=("ApiId", "IntegrationId"),
    ),
    ApiGatewayV2Type(
        "Authorizer",
        create=_create_authorizer,
        delete=_delete_child("delete_authorizer"),
        attributes={"AuthorizerId": _physical_resource_id},
    ),
    ApiGatewayV2Type(
        "Deployment",
        create=_create_deployment,
        delete=_keep_deployment,
        attributes={"DeploymentId": _physical_resource_id},
    ),
    ApiGatewayV2Type("Stage", create=_create_stage, delete=_delete_stage),
)


def _model_class(kind: ApiGatewayV2Type) -> type[CloudFormationModel]:
    """The model class moto finds for one resource type (e.g. `ApiGatewayV2Route`)."""
    # `type` hands the creation to CloudFormationModel's metaclass (moto's, which gives each
    # model class its own `instances_tracked`), as a class statement would.
    model = type(
        f"ApiGatewayV2{kind.name}",
        (ApiGatewayV2Resource, CloudFormationModel),
        {"kind": kind, "__module__": __name__, "__doc__": f"The `{kind.cloudformation_type}`."},
    )
    return cast("type[CloudFormationModel]", model)


API_GATEWAY_V2_MODELS: dict[str, type[CloudFormationModel]] = {
    kind.cloudformation_type: _model_class(kind) for kind in API_GATEWAY_V2_TYPES
}


class DynamoDBTableWithTimeToLive(CloudFormationModel):
    """moto's `AWS::DynamoDB::Table` plus `TimeToLiveSpecification`, which moto ignores.

    moto keeps the last model defined for a type, so this one replaces moto's; the table it
    returns is moto's own, so Ref, GetAtt, update and delete behave as before.
    """

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::DynamoDB::Table"

    @staticmethod
    def cloudformation_name_type() -> str:
        return Table.cloudformation_name_type()

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return Table.has_cfn_attr(attr)

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Table:
        table = Table.create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        _apply_time_to_live(table, cloudformation_json, account_id, region_name)
        return table

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Table:
        # moto cannot update a table from a template; the TTL is the part this workshop changes.
        _apply_time_to_live(original_resource, cloudformation_json, account_id, region_name)
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        Table.delete_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name
        )

    def is_created(self) -> bool:
        return True


def _apply_time_to_live(
    table: Table, cloudformation_json: dict[str, Any], account_id: str, region_name: str
) -> None:
    specification = cloudformation_json["Properties"].get("TimeToLiveSpecification")
    if specification:
        dynamodb_backends[account_id][region_name].update_time_to_live(
            table.name,
            {
                "Enabled": str(specification.get("Enabled")).lower() == "true",
                "AttributeName": specification["AttributeName"],
            },
        )


def bind(settings: Settings, deployments: Deployments) -> None:
    """Hand the models the running local_aws's settings and deployments.

    The models create APIs with endpoints on `settings.port` and record what they deploy in
    `deployments`.
    """
    ApiGatewayV2Resource.settings = settings
    ApiGatewayV2Resource.deployments = deployments


class LambdaPermissionWithId(CloudFormationModel):
    """moto's `AWS::Lambda::Permission` with a physical id, which moto's lacks.

    With moto's, `Ref` to a permission gave the text of a Python object and stacks listed it
    with no physical id. The id here is the name CloudFormation makes for the resource
    (`<stack>-<logical id>-<random>`); it is also the statement id (Sid) in the function's
    policy, so deleting the resource removes that statement. Every property of a permission
    replaces it when it changes (AWS: "Update requires: Replacement").
    """

    def __init__(self, function_name: str, statement_id: str) -> None:
        self.function_name = function_name
        self.statement_id = statement_id

    @property
    def physical_resource_id(self) -> str:
        return self.statement_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Permission"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Permission"  # no such property: the resource always gets a generated name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Id":
            return self.statement_id
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LambdaPermissionWithId:
        properties = cloudformation_json["Properties"]
        function = lambda_backends[account_id][region_name].get_function(properties["FunctionName"])
        statement = {**properties, "StatementId": resource_name}
        function.policy.add_statement(raw=json.dumps(statement))
        return cls(properties["FunctionName"], resource_name)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> LambdaPermissionWithId:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    def delete(self, account_id: str, region_name: str) -> None:
        """Remove the statement; nothing to do if the function is gone already."""
        try:
            function = lambda_backends[account_id][region_name].get_function(self.function_name)
        except Exception:  # moto's UnknownFunctionException: deleted before its permission
            return
        function.policy.del_statement(self.statement_id)

    def is_created(self) -> bool:
        return True


class S3BucketPolicy(CloudFormationModel):
    """`AWS::S3::BucketPolicy`, which moto lacks: the policy is put on moto's bucket.

    `sam deploy --resolve-s3` (and `--guided`) first deploys SAM CLI's own stack, a bucket
    and its policy. The resource's identifier is its bucket's name, as on AWS; a new
    `Bucket` replaces the policy, a new `PolicyDocument` is put in place.
    """

    def __init__(self, bucket_name: str) -> None:
        self.bucket_name = bucket_name

    @property
    def physical_resource_id(self) -> str:
        return self.bucket_name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "BucketPolicy"  # no such property: the policy is named by its bucket

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> S3BucketPolicy:
        properties = cloudformation_json["Properties"]
        document = properties["PolicyDocument"]
        text = document if isinstance(document, str) else json.dumps(document)
        s3_backends[account_id][get_partition(region_name)].put_bucket_policy(
            properties["Bucket"], text.encode()
        )
        return cls(properties["Bucket"])

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> S3BucketPolicy:
        if cloudformation_json["Properties"]["Bucket"] != original_resource.bucket_name:
            original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    def delete(self, account_id: str, region_name: str) -> None:
        """Remove the policy; nothing to do if the bucket is gone already."""
        try:
            s3_backends[account_id][get_partition(region_name)].delete_bucket_policy(
                self.bucket_name
            )
        except S3ClientError:  # MissingBucket: deleted before its policy
            return

    def is_created(self) -> bool:
        return True
