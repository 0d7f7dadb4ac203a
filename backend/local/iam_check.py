"""Evaluate recorded AWS calls against each function's IAM policy, as IAM would (moto does not).

The policies come from the translated template of the deployed stack (SAM policy templates
expanded by the transform), with `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join` and `Fn::If`
resolved against the stack's parameters, pseudo parameters and physical ids. A recorded
call (`backend.local.aws_calls`) becomes the IAM action(s) and resource ARN(s) AWS would
authorise: a `TransactWriteItems` is each item's `PutItem`/`UpdateItem`/..., a presigned
S3 URL is the `GetObject` it will be used for, an API Gateway call is `apigateway:<METHOD>`
on its path. The evaluation is IAM's for identity policies without conditions: an explicit
Deny wins, else an Allow whose Action and Resource patterns match (`*` and `?` wildcards,
actions case-insensitive). A statement with a Condition is not counted as allowing anything
(it cannot be decided here), so such a permission shows up as missing rather than passing.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any

# AWS managed policies SAM attaches to every function role (their statements, abbreviated to
# the actions a function could call through boto3).
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
    "AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        }
    ],
}
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
_S3_OBJECT_ACTIONS = {
    "GetObject": "GetObject",
    "HeadObject": "GetObject",
    "PutObject": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "CopyObject": "PutObject",
    "AbortMultipartUpload": "AbortMultipartUpload",
    "DeleteObject": "DeleteObject",
    "GetObjectTagging": "GetObjectTagging",
}
_S3_BUCKET_ACTIONS = {
    "ListObjectsV2": "ListBucket",
    "ListObjects": "ListBucket",
    "HeadBucket": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "GetBucketLocation": "GetBucketLocation",
    "ListMultipartUploads": "ListBucketMultipartUploads",
}
_SERVICE_PREFIX = {"monitoring": "cloudwatch", "execute-api": "execute-api"}
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class UnknownOperation(Exception):
    """A recorded operation this module cannot map to IAM actions: add it here, never skip it."""


@dataclass(frozen=True)
class StackContext:
    """What resolves the template's intrinsics: pseudo parameters, parameters, physical ids, types."""

    region: str
    account_id: str
    stack_name: str
    stack_id: str
    parameters: dict[str, str]
    physical_ids: dict[str, str]
    resource_types: dict[str, str]
    partition: str = "aws"

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )


# ---------------------------------------------------------------- template intrinsics


def _pseudo(name: str, ctx: StackContext) -> str | None:
    return {
        "AWS::Region": ctx.region,
        "AWS::AccountId": ctx.account_id,
        "AWS::Partition": ctx.partition,
        "AWS::StackName": ctx.stack_name,
        "AWS::StackId": ctx.stack_id,
        "AWS::URLSuffix": "amazonaws.com",
    }.get(name)


def _ref(name: str, ctx: StackContext) -> str:
    pseudo = _pseudo(name, ctx)
    if pseudo is not None:
        return pseudo
    if name in ctx.parameters:
        return ctx.parameters[name]
    if name in ctx.physical_ids:
        return ctx.physical_ids[name]
    raise KeyError(f"Ref {name}: no parameter or resource of that name")


def _get_att(logical_id: str, attribute: str, ctx: StackContext) -> str:
    physical = ctx.physical_ids[logical_id]
    kind = ctx.resource_types.get(logical_id, "")
    arns = {
        "AWS::DynamoDB::Table": lambda: ctx.arn("dynamodb", f"table/{physical}"),
        "AWS::S3::Bucket": lambda: ctx.arn("s3", physical, region=False, account=False),
        "AWS::Lambda::Function": lambda: ctx.arn("lambda", f"function:{physical}"),
        "AWS::IAM::Role": lambda: ctx.arn("iam", f"role/{physical}", region=False),
        "AWS::Logs::LogGroup": lambda: ctx.arn("logs", f"log-group:{physical}:*"),
        "AWS::Cognito::UserPool": lambda: ctx.arn("cognito-idp", f"userpool/{physical}"),
    }
    if attribute == "Arn" and kind in arns:
        return arns[kind]()
    raise KeyError(f"Fn::GetAtt {logical_id}.{attribute} ({kind}) is not resolvable here")


def _condition(name: str, template: dict[str, Any], ctx: StackContext) -> bool:
    return bool(_eval_condition(template.get("Conditions", {})[name], template, ctx))


def _eval_condition(expr: Any, template: dict[str, Any], ctx: StackContext) -> Any:
    if isinstance(expr, dict) and len(expr) == 1:
        ((key, arg),) = expr.items()
        if key == "Fn::Equals":
            a, b = (resolve(x, template, ctx) for x in arg)
            return str(a) == str(b)
        if key == "Fn::Not":
            return not _eval_condition(arg[0], template, ctx)
        if key == "Fn::And":
            return all(_eval_condition(x, template, ctx) for x in arg)
        if key == "Fn::Or":
            return any(_eval_condition(x, template, ctx) for x in arg)
        if key == "Condition":
            return _condition(arg, template, ctx)
    return resolve(expr, template, ctx)


def resolve(value: Any, template: dict[str, Any], ctx: StackContext) -> Any:
    """The value with its intrinsic functions resolved as CloudFormation did for this stack."""
    if isinstance(value, list):
        return [v for v in (resolve(x, template, ctx) for x in value) if v is not None]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return None if arg == "AWS::NoValue" else _ref(arg, ctx)
        if key == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return _get_att(logical_id, attribute, ctx)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            return _sub(text, {k: resolve(v, template, ctx) for k, v in variables.items()}, ctx)
        if key == "Fn::Join":
            return str(arg[0]).join(str(x) for x in resolve(arg[1], template, ctx))
        if key == "Fn::If":
            branch = arg[1] if _condition(arg[0], template, ctx) else arg[2]
            return resolve(branch, template, ctx)
    resolved = {k: resolve(v, template, ctx) for k, v in value.items()}
    return {k: v for k, v in resolved.items() if v is not None}  # AWS::NoValue removes the property


def _sub(text: str, variables: dict[str, Any], ctx: StackContext) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return str(variables[name])
        if "." in name and not name.startswith("AWS::"):
            logical_id, attribute = name.split(".", 1)
            return _get_att(logical_id, attribute, ctx)
        return _ref(name, ctx)

    return _SUB_VAR.sub(one, text).replace("${!", "${")


# ---------------------------------------------------------------- policies


def function_policies(template: dict[str, Any], ctx: StackContext) -> dict[str, list[dict[str, Any]]]:
    """Each Lambda function's identity-policy statements (inline and the known managed ones), resolved."""
    resources = template["Resources"]
    out: dict[str, list[dict[str, Any]]] = {}
    for logical_id, res in resources.items():
        if res.get("Type") != "AWS::Lambda::Function":
            continue
        role_ref = res["Properties"].get("Role")
        if not (isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref):
            raise UnknownOperation(f"{logical_id}: its role is not a role of this template")
        role_id = (
            role_ref["Fn::GetAtt"][0]
            if isinstance(role_ref["Fn::GetAtt"], list)
            else role_ref["Fn::GetAtt"].split(".")[0]
        )
        role = resources[role_id]["Properties"]
        statements: list[dict[str, Any]] = []
        for policy in resolve(role.get("Policies", []), template, ctx):
            document = policy.get("PolicyDocument", {})
            found = document.get("Statement", [])
            statements.extend(found if isinstance(found, list) else [found])
        for arn in resolve(role.get("ManagedPolicyArns", []), template, ctx):
            name = str(arn).rsplit("/", 1)[-1]
            statements.extend(MANAGED_POLICIES.get(name, []))
        out[logical_id] = statements
    return out


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _matches(patterns: list[str], value: str, case_sensitive: bool = True) -> bool:
    if case_sensitive:
        return any(fnmatch.fnmatchcase(value, p) for p in patterns)
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def is_allowed(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """IAM's verdict for one action on one resource: explicit Deny wins, else any matching Allow."""
    allowed = False
    for st in statements:
        if "Action" in st:
            action_ok = _matches(_as_list(st["Action"]), action, case_sensitive=False)
        else:
            action_ok = not _matches(_as_list(st.get("NotAction", [])), action, case_sensitive=False)
        if "Resource" in st:
            resource_ok = _matches(_as_list(st["Resource"]), resource)
        else:
            resource_ok = not _matches(_as_list(st.get("NotResource", [])), resource)
        if not (action_ok and resource_ok):
            continue
        if st.get("Effect") == "Deny":
            return False  # a Deny applies even under a condition we cannot decide
        if st.get("Effect") == "Allow" and not st.get("Condition"):
            allowed = True
    return allowed


# ---------------------------------------------------------------- calls → IAM requests


def iam_requests(call: dict[str, Any], ctx: StackContext) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs IAM authorises for one recorded call."""
    service, op, params = call["service"], call["operation"], call.get("params", {})
    if service == "dynamodb":
        return _dynamodb(op, params, ctx)
    if service == "s3":
        return _s3(op, params)
    if service == "lambda":
        name = str(params.get("FunctionName", "")).split(":function:")[-1].split(":")[0]
        action = "InvokeFunction" if op in ("Invoke", "InvokeAsync", "InvokeWithResponseStream") else op
        return [(f"lambda:{action}", ctx.arn("lambda", f"function:{name}"))]
    if service == "cloudformation":
        name = str(params.get("StackName", ""))
        stack = (
            ctx.stack_id
            if name in (ctx.stack_name, ctx.stack_id)
            else ctx.arn("cloudformation", f"stack/{name}/*")
        )
        return [(f"cloudformation:{op}", stack if name else "*")]
    if service == "apigateway":
        return [(f"apigateway:{call['method']}", ctx.arn("apigateway", call["uri"], account=False))]
    if service == "ecr":
        if "repositoryName" not in params:
            return [(f"ecr:{op}", "*")]
        return [(f"ecr:{op}", ctx.arn("ecr", f"repository/{params['repositoryName']}"))]
    if service == "logs":
        if "logGroupName" not in params:
            return [(f"logs:{op}", "*")]
        return [(f"logs:{op}", ctx.arn("logs", f"log-group:{params['logGroupName']}:*"))]
    if service == "monitoring":
        names = params.get("AlarmNames") or []
        if op == "DescribeAlarms" and names:
            return [("cloudwatch:DescribeAlarms", ctx.arn("cloudwatch", f"alarm:{n}")) for n in names]
        return [(f"cloudwatch:{op}", "*")]
    if service == "sts" and op == "GetCallerIdentity":
        return []  # needs no permission
    if service == "cognito-idp" and "UserPoolId" in params:
        return [(f"cognito-idp:{op}", ctx.arn("cognito-idp", f"userpool/{params['UserPoolId']}"))]
    raise UnknownOperation(f"{service}:{op}")


def _dynamodb(op: str, params: dict[str, Any], ctx: StackContext) -> list[tuple[str, str]]:
    def table(name: str) -> str:
        return ctx.arn("dynamodb", f"table/{name}")

    if op in ("TransactWriteItems", "TransactGetItems"):
        return [
            (f"dynamodb:{_TRANSACT_ACTIONS[kind]}", table(str(body["TableName"])))
            for item in params.get("TransactItems", [])
            for kind, body in item.items()
        ]
    if op in ("BatchWriteItem", "BatchGetItem"):
        return [(f"dynamodb:{op}", table(name)) for name in params.get("RequestItems", [])]
    if "TableName" not in params:
        return [(f"dynamodb:{op}", "*")]
    resource = table(str(params["TableName"]))
    if "IndexName" in params:
        resource += f"/index/{params['IndexName']}"
    return [(f"dynamodb:{op}", resource)]


def _s3(op: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    bucket = f"arn:aws:s3:::{params.get('Bucket', '')}"
    if op == "DeleteObjects":
        return [
            ("s3:DeleteObjectVersion" if "VersionId" in o else "s3:DeleteObject", f"{bucket}/{o['Key']}")
            for o in params.get("Delete", [])
        ]
    if op in _S3_OBJECT_ACTIONS:
        action = _S3_OBJECT_ACTIONS[op]
        if "VersionId" in params and action in ("GetObject", "DeleteObject"):
            action += "Version"
        return [(f"s3:{action}", f"{bucket}/{params.get('Key', '')}")]
    if op in _S3_BUCKET_ACTIONS:
        return [(f"s3:{_S3_BUCKET_ACTIONS[op]}", bucket)]
    raise UnknownOperation(f"s3:{op}")


@dataclass(frozen=True)
class Denial:
    """A call the function's policy does not allow: what AWS would answer AccessDenied to."""

    function: str
    action: str
    resource: str
    operation: str

    def __str__(self) -> str:
        return f"{self.function} may not {self.action} on {self.resource} (called {self.operation})"


def denials(
    calls: list[dict[str, Any]], policies: dict[str, list[dict[str, Any]]], ctx: StackContext
) -> list[Denial]:
    """Every (function, action, resource) of the calls that its policy does not allow (deduplicated)."""
    found: dict[tuple[str, str, str], Denial] = {}
    for call in calls:
        function = call["function"]
        for action, resource in iam_requests(call, ctx):
            if (function, action, resource) in found:
                continue
            if not is_allowed(policies.get(function, []), action, resource):
                found[(function, action, resource)] = Denial(
                    function, action, resource, f"{call['service']}:{call['operation']}"
                )
    return list(found.values())
