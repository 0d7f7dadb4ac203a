"""`hdcn members check [--apply]`: read a Members table the way the club left it, and make it ready.

The check reads every record and reports, per catalogue field (`hdcn_common.member_fields`),
how many values fit the stored form, how many can be normalised, how many are empty and how
many cannot be read; fields outside the catalogue; what the indexes need; the email
uniqueness records; the lidnummer counter. It prints counts, never personal data (member ids
only with `--show-ids`).

`--apply` does what this project's code needs and nothing more, each step idempotent and
safe to interrupt and run again:
1. adds the indexes `template.yaml` gives the Members table that the table lacks (DynamoDB
   builds them online from the existing items; nothing is rewritten);
2. normalises the values the indexes and lookups key on (email in lower case, regio in the
   vocabulary's spelling, lidnummer as a number), each record with one conditional update on
   the version and `updated_at` it read, so a record changed meanwhile is skipped and reported;
3. writes the missing email uniqueness records (an address two members share stays with the
   first and is reported);
4. raises the lidnummer counter to the highest lidnummer, so a new member never reuses one.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from hdcn_common.member_fields import (
    CATALOGUE_NAMES,
    FIELD_BY_NAME,
    FIELDS,
    ReadState,
    now_timestamp,
    read_value,
)
from hdcn_common.members import COUNTER_KEY, INDEX_KEYS, MemberRepository, email_key

from backend.local.template import REPO_ROOT, load_template

# The fields lookups key on: normalised by --apply (the rest is left in the form the club stored).
INDEX_FIELDS = ("email", "regio", "lidnummer")
Out = Callable[[str], None]


@dataclass
class FieldCounts:
    ok: int = 0
    normalisable: int = 0
    empty: int = 0
    invalid: int = 0


@dataclass
class CheckReport:
    """What a scan of the table found (counts; ids of records that need a person's attention)."""

    table: str
    records: int = 0
    fields: dict[str, FieldCounts] = field(default_factory=lambda: {f.name: FieldCounts() for f in FIELDS})
    outside_catalogue: Counter[str] = field(default_factory=Counter)
    to_normalise: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    unreadable: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    without_regio: list[str] = field(default_factory=list)
    claims_missing: int = 0
    shared_emails: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    highest_lidnummer: int = 0
    counter: int | None = None
    missing_indexes: list[str] = field(default_factory=list)
    # Filled by --apply.
    normalised: int = 0
    skipped_changed: list[str] = field(default_factory=list)
    claims_written: int = 0
    indexes_created: list[str] = field(default_factory=list)
    counter_raised_to: int | None = None


def template_indexes() -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The Members table's GSIs and attribute definitions as template.yaml declares them."""
    props = load_template()["Resources"]["MembersTable"]["Properties"]
    return list(props.get("GlobalSecondaryIndexes", [])), list(props["AttributeDefinitions"])


def scan_items(table: Any) -> Iterator[dict[str, Any]]:
    key = None
    while True:
        res = table.scan(**({"ExclusiveStartKey": key} if key else {}))
        yield from res.get("Items", [])
        key = res.get("LastEvaluatedKey")
        if not key:
            return


def normalised_index_values(item: dict[str, Any]) -> dict[str, Any]:
    """The index fields whose stored value should change (field → new value; None: remove it).

    An empty string cannot be an index key (DynamoDB refuses such writes and skips such items),
    and it only ever meant "unknown": it is removed.
    """
    changes: dict[str, Any] = {}
    for name in INDEX_FIELDS:
        raw = item.get(name)
        if raw == "" and name in INDEX_KEYS:
            changes[name] = None
            continue
        result = read_value(FIELD_BY_NAME[name], raw)
        if name == "email" and isinstance(raw, str) and result.state is ReadState.OK:
            key = email_key(raw)
            if key and key.removeprefix("email#") != raw:
                changes[name] = key.removeprefix("email#")
        elif result.state is ReadState.NORMALISABLE:
            changes[name] = result.value
    return changes


class MemberTableCheck:
    """The check and its repairs on one Members table and its uniqueness/counter table."""

    def __init__(self, dynamodb_client: Any, members_table: Any, keys_table: Any) -> None:
        self.client = dynamodb_client
        self.members = members_table
        self.keys = keys_table
        self.repo = MemberRepository(members_table, keys_table)

    def check(self, progress: Callable[[int], None] = lambda n: None) -> CheckReport:
        report = CheckReport(table=self.members.name)
        claimed: dict[str, str] = {}
        for item in scan_items(self.members):
            report.records += 1
            member_id = str(item.get("member_id"))
            report.outside_catalogue.update(name for name in item if name not in CATALOGUE_NAMES)
            for spec in FIELDS:
                state = read_value(spec, item.get(spec.name)).state
                setattr(
                    report.fields[spec.name], state.value, getattr(report.fields[spec.name], state.value) + 1
                )
                if state is ReadState.INVALID:
                    report.unreadable[spec.name].append(member_id)
            for name in normalised_index_values(item):
                report.to_normalise[name].append(member_id)
            regio = read_value(FIELD_BY_NAME["regio"], item.get("regio"))
            if regio.state not in (ReadState.OK, ReadState.NORMALISABLE):
                report.without_regio.append(member_id)
            number = read_value(FIELD_BY_NAME["lidnummer"], item.get("lidnummer")).value
            if isinstance(number, int):
                report.highest_lidnummer = max(report.highest_lidnummer, number)
            key = email_key(item.get("email"))
            if key:
                if key in claimed:
                    report.shared_emails[key].extend([claimed[key], member_id])
                else:
                    claimed[key] = member_id
            progress(report.records)
        report.claims_missing = self._missing_claims(claimed)
        counter = self.keys.get_item(Key={"pk": COUNTER_KEY}, ConsistentRead=True).get("Item")
        report.counter = int(counter["value"]) if counter and "value" in counter else None
        present = {
            g["IndexName"]
            for g in self.client.describe_table(TableName=self.members.name)["Table"].get(
                "GlobalSecondaryIndexes", []
            )
        }
        report.missing_indexes = [
            g["IndexName"] for g in template_indexes()[0] if g["IndexName"] not in present
        ]
        return report

    def _missing_claims(self, claimed: dict[str, str]) -> int:
        missing = 0
        keys = list(claimed)
        for start in range(0, len(keys), 100):
            batch = keys[start : start + 100]
            res = self.client.batch_get_item(
                RequestItems={
                    self.keys.name: {"Keys": [{"pk": {"S": k}} for k in batch], "ConsistentRead": True}
                }
            )
            found = {i["pk"]["S"] for i in res.get("Responses", {}).get(self.keys.name, [])}
            # Unprocessed keys count as missing: --apply writes them conditionally, so nothing is harmed.
            missing += sum(1 for k in batch if k not in found)
        return missing

    # ---------------------------------------------------------------- repairs
    def apply(
        self,
        report: CheckReport,
        progress: Callable[[int], None] = lambda n: None,
        wait_for_indexes: bool = True,
    ) -> CheckReport:
        """Make the table ready (see the module docstring); returns the report with what was done."""
        self._create_indexes(report, wait_for_indexes)
        for done, item in enumerate(scan_items(self.members), start=1):
            changes = normalised_index_values(item)
            if changes:
                if self._normalise(item, changes):
                    report.normalised += 1
                    item = {k: v for k, v in {**item, **changes}.items() if v is not None}
                else:
                    report.skipped_changed.append(str(item.get("member_id")))
            key = email_key(item.get("email"))
            if key and self._claim(key, str(item["member_id"])):
                report.claims_written += 1
            progress(done)
        highest = self.repo.highest_lidnummer()
        if self.repo.ensure_counter_above(highest):
            report.counter_raised_to = highest
        return report

    def _create_indexes(self, report: CheckReport, wait: bool) -> None:
        indexes, definitions = template_indexes()
        for index in indexes:
            if index["IndexName"] not in report.missing_indexes:
                continue
            names = {k["AttributeName"] for k in index["KeySchema"]}
            self.client.update_table(
                TableName=self.members.name,
                AttributeDefinitions=[d for d in definitions if d["AttributeName"] in names],
                GlobalSecondaryIndexUpdates=[
                    {
                        "Create": {
                            "IndexName": index["IndexName"],
                            "KeySchema": index["KeySchema"],
                            "Projection": index["Projection"],
                        }
                    }
                ],
            )
            report.indexes_created.append(index["IndexName"])
            # DynamoDB builds one new index at a time per table; the next waits for this one.
            if wait:
                self._wait_active(index["IndexName"])

    def _wait_active(self, name: str, timeout: float = 3600.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            table = self.client.describe_table(TableName=self.members.name)["Table"]
            status = {g["IndexName"]: g.get("IndexStatus") for g in table.get("GlobalSecondaryIndexes", [])}
            if status.get(name) in (None, "ACTIVE"):
                return
            time.sleep(5)
        raise SystemExit(f"index {name} is still being built; run the command again later to continue")

    def _normalise(self, item: dict[str, Any], changes: dict[str, Any]) -> bool:
        """One conditional update: only if the record is still what was read. False if it changed."""
        guard = self.repo._unchanged_guard(item, int(item.get("version", 0) or 0))
        names = dict(guard["ExpressionAttributeNames"])
        values = dict(guard.get("ExpressionAttributeValues", {}))
        sets, removes = [], []
        for n, (name, value) in enumerate(changes.items()):
            names[f"#f{n}"] = name
            if value is None:
                removes.append(f"#f{n}")
            else:
                values[f":v{n}"] = value
                sets.append(f"#f{n} = :v{n}")
        sets.append("#ver = :newver")
        sets.append("#upd = :now")
        values[":newver"] = int(item.get("version", 0) or 0) + 1
        values[":now"] = now_timestamp()
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            self.members.update_item(
                Key={"member_id": item["member_id"]},
                UpdateExpression=expression,
                ConditionExpression=guard["ConditionExpression"],
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _claim(self, key: str, member_id: str) -> bool:
        """Write the uniqueness record if nobody holds it; True if it was written now."""
        try:
            self.keys.put_item(
                Item={"pk": key, "member_id": member_id}, ConditionExpression="attribute_not_exists(pk)"
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True


# ---------------------------------------------------------------- output


def format_report(report: CheckReport, show_ids: bool) -> list[str]:
    """The report as lines a treasurer can read: counts per field, then what needs doing."""
    lines = [f"Members table {report.table}: {report.records} records", ""]
    lines.append(f"  {'field':<24}{'fits':>7}{'normalisable':>14}{'empty':>8}{'unreadable':>12}")
    for name, c in report.fields.items():
        lines.append(f"  {name:<24}{c.ok:>7}{c.normalisable:>14}{c.empty:>8}{c.invalid:>12}")
    if report.outside_catalogue:
        extra = ", ".join(f"{k} ({v})" for k, v in sorted(report.outside_catalogue.items()))
        lines += ["", f"  fields outside the catalogue (kept as they are): {extra}"]
    lines.append("")

    def ids(label: str, members: list[str]) -> None:
        lines.append(f"  {label}: {len(members)}")
        if show_ids and members:
            lines.extend(f"      {m}" for m in sorted(set(members)))

    for name, members in sorted(report.unreadable.items()):
        ids(f"unreadable {name} (shown as stored, needs a person)", members)
    for name, members in sorted(report.to_normalise.items()):
        ids(f"{name} to normalise for the indexes (--apply)", members)
    ids("without a regio in the vocabulary (only national users see them)", report.without_regio)
    shared = [m for ms in report.shared_emails.values() for m in ms]
    ids(f"members sharing an email address ({len(report.shared_emails)} addresses)", shared)
    lines.append(f"  email uniqueness records missing: {report.claims_missing}")
    lines.append(f"  indexes missing: {', '.join(report.missing_indexes) or 'none'}")
    counter = "not set" if report.counter is None else str(report.counter)
    lines.append(f"  lidnummer counter: {counter}; highest lidnummer: {report.highest_lidnummer}")
    if report.indexes_created or report.normalised or report.claims_written or report.counter_raised_to:
        lines += ["", "Applied:"]
        lines.append(f"  indexes created: {', '.join(report.indexes_created) or 'none'}")
        lines.append(f"  records normalised: {report.normalised}")
        lines.append(f"  uniqueness records written: {report.claims_written}")
        if report.counter_raised_to is not None:
            lines.append(f"  lidnummer counter raised to {report.counter_raised_to}")
    if report.skipped_changed:
        lines.append("")
        ids("records changed while this ran, skipped: run --apply again", report.skipped_changed)
    return lines


def progress_printer(total_hint: int | None, stream: TextIO = sys.stderr) -> Callable[[int], None]:
    """A one-line progress counter on a terminal (silent when output is not a terminal)."""
    if not stream.isatty():
        return lambda n: None

    def show(n: int) -> None:
        if n % 50 == 0:
            suffix = f"/{total_hint}" if total_hint else ""
            stream.write(f"\r  {n}{suffix} records")
            stream.flush()

    return show


# ---------------------------------------------------------------- command


def _tables(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(client, members table, keys table) of the local stack or of AWS (the stack's outputs or names)."""
    import boto3

    from console.ops_cmd import _use_local

    if _use_local(args) and not args.members_table:
        from backend.local.deploy import aws_client
        from backend.local.up import read_state

        state = read_state(Path(args.state_dir))
        client = aws_client("dynamodb", state["aws_endpoint"])
        resource = boto3.resource(
            "dynamodb",
            endpoint_url=state["aws_endpoint"],
            region_name=state["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fixed local credentials
        )
        outputs = state["outputs"]
        return (
            client,
            resource.Table(outputs["MembersTableName"]),
            resource.Table(outputs["MemberKeysTableName"]),
        )
    session = boto3.session.Session(region_name=args.region)
    members, keys = args.members_table, args.keys_table
    if not members or not keys:
        outputs = {
            o["OutputKey"]: o["OutputValue"]
            for o in session.client("cloudformation")
            .describe_stacks(StackName=args.stack)["Stacks"][0]
            .get("Outputs", [])
        }
        members = members or outputs["MembersTableName"]
        keys = keys or outputs["MemberKeysTableName"]
    resource = session.resource("dynamodb")
    return session.client("dynamodb"), resource.Table(members), resource.Table(keys)


def cmd_check(args: argparse.Namespace, out: Out = print) -> int:
    """Report (and with --apply, repair); exit 0 when the table is ready for this project's code."""
    client, members, keys = _tables(args)
    check = MemberTableCheck(client, members, keys)
    report = check.check(progress_printer(None))
    if args.apply:
        report = check.apply(report, progress_printer(report.records))
        report.missing_indexes = [i for i in report.missing_indexes if i not in report.indexes_created]
        report.claims_missing = 0
    if sys.stderr.isatty():
        sys.stderr.write("\r")
    for line in format_report(report, args.show_ids):
        out(line)
    ready = (
        not report.missing_indexes and (args.apply or not report.to_normalise) and not report.skipped_changed
    )
    return 0 if ready else 1


def register(sub: Any) -> None:
    members = sub.add_parser("members", help="the Members table: check and prepare a table taken over")
    msub = members.add_subparsers(dest="members_command", required=True)
    check = msub.add_parser("check", help="report per field what fits; --apply makes the table ready")
    check.add_argument("--apply", action="store_true", help="add indexes, normalise index fields, claims")
    check.add_argument("--show-ids", action="store_true", help="list member ids (no other personal data)")
    target = check.add_mutually_exclusive_group()
    target.add_argument("--local", action="store_true", help="the running local stack (default if it runs)")
    target.add_argument("--aws", action="store_true", help="AWS with your credentials")
    check.add_argument("--stack", default="webshop-backend")
    check.add_argument("--region", default="eu-west-1")
    check.add_argument("--members-table", help="table name (default: the stack's MembersTableName output)")
    check.add_argument("--keys-table", help="table name (default: the stack's MemberKeysTableName output)")
    check.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".hdcn")
    check.set_defaults(func=cmd_check)
