"""Authorization matrix: every template route, called as every demo user and as nobody.

`MATRIX` maps (method, path with sample ids) to the status each caller must get. To add a
route, add one row: the path may use the placeholders in `_samples` (or a literal id), and
an expected value is a status or a tuple of acceptable statuses. A test fails when a
template route has no row, so new routes cannot go unchecked.
Writes act on records made for that one call (`{fresh_member}`, `{fresh_product}`), so the
matrix never changes data other tests rely on.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from backend.local.template import load_template, routes
from tests.integration.test_members_api import new_member

pytestmark = pytest.mark.integration

Api = Callable[..., requests.Response]
Expected = int | tuple[int, ...]
# staff-utrecht is a regional writer: Members_CRUD with Regio_Utrecht only.
# beheer manages users only: System_User_Management, no permission on data.
CALLERS: tuple[str | None, ...] = (
    "admin",
    "regio-utrecht",
    "staff",
    "staff-utrecht",
    "ops",
    "root",
    None,
    "beheer",
)


def by_caller(
    admin: Expected,
    utrecht: Expected,
    staff: Expected,
    staff_utrecht: Expected,
    ops: Expected,
    root: Expected,
    nobody: Expected,
    beheer: Expected = 403,
) -> dict[str | None, Expected]:
    """One row, in the order of CALLERS; `beheer` (System_User_Management only) is 403 unless given."""
    row = (admin, utrecht, staff, staff_utrecht, ops, root, nobody, beheer)
    return dict(zip(CALLERS, row, strict=True))


def everyone(status: Expected) -> dict[str | None, Expected]:
    return dict.fromkeys(CALLERS, status)


USER_MANAGERS = by_caller(403, 403, 403, 403, 403, 200, 401, beheer=200)


# Readers of members: Members_Read/Export/CRUD with a region, and System_CRUD.
MEMBER_READERS = by_caller(200, 200, 200, 200, 403, 200, 401)
MEMBER_WRITE = by_caller(403, 403, 200, 200, 403, 200, 401)
PRODUCT_WRITE = by_caller(403, 403, 200, 403, 403, 200, 401)
EXPORTERS = by_caller(200, 403, 200, 200, 403, 200, 401)
OPS = by_caller(403, 403, 403, 403, 200, 200, 401)

MATRIX: dict[tuple[str, str], dict[str | None, Expected]] = {
    ("GET", "/health"): everyone(200),
    # ------------------------------------------------------------ members
    ("GET", "/members"): MEMBER_READERS,
    # The body is a Utrecht member (see BODIES); other regions: test_regional_writer_* below.
    ("POST", "/members"): by_caller(403, 403, 201, 201, 403, 201, 401),
    ("GET", "/members/{utrecht_member}"): MEMBER_READERS,
    # A member outside a regional reader's regions is 404 to them, as if it did not exist.
    ("GET", "/members/{noord_holland_member}"): by_caller(200, 404, 200, 404, 403, 200, 401),
    ("PUT", "/members/{fresh_member}"): MEMBER_WRITE,
    ("DELETE", "/members/{fresh_member}"): by_caller(403, 403, 204, 204, 403, 204, 401),
    ("GET", "/members/{utrecht_member}/data-export"): MEMBER_WRITE,
    # Erasure: Members_CRUD for the member's region; each call erases a member made for it.
    ("POST", "/members/{fresh_member}/erase"): by_caller(403, 403, 202, 202, 403, 202, 401),
    ("POST", "/members/{fresh_noord_holland_member}/erase"): by_caller(403, 403, 202, 404, 403, 202, 401),
    # The erasure of a member whose record is gone: the region stored on the erasure still decides.
    ("GET", "/members/{erased_noord_holland_member}/erase"): by_caller(403, 403, 200, 404, 403, 200, 401),
    # ------------------------------------------------------------ products
    ("GET", "/products"): everyone(200),
    ("GET", "/products/{product}"): everyone(200),
    ("POST", "/products"): by_caller(403, 403, 201, 403, 403, 201, 401),
    ("PUT", "/products/{fresh_product}"): PRODUCT_WRITE,
    ("DELETE", "/products/{fresh_product}"): by_caller(403, 403, 204, 403, 403, 204, 401),
    # ------------------------------------------------------------ analytics
    # A trigger is 202, or 409 while another export runs; the test waits for the job it started.
    ("POST", "/analytics/generate-parquet"): by_caller(
        (202, 409), 403, (202, 409), (202, 409), 403, (202, 409), 401
    ),
    ("GET", "/analytics/jobs"): EXPORTERS,
    ("GET", "/analytics/jobs/{missing_job}"): by_caller(404, 403, 404, 404, 403, 404, 401),
    ("GET", "/analytics/exports"): MEMBER_READERS,
    # 404 until a first export exists.
    ("GET", "/analytics/download-parquet/latest"): by_caller(
        (200, 404), (200, 404), (200, 404), (200, 404), 403, (200, 404), 401
    ),
    # ------------------------------------------------------------ operations
    ("GET", "/ops/stack"): OPS,
    ("GET", "/ops/health"): OPS,
    ("GET", "/audit"): OPS,
    # ------------------------------------------------------------ users (System_User_Management, System_CRUD)
    ("GET", "/users"): USER_MANAGERS,
    ("POST", "/users"): by_caller(403, 403, 403, 403, 403, 201, 401, beheer=201),
    ("GET", "/users/{fresh_user}"): USER_MANAGERS,
    ("PUT", "/users/{fresh_user}/groups"): USER_MANAGERS,
    ("POST", "/users/{fresh_user}/disable"): USER_MANAGERS,
    ("POST", "/users/{fresh_user}/enable"): USER_MANAGERS,
    ("POST", "/users/{fresh_user}/reset-password"): USER_MANAGERS,
    ("DELETE", "/users/{fresh_user}"): by_caller(403, 403, 403, 403, 403, 204, 401, beheer=204),
}

BODIES: dict[tuple[str, str], Callable[[], dict[str, Any]]] = {
    ("POST", "/members"): lambda: new_member(),
    ("PUT", "/members/{fresh_member}"): lambda: {"woonplaats": "Utrecht"},
    ("POST", "/products"): lambda: {
        "name": f"Matrix {uuid.uuid4().hex[:6]}",
        "price_cents": 100,
        "category": "Test",
    },
    ("PUT", "/products/{fresh_product}"): lambda: {"stock": 5},
    ("POST", "/analytics/generate-parquet"): lambda: {"regio": "Utrecht"},
    # Groups the user manager holds, so both managers may grant them.
    ("POST", "/users"): lambda: _new_user(),
    ("PUT", "/users/{fresh_user}/groups"): lambda: {"groups": ["System_User_Management"]},
}


def _new_user() -> dict[str, Any]:
    name = f"matrix-{uuid.uuid4().hex[:10]}"
    return {"username": name, "email": f"{name}@example.nl", "groups": ["System_User_Management"]}


PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def _samples(api: Api) -> dict[str, Callable[[], str]]:
    """How each placeholder gets its id (fresh ones are made anew for every call)."""

    def member(regio: str, postcode: str) -> str:
        resp = api("POST", "/members", user="staff", json=new_member(regio, postcode=postcode))
        assert resp.status_code == 201, resp.text
        return str(resp.json()["member_id"])

    def product() -> str:
        resp = api(
            "POST", "/products", user="staff", json={"name": "Matrix", "price_cents": 1, "category": "Test"}
        )
        assert resp.status_code == 201, resp.text
        return str(resp.json()["product_id"])

    def user() -> str:
        resp = api("POST", "/users", user="root", json=_new_user())
        assert resp.status_code == 201, resp.text
        return str(resp.json()["user"]["username"])

    listed = api("GET", "/products").json()["products"]
    catalogue_id = str(listed[0]["product_id"])
    utrecht, noord_holland = member("Utrecht", "3511 AB"), member("Noord-Holland", "1011 AB")
    erased = member("Noord-Holland", "1011 AB")
    resp = api("POST", f"/members/{erased}/erase", user="root")
    assert resp.status_code == 202, resp.text
    return {
        "utrecht_member": lambda: utrecht,
        "noord_holland_member": lambda: noord_holland,
        "fresh_member": lambda: member("Utrecht", "3511 AB"),
        "fresh_noord_holland_member": lambda: member("Noord-Holland", "1011 AB"),
        "erased_noord_holland_member": lambda: erased,
        "product": lambda: catalogue_id,
        "fresh_product": product,
        "missing_job": lambda: "20200101T000000Z-00000000",
        "fresh_user": user,
    }


@pytest.fixture(scope="module")
def samples(api: Api) -> dict[str, Callable[[], str]]:
    return _samples(api)


def _wait_for_job(api: Api, job_id: str) -> None:
    """Let an export the matrix started finish, so no other test finds one running."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = api("GET", f"/analytics/jobs/{job_id}", user="root").json().get("state")
        if state in ("succeeded", "failed"):
            return
        time.sleep(0.5)
    raise AssertionError("export started by the matrix did not finish")


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c or "nobody")
@pytest.mark.parametrize("key", list(MATRIX), ids=lambda k: f"{k[0]} {k[1]}")
def test_route_answers_each_caller_as_the_matrix_says(
    api: Api, samples: dict[str, Callable[[], str]], key: tuple[str, str], caller: str | None
) -> None:
    # GIVEN a route with sample ids and a caller
    method, template_path = key
    path = PLACEHOLDER.sub(lambda m: samples[m.group(1)](), template_path)
    body = BODIES[key]() if key in BODIES else None
    headers = {"If-Match": "1"} if method in ("PUT", "DELETE") and "fresh" in template_path else {}
    # WHEN the caller calls it
    resp = api(method, path, user=caller, json=body, headers=headers)
    # THEN the status is the matrix's, and errors come in the API's one shape
    expected = MATRIX[key][caller]
    allowed = expected if isinstance(expected, tuple) else (expected,)
    assert resp.status_code in allowed, f"{method} {path} as {caller}: {resp.status_code} {resp.text[:300]}"
    if resp.status_code >= 400:
        assert set(resp.json()["error"]) >= {"code", "message"}
    if key == ("POST", "/analytics/generate-parquet") and resp.status_code == 202:
        _wait_for_job(api, str(resp.json()["job_id"]))


def test_every_template_route_has_a_row() -> None:
    # GIVEN the template's routes WHEN matched against the matrix's paths THEN none is missing
    rows = [(m, PLACEHOLDER.sub("sample", p)) for m, p in MATRIX]
    missing = [
        f"{r.method} {r.path}"
        for r in routes(load_template())
        if not any(m == r.method and r.pattern.match(p) for m, p in rows)
    ]
    assert not missing, f"add rows to MATRIX for: {missing}"
    assert all(set(row) == set(CALLERS) for row in MATRIX.values())


def test_regional_writer_may_not_create_or_move_members_outside_their_regions(
    api: Api, samples: dict[str, Callable[[], str]]
) -> None:
    # GIVEN a regional writer (Members_CRUD with Regio_Utrecht only)
    # WHEN they create a member in another region THEN 403, and nothing was created
    body = new_member("Noord-Holland", postcode="1011 AB")
    created = api("POST", "/members", user="staff-utrecht", json=body)
    assert created.status_code == 403, created.text
    assert created.json()["error"]["code"]
    found = api("GET", "/members", user="root", params={"email": body["email"]}).json()["members"]
    assert found == []
    # WHEN they move a member of their region into another region THEN 403, and it stays where it was
    member_id = samples["fresh_member"]()
    moved = api(
        "PUT", f"/members/{member_id}", user="staff-utrecht", json={"regio": "Noord-Holland", "version": 1}
    )
    assert moved.status_code == 403, moved.text
    stored = api("GET", f"/members/{member_id}", user="root").json()
    assert stored["regio"] == "Utrecht" and stored["version"] == 1
    # AND the same writer may change that member within their region
    kept = api(
        "PUT", f"/members/{member_id}", user="staff-utrecht", json={"woonplaats": "Zeist", "version": 1}
    )
    assert kept.status_code == 200, kept.text
