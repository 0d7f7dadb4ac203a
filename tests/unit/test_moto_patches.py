"""The local stack's moto patches answer exactly as moto itself does, only faster."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from backend.local import moto_patches
from tests.unit.aws_fixtures import REGION

pytestmark = pytest.mark.unit

# A table keyed by a string partition key and a number sort key.
RANGED_TABLE: dict[str, Any] = {
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "N"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
RICH_ITEM: dict[str, Any] = {
    "pk": "rich",
    "sk": Decimal(1),
    "text": "Jansen, Ürsula 🏍",
    "number": Decimal("12.50"),
    "big": Decimal("123456789012345678901234567890"),
    "flag": True,
    "nothing": None,
    "payload": b"\x00\xffbinary",
    "blobs": {b"a", b"b\x00"},
    "strings": {"x", "y"},
    "numbers": {Decimal(1), Decimal("2.5")},
    "list": ["a", Decimal(1), {"nested": [True, None, b"\x01"]}],
    "map": {"k": {"deeper": "v", "n": Decimal(-3)}},
    "empty_map": {},
    "empty_list": [],
}


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """GIVEN a table with items of every DynamoDB type, behind the patched moto."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    moto_patches.install_fast_item_serialization()
    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name=REGION)
        made = ddb.create_table(
            TableName="rich",
            **RANGED_TABLE,
        )
        made.put_item(Item=RICH_ITEM)
        for n in range(2, 8):
            made.put_item(Item={"pk": "rich", "sk": Decimal(n), "text": f"member {n}", "n": Decimal(n)})
        yield made
    moto_patches.set_fast_serialization(True)


def _calls(table: Any) -> list[dict[str, Any]]:
    """The operations the fast path serves, as the members code calls them (pages, filters, returns)."""
    client = boto3.client(
        "dynamodb", region_name=REGION
    )  # wire-format AttributeValues, no resource transforms
    answers = [
        client.scan(TableName="rich"),
        client.scan(TableName="rich", Limit=2),
        client.scan(TableName="rich", Select="COUNT"),
        client.scan(
            TableName="rich", FilterExpression="attribute_exists(payload)", ReturnConsumedCapacity="TOTAL"
        ),
        client.query(
            TableName="rich",
            KeyConditionExpression="pk = :p AND sk > :s",
            ExpressionAttributeValues={":p": {"S": "rich"}, ":s": {"N": "2"}},
            ScanIndexForward=False,
            Limit=3,
        ),
        client.get_item(TableName="rich", Key={"pk": {"S": "rich"}, "sk": {"N": "1"}}),
        client.get_item(TableName="rich", Key={"pk": {"S": "rich"}, "sk": {"N": "99"}}),
        client.batch_get_item(RequestItems={"rich": {"Keys": [{"pk": {"S": "rich"}, "sk": {"N": "1"}}]}}),
        client.update_item(
            TableName="rich",
            Key={"pk": {"S": "rich"}, "sk": {"N": "2"}},
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        ),
        client.put_item(
            TableName="rich",
            Item={"pk": {"S": "rich"}, "sk": {"N": "3"}, "x": {"B": b"\x02"}},
            ReturnValues="ALL_OLD",
        ),
        client.delete_item(
            TableName="rich", Key={"pk": {"S": "rich"}, "sk": {"N": "4"}}, ReturnValues="ALL_OLD"
        ),
    ]
    for answer in answers:
        answer.pop("ResponseMetadata")
    return answers


def test_fast_item_serialization_answers_as_moto_does(table: Any) -> None:
    # GIVEN the same operations answered by moto's own serializer and by the fast path
    moto_patches.set_fast_serialization(False)
    with_moto = _calls(table)
    # (the writes above ran once; undo their effect so the second run sees the same table)
    table.put_item(Item={"pk": "rich", "sk": Decimal(2), "text": "member 2", "n": Decimal(2)})
    table.put_item(Item={"pk": "rich", "sk": Decimal(3), "text": "member 3", "n": Decimal(3)})
    table.put_item(Item={"pk": "rich", "sk": Decimal(4), "text": "member 4", "n": Decimal(4)})
    moto_patches.set_fast_serialization(True)
    fast = _calls(table)
    # THEN a client reads exactly the same answers (every type, pages, counts, capacity, returns)
    assert fast == with_moto
    assert fast[0]["Items"] and any("payload" in item for item in fast[0]["Items"])


def test_errors_keep_motos_own_answers(table: Any) -> None:
    # GIVEN a failing conditional write WHEN answered THEN the same error a client gets from moto
    client = boto3.client("dynamodb", region_name=REGION)
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(
            TableName="rich",
            Item={"pk": {"S": "rich"}, "sk": {"N": "1"}},
            ConditionExpression="attribute_not_exists(pk)",
        )


def test_a_request_locks_every_table_it_names_in_name_order() -> None:
    # GIVEN the request shapes the stack sends WHEN their tables are read THEN all, sorted, by name
    transaction = {
        "TransactItems": [
            {"Put": {"TableName": "members", "Item": {}}},
            {"Delete": {"TableName": "keys", "Key": {}}},
            {"ConditionCheck": {"TableName": "arn:aws:dynamodb:eu-west-1:1:table/members", "Key": {}}},
        ]
    }
    assert moto_patches.tables_of(transaction) == ["keys", "members"]
    assert moto_patches.tables_of({"TableName": "jobs", "Key": {}}) == ["jobs"]
    assert moto_patches.tables_of({"RequestItems": {"b": [], "a": []}}) == ["a", "b"]
    assert moto_patches.tables_of({"Limit": 10}) == []


def test_requests_on_other_tables_go_on_while_one_table_is_held(table: Any) -> None:
    # GIVEN two tables behind the patched moto, and table "rich" held as a request holds it
    moto_patches.install()
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName="other",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    done = {"rich": threading.Event(), "other": threading.Event()}

    def put(name: str, key: dict[str, Any]) -> None:
        boto3.client("dynamodb", region_name=REGION).put_item(TableName=name, Item=key)
        done[name].set()

    lock = moto_patches.table_lock("rich")
    with lock:
        same = threading.Thread(target=put, args=("rich", {"pk": {"S": "held"}, "sk": {"N": "9"}}))
        other = threading.Thread(target=put, args=("other", {"pk": {"S": "free"}}))
        same.start()
        other.start()
        # WHEN a write to another table comes THEN it completes while "rich" is held
        assert done["other"].wait(30), "a request on another table waited for the held one"
        # and the write to the held table has not happened (it waits for the lock)
        assert not done["rich"].is_set()
    # WHEN the table is released THEN the waiting write goes through
    same.join(30)
    other.join(30)
    assert done["rich"].is_set()


def _read_everything(client: Any, name: str, limit: int, **extra: Any) -> list[dict[str, Any]]:
    """Every page of a Scan (with Limit and the page's ExclusiveStartKey), answers as the client sees them."""
    pages = []
    kwargs: dict[str, Any] = {"TableName": name, "Limit": limit, **extra}
    while True:
        page = client.scan(**kwargs)
        page.pop("ResponseMetadata")
        pages.append(page)
        if "LastEvaluatedKey" not in page:
            return pages
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _reads(client: Any) -> list[Any]:
    """The reads the members code makes, over a hash-only and a hash+range table."""
    answers: list[Any] = []
    for limit in (1, 7, 500):
        answers.append(_read_everything(client, "flat", limit))
        answers.append(_read_everything(client, "flat", limit, ProjectionExpression="pk, naam, nummer"))
        answers.append(_read_everything(client, "ranged", limit))
    answers.append(
        _read_everything(
            client,
            "flat",
            5,
            FilterExpression="regio = :r",
            ExpressionAttributeValues={":r": {"S": "Utrecht"}},
            ProjectionExpression="pk, naam, adres.straat, tags",
        )
    )
    answers.append(_read_everything(client, "flat", 9, Segment=1, TotalSegments=3))
    answers.append(
        _read_everything(
            client,
            "flat",
            4,
            ScanFilter={"nummer": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "20"}]}},
        )
    )
    # a start key that is not in the table (deleted since): the page after where it would be
    answers.append(client.scan(TableName="flat", Limit=3, ExclusiveStartKey={"pk": {"S": "m-0150"}})["Items"])
    answers.append(
        client.query(
            TableName="flat",
            IndexName="regio-index",
            KeyConditionExpression="regio = :r",
            ExpressionAttributeValues={":r": {"S": "Utrecht"}},
            Limit=6,
        )["Items"]
    )
    answers.append(
        client.query(
            TableName="ranged",
            KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={":p": {"S": "day-2"}, ":a": {"N": "3"}, ":b": {"N": "30"}},
            ScanIndexForward=False,
        )["Items"]
    )
    return answers


@pytest.fixture
def two_tables(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A client of the patched moto with an empty hash-key table `flat` (GSI `regio-index`) and an
    empty hash-and-range-key table `ranged`."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    moto_patches.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName="flat",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "regio", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "regio-index",
                    "KeySchema": [
                        {"AttributeName": "regio", "KeyType": "HASH"},
                        {"AttributeName": "pk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        client.create_table(
            TableName="ranged",
            **RANGED_TABLE,
        )
        yield client
    moto_patches.set_fast_reads(True)


def test_fast_table_reads_answer_as_moto_does_before_and_after_writes(two_tables: Any) -> None:
    # GIVEN two tables (hash key; hash and range key) behind the patched moto
    client = two_tables
    regions = ["Utrecht", "Limburg", "Oost"]
    for n in range(300, 0, -1):  # written out of order: the order is moto's sort, not insertion
        client.put_item(
            TableName="flat",
            Item={
                "pk": {"S": f"m-{n:04d}"},
                "naam": {"S": f"Jansen {n}"},
                "nummer": {"N": str(n)},
                "regio": {"S": regions[n % 3]},
                "adres": {"M": {"straat": {"S": f"Dorpsstraat {n}"}, "plaats": {"S": "Ergens"}}},
                "tags": {"SS": ["a", f"t{n % 4}"]},
                "blob": {"B": bytes([n % 256])},
                "tekst": {"S": "x" * (n * 20)},  # big enough for some 1 MB pages to end early
            },
        )
    for day in range(1, 4):
        for n in range(40, 0, -3):
            client.put_item(
                TableName="ranged",
                Item={"pk": {"S": f"day-{day}"}, "sk": {"N": str(n)}, "v": {"N": str(n * day)}},
            )

    def compare() -> None:
        moto_patches.set_fast_reads(False)
        try:
            with_moto = _reads(client)
        finally:
            moto_patches.set_fast_reads(True)
        assert _reads(client) == with_moto

    # WHEN both read the same tables THEN the same pages, keys, counts and projections
    compare()
    # ... and after writes that change items in place, add, delete, and a failed transaction
    client.update_item(
        TableName="flat",
        Key={"pk": {"S": "m-0007"}},
        UpdateExpression="SET regio = :r, naam = :n",
        ExpressionAttributeValues={":r": {"S": "Utrecht"}, ":n": {"S": "Veranderd"}},
    )
    # (an item grown in place to 300 KB moves where the 1 MB pages end)
    client.update_item(
        TableName="flat",
        Key={"pk": {"S": "m-0100"}},
        UpdateExpression="SET tekst = :t",
        ExpressionAttributeValues={":t": {"S": "y" * 300_000}},
    )
    compare()
    client.put_item(
        TableName="flat",
        Item={
            "pk": {"S": "m-0150x"},
            "naam": {"S": "Nieuw"},
            "regio": {"S": "Oost"},
            "nummer": {"N": "1"},
        },
    )
    client.delete_item(TableName="flat", Key={"pk": {"S": "m-0150"}})
    client.put_item(TableName="ranged", Item={"pk": {"S": "day-2"}, "sk": {"N": "5"}, "v": {"N": "0"}})
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": "flat", "Key": {"pk": {"S": "m-0008"}}}},
                {
                    "Put": {
                        "TableName": "flat",
                        "Item": {"pk": {"S": "m-0009"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    compare()
    # THEN the writes are seen (the cache did not serve a stale table)
    names = [
        i["naam"]["S"] for page in _read_everything(client, "flat", 50) for i in page["Items"] if "naam" in i
    ]
    assert "Veranderd" in names and "Nieuw" in names and "Jansen 150" not in names
    assert any(
        i["pk"]["S"] == "m-0008" for page in _read_everything(client, "flat", 50) for i in page["Items"]
    )


@pytest.fixture
def cognito_user(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str, str, str]]:
    """GIVEN a pool, its client and a signed-in user behind the patched moto: (idp, pool, client, refresh)."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(var, "testing")
    moto_patches.install_cognito_refresh_checks()
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name=REGION)
        pool = idp.create_user_pool(PoolName="p")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool,
            ClientName="console",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        idp.admin_create_user(UserPoolId=pool, Username="vrijwilliger", MessageAction="SUPPRESS")
        idp.admin_set_user_password(
            UserPoolId=pool, Username="vrijwilliger", Password="Een-goed-wachtwoord1", Permanent=True
        )
        auth = idp.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "vrijwilliger", "PASSWORD": "Een-goed-wachtwoord1"},
        )["AuthenticationResult"]
        yield idp, pool, client_id, auth["RefreshToken"]


def _refresh(idp: Any, client_id: str, token: str) -> dict[str, Any]:
    result: dict[str, Any] = idp.initiate_auth(
        ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": token}
    )
    return result


def _refused(idp: Any, client_id: str, token: str) -> str:
    with pytest.raises(idp.exceptions.NotAuthorizedException) as err:
        _refresh(idp, client_id, token)
    return str(err.value.response["Error"]["Message"])


def test_a_disabled_users_refresh_is_refused_as_cognito_does(cognito_user: Any) -> None:
    idp, pool, client_id, refresh = cognito_user
    # GIVEN an enabled user: the refresh token gives new tokens
    assert "IdToken" in _refresh(idp, client_id, refresh)["AuthenticationResult"]
    # WHEN the user is disabled THEN the refresh answers NotAuthorizedException "User is disabled."
    idp.admin_disable_user(UserPoolId=pool, Username="vrijwilliger")
    assert _refused(idp, client_id, refresh) == moto_patches.USER_DISABLED_MESSAGE
    # AND so it does once the disable has also signed them out everywhere (what our API does)
    idp.admin_user_global_sign_out(UserPoolId=pool, Username="vrijwilliger")
    assert _refused(idp, client_id, refresh) == moto_patches.USER_DISABLED_MESSAGE
    # WHEN enabled again THEN the old token stays revoked (the sign-out), with Cognito's message
    idp.admin_enable_user(UserPoolId=pool, Username="vrijwilliger")
    assert "revoked" in _refused(idp, client_id, refresh)


def test_a_global_sign_out_revokes_the_refresh_token(cognito_user: Any) -> None:
    idp, _pool, client_id, refresh = cognito_user
    # GIVEN a signed-in user WHEN they sign out everywhere with their access token
    access = _refresh(idp, client_id, refresh)["AuthenticationResult"]["AccessToken"]
    idp.global_sign_out(AccessToken=access)
    # THEN their refresh token is refused as revoked (not as disabled: they are enabled)
    assert "revoked" in _refused(idp, client_id, refresh)


def _everything(client: Any) -> list[Any]:
    return [client.scan(TableName=name, ConsistentRead=True)["Items"] for name in ("flat", "ranged")]


@pytest.mark.parametrize("light", [True, False], ids=["light backup", "moto's deep copy"])
def test_a_cancelled_transaction_leaves_every_table_as_it_was(two_tables: Any, light: bool) -> None:
    # GIVEN two tables (hash key; hash and range key) with items, behind the patched moto
    client = two_tables
    moto_patches.set_fast_reads(light)
    for n in range(5):
        client.put_item(
            TableName="flat",
            Item={"pk": {"S": f"m{n}"}, "n": {"N": str(n)}, "l": {"L": [{"S": "a"}]}},
        )
        client.put_item(TableName="ranged", Item={"pk": {"S": "d"}, "sk": {"N": str(n)}, "v": {"S": "x"}})
    before = _everything(client)
    # WHEN a transaction changes items in place, deletes, adds, and then fails its last condition
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "flat",
                        "Key": {"pk": {"S": "m1"}},
                        "UpdateExpression": "SET n = :n, l[0] = :z",
                        "ExpressionAttributeValues": {":n": {"N": "99"}, ":z": {"S": "z"}},
                    }
                },
                {"Delete": {"TableName": "flat", "Key": {"pk": {"S": "m2"}}}},
                {"Put": {"TableName": "flat", "Item": {"pk": {"S": "new"}}}},
                {
                    "Update": {
                        "TableName": "ranged",
                        "Key": {"pk": {"S": "d"}, "sk": {"N": "3"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "changed"}},
                    }
                },
                {"Delete": {"TableName": "ranged", "Key": {"pk": {"S": "d"}, "sk": {"N": "4"}}}},
                {
                    "Put": {
                        "TableName": "ranged",
                        "Item": {"pk": {"S": "d"}, "sk": {"N": "0"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    # THEN every table reads exactly as before (the in-place changes undone too)
    assert _everything(client) == before
    # and a transaction that succeeds still changes what it names
    client.transact_write_items(TransactItems=[{"Delete": {"TableName": "flat", "Key": {"pk": {"S": "m0"}}}}])
    assert len(_everything(client)[0]) == len(before[0]) - 1
