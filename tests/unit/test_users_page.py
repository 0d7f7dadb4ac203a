"""AppTest of the Users page (System_User_Management, System_CRUD) against the test API server."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from console import users_view
from console.i18n import t
from tests.unit.test_console_apptest import FakeApi, fake_api, signed_in

pytestmark = pytest.mark.unit
__all__ = ["fake_api"]  # the fixture, imported for pytest


def _users_page(user: str = "beheer") -> AppTest:
    at = signed_in(user)
    return at.switch_page("app_pages/users.py").run()


def _button(at: AppTest, label_id: str) -> AppTest:
    return next(b for b in at.button if b.label == t(label_id)).click().run()


def _texts(at: AppTest) -> str:
    return " | ".join(str(e.value) for kind in (at.error, at.warning, at.info, at.success) for e in kind)


def test_the_list_shows_users_with_their_groups_and_search_narrows_it(fake_api: FakeApi) -> None:
    at = _users_page()
    assert not at.exception
    frame = at.dataframe[0].value
    assert list(frame["username"]) == ["anna", "piet"]
    assert frame.loc[0, "regions"] == "Regio_Utrecht" and frame.loc[0, "status"] == t(
        "users.status.confirmed"
    )
    assert frame.loc[0, "last_change"] == "25-11-2026 11:00"
    # WHEN searching by email THEN only that user is listed
    at.text_input(key="users_q").input("piet@").run()
    assert list(at.dataframe[0].value["username"]) == ["piet"]


def test_changing_groups_warns_before_saving_and_needs_a_confirmation(fake_api: FakeApi) -> None:
    at = _users_page()
    at.selectbox(key="users_chosen").select("anna").run()
    # WHEN the region is taken away THEN the warning shows before anything is saved
    at.multiselect(key="edit_anna_reg").set_value([]).run()
    assert t("users.warning.no_region") in _texts(at)
    save = next(b for b in at.button if b.label == t("users.groups.save"))
    assert save.disabled  # no confirmation yet
    assert not any(c[0] == "PUT" for c in fake_api.user_calls)
    at.checkbox(key="sure_groups_anna").check().run()
    at = _button(at, "users.groups.save")
    assert ("PUT", "/users/anna/groups", {"groups": ["Members_Read"]}) in fake_api.user_calls
    assert t("users.done.groups", username="anna") in _texts(at)


def test_a_refusal_is_said_in_dutch(fake_api: FakeApi) -> None:
    at = _users_page()
    at.selectbox(key="users_chosen").select("anna").run()
    at.multiselect(key="edit_anna_perm").set_value(["Members_Read", "System_CRUD"]).run()
    at.checkbox(key="sure_groups_anna").check().run()
    at = _button(at, "users.groups.save")
    assert t("users.refused.not_held", group="System_CRUD") in _texts(at)
    assert "do not hold" not in _texts(at)


def test_invite_shows_the_temporary_password_once(fake_api: FakeApi) -> None:
    at = _users_page()
    at.text_input(key="invite_username").input("kees")
    at.text_input(key="invite_email").input("kees@example.org")
    at.multiselect(key="invite_perm").set_value(["Members_Read"])
    at.multiselect(key="invite_reg").set_value(["Regio_Utrecht"])
    at.checkbox(key="invite_sure").check()
    at = _button(at, "users.invite.submit")
    assert "kees" in fake_api.users
    assert [c.value for c in at.code] == ["Tmp-Shown-Once-1"]
    # AND it is gone at the next run
    at.run()
    assert [c.value for c in at.code] == []


def test_disable_reset_and_remove_each_need_a_confirmation(fake_api: FakeApi) -> None:
    at = _users_page()
    at.selectbox(key="users_chosen").select("piet").run()
    at.checkbox(key="sure_disable_piet").check().run()
    at = next(b for b in at.button if b.key == "do_disable_piet").click().run()
    assert not fake_api.users["piet"]["enabled"]
    at.radio(key="act_piet").set_value("remove").run()
    assert next(b for b in at.button if b.key == "do_remove_piet").disabled
    at.checkbox(key="sure_remove_piet").check().run()
    at = next(b for b in at.button if b.key == "do_remove_piet").click().run()
    assert "piet" not in fake_api.users and not at.exception


def test_refusal_texts_cover_the_api_s_reasons() -> None:
    reasons = {
        "you may not disable yourself": "users.refused.yourself",
        "you may not remove the last System_CRUD user": "users.refused.last_system_crud",
        "you may not change your own groups": "users.refused.own_groups",
        "you may not reset your own password here; ask another administrator": "users.refused.own_reset",
        "unknown group: Regio_Atlantis": "users.refused.unknown_group",
        "something new": "users.refused.other",
    }
    for reason, message in reasons.items():
        assert users_view.refusal_text(reason) == t(message), reason
