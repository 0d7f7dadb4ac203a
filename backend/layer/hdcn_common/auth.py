"""Who is calling: roles and regions from the verified token's claims, never from client headers.

API Gateway's Cognito authorizer verifies the ID token and passes its claims in
`requestContext.authorizer.claims`; with a REST API every claim is a string, and
`cognito:groups` arrives comma-separated. A client-sent header such as
`X-Enhanced-Groups` is never read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hdcn_common.enums import Regio

ALL_REGIONS: frozenset[str] = frozenset(r.value for r in Regio)


class Role(StrEnum):
    MEMBERS_READ = "Members_Read"
    MEMBERS_EXPORT = "Members_Export"
    MEMBERS_CRUD = "Members_CRUD"
    PRODUCTS_CRUD = "Products_CRUD"
    SYSTEM_LOGS_READ = "System_Logs_Read"
    SYSTEM_CRUD = "System_CRUD"


MEMBER_READERS = (Role.MEMBERS_READ, Role.MEMBERS_EXPORT, Role.MEMBERS_CRUD)
EXPORTERS = (Role.MEMBERS_EXPORT, Role.MEMBERS_CRUD)
OPS_READERS = (Role.SYSTEM_LOGS_READ, Role.SYSTEM_CRUD)


def parse_groups(raw: Any) -> frozenset[str]:
    """Groups as API Gateway passes them: a list, "a,b", "[a, b]" or "[a b]"."""
    if raw is None:
        return frozenset()
    if isinstance(raw, list | tuple | set | frozenset):
        return frozenset(str(g).strip() for g in raw if str(g).strip())
    text = str(raw).strip().strip("[]")
    parts = text.split(",") if "," in text else text.split()
    return frozenset(p.strip() for p in parts if p.strip())


@dataclass(frozen=True)
class Caller:
    """An authenticated user with their Cognito groups."""

    username: str
    groups: frozenset[str]

    def has(self, *roles: Role) -> bool:
        """True if the caller holds any of `roles`; System_CRUD holds every role."""
        return Role.SYSTEM_CRUD in self.groups or any(r.value in self.groups for r in roles)

    @property
    def regions(self) -> frozenset[str]:
        """Regions whose member data the caller may see (empty: none)."""
        if Role.SYSTEM_CRUD in self.groups or "Regio_All" in self.groups:
            return ALL_REGIONS
        return (
            frozenset(g.removeprefix("Regio_") for g in self.groups if g.startswith("Regio_")) & ALL_REGIONS
        )

    @property
    def all_regions(self) -> bool:
        return self.regions == ALL_REGIONS

    def may_see_region(self, regio: str | None) -> bool:
        return regio is not None and regio in self.regions

    @property
    def can_read_members(self) -> bool:
        """A permission role without a Regio_* role sees no member data."""
        return self.has(*MEMBER_READERS) and bool(self.regions)

    @property
    def can_write_members(self) -> bool:
        return self.has(Role.MEMBERS_CRUD) and bool(self.regions)

    @property
    def can_export(self) -> bool:
        return self.has(*EXPORTERS) and bool(self.regions)

    @property
    def can_read_ops(self) -> bool:
        return self.has(*OPS_READERS)


def caller_from_claims(claims: Mapping[str, Any] | None) -> Caller | None:
    """The caller from authorizer claims, or None when the request carried no verified token."""
    if not claims:
        return None
    username = str(claims.get("cognito:username") or claims.get("username") or claims.get("sub") or "")
    if not username:
        return None
    return Caller(username=username, groups=parse_groups(claims.get("cognito:groups")))


def caller_from_event(event: Mapping[str, Any]) -> Caller | None:
    """The caller of an API Gateway REST proxy event."""
    ctx = event.get("requestContext") or {}
    authorizer = ctx.get("authorizer") or {}
    return caller_from_claims(authorizer.get("claims"))
