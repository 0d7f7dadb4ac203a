"""Server CPU of the local DynamoDB's reads: moto's own code against the local stack's patches.

Seeds N members (the local seed: 30 attributes) into an in-process moto table shaped like the
Members table (hash key `member_id`, GSI `regio-member-index`), then measures the CPU time the
request thread spends inside moto's DynamoDB handler (`time.thread_time`, so other processes on
a busy machine do not inflate it) for the reads the API makes, once with the patches of
`backend/local/moto_patches.py` switched off and once on. Each read runs once to warm up first.

    .venv/bin/python -m benchmarks.dynamodb.run_moto_reads --members 10000
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import boto3
from moto import mock_aws

from backend.local import moto_patches, seed

REGION = "eu-west-1"


def _reads(client: Any) -> dict[str, Callable[[], None]]:
    """The reads: a list page, a region's page, a name search's pages, an export's full scan."""

    def first_page() -> None:
        client.scan(TableName="m", Limit=50, ConsistentRead=True)

    def region_page() -> None:
        client.query(
            TableName="m",
            IndexName="regio-member-index",
            KeyConditionExpression="regio = :r",
            ExpressionAttributeValues={":r": {"S": "Utrecht"}},
            Limit=50,
        )

    def names_of_everyone() -> None:
        kwargs: dict[str, Any] = {
            "TableName": "m",
            "Limit": 500,
            "ProjectionExpression": "member_id, voornaam, achternaam",
            "ConsistentRead": True,
        }
        page = client.scan(**kwargs)
        while "LastEvaluatedKey" in page:
            page = client.scan(**kwargs, ExclusiveStartKey=page["LastEvaluatedKey"])

    def full_scan() -> None:
        page = client.scan(TableName="m")
        while "LastEvaluatedKey" in page:
            page = client.scan(TableName="m", ExclusiveStartKey=page["LastEvaluatedKey"])

    return {
        "list page (Scan, Limit 50)": first_page,
        "region page (Query on the regio index, Limit 50)": region_page,
        "every member's names (Scan pages of 500, projected)": names_of_everyone,
        "full scan (1 MB pages, as the export reads)": full_scan,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10000)
    args = parser.parse_args()
    from moto.dynamodb.responses import DynamoHandler

    spent = [0.0]
    with mock_aws():
        moto_patches.install()
        patched = DynamoHandler.call_action

        def timed(self: Any) -> Any:
            started = time.thread_time()
            try:
                return patched(self)
            finally:
                spent[0] += time.thread_time() - started

        DynamoHandler.call_action = timed  # type: ignore[method-assign]
        try:
            table = boto3.resource("dynamodb", region_name=REGION).create_table(
                TableName="m",
                KeySchema=[{"AttributeName": "member_id", "KeyType": "HASH"}],
                AttributeDefinitions=[
                    {"AttributeName": "member_id", "AttributeType": "S"},
                    {"AttributeName": "regio", "AttributeType": "S"},
                ],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": "regio-member-index",
                        "KeySchema": [
                            {"AttributeName": "regio", "KeyType": "HASH"},
                            {"AttributeName": "member_id", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            with table.batch_writer() as batch:
                for member in seed.generate_members(args.members):
                    batch.put_item(Item=member)
            client = boto3.client("dynamodb", region_name=REGION)
            figures: dict[str, dict[str, float]] = {}
            for fast in (False, True):
                moto_patches.set_fast_reads(fast)
                moto_patches.set_fast_serialization(fast)
                for name, read in _reads(client).items():
                    read()
                    spent[0] = 0.0
                    read()
                    figures.setdefault(name, {})["patched_ms" if fast else "moto_ms"] = round(
                        spent[0] * 1000, 1
                    )
        finally:
            DynamoHandler.call_action = patched  # type: ignore[method-assign]
            moto_patches.set_fast_reads(True)
            moto_patches.set_fast_serialization(True)
    print(json.dumps({"members": args.members, "server_cpu": figures}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
