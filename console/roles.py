"""Which console pages a user sees, from the groups in their ID token.

This only decides what to show: the API checks the verified token on every call.
The rules mirror DESIGN.md's roles: a permission role without a `Regio_*` role sees no
member data, and `System_CRUD` implies every permission and every region.
"""

from __future__ import annotations

from dataclasses import dataclass

from console import member_model
from console.i18n import N_

REGIONS: tuple[str, ...] = member_model.REGIONS  # the field catalogue's REGIO, kept in one place


@dataclass(frozen=True)
class Access:
    """What a set of Cognito groups allows, as far as the console's pages are concerned."""

    groups: frozenset[str]

    def _has(self, *roles: str) -> bool:
        return "System_CRUD" in self.groups or any(r in self.groups for r in roles)

    @property
    def regions(self) -> tuple[str, ...]:
        if "System_CRUD" in self.groups or "Regio_All" in self.groups:
            return REGIONS
        return tuple(r for r in REGIONS if f"Regio_{r}" in self.groups)

    @property
    def can_read_members(self) -> bool:
        return self._has("Members_Read", "Members_Export", "Members_CRUD") and bool(self.regions)

    @property
    def can_export(self) -> bool:
        return self._has("Members_Export", "Members_CRUD") and bool(self.regions)

    @property
    def can_write_members(self) -> bool:
        return self._has("Members_CRUD") and bool(self.regions)

    @property
    def can_write_products(self) -> bool:
        return self._has("Products_CRUD")

    @property
    def can_read_ops(self) -> bool:
        return self._has("System_Logs_Read", "System_CRUD")

    @property
    def can_manage_users(self) -> bool:
        return self._has("System_User_Management")


@dataclass(frozen=True)
class PageSpec:
    """One page of the console: its file under app_pages/, title, icon and who may see it."""

    key: str
    title: str  # a message id: the menu shows it in the user's language
    icon: str
    permission: str | None  # an Access property name; None: every signed-in user

    @property
    def filename(self) -> str:
        return f"{self.key}.py"

    def allowed(self, access: Access) -> bool:
        return self.permission is None or bool(getattr(access, self.permission))


PAGES: tuple[PageSpec, ...] = (
    PageSpec("overview", N_("nav.overview"), ":material/dashboard:", None),
    PageSpec("exports", N_("nav.exports"), ":material/table_view:", "can_read_members"),
    PageSpec("generate", N_("nav.generate"), ":material/play_circle:", "can_export"),
    PageSpec("members", N_("nav.members"), ":material/group:", "can_write_members"),
    PageSpec("products", N_("nav.products"), ":material/storefront:", "can_write_products"),
    PageSpec("stack", N_("nav.stack"), ":material/stacks:", "can_read_ops"),
    PageSpec("health", N_("nav.health"), ":material/monitor_heart:", "can_read_ops"),
    PageSpec("audit", N_("nav.audit"), ":material/policy:", "can_read_ops"),
    PageSpec("users", N_("nav.users"), ":material/manage_accounts:", "can_manage_users"),
)


def pages_for(groups: frozenset[str]) -> list[PageSpec]:
    """The pages a user with `groups` is shown, in menu order."""
    access = Access(groups)
    return [p for p in PAGES if p.allowed(access)]
