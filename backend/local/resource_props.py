"""Apply a template's table and bucket properties through the AWS API, as CloudFormation would.

moto's CloudFormation creates the tables and the bucket but drops several of their
properties (TTL, point-in-time recovery, the bucket's public-access block, ownership
controls and lifecycle rules), so `deploy` applies them again after the stack is
created, and the unit tests create the template's resources with the same code. A
property this module does not know stops the caller with its name instead of being
left out silently, so the local stack cannot quietly drift from the template.
"""

from __future__ import annotations

from typing import Any

TABLE_TYPE = "AWS::DynamoDB::Table"
BUCKET_TYPE = "AWS::S3::Bucket"


def _resolve(value: Any, parameters: dict[str, Any]) -> Any:
    """Replace `!Ref Parameter` by the parameter's default; any other intrinsic is refused."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in parameters:
            return parameters[value["Ref"]]["Default"]
        if any(k == "Ref" or k.startswith("Fn::") for k in value):
            raise NotImplementedError(f"backend/local/resource_props.py cannot resolve {value}")
        return {k: _resolve(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, parameters) for v in value]
    return value


def _properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    props = template["Resources"][logical_id].get("Properties", {})
    resolved: dict[str, Any] = _resolve(props, template.get("Parameters", {}))
    return resolved


def _unknown(logical_id: str, key: str) -> NotImplementedError:
    return NotImplementedError(
        f"{logical_id}.{key} in template.yaml is not applied by backend/local/resource_props.py: add it there"
    )


# CloudFormation and the DynamoDB API spell these properties the same way.
_TABLE_AS_IS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "ProvisionedThroughput",
    "TableClass",
    "DeletionProtectionEnabled",
    "Tags",
)


def table_calls(
    template: dict[str, Any], logical_id: str, name: str
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """CreateTable's arguments for the template's table `logical_id` named `name`, and the calls after it."""
    props = _properties(template, logical_id)
    create: dict[str, Any] = {"TableName": name}
    then: list[tuple[str, dict[str, Any]]] = []  # calls after the table exists: (method, arguments)
    for key, value in props.items():
        if key in _TABLE_AS_IS:
            create[key] = value
        elif key == "TableName":
            pass  # the caller names it
        elif key == "SSESpecification":
            create[key] = {("Enabled" if k == "SSEEnabled" else k): v for k, v in value.items()}
        elif key == "StreamSpecification":
            create[key] = {"StreamEnabled": True, **value}
        elif key == "TimeToLiveSpecification":
            then.append(("update_time_to_live", {"TableName": name, key: value}))
        elif key == "PointInTimeRecoverySpecification":
            then.append(("update_continuous_backups", {"TableName": name, key: value}))
        else:
            raise _unknown(logical_id, key)
    return create, then


def create_table(client: Any, template: dict[str, Any], logical_id: str, name: str) -> None:
    """Create the template's table `logical_id` under `name`, with every property it sets."""
    create, then = table_calls(template, logical_id, name)
    client.create_table(**create)
    for method, arguments in then:
        getattr(client, method)(**arguments)


def apply_table_properties(client: Any, template: dict[str, Any], logical_id: str, name: str) -> None:
    """Apply the properties that are set after creation (TTL, PITR) to an existing table."""
    for method, arguments in table_calls(template, logical_id, name)[1]:
        getattr(client, method)(**arguments)


def _lifecycle_rule(logical_id: str, rule: dict[str, Any]) -> dict[str, Any]:
    """A LifecycleConfiguration rule as CloudFormation spells it, as the S3 API spells it."""
    out: dict[str, Any] = {"Filter": {}}
    for key, value in rule.items():
        if key in ("Status", "AbortIncompleteMultipartUpload"):
            out[key] = value
        elif key == "Id":
            out["ID"] = value
        elif key == "Prefix":
            out["Filter"] = {"Prefix": value}
        elif key == "ExpirationInDays":
            out["Expiration"] = {"Days": int(value)}
        elif key == "NoncurrentVersionExpirationInDays":
            out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(value)}
        else:
            raise _unknown(logical_id, f"LifecycleConfiguration.Rules.{key}")
    return out


def apply_bucket_properties(s3: Any, template: dict[str, Any], logical_id: str, name: str) -> None:
    """Apply every property the template sets on bucket `logical_id` to the existing bucket `name`."""
    props = _properties(template, logical_id)
    for key, value in props.items():
        if key == "BucketName":
            pass  # the caller names it
        elif key == "VersioningConfiguration":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=value)
        elif key == "BucketEncryption":
            rules = [
                {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                | {k: v for k, v in r.items() if k != "ServerSideEncryptionByDefault"}
                for r in value["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        elif key == "PublicAccessBlockConfiguration":
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=value)
        elif key == "OwnershipControls":
            s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=value)
        elif key == "LifecycleConfiguration":
            rules = [_lifecycle_rule(logical_id, r) for r in value["Rules"]]
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
        elif key == "Tags":
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": value})
        else:
            raise _unknown(logical_id, key)


def create_bucket(s3: Any, template: dict[str, Any], logical_id: str, name: str, region: str) -> None:
    """Create the template's bucket `logical_id` under `name`, with every property it sets."""
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    apply_bucket_properties(s3, template, logical_id, name)


def apply_template_properties(
    template: dict[str, Any], names: dict[str, str], dynamodb: Any, s3: Any
) -> None:
    """Apply the post-create properties of each table and bucket in `names` (logical id -> name)."""
    for logical_id, name in names.items():
        kind = template["Resources"][logical_id]["Type"]
        if kind == TABLE_TYPE:
            apply_table_properties(dynamodb, template, logical_id, name)
        elif kind == BUCKET_TYPE:
            apply_bucket_properties(s3, template, logical_id, name)
