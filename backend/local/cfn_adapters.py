"""The one place where the local stack adapts moto's CloudFormation to our template.

moto 5.2 (see shared LOCAL-AWS-NOTES) has gaps that would make `template.yaml`
fail or lose resources when created as a stack in local CloudFormation. Each class
below fills exactly one gap, by creating the resource in moto's own backend so that
every other API (cognito-idp, apigateway, lambda, cloudwatch) answers as AWS would:

- `AWS::Cognito::UserPool`, `UserPoolClient`, `UserPoolGroup` and
  `AWS::CloudWatch::Alarm`: skipped by moto's CloudFormation, created here.
- `AWS::ApiGateway::Deployment`: moto gives it no physical id, so the stage's
  `DeploymentId` would be an object; here it is the deployment id.
- `AWS::ApiGateway::Stage`: not supported by moto's CloudFormation, created here.
- `AWS::ApiGateway::RestApi`: moto cannot build one from SAM's `Body`; here the
  OpenAPI 3 body (the template sets `OpenApiVersion: 3.0.1`) is imported with
  `put_rest_api`, so the deployed resources and methods are the template's routes.
- `AWS::Lambda::Function`: moto's CloudFormation drops `PackageType`, `Layers`,
  `ImageConfig`, `Architectures` and `TracingConfig`; here they are passed on.
- `AWS::Lambda::LayerVersion`: moto gives it no physical id, so `!Ref` of a layer
  resolves to nothing; here the layer version ARN is the physical id.

Not a gap but a cost: moto parses every template body with PyYAML's pure-Python loader
(about 0.6 s for ours, once per deploy); the local deploy always sends JSON, so
`install` makes it try `json.loads` first.

moto reads the set of CloudFormation types from `CloudFormationModel.__subclasses__()`
once (cached), so this module must be imported before the first stack is created,
and in the process that runs moto (`ThreadedMotoServer`). Later subclasses win.
"""

from __future__ import annotations

import json
from typing import Any

from moto.apigateway.models import apigateway_backends
from moto.awslambda.models import LambdaFunction, LayerVersion, lambda_backends
from moto.cloudformation import parsing
from moto.cloudformation.models import Stack as MotoStack
from moto.cloudwatch.models import cloudwatch_backends
from moto.cognitoidp.models import cognitoidp_backends
from moto.core.common_models import CloudFormationModel


class _Adapter:
    """Shared plumbing: no updates (the local stack is recreated, not updated)."""

    inner: Any

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    @classmethod
    def update_from_cloudformation_json(cls, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the local stack is recreated, never updated")

    @classmethod
    def delete_from_cloudformation_json(cls, *args: Any, **kwargs: Any) -> None:
        return None


class LocalUserPool(_Adapter, CloudFormationModel):
    """`AWS::Cognito::UserPool` in moto's cognito-idp backend."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPool"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LocalUserPool:
        props = dict(cloudformation_json["Properties"])
        name = props.pop("UserPoolName", resource_name)
        pool = cognitoidp_backends[account_id][region_name].create_user_pool(name, props)
        return cls(pool)

    @property
    def physical_resource_id(self) -> str:
        return str(self.inner.id)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return {
            "Arn": self.inner.arn,
            "ProviderName": f"cognito-idp.{self.inner.region}.amazonaws.com/{self.inner.id}",
            "ProviderURL": f"https://cognito-idp.{self.inner.region}.amazonaws.com/{self.inner.id}",
            "UserPoolId": self.inner.id,
        }[attribute_name]


class LocalUserPoolClient(_Adapter, CloudFormationModel):
    """`AWS::Cognito::UserPoolClient` in moto's cognito-idp backend."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPoolClient"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LocalUserPoolClient:
        props = dict(cloudformation_json["Properties"])
        pool_id = props.pop("UserPoolId")
        secret = bool(props.pop("GenerateSecret", False))
        client = cognitoidp_backends[account_id][region_name].create_user_pool_client(pool_id, secret, props)
        return cls(client)

    @property
    def physical_resource_id(self) -> str:
        return str(self.inner.id)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return {"ClientId": self.inner.id, "Name": self.inner.extended_config.get("ClientName")}[
            attribute_name
        ]


class LocalUserPoolGroup(_Adapter, CloudFormationModel):
    """`AWS::Cognito::UserPoolGroup` in moto's cognito-idp backend."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPoolGroup"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LocalUserPoolGroup:
        props = cloudformation_json["Properties"]
        group = cognitoidp_backends[account_id][region_name].create_group(
            props["UserPoolId"],
            props.get("GroupName", resource_name),
            props.get("Description", ""),
            props.get("RoleArn", ""),
            int(props.get("Precedence", 0)),
        )
        return cls(group)

    @property
    def physical_resource_id(self) -> str:
        return str(self.inner.group_name)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        raise NotImplementedError(attribute_name)


class LocalAlarm(_Adapter, CloudFormationModel):
    """`AWS::CloudWatch::Alarm` in moto's cloudwatch backend."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LocalAlarm:
        p = cloudformation_json["Properties"]
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=p.get("AlarmName", resource_name),
            namespace=p.get("Namespace", ""),
            metric_name=p.get("MetricName", ""),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(p.get("Period", 60)),
            threshold=float(p.get("Threshold", 0)),
            statistic=p.get("Statistic", "Sum"),
            description=p.get("AlarmDescription", ""),
            # moto's Alarm reads "Name"/"Value"; a metric-math alarm (`Metrics`) keeps its queries
            # out of moto (only the alarm and its state matter locally).
            dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in p.get("Dimensions", [])],
            alarm_actions=[a for a in p.get("AlarmActions", []) if a],
            datapoints_to_alarm=p.get("DatapointsToAlarm"),
            treat_missing_data=p.get("TreatMissingData"),
            unit=p.get("Unit"),
        )
        return cls(alarm)

    @property
    def physical_resource_id(self) -> str:
        return str(self.inner.name)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return {"Arn": self.inner.alarm_arn}[attribute_name]


class LocalRestApi(_Adapter, CloudFormationModel):
    """`AWS::ApiGateway::RestApi` built from SAM's OpenAPI 3 `Body`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::RestApi"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LocalRestApi:
        props = cloudformation_json["Properties"]
        backend = apigateway_backends[account_id][region_name]
        api = backend.create_rest_api(name=props.get("Name", resource_name), description="")
        body = props.get("Body")
        if body:
            # moto's importer reads `info.description`; the body is otherwise used as SAM made it.
            body = json.loads(json.dumps(body))
            body.setdefault("info", {}).setdefault("description", "")
            backend.put_rest_api(api.id, body, fail_on_warnings=False, mode="overwrite")
        return cls(api)

    @property
    def physical_resource_id(self) -> str:
        return str(self.inner.id)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return {"RootResourceId": self.inner.default.id}[attribute_name]

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        apigateway_backends[account_id][region_name].apis.pop(resource_name, None)


class LocalDeployment(_Adapter, CloudFormationModel):
    """`AWS::ApiGateway::Deployment` whose `Ref` is its deployment id, as in AWS."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::Deployment"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LocalDeployment:
        p = cloudformation_json["Properties"]
        backend = apigateway_backends[account_id][region_name]
        return cls(backend.create_deployment(p["RestApiId"], p.get("StageName"), p.get("Description", "")))

    @property
    def physical_resource_id(self) -> str:
        return str(self.inner.id)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return {"DeploymentId": self.inner.id}[attribute_name]


class LocalStage(_Adapter, CloudFormationModel):
    """`AWS::ApiGateway::Stage`, which moto's CloudFormation does not support."""

    def __init__(self, inner: Any, api_id: str) -> None:
        self.inner = inner
        self.api_id = api_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::Stage"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LocalStage:
        p = cloudformation_json["Properties"]
        backend = apigateway_backends[account_id][region_name]
        stage = backend.create_stage(
            p["RestApiId"],
            p["StageName"],
            p["DeploymentId"],
            variables=p.get("Variables"),
            description=p.get("Description", ""),
            tracing_enabled=p.get("TracingEnabled"),
        )
        return cls(stage, p["RestApiId"])

    @property
    def physical_resource_id(self) -> str:
        return str(self.inner.name)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        raise NotImplementedError(attribute_name)


class LocalLambdaFunction(_Adapter, CloudFormationModel):
    """`AWS::Lambda::Function` with the properties moto's CloudFormation drops."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Function"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "FunctionName"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LambdaFunction:
        props = cloudformation_json["Properties"]
        spec: dict[str, Any] = {"FunctionName": resource_name}
        for key in (
            "Code",
            "Handler",
            "Role",
            "Runtime",
            "Description",
            "MemorySize",
            "Timeout",
            "Environment",
            "ReservedConcurrentExecutions",
            "PackageType",
            "Layers",
            "ImageConfig",
            "Architectures",
            "TracingConfig",
            "Tags",
        ):
            if key in props:
                spec[key] = props[key]
        if "Tags" in spec:
            spec["Tags"] = {t["Key"]: t["Value"] for t in spec["Tags"]}
        return lambda_backends[account_id][region_name].create_function(spec)

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        LambdaFunction.delete_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name
        )


class LocalLayerVersion(_Adapter, CloudFormationModel):
    """`AWS::Lambda::LayerVersion` whose `Ref` is its version ARN, as in AWS."""

    def __init__(self, inner: LayerVersion) -> None:
        self.inner = inner

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::LayerVersion"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LocalLayerVersion:
        inner = LayerVersion.create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        return cls(inner)

    @property
    def physical_resource_id(self) -> str:
        return str(self.inner.arn)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return {"LayerVersionArn": self.inner.arn}[attribute_name]


def _parse_json_first(template: str) -> dict[str, Any]:
    """moto's template parser, with JSON (what the local deploy sends) tried before YAML."""
    try:
        parsed = json.loads(template)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    return _YAML_PARSE(template)


_YAML_PARSE = MotoStack.parse_template


def install() -> None:
    """Make moto's CloudFormation see the adapters (call before the first stack is created)."""
    MotoStack.parse_template = staticmethod(_parse_json_first)  # type: ignore[method-assign]
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
