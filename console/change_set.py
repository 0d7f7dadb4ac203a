"""The change set review of `hdcn deploy`: show what a deploy would do, refuse one that loses data.

The club once lost production data when a stack update deleted a table. A CloudFormation
change set says, per resource, what an update would do before anything runs: `Action`
(Add, Modify, Remove, Import, ...) and, for a Modify, `Replacement` (True, False or
Conditional: a new resource is created and the old one deleted, which for a table, a
bucket or a user pool means a new, empty one). `hdcn deploy` executes a change set only if
no data-bearing resource is removed or replaced; otherwise it names each such resource and
deletes the change set unexecuted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Resource types whose removal or replacement loses data (members, products, jobs, exports, users).
DATA_RESOURCE_TYPES = {
    "AWS::DynamoDB::Table": "table",
    "AWS::S3::Bucket": "bucket",
    "AWS::Cognito::UserPool": "user pool",
}
REPLACING = ("True", "Conditional")


@dataclass(frozen=True)
class Change:
    """One resource change of a change set, as `describe_change_set` reports it."""

    action: str
    logical_id: str
    resource_type: str
    physical_id: str | None
    replacement: str | None
    policy_action: str | None

    @classmethod
    def from_aws(cls, change: dict[str, Any]) -> Change:
        rc = change.get("ResourceChange", {})
        return cls(
            action=str(rc.get("Action", "")),
            logical_id=str(rc.get("LogicalResourceId", "")),
            resource_type=str(rc.get("ResourceType", "")),
            physical_id=rc.get("PhysicalResourceId"),
            replacement=rc.get("Replacement"),
            policy_action=rc.get("PolicyAction"),
        )

    @property
    def data_loss(self) -> str | None:
        """Why this change loses data (None if it does not)."""
        label = DATA_RESOURCE_TYPES.get(self.resource_type)
        if label is None:
            return None
        name = f"{label} {self.logical_id}" + (f" ({self.physical_id})" if self.physical_id else "")
        if self.action == "Remove":
            return f"{name} would be removed from the stack (policy action {self.policy_action or 'Delete'})"
        if self.action == "Modify" and self.replacement in REPLACING:
            return (
                f"{name} would be replaced (Replacement {self.replacement}): a new, empty {label} "
                "instead of the one holding the data"
            )
        return None


@dataclass(frozen=True)
class Review:
    """A change set's changes and the refusals among them."""

    name: str
    status: str
    changes: list[Change]
    change_set_id: str = ""  # the ARN: what execute/delete are given (a name is ambiguous across stacks)
    # Data resources the operator lets the stack release (`--release-retained`): a Remove whose
    # policy action is Retain leaves the resource and its data in the account, outside the stack
    # (adopting an existing table or user pool instead, for example). Never a replacement.
    released: frozenset[str] = frozenset()

    @property
    def refusals(self) -> list[str]:
        return [
            reason
            for c in self.changes
            if (reason := c.data_loss)
            and not (c.action == "Remove" and c.policy_action == "Retain" and c.logical_id in self.released)
        ]

    @property
    def accepted(self) -> bool:
        return not self.refusals

    def lines(self) -> list[str]:
        """The change set as a table, then the verdict naming every refused resource."""
        out = [f"change set {self.name} ({self.status}): {len(self.changes)} change(s)"]
        rows = [("Action", "Logical ID", "Type", "Replacement")] + [
            (c.action, c.logical_id, c.resource_type, c.replacement or "-") for c in self.changes
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for row in rows:
            out.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if self.refusals:
            out.append("REFUSED: this change set would lose data:")
            out.extend(f"  - {reason}" for reason in self.refusals)
            out.append(
                "  nothing was executed; change the template (or the parameters) so these resources are "
                "kept, or move the data first"
            )
        else:
            out.append("no table, bucket or user pool is removed or replaced")
        return out


def describe(cfn: Any, stack: str, change_set: str, released: frozenset[str] = frozenset()) -> Review:
    """Every page of `describe_change_set`, once the change set is created."""
    changes: list[Change] = []
    kwargs: dict[str, Any] = {"StackName": stack, "ChangeSetName": change_set}
    while True:
        page = cfn.describe_change_set(**kwargs)
        changes.extend(Change.from_aws(c) for c in page.get("Changes", []) if c.get("Type") == "Resource")
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return Review(
        name=str(page.get("ChangeSetName", change_set)),
        status=str(page.get("Status", "")),
        changes=changes,
        change_set_id=str(page.get("ChangeSetId", change_set)),
        released=released,
    )


def newest_change_set(cfn: Any, stack: str, since: datetime) -> str | None:
    """The id of the newest complete change set of the stack created at or after `since` (sam's)."""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"StackName": stack}
    while True:
        page = cfn.list_change_sets(**kwargs)
        found.extend(page.get("Summaries", []))
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    fresh = [
        c
        for c in found
        if c.get("CreationTime") and c["CreationTime"] >= since and c.get("Status") == "CREATE_COMPLETE"
    ]
    if not fresh:
        return None
    return str(max(fresh, key=lambda c: c["CreationTime"])["ChangeSetId"])
