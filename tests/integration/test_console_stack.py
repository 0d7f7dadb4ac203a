"""The console (AppTest) against the session's local stack: real Cognito login, real API, real exports."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
import streamlit as st
from streamlit.testing.v1 import AppTest

from console.api_client import ApiClient
from console.i18n import t

pytestmark = pytest.mark.integration

APP = str(Path(__file__).resolve().parents[2] / "console" / "streamlit_app.py")
EXPECTED = {
    "admin": {"overview", "exports", "generate"},
    "regio-utrecht": {"overview", "exports"},
    "staff": {"overview", "exports", "generate", "members", "products"},
    "ops": {"overview", "stack", "health", "audit"},
    "root": {"overview", "exports", "generate", "members", "products", "stack", "health", "audit", "users"},
    "beheer": {"overview", "users"},
}


def point_console_at(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment `hdcn local up` gives the console for `stack`, and empty process-wide caches."""
    monkeypatch.setenv("HDCN_API_URL", stack["api_url"])
    monkeypatch.setenv("HDCN_REGION", stack["region"])
    monkeypatch.setenv("HDCN_USER_POOL_ID", stack["outputs"]["UserPoolId"])
    monkeypatch.setenv("HDCN_CLIENT_ID", stack["outputs"]["UserPoolClientId"])
    monkeypatch.setenv("HDCN_COGNITO_ENDPOINT", stack["aws_endpoint"])
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def console_env(local_stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The console pointed at the session's local stack."""
    point_console_at(local_stack, monkeypatch)
    return local_stack


def sign_in(user: str, password: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.text_input(key="login_username").input(user)
    at.text_input(key="login_password").input(password)
    next(b for b in at.button if b.label == t("login.submit")).click().run()
    return at


def button(at: AppTest, msgid: str) -> Any:
    return next(b for b in at.button if b.label == t(msgid))


def page_keys(at: AppTest) -> set[str]:
    return {Path(str(i["script_path"])).stem for i in at._registered_pages.values() if i.get("script_path")}


@pytest.mark.parametrize("user", sorted(EXPECTED))
def test_demo_user_signs_in_and_every_page_renders(console_env: dict[str, Any], user: str) -> None:
    # GIVEN a demo user WHEN they sign in with the pool THEN they get exactly their pages
    at = sign_in(user, console_env["demo_password"])
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert page_keys(at) == EXPECTED[user]
    # WHEN each page is opened THEN none raises or shows an API error
    for key in sorted(EXPECTED[user]):
        at.switch_page(f"app_pages/{key}.py").run()
        assert not at.exception, (user, key, at.exception)
        # (a failing health check is reported in red on Overview and Health; that is information)
        assert not [e for e in at.error if key not in ("overview", "health")], (
            user,
            key,
            [e.value for e in at.error],
        )


def test_wrong_password_is_said_plainly(console_env: dict[str, Any]) -> None:
    at = sign_in("staff", "Not-the-password-1")
    assert [e.value for e in at.error] == [t("login.error.wrong_password")]
    assert page_keys(at) == {"login"}


def test_staff_exports_and_regional_user_previews_only_utrecht(console_env: dict[str, Any]) -> None:
    # GIVEN staff on Generate WHEN they start an export and the page follows it
    at = sign_in("staff", console_env["demo_password"])
    at.switch_page("app_pages/generate.py").run()
    button(at, "generate.start").click().run()
    assert "watch_job" in at.session_state, [e.value for e in at.error]
    deadline = time.monotonic() + 120
    while "watch_job" in at.session_state and time.monotonic() < deadline:
        time.sleep(1)
        at.run()
    # THEN it ends succeeded
    assert any(t("job.label.succeeded") in str(s.value) for s in at.success), [e.value for e in at.error]
    # WHEN staff previews the newest export THEN it holds every region
    at.switch_page("app_pages/exports.py").run()
    assert not at.exception
    assert len(set(at.dataframe[0].value["regio"].astype(str))) > 1
    # AND regio-utrecht's preview of the same export holds Utrecht rows only
    utrecht = sign_in("regio-utrecht", console_env["demo_password"])
    utrecht.switch_page("app_pages/exports.py").run()
    table = utrecht.dataframe[0].value
    assert len(table) > 0 and set(table["regio"].astype(str)) == {"Utrecht"}


def test_staff_edit_conflict_against_the_members_api(console_env: dict[str, Any]) -> None:
    # GIVEN staff on Members with a member of the first page opened for editing
    at = sign_in("staff", console_env["demo_password"])
    at.switch_page("app_pages/members.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    api = ApiClient(console_env["api_url"], at.session_state["tokens"].id_token, requests.Session())
    members, _ = api.list_members(limit=5)
    member = api.get_member(str(members[0]["member_id"]))
    member_id, version = str(member["member_id"]), int(member["version"])
    at.selectbox(key="mem_chosen").select(member_id).run()
    # WHEN another session saves the member first, and then staff saves their change
    api.update_member(member_id, {"woonplaats": "Zeist"}, version)
    at.text_area(key=f"mem_{member_id}_{version}_notities").input("console conflict test")
    button(at, "form.save").click().run()
    # THEN the console says so plainly and nothing was overwritten
    assert any("**niet** opgeslagen" in str(w.value) for w in at.warning), [w.value for w in at.warning]
    assert api.get_member(member_id).get("notities") in (None, "")
    # WHEN staff reloads and saves again THEN the change lands on the current version
    button(at, "form.reload").click().run()
    at.text_area(key=f"mem_{member_id}_{version + 1}_notities").input("console conflict test")
    button(at, "form.save").click().run()
    assert not at.warning and not at.exception
    saved = api.get_member(member_id)
    assert saved["notities"] == "console conflict test" and saved["woonplaats"] == "Zeist"
    assert int(saved["version"]) == version + 2


def test_members_of_the_current_and_the_renamed_api_read_alike(console_env: dict[str, Any]) -> None:
    # GIVEN a member as the API gives it now (`lid_sinds` until main has the rename, then `ingangsdatum`)
    at = sign_in("staff", console_env["demo_password"])
    api = ApiClient(console_env["api_url"], at.session_state["tokens"].id_token, requests.Session())
    members, _ = api.list_members(limit=1)
    member = api.get_member(str(members[0]["member_id"]))
    start = member.get("ingangsdatum", member.get("lid_sinds"))
    # WHEN staff opens it THEN the form shows the membership start as d-m-jjjj under the club's name
    at.switch_page("app_pages/members.py").run()
    at.selectbox(key="mem_chosen").select(str(member["member_id"])).run()
    assert not at.exception
    shown = str(at.text_input(key=f"mem_{member['member_id']}_{member['version']}_ingangsdatum").value)
    if start:
        day, month, year = shown.split("-")
        assert f"{year}-{int(month):02d}-{int(day):02d}" == str(start)[:10]
    assert (
        at.text_input(key=f"mem_{member['member_id']}_{member['version']}_ingangsdatum").label
        == "Ingangsdatum"
    )
