"""The console's only way to the backend: the Lambda API over HTTPS with the user's ID token.

Every failure becomes an `ApiError` carrying the API's error shape
(`{"error": {"code", "message", "details"}}`), so pages can show it plainly: a route
the gateway does not know yet (403 `MISSING_AUTHENTICATION_TOKEN`), a conflict (409),
an unreachable API. Presigned S3 URLs are fetched with a plain GET, no credentials.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

DEFAULT_TIMEOUT = 30.0


def api_url_from_env() -> str:
    return os.environ.get("HDCN_API_URL", "http://127.0.0.1:3000").rstrip("/")


class ApiError(Exception):
    """An API call that did not succeed, with the API's code and message."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    @property
    def endpoint_missing(self) -> bool:
        """The gateway has no such route (API Gateway answers this for unknown paths)."""
        return self.status == 403 and self.code.upper() == "MISSING_AUTHENTICATION_TOKEN"

    @property
    def unreachable(self) -> bool:
        return self.status == 0

    def user_message(self) -> str:
        """One line for the page."""
        if self.unreachable:
            return f"The API cannot be reached ({self.message}). Is the stack running?"
        if self.endpoint_missing:
            return "This API endpoint does not exist on the deployed stack yet."
        if self.status == 401:
            return "Your session is no longer valid; sign in again."
        if self.status == 403:
            return f"Not allowed: {self.message}"
        return f"{self.message} ({self.status} {self.code})"


@dataclass(frozen=True)
class ApiClient:
    """Calls to MyApi for one user (their ID token) over a shared `requests.Session`."""

    base_url: str
    id_token: str | None
    session: requests.Session
    timeout: float = DEFAULT_TIMEOUT

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """One call; the decoded JSON body on 2xx, else ApiError."""
        send = dict(headers or {})
        if self.id_token:
            send["Authorization"] = self.id_token
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "", [])}
        try:
            resp = self.session.request(
                method,
                f"{self.base_url}{path}",
                params=clean or None,
                json=body,
                headers=send,
                timeout=self.timeout,
            )
        except requests.RequestException as err:
            raise ApiError(0, "unreachable", type(err).__name__) from None
        try:
            data: Any = resp.json() if resp.content else None
        except ValueError:
            data = None
        if 200 <= resp.status_code < 300:
            return data
        err_body = data.get("error") if isinstance(data, dict) else None
        if isinstance(err_body, dict):
            raise ApiError(
                resp.status_code,
                str(err_body.get("code") or "error"),
                str(err_body.get("message") or resp.reason),
                err_body.get("details"),
            )
        if isinstance(data, dict) and "message" in data:
            raise ApiError(resp.status_code, "error", str(data["message"]))
        raise ApiError(resp.status_code, "error", resp.reason or "request failed")

    # ------------------------------------------------------------------ public
    def health(self) -> dict[str, Any]:
        return dict(self.request("GET", "/health") or {})

    # ------------------------------------------------------------------ members
    def list_members(
        self,
        *,
        limit: int = 50,
        cursor: str | None = None,
        regio: str | None = None,
        status: str | None = None,
        lidmaatschap: str | None = None,
        q: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of members and the cursor of the next page (None at the end)."""
        params = {
            "limit": limit,
            "cursor": cursor,
            "regio": regio,
            "status": status,
            "lidmaatschap": lidmaatschap,
            "q": q,
        }
        return _page(self.request("GET", "/members", params=params), "members")

    def get_member(self, member_id: str) -> dict[str, Any]:
        return _entity(self.request("GET", f"/members/{quote(member_id, safe='')}"), "member")

    def create_member(self, fields: dict[str, Any]) -> dict[str, Any]:
        return _entity(self.request("POST", "/members", body=fields), "member")

    def update_member(self, member_id: str, fields: dict[str, Any], version: int) -> dict[str, Any]:
        return self._update_versioned("members", member_id, fields, version, "member")

    def delete_member(self, member_id: str, version: int | None = None) -> None:
        self._delete_versioned("members", member_id, version)

    def member_data_export(self, member_id: str) -> dict[str, Any]:
        """Everything held about one member (an AVG access request), as the API answers it."""
        return dict(self.request("GET", f"/members/{quote(member_id, safe='')}/data-export") or {})

    def erase_member(self, member_id: str, version: int | None = None) -> dict[str, Any]:
        """Start erasing a member's personal data (202 with the erasure; a stale version gets 409)."""
        headers = {"If-Match": str(version)} if version is not None else None
        path = f"/members/{quote(member_id, safe='')}/erase"
        return _entity(self.request("POST", path, headers=headers), "erasure")

    def member_erasure(self, member_id: str) -> dict[str, Any]:
        """The member's latest erasure (404 when none was ever asked for)."""
        return _entity(self.request("GET", f"/members/{quote(member_id, safe='')}/erase"), "erasure")

    # ------------------------------------------------------------------ access log
    def audit(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        user: str | None = None,
        action: str | None = None,
        member: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the access log, newest first, and the cursor of the next page (None at the end)."""
        params = {
            "since": since,
            "until": until,
            "user": user,
            "action": action,
            "member": member,
            "limit": limit,
            "cursor": cursor,
        }
        return _page(self.request("GET", "/audit", params=params), "entries")

    # ------------------------------------------------------------------ products
    def list_products(
        self, *, limit: int = 200, cursor: str | None = None, include_inactive: bool = True
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the catalogue; staff see inactive products too."""
        params = {"limit": limit, "cursor": cursor, "include_inactive": "true" if include_inactive else None}
        return _page(self.request("GET", "/products", params=params), "products")

    def all_products(self, max_pages: int = 20) -> list[dict[str, Any]]:
        """The whole catalogue (small: a club shop), page after page."""
        items, cursor = self.list_products()
        for _ in range(max_pages - 1):
            if cursor is None:
                break
            more, cursor = self.list_products(cursor=cursor)
            items.extend(more)
        return items

    def create_product(self, fields: dict[str, Any]) -> dict[str, Any]:
        return _entity(self.request("POST", "/products", body=fields), "product")

    def update_product(self, product_id: str, fields: dict[str, Any], version: int) -> dict[str, Any]:
        return self._update_versioned("products", product_id, fields, version, "product")

    def delete_product(self, product_id: str, version: int | None = None) -> None:
        self._delete_versioned("products", product_id, version)

    # ------------------------------------------------------------------ versioned records
    def _update_versioned(
        self, collection: str, record_id: str, fields: dict[str, Any], version: int, name: str
    ) -> dict[str, Any]:
        """PUT with the version that was read, in the body and as If-Match: a stale version gets 409."""
        body = {**fields, "version": version}
        path = f"/{collection}/{quote(record_id, safe='')}"
        return _entity(self.request("PUT", path, body=body, headers={"If-Match": str(version)}), name)

    def _delete_versioned(self, collection: str, record_id: str, version: int | None) -> None:
        """DELETE, with If-Match when the version read is known (a stale one gets 409)."""
        headers = {"If-Match": str(version)} if version is not None else None
        self.request("DELETE", f"/{collection}/{quote(record_id, safe='')}", headers=headers)

    # ------------------------------------------------------------------ exports
    def generate_export(self, options: dict[str, Any]) -> dict[str, Any]:
        """Start an export job (202 with its id; a running job is returned instead of a duplicate)."""
        return dict(self.request("POST", "/analytics/generate-parquet", body=options) or {})

    def job(self, job_id: str) -> dict[str, Any]:
        return _entity(self.request("GET", f"/analytics/jobs/{quote(job_id, safe='')}"), "job")

    def jobs(self) -> list[dict[str, Any]]:
        items, _ = _page(self.request("GET", "/analytics/jobs"), "jobs")
        return items

    def exports(self) -> list[dict[str, Any]]:
        items, _ = _page(self.request("GET", "/analytics/exports"), "exports")
        return items

    def download_files(self, export_id: str) -> dict[str, Any]:
        """Presigned URLs to the export's files of the caller's regions."""
        return dict(self.request("GET", f"/analytics/download-parquet/{quote(export_id, safe='')}") or {})

    # ------------------------------------------------------------------ users
    def list_users(self, query: str | None = None) -> list[dict[str, Any]]:
        items, _ = _page(self.request("GET", "/users", params={"q": query}), "users")
        return items

    def invite_user(self, username: str, email: str, groups: list[str]) -> dict[str, Any]:
        """A new user; the answer's `temporary_password` is set only where the stack shows it."""
        body = {"username": username, "email": email, "groups": groups}
        return dict(self.request("POST", "/users", body=body) or {})

    def set_user_groups(self, username: str, groups: list[str]) -> dict[str, Any]:
        return dict(
            self.request("PUT", f"/users/{quote(username, safe='')}/groups", body={"groups": groups}) or {}
        )

    def user_action(self, username: str, action: str) -> dict[str, Any]:
        """disable, enable or reset-password."""
        return dict(self.request("POST", f"/users/{quote(username, safe='')}/{action}") or {})

    def remove_user(self, username: str) -> None:
        self.request("DELETE", f"/users/{quote(username, safe='')}")

    # ------------------------------------------------------------------ ops
    def ops_stack(self) -> dict[str, Any]:
        return dict(self.request("GET", "/ops/stack") or {})

    def ops_health(self) -> dict[str, Any]:
        return dict(self.request("GET", "/ops/health") or {})


def _page(data: Any, name: str) -> tuple[list[dict[str, Any]], str | None]:
    """Items and next cursor of a list response (`{"<name>"|"items": [...], "next_cursor"|"cursor"}`)."""
    if isinstance(data, list):
        return data, None
    if not isinstance(data, dict):
        return [], None
    items = data.get(name)
    if items is None:
        items = data.get("items", [])
    cursor = data.get("next_cursor") or data.get("cursor") or None
    return list(items or []), (str(cursor) if cursor else None)


def _entity(data: Any, name: str) -> dict[str, Any]:
    """A single entity, whether sent bare or wrapped as `{"<name>": {...}}`."""
    if isinstance(data, dict) and isinstance(data.get(name), dict):
        return dict(data[name])
    return dict(data or {})


def fetch_presigned(session: requests.Session, url: str, timeout: float = 120.0) -> bytes:
    """The bytes behind a presigned S3 URL (plain GET: the signature is in the URL)."""
    try:
        resp = session.get(url, timeout=timeout)
    except requests.RequestException as err:
        raise ApiError(0, "unreachable", f"download failed: {type(err).__name__}") from None
    if resp.status_code != 200:
        raise ApiError(resp.status_code, "download_failed", "the export file could not be downloaded")
    return resp.content
