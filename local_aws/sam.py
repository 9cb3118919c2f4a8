"""The SAM transform (`Transform: AWS::Serverless-2016-10-31`), expanded as CloudFormation does.

CloudFormation expands a SAM template into plain CloudFormation before it creates anything:
`AWS::Serverless::Function` becomes a function, its implicit role and its permissions,
`AWS::Serverless::SimpleTable` a DynamoDB table, `Globals` are merged in. AWS's own translator
does that work (`aws-sam-translator`, the library CloudFormation's transform is built on), so
local_aws runs it on the parsed template and deploys what comes out.

Offline: the translator asks IAM (ListPolicies) for the ARNs of managed policies a function's
`Policies` name, and the Serverless Application Repository for `AWS::Serverless::Application`.
Here the policies come from `MANAGED_POLICIES`, a local map of the AWS-managed policies SAM
templates name, and applications are refused. Its region is used only for the ARNs it writes
itself; everything region-specific it leaves as `${AWS::Region}` for the stack to resolve.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
from collections.abc import Callable
from typing import Any

import boto3
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult

logger = logging.getLogger(__name__)

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
TRANSLATOR_REGION = "us-east-1"  # for the few ARNs the translator writes with the partition

# AWS-managed policies a function's `Policies` may name without an ARN (the map the translator
# would otherwise read from IAM). Written here from IAM's naming; the lambda ones are under
# `service-role/`.
_SERVICE_ROLE_POLICIES = (
    "AWSLambdaBasicExecutionRole",
    "AWSLambdaDynamoDBExecutionRole",
    "AWSLambdaKinesisExecutionRole",
    "AWSLambdaSQSQueueExecutionRole",
    "AWSLambdaVPCAccessExecutionRole",
    "AWSLambdaRole",
)
_POLICIES = (
    "AmazonAPIGatewayInvokeFullAccess",
    "AmazonAPIGatewayPushToCloudWatchLogs",
    "AmazonDynamoDBFullAccess",
    "AmazonDynamoDBReadOnlyAccess",
    "AmazonS3FullAccess",
    "AmazonS3ReadOnlyAccess",
    "AmazonSNSFullAccess",
    "AmazonSQSFullAccess",
    "AWSLambdaExecute",
    "AWSLambda_FullAccess",
    "AWSLambda_ReadOnlyAccess",
    "AWSXrayWriteOnlyAccess",
    "CloudWatchLogsFullAccess",
    "CloudWatchLambdaInsightsExecutionRolePolicy",
)
MANAGED_POLICIES: dict[str, str] = {
    **{name: f"arn:aws:iam::aws:policy/service-role/{name}" for name in _SERVICE_ROLE_POLICIES},
    **{name: f"arn:aws:iam::aws:policy/{name}" for name in _POLICIES},
}


def transforms(template: dict[str, Any]) -> list[Any]:
    """The template's `Transform` names, as a list (it may be one name or a list)."""
    declared = template.get("Transform")
    if declared is None:
        return []
    return list(declared) if isinstance(declared, list) else [declared]


def uses_sam(template: dict[str, Any]) -> bool:
    return SAM_TRANSFORM in transforms(template)


def expand(template: dict[str, Any]) -> dict[str, Any]:
    """The template with its SAM transform expanded; a template without one, unchanged.

    Refused with a ValidationError: any other transform (macros and AWS::Include run code or
    read S3 on AWS's side), `AWS::Serverless::Application`, and whatever the translator finds
    wrong, in AWS's words ("Transform AWS::Serverless-2016-10-31 failed with: ...").
    """
    names = transforms(template)
    if not names:
        return template
    others = [str(name) for name in names if name != SAM_TRANSFORM]
    if others:
        raise ValidationError(
            message=f"local_aws cannot run the transform(s) [{', '.join(others)}]: only "
            f"{SAM_TRANSFORM} is supported (deploy this template to AWS, or expand it first)"
        )
    applications = sorted(
        name
        for name, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Application"
    )
    if applications:
        raise ValidationError(
            message="local_aws cannot expand AWS::Serverless::Application "
            f"[{', '.join(applications)}]: it needs the Serverless Application Repository "
            "(deploy this template to AWS)"
        )
    # Imported when a template first needs it: about 0.4 s and 300 modules.
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    translator = Translator(
        None,
        Parser(),
        # Read for its region only: the translator makes no call through it.
        boto_session=boto3.session.Session(region_name=TRANSLATOR_REGION),
    )
    try:
        expanded: dict[str, Any] = translator.translate(
            copy.deepcopy(template),
            parameter_values={},
            get_managed_policy_map=lambda: MANAGED_POLICIES,
        )
    except InvalidDocumentException as error:
        # The document's message, then each cause's: the text CloudFormation shows.
        causes = " ".join(cause.message for cause in error.causes)
        raise ValidationError(
            message=f"Transform {SAM_TRANSFORM} failed with: {error.message} {causes}".rstrip()
        ) from None
    except Exception as error:  # a translator bug must not become an HTTP 500
        logger.warning("the SAM translator failed", exc_info=True)
        raise ValidationError(
            message=f"Transform {SAM_TRANSFORM} failed with: {type(error).__name__}: {error}"
        ) from None
    finally:
        # The translator records metrics for AWS's own use; "publishing" them to its dummy
        # publisher drops them, instead of a warning on stderr when it is collected.
        translator.metrics.publish()
    return expanded


def processed_template(get_template: Callable[..., Any]) -> Callable[..., Any]:
    """moto's GetTemplate, answering `TemplateStage=Processed` with the expanded template."""

    @functools.wraps(get_template)
    def handler(self: CloudFormationResponse) -> Any:
        if self._get_param("TemplateStage") != "Processed":
            return get_template(self)
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        return ActionResult(
            {
                "TemplateBody": json.dumps(stack.template_dict),
                "StagesAvailable": ["Original", "Processed"],
            }
        )

    return handler
