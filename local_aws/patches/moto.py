"""moto, changed where AWS behaves differently and a workshop would notice.

Every assignment local_aws makes to moto is in `REPLACEMENTS` below: the class or module of
moto's, the attribute, and how its replacement is made from moto's original. What the
replacements do is local_aws's own behaviour and lives with it (`local_aws.cloudformation`
for CloudFormation, `local_aws.lambda_packages` for Lambda packages); this module only puts
them in place. `RELIES_ON` lists every attribute of moto's they depend on and `ORIGINALS`
keeps moto's originals, so `tests/unit/test_patches.py` can check them against moto.

Import order: `local_aws.cloudformation` is imported here, at `import local_aws`, because
installing needs its functions and the resource models of `local_aws.cloudformation_models`
must exist before moto's model lookups are cached (see `install`). Of `local_aws.patches`
they import only `moto_imports`, which `local_aws.patches` imports first, so there is no
cycle. moto's CloudFormation comes without the models of the services local_aws does not use
at start-up (`local_aws.patches.moto_imports`); the cost is still about half a second in
every process that imports local_aws, including one that only wants `local_aws.vtl`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import moto.apigatewayv2.urls as moto_apigatewayv2_urls
import moto.awslambda.models as lambda_models
import moto.cloudformation.models as moto_cloudformation_models
import moto.cloudformation.parsing as parsing
import moto.cloudformation.responses as moto_cloudformation_responses
from moto.apigatewayv2.models import ApiGatewayV2Backend
from moto.apigatewayv2.responses import ApiGatewayV2Response
from moto.awslambda.models import LambdaFunction
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.cloudformation.parsing import ResourceMap
from moto.cloudformation.responses import CloudFormationResponse, transform_dict
from moto.cloudwatch.models import CloudWatchBackend, Dimension
from moto.core.base_backend import AccountSpecificBackend, BackendDict
from moto.core.common_models import BaseModel
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize
from moto.s3.models import FakeBucket
from moto.sqs.models import SQSBackend
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.inline_iteration_component import (  # noqa: E501
    InlineIterationComponent,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_api_gateway import (  # noqa: E501
    StateTaskServiceApiGateway,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)

from local_aws import (
    apigatewayv2,
    bucket_policies,
    capabilities,
    change_sets,
    cloudformation,
    cloudwatch,
    deployments_api,
    event_sources,
    invoke_task,
    lambda_invoke,
    lambda_packages,
    lambda_runtime,
    sam,
    service_regions,
    step_functions,
    template_urls,
)

PINNED = {"moto": "5.2.5"}


@dataclass(frozen=True)
class Replacement:
    """One attribute of moto's replaced: `owner.name = replace(moto's original)`."""

    owner: Any  # a class or a module of moto's
    name: str
    replace: Callable[[Any], Any]


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    return object.__new__(cls)


def _known_accounts_first(original: Any) -> Any:
    """`BackendDict.__getitem__` for an account it already holds: a plain dict read.

    moto's takes a global lock and scans a list of every service's backends on each read
    (up to 5 µs; several per integration call and one per message); only the first read of
    an account needs that, and its entry exists only once that read is done (moto's reset
    empties every BackendDict along with the list)."""

    def getitem(self: Any, account_id: str) -> Any:
        if dict.__contains__(self, account_id):
            return dict.__getitem__(self, account_id)
        return original(self, account_id)

    return getitem


# moto's bound on a DynamoDB item, in bytes of attribute names and values (its LimitedSizeDict)
_MOTO_ITEM_LIMIT_BYTES = 405_000


def _item_sized_in_one_pass(
    self: Any, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]
) -> None:
    """`Item.__init__` with moto's size check done in one pass.

    moto's LimitedSizeDict adds up the size of every attribute already set before it sets
    the next one: quadratic, and half the cost of the `$connect` PutItem. Here sizes are
    added as attributes come, so the same attribute makes it raise ItemSizeTooLarge.
    """
    self.hash_key = hash_key
    self.range_key = range_key
    self.attrs = LimitedSizeDict()
    size = 0
    for key, value in attrs.items():
        attribute = DynamoType(value)
        size += bytesize(key) + attribute.size()
        if size > _MOTO_ITEM_LIMIT_BYTES:
            raise ItemSizeTooLarge
        dict.__setitem__(self.attrs, key, attribute)


def _instead_of_moto_s(new: Any) -> Callable[[Any], Any]:
    """A replacement that does not build on moto's original."""
    return lambda _original: new


REPLACEMENTS: tuple[Replacement, ...] = (
    # Reading a service's backend of a known account costs a dict lookup, not moto's lock.
    Replacement(BackendDict, "__getitem__", _known_accounts_first),
    # A DynamoDB item's size is checked in one pass, not once per attribute.
    Replacement(Item, "__init__", _instead_of_moto_s(_item_sized_in_one_pass)),
    # moto keeps a reference to every model object it ever creates, for its dashboard: each
    # DynamoDB item written by a `$connect` would stay in memory after its `$disconnect`
    # deleted it, and a long-running local_aws would grow with every connection. local_aws
    # has no use for that dashboard, so objects are created without being recorded.
    Replacement(BaseModel, "__new__", lambda _: _untracked_new),
    # moto parses templates with PyYAML's unsafe loader (a tag can run code, an alias bomb
    # eats memory under moto's lock) and checks far less than AWS: the stack's parser, and
    # the `yaml` both CloudFormation modules call, go through the safe, checking parser.
    Replacement(
        Stack, "parse_template", lambda _: staticmethod(cloudformation.parse_template_strictly)
    ),
    Replacement(moto_cloudformation_models, "yaml", lambda _: cloudformation.SafeYaml),
    Replacement(moto_cloudformation_responses, "yaml", lambda _: cloudformation.SafeYaml),
    # One stack whose output cannot be resolved would fail DescribeStacks for every stack.
    Replacement(
        Stack, "outputs", lambda original: property(cloudformation.outputs_or_none(original.fget))
    ),
    # AWS reports each resource's progress as stack events, in dependency order; moto reports
    # only the stack's own, creates in DependsOn order and deletes in no particular order.
    Replacement(Stack, "_create_resource_map", cloudformation.resource_map_knowing_its_stack),
    Replacement(parsing, "parse_and_create_resource", cloudformation.creating_with_events),
    Replacement(parsing, "parse_and_update_resource", cloudformation.updating_with_events),
    Replacement(ResourceMap, "_delete_resource", cloudformation.deleting_with_events),
    Replacement(
        ResourceMap,
        "_ResourceMap__get_resources_in_dependency_order",  # moto's private name, mangled
        _instead_of_moto_s(cloudformation.resources_in_dependency_order),
    ),
    Replacement(
        ResourceMap, "delete", _instead_of_moto_s(cloudformation.delete_in_reverse_dependency_order)
    ),
    # moto reads `http://127.0.0.1:<port>/<bucket>/<key>` (the TemplateURL `sam deploy` and
    # `aws cloudformation deploy --s3-bucket` build from local_aws's endpoint) as bucket "127".
    Replacement(
        moto_cloudformation_responses,
        "get_stack_from_s3_url",
        _instead_of_moto_s(template_urls.read_template),
    ),
    Replacement(
        moto_cloudformation_models,
        "get_stack_from_s3_url",
        _instead_of_moto_s(template_urls.read_template),
    ),
    # moto counts every statement of a bucket policy that has a Condition as a Deny (it has no
    # request context to check it against): SAM CLI's artifact bucket refused every upload.
    Replacement(
        FakeBucket,
        "get_permission",
        _instead_of_moto_s(bucket_policies.permission),
    ),
    # A stage made or removed with the API (not CloudFormation) is served or stops being so.
    Replacement(ApiGatewayV2Response, "create_stage", deployments_api.create_stage_served),
    Replacement(ApiGatewayV2Response, "delete_stage", deployments_api.delete_stage_served),
    Replacement(ApiGatewayV2Response, "get_stage", deployments_api.get_stage_served),
    Replacement(ApiGatewayV2Response, "get_stages", deployments_api.get_stages_served),
    # moto leaves a stack whose creation failed in CREATE_IN_PROGRESS; AWS rolls it back.
    Replacement(CloudFormationBackend, "create_stack", cloudformation.create_stack_or_roll_back),
    # DescribeStacks shows the Capabilities a stack was made or updated with; an UpdateStack
    # that changes nothing is refused ("No updates are to be performed.").
    Replacement(
        CloudFormationResponse,
        "create_stack",
        lambda original: cloudformation.template_body_bounded(
            capabilities.required_by_create_or_update(
                cloudformation.recording_capabilities(original)
            )
        ),
    ),
    Replacement(
        CloudFormationResponse,
        "update_stack",
        lambda _: cloudformation.template_body_bounded(
            capabilities.required_by_create_or_update(
                cloudformation.recording_capabilities(change_sets.update_stack)
            )
        ),
    ),
    # Change sets as AWS runs them (the path `aws cloudformation deploy` takes): moto's
    # lose a new stack's Outputs, refuse an unchanged update, and mix up stacks.
    Replacement(
        CloudFormationResponse,
        "create_change_set",
        lambda _: cloudformation.template_body_bounded(change_sets.create_change_set),
    ),
    *(
        Replacement(CloudFormationResponse, action, _instead_of_moto_s(handler))
        for action, handler in (
            ("describe_change_set", change_sets.describe_change_set),
            ("execute_change_set", change_sets.execute_change_set),
            ("delete_change_set", change_sets.delete_change_set),
            ("list_change_sets", change_sets.list_change_sets),
        )
    ),
    # GetTemplate's `TemplateStage=Processed`: the template after its transforms (SAM).
    Replacement(CloudFormationResponse, "get_template", sam.processed_template),
    # A change set's tags are kept as moto's stacks keep theirs (a dict); shown as AWS's list.
    Replacement(
        CloudFormationResponse,
        "RESPONSE_KEY_PATH_TO_TRANSFORMER",
        lambda original: {**original, "DescribeChangeSetOutput.Tags": transform_dict},
    ),
    # AWS refuses a TemplateBody over 51,200 bytes in every action that takes one.
    *(
        Replacement(CloudFormationResponse, action, cloudformation.template_body_bounded)
        for action in cloudformation.TEMPLATE_ACTIONS
        if action not in ("create_stack", "update_stack", "create_change_set")
    ),
    # ValidateTemplate: the same bound, and the body parsed safely before cfn-lint reads it.
    Replacement(
        CloudFormationResponse,
        "validate_template",
        lambda original: cloudformation.template_body_bounded(
            cloudformation.validate_template_safely(original)
        ),
    ),
    # moto's update of a function from a template breaks on inline `Code: {ZipFile: ...}`.
    Replacement(
        LambdaFunction,
        "update_from_cloudformation_json",
        lambda original: classmethod(
            cloudformation.update_function_zipping_inline_code(original.__func__)
        ),
    ),
    # moto takes deployment packages AWS refuses (over 250 MB unzipped, paths leaving the
    # package): CreateFunction, UpdateFunctionCode and templates read them through these two.
    Replacement(lambda_models, "_zipfile_content", lambda_packages.refusing_bad_packages),
    Replacement(lambda_models, "_s3_content", lambda_packages.refusing_bad_packages),
    # CloudWatch statistics are per exact dimension set; moto adds up every superset's series
    # and sorts dimensions comparing a value with a name (local_aws.cloudwatch).
    Replacement(
        CloudWatchBackend,
        "get_metric_statistics",
        cloudwatch.statistics_of_exact_dimensions,
    ),
    Replacement(Dimension, "__lt__", cloudwatch.dimensions_in_name_order),
    # moto lists a service's regions through botocore, which loads the service's whole API
    # model for it (and keeps it): the regions are botocore's, without that model.
    Replacement(
        AccountSpecificBackend, "_generate_regions", service_regions.without_loading_models
    ),
    # moto's API ids are 8 letters; AWS's are 10 letters and digits.
    Replacement(ApiGatewayV2Backend, "create_api", apigatewayv2.create_api_with_aws_ids),
    # moto's Invoke tries Docker ("error running docker"): local_aws's runtime runs the code.
    Replacement(lambda_models.LambdaBackend, "invoke", lambda_invoke.invoke_running_the_function),
    # moto's SendMessage runs an SQS mapping's function itself (with Docker): the poller does.
    Replacement(
        lambda_models.LambdaBackend,
        "create_event_source_mapping",
        event_sources.without_moto_s_delivery,
    ),
    # moto creates a function of any runtime; one local_aws cannot run is refused at deploy.
    Replacement(
        lambda_models.LambdaBackend,
        "create_function",
        lambda_runtime.refusing_runtimes_it_cannot_run,
    ),
    # moto writes a template's inline code to index.py, even for a Node.js function.
    Replacement(
        LambdaFunction,
        "create_from_cloudformation_json",
        lambda original: classmethod(lambda_runtime.zipping_inline_node_code(original.__func__)),
    ),
    # moto makes every template's state machine STANDARD, whatever its StateMachineType,
    # and reads only DefinitionString, without its DefinitionSubstitutions: an EXPRESS
    # machine could never be started in sync, a substituted ARN never called.
    Replacement(
        StateMachine,
        "create_from_cloudformation_json",
        lambda original: classmethod(step_functions.creating_with_its_type(original.__func__)),
    ),
    Replacement(
        StateMachine,
        "update_from_cloudformation_json",
        lambda original: classmethod(step_functions.updating_its_definition(original.__func__)),
    ),
    # moto's state machine interpreter calls services at localhost:$MOTO_PORT (5000): its
    # Task states call local_aws instead. Each of its modules that calls services imports
    # `boto_client_for` by name: replaced where it is defined, a module imported later takes
    # the replacement; one imported already has its own name replaced too. (Importing them
    # all here would import Batch's models, and with them EC2's: about a second and 100 MB.)
    *(
        Replacement(sys.modules[module], "boto_client_for", step_functions.clients_at_local_aws)
        for module in step_functions.loaded_client_modules()
    ),
    # Wait states wait the scaled time (Settings.sfn_wait_scale), and an inline Map runs at
    # most 40 iterations at once, as on AWS (moto starts a thread per item).
    Replacement(WaitFunction, "_wait_interval", _instead_of_moto_s(step_functions.scaled_wait)),
    Replacement(InlineIterationComponent, "_eval_body", step_functions.inline_map_bounded),
    # moto's apigateway:invoke sends LocalStack-style HTTP calls (and is called with an
    # argument it does not take): a local WebSocket API's @connections answers in process.
    Replacement(
        StateTaskServiceApiGateway,
        "_eval_service_task",
        _instead_of_moto_s(invoke_task.eval_service_task),
    ),
    Replacement(
        StateTaskServiceApiGateway, "_from_error", _instead_of_moto_s(invoke_task.failure_event)
    ),
    Replacement(
        StateTaskServiceApiGateway,
        "_SUPPORTED_API_PARAM_BINDINGS",
        _instead_of_moto_s({"invoke": invoke_task.PARAMETERS}),
    ),
)

# Handlers moto lacks, added (not replaced): moto answered the deployment calls with a 404
# HTML page (a stage could not be redeployed outside CloudFormation) and the two list calls
# with a NotImplementedError.
ADDITIONS: tuple[tuple[Any, str, Any], ...] = (
    *(
        (ApiGatewayV2Response, name, getattr(deployments_api, name))
        for name in (
            "create_deployment",
            "get_deployments",
            "get_deployment",
            "delete_deployment",
            "update_stage",
        )
    ),
    (ApiGatewayV2Response, "get_authorizers", apigatewayv2.get_authorizers),
    (ApiGatewayV2Response, "get_route_responses", apigatewayv2.get_route_responses),
)

# moto's model lookups, cached: `install` clears them (see there).
_MODEL_CACHES = ("get_model_list", "get_model_map", "get_name_type_map")

RELIES_ON: tuple[tuple[object, str], ...] = (
    *((replacement.owner, replacement.name) for replacement in REPLACEMENTS),
    *((parsing, name) for name in _MODEL_CACHES),
    # What the SQS poller (local_aws.event_sources) calls.
    (lambda_models.LambdaBackend, "list_event_source_mappings"),
    (SQSBackend, "receive_message"),
    (SQSBackend, "delete_message"),
)

# (owner, name) -> moto's original, recorded by `install` before it is replaced.
ORIGINALS: dict[tuple[Any, str], Any] = {}


def install() -> None:
    """Put every replacement in place (once: a second call would wrap the wrappers)."""
    for replacement in REPLACEMENTS:
        key = (replacement.owner, replacement.name)
        if key in ORIGINALS:
            continue
        original = _defined_by(replacement.owner, replacement.name)
        ORIGINALS[key] = original
        setattr(replacement.owner, replacement.name, replacement.replace(original))
    for owner, name, handler in ADDITIONS:
        if name in vars(owner) and vars(owner)[name] is not handler:
            raise AttributeError(
                f"{owner.__qualname__} now has its own {name!r}: local_aws.patches.moto was "
                f"written for moto {PINNED['moto']}, which lacked it"
            )
        setattr(owner, name, handler)
    for path in deployments_api.URL_PATHS:
        moto_apigatewayv2_urls.url_paths.setdefault(path, ApiGatewayV2Response.dispatch)
    # moto caches the direct subclasses of CloudFormationModel at its first lookup. The
    # models of local_aws.cloudformation_models exist by now (imported with
    # local_aws.cloudformation above); a lookup made before they did would miss them.
    for name in _MODEL_CACHES:
        getattr(parsing, name).cache_clear()


def _defined_by(owner: Any, name: str) -> Any:
    """`owner`'s own attribute `name` (not inherited), or an error naming what moto lacks."""
    try:
        return vars(owner)[name]
    except KeyError:
        raise AttributeError(
            f"{getattr(owner, '__qualname__', owner.__name__)} has no {name!r}: "
            f"local_aws.patches.moto was written for moto {PINNED['moto']}"
        ) from None
