"""CloudFormation resource models that moto lacks, registered into moto's parser.

moto deploys DynamoDB, IAM, Lambda and Logs resources itself, but has no models for
`AWS::ApiGatewayV2::*` and ignores a table's `TimeToLiveSpecification` (reference
local-aws-building-blocks.md §2). The classes below fill those gaps. Each subclasses
`CloudFormationModel` directly, because moto finds models with `__subclasses__()`, and moto's
model caches are cleared after they are defined so the parser sees them.

`register()` also makes every template moto reads go through `local_aws.templates` (parsed as
data, checked as AWS checks it before creating anything), and fixes two moto behaviours a
workshop relies on: DescribeStacks listing every stack, and updating inline Lambda code.
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Callable
from typing import Any, ClassVar

import moto.cloudformation.models as cloudformation_models
import moto.cloudformation.parsing as parsing
import moto.cloudformation.responses as cloudformation_responses
from moto.apigatewayv2.models import apigatewayv2_backends
from moto.awslambda.models import LambdaFunction
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.common_models import CloudFormationModel
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

from local_aws import templates
from local_aws.deployments import Deployments
from local_aws.settings import Settings

logger = logging.getLogger(__name__)


def _backend(account_id: str, region: str) -> Any:
    return apigatewayv2_backends[account_id][region]


def _ignore_missing(action: Any) -> None:
    """Deleting a child after its API is gone is not an error (delete order is not ours)."""
    try:
        action()
    except Exception as error:  # moto raises ApiNotFound, NotFoundException, KeyError…
        logger.debug("nothing to delete: %s", error)


class _Resource:
    """Common behaviour of the resources below (a mixin, so moto still sees direct subclasses)."""

    physical_resource_id: str
    # Handed in by `register()`: moto finds model classes, not instances, so what they need
    # of the running local_aws is bound to the classes once, at start-up.
    settings: ClassVar[Settings]
    deployments: ClassVar[Deployments]

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.attributes()

    @classmethod
    def attributes(cls) -> tuple[str, ...]:
        return ()

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        return cls.create(cloudformation_json["Properties"], resource_name, account_id, region_name)

    @classmethod
    def create(cls, properties: dict[str, Any], name: str, account_id: str, region: str) -> Any:
        """Create the resource from its resolved properties."""
        raise NotImplementedError

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        # Replacement: simple and correct for these small configuration objects.
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(  # type: ignore[attr-defined]
            new_resource_name, cloudformation_json, account_id, region_name
        )


class ApiGatewayV2Api(_Resource, CloudFormationModel):
    def __init__(self, api: Any) -> None:
        self.api_id = api.api_id
        self.physical_resource_id = api.api_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Api"

    @classmethod
    def attributes(cls) -> tuple[str, ...]:
        return ("ApiEndpoint", "ApiId")

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> ApiGatewayV2Api:
        api = _backend(account_id, region_name).create_api(
            api_key_selection_expression=properties.get("ApiKeySelectionExpression"),
            cors_configuration=properties.get("CorsConfiguration"),
            description=properties.get("Description"),
            disable_schema_validation=properties.get("DisableSchemaValidation"),
            disable_execute_api_endpoint=properties.get("DisableExecuteApiEndpoint"),
            name=properties.get("Name", resource_name),
            protocol_type=properties["ProtocolType"],
            route_selection_expression=properties.get("RouteSelectionExpression"),
            tags=properties.get("Tags") or {},
            version=properties.get("Version"),
        )
        if api.protocol_type == "WEBSOCKET":
            api.api_endpoint = cls.settings.api_endpoint(api.api_id)
        return cls(api)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "ApiId":
            return self.api_id
        if attribute_name == "ApiEndpoint":
            for region_backends in apigatewayv2_backends.values():
                for backend in region_backends.values():
                    if self.api_id in backend.apis:
                        return backend.apis[self.api_id].api_endpoint
        return super().get_cfn_attribute(attribute_name)

    def delete(self, account_id: str, region_name: str) -> None:
        self.deployments.remove_api(self.api_id)
        _backend(account_id, region_name).delete_api(self.api_id)


class ApiGatewayV2Route(_Resource, CloudFormationModel):
    def __init__(self, api_id: str, route_id: str) -> None:
        self.api_id = api_id
        self.physical_resource_id = route_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Route"

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> ApiGatewayV2Route:
        route = _backend(account_id, region_name).create_route(
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
        return cls(properties["ApiId"], route.route_id)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        _ignore_missing(lambda: backend.delete_route(self.api_id, self.physical_resource_id))


class ApiGatewayV2RouteResponse(_Resource, CloudFormationModel):
    def __init__(self, api_id: str, route_id: str, route_response_id: str) -> None:
        self.api_id = api_id
        self.route_id = route_id
        self.physical_resource_id = route_response_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::RouteResponse"

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> ApiGatewayV2RouteResponse:
        route_response = _backend(account_id, region_name).create_route_response(
            api_id=properties["ApiId"],
            route_id=properties["RouteId"],
            route_response_key=properties["RouteResponseKey"],
            model_selection_expression=properties.get("ModelSelectionExpression"),
            response_models=properties.get("ResponseModels"),
        )
        return cls(properties["ApiId"], properties["RouteId"], route_response.id)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        _ignore_missing(
            lambda: backend.delete_route_response(
                self.api_id, self.route_id, self.physical_resource_id
            )
        )


class ApiGatewayV2Integration(_Resource, CloudFormationModel):
    def __init__(self, api_id: str, integration_id: str) -> None:
        self.api_id = api_id
        self.physical_resource_id = integration_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Integration"

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> ApiGatewayV2Integration:
        timeout = properties.get("TimeoutInMillis")
        integration = _backend(account_id, region_name).create_integration(
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
        return cls(properties["ApiId"], integration.id)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        _ignore_missing(lambda: backend.delete_integration(self.api_id, self.physical_resource_id))


class ApiGatewayV2IntegrationResponse(_Resource, CloudFormationModel):
    def __init__(self, api_id: str, integration_id: str, response_id: str) -> None:
        self.api_id = api_id
        self.integration_id = integration_id
        self.physical_resource_id = response_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::IntegrationResponse"

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> ApiGatewayV2IntegrationResponse:
        response = _backend(account_id, region_name).create_integration_response(
            api_id=properties["ApiId"],
            integration_id=properties["IntegrationId"],
            content_handling_strategy=properties.get("ContentHandlingStrategy"),
            integration_response_key=properties["IntegrationResponseKey"],
            response_parameters=properties.get("ResponseParameters"),
            response_templates=properties.get("ResponseTemplates"),
            template_selection_expression=properties.get("TemplateSelectionExpression"),
        )
        return cls(properties["ApiId"], properties["IntegrationId"], response.id)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        _ignore_missing(
            lambda: backend.delete_integration_response(
                self.api_id, self.integration_id, self.physical_resource_id
            )
        )


class ApiGatewayV2Deployment(_Resource, CloudFormationModel):
    def __init__(self, api_id: str, deployment_id: str) -> None:
        self.api_id = api_id
        self.physical_resource_id = deployment_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Deployment"

    @classmethod
    def attributes(cls) -> tuple[str, ...]:
        return ("DeploymentId",)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "DeploymentId":
            return self.physical_resource_id
        return super().get_cfn_attribute(attribute_name)

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> ApiGatewayV2Deployment:
        api_id = properties["ApiId"]
        deployment_id = cls.deployments.deploy(account_id, region_name, api_id)
        stage = properties.get("StageName")
        if stage:  # a deployment may name the stage it updates
            cls.deployments.set_stage(account_id, region_name, api_id, stage, deployment_id, False)
        return cls(api_id, deployment_id)

    def delete(self, account_id: str, region_name: str) -> None:
        """Deployments are kept until their API goes: a stage may still serve one."""


class ApiGatewayV2Stage(_Resource, CloudFormationModel):
    def __init__(self, api_id: str, stage_name: str) -> None:
        self.api_id = api_id
        self.physical_resource_id = stage_name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Stage"

    @classmethod
    def create(
        cls, properties: dict[str, Any], resource_name: str, account_id: str, region_name: str
    ) -> ApiGatewayV2Stage:
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
        if properties.get("RouteSettings"):
            config["routeSettings"] = _camel_keys(properties["RouteSettings"])
        _backend(account_id, region_name).create_stage(api_id, config)
        cls.deployments.set_stage(
            account_id,
            region_name,
            api_id,
            stage_name,
            properties.get("DeploymentId"),
            bool(properties.get("AutoDeploy")),
        )
        return cls(api_id, stage_name)

    def delete(self, account_id: str, region_name: str) -> None:
        self.deployments.remove_stage(self.api_id, self.physical_resource_id)
        backend = _backend(account_id, region_name)
        _ignore_missing(lambda: backend.delete_stage(self.api_id, self.physical_resource_id))


def _camel_keys(value: Any) -> Any:
    """CloudFormation's `LoggingLevel` is the API's `loggingLevel`."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _camel_keys(item) for key, item in value.items()}
    return value


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
    def create_from_cloudformation_json(  # type: ignore[misc]
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
    def update_from_cloudformation_json(  # type: ignore[misc]
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
    def delete_from_cloudformation_json(  # type: ignore[misc]
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


def unsupported_types(template: dict[str, Any]) -> list[str]:
    """Resource types in a parsed template that nothing here can create."""
    types = {
        resource.get("Type", "")
        for resource in (template.get("Resources") or {}).values()
        if isinstance(resource, dict)
    }
    return sorted(
        kind
        for kind in types
        if kind not in parsing.get_model_map()
        and kind not in parsing.NULL_MODELS
        and not kind.startswith("Custom::")
    )


def _parse_template_strictly(template: str | dict[str, Any]) -> dict[str, Any]:
    """A template parsed safely and checked as AWS checks it, before anything is created.

    `templates.parse` reads the body as data only and refuses the template errors AWS
    refuses at CreateStack. On top of that, resource types moto would silently skip are
    refused: moto logs a warning and reports CREATE_COMPLETE for a resource it cannot create,
    where AWS refuses a template with an unknown type.
    """
    if isinstance(template, dict):  # moto's own placeholder ({}) for a change set's new stack
        return template
    if template is None:
        raise ValidationError(message="Either Template URL or Template Body must be specified.")
    parsed = templates.parse(template)
    unsupported = unsupported_types(parsed)
    if unsupported:
        raise ValidationError(
            message="Template format error: Unrecognized resource types: "
            f"[{', '.join(unsupported)}] (local_aws cannot create these types; "
            "deploy this template to AWS or remove them)"
        )
    return parsed


class _SafeYaml:
    """Stands in for the `yaml` module inside moto's CloudFormation code.

    moto calls `yaml.load(body, Loader=yaml.Loader)` (which builds arbitrary Python objects)
    in four places: the stack's and the change set's parsers, GetTemplateSummary and
    ValidateTemplate. Replacing the name those modules see sends every one of them, and any
    such call a newer moto adds there, through the safe parser. moto's
    `yaml.add_multi_constructor("", ...)` registered its tag handler on PyYAML's unsafe
    loaders globally; here it does nothing, so moto no longer touches PyYAML's loaders.
    """

    Loader = templates.TemplateLoader

    @staticmethod
    def load(stream: str, Loader: Any = None) -> dict[str, Any]:  # noqa: N803 (yaml's name)
        return _parse_template_strictly(stream)

    @staticmethod
    def add_multi_constructor(*args: Any, **kwargs: Any) -> None:
        """moto's short-form tag handler is not needed: TemplateLoader knows the tags."""


def _template_body_bounded(action: Callable[..., Any]) -> Callable[..., Any]:
    """A request handler that first refuses a TemplateBody over AWS's 51,200-byte quota.

    The quota belongs to the request parameter (a template read from S3 may be 1 MB, which
    `templates.parse` enforces), so it is checked where the parameter is read.
    """

    @functools.wraps(action)
    def handler(self: CloudFormationResponse) -> Any:
        body = self._get_param("TemplateBody")
        if body and len(body.encode("utf-8")) > templates.MAX_BODY_BYTES:
            raise ValidationError(
                message="1 validation error detected: Value at 'templateBody' failed to "
                "satisfy constraint: Member must have length less than or equal to "
                f"{templates.MAX_BODY_BYTES}"
            )
        return action(self)

    return handler


def _validate_template_safely(self: CloudFormationResponse) -> Any:
    """moto's ValidateTemplate, but the body is parsed safely before cfn-lint reads it."""
    body = self._get_param("TemplateBody")
    url = self._get_param("TemplateURL")
    _parse_template_strictly(self._get_stack_from_s3_url(url) if url else body)
    return _moto_validate_template(self)


def _update_stack_checked(
    self: CloudFormationBackend, name: str, template: str, *args: Any, **kwargs: Any
) -> Stack:
    """moto's update_stack, refusing a bad template before the stack is touched.

    moto records UPDATE_IN_PROGRESS and stores the new template text before it parses it.
    """
    _parse_template_strictly(template)
    return _moto_update_stack(self, name, template, *args, **kwargs)


def _create_change_set_checked(
    self: CloudFormationBackend,
    stack_name: str,
    change_set_name: str,
    template: str,
    *args: Any,
    **kwargs: Any,
) -> tuple[str, str]:
    """moto's create_change_set, refusing a bad template before anything is stored.

    For a CREATE change set moto stores the new stack (REVIEW_IN_PROGRESS) before it parses
    the template; a refused template would leave that stack behind.
    """
    _parse_template_strictly(template)
    return _moto_create_change_set(self, stack_name, change_set_name, template, *args, **kwargs)


def _outputs_or_none(self: Stack) -> list[dict[str, Any]] | None:
    """A stack's outputs, or none if they cannot be resolved.

    moto resolves outputs lazily, when DescribeStacks lists them: one stack whose output
    refers to something gone would otherwise fail DescribeStacks for every stack.
    """
    try:
        return _moto_outputs(self)
    except Exception:
        logger.warning("outputs of stack %s cannot be resolved", self.name, exc_info=True)
        return None


def _update_function_from_template(
    cls: type[LambdaFunction],
    original_resource: LambdaFunction,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> LambdaFunction:
    """moto's Lambda update from a template, with inline `Code: {ZipFile: ...}` zipped first.

    On create moto turns a template's inline source into a zip; on update it passes the
    source on as if it were a base64 zip, so decoding fails (HTTP 500) or yields bytes that
    are not a zip. The zip made here is the one create makes.
    """
    properties = cloudformation_json.get("Properties") or {}
    code = properties.get("Code") or {}
    if isinstance(code.get("ZipFile"), str):
        archive = LambdaFunction._create_zipfile_from_plaintext_code(code["ZipFile"])
        zipped = {**code, "ZipFile": base64.b64encode(archive).decode("ascii")}
        cloudformation_json = {**cloudformation_json, "Properties": {**properties, "Code": zipped}}
    return _moto_update_function.__func__(  # type: ignore[attr-defined]
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    )


_moto_outputs = Stack.outputs.fget  # type: ignore[attr-defined]
_moto_create_stack = CloudFormationBackend.create_stack
_moto_update_stack = CloudFormationBackend.update_stack
_moto_create_change_set = CloudFormationBackend.create_change_set
_moto_validate_template = CloudFormationResponse.validate_template
_moto_update_function = LambdaFunction.__dict__["update_from_cloudformation_json"]
_TEMPLATE_ACTIONS = (
    "create_stack",
    "update_stack",
    "create_change_set",
    "get_template_summary",
    "create_stack_set",
    "update_stack_set",
)


def _create_stack_or_roll_back(
    self: CloudFormationBackend, name: str, *args: Any, **kwargs: Any
) -> Stack:
    """moto's create_stack, but a failure does not leave a half-made stack behind.

    moto stores the stack before it creates the resources, so an error on the way leaves it in
    CREATE_IN_PROGRESS for ever. As on AWS, what was created is deleted again: a template
    error refuses the stack (ValidationError, nothing stored); any other failure ends the stack
    in ROLLBACK_COMPLETE with the reason, where it waits to be deleted.
    """
    try:
        return _moto_create_stack(self, name, *args, **kwargs)
    except Exception as error:
        stack = next(
            (
                s
                for s in list(self.stacks.values())
                if s.name == name and s.status == "CREATE_IN_PROGRESS"
            ),
            None,
        )
        if stack is None:  # refused before anything was created
            raise
        try:
            stack.resource_map.delete()
        except Exception:  # best effort, as a rollback on AWS can fail too
            logger.exception("rolling back stack %s failed", name)
        if isinstance(error, ValidationError):
            del self.stacks[stack.stack_id]
            raise
        reason = f"{type(error).__name__}: {error}"
        stack._add_stack_event("CREATE_FAILED", resource_status_reason=reason)
        stack._add_stack_event("ROLLBACK_COMPLETE")
        stack.status = "ROLLBACK_COMPLETE"
        stack.status_reason = reason
        return stack


def register(settings: Settings, deployments: Deployments) -> None:
    """Make moto's CloudFormation see the models above and parse templates safely.

    The models create APIs with endpoints on `settings.port` and record what they deploy in
    `deployments`. moto's model lookups are cached, so the caches are cleared.
    """
    _Resource.settings = settings
    _Resource.deployments = deployments
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
    Stack.parse_template = staticmethod(_parse_template_strictly)  # type: ignore[method-assign]
    Stack.outputs = property(_outputs_or_none)  # type: ignore[method-assign, assignment]
    cloudformation_models.yaml = _SafeYaml  # type: ignore[assignment]
    cloudformation_responses.yaml = _SafeYaml  # type: ignore[assignment]
    CloudFormationBackend.create_stack = _create_stack_or_roll_back  # type: ignore[method-assign]
    CloudFormationBackend.update_stack = _update_stack_checked  # type: ignore[method-assign]
    CloudFormationBackend.create_change_set = _create_change_set_checked  # type: ignore[method-assign]
    for action in _TEMPLATE_ACTIONS:
        original = CloudFormationResponse.__dict__[action]
        setattr(CloudFormationResponse, action, _template_body_bounded(original))
    CloudFormationResponse.validate_template = _template_body_bounded(  # type: ignore[method-assign]
        _validate_template_safely
    )
    LambdaFunction.update_from_cloudformation_json = classmethod(  # type: ignore[method-assign, assignment]
        _update_function_from_template
    )
