"""Users (System_User_Management, System_CRUD): who may use the console and the API, and their groups.

Every change goes through the API, which checks the guards (no granting what you do not hold,
not yourself, not the last System_CRUD) and logs it; each change here needs a confirmation.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from console import ui, users_view
from console.api_client import ApiError
from console.i18n import t

NOTICE = "users_notice"
# A temporary password the API showed (local stack only): shown once, then forgotten.
SHOWN_ONCE = "users_temporary_password"


def refused(err: ApiError) -> None:
    """A failed change: a 403's reason in Dutch where known, else the plain API error."""
    if err.status == 403 and not err.endpoint_missing:
        st.error(users_view.refusal_text(err.message), icon=":material/block:")
    else:
        ui.show_api_error(err, t("what.users"))


def done(message: str, result: dict[str, Any] | None = None) -> None:
    """Remember what happened (and a temporary password, once) and show the list anew."""
    st.session_state[NOTICE] = message
    if result and result.get("temporary_password"):
        st.session_state[SHOWN_ONCE] = (result["user"]["username"], result["temporary_password"])
    st.rerun()


def group_inputs(prefix: str, current: list[str]) -> list[str]:
    """Permission and region pickers; the region warning shows before saving."""
    permissions = st.multiselect(
        t("users.permissions"),
        users_view.PERMISSION_GROUPS,
        default=[g for g in current if g in users_view.PERMISSION_GROUPS],
        key=f"{prefix}_perm",
        placeholder=t("users.choose"),
    )
    regions = st.multiselect(
        t("users.regions"),
        users_view.REGION_GROUPS,
        default=[g for g in current if g in users_view.REGION_GROUPS],
        key=f"{prefix}_reg",
        placeholder=t("users.choose"),
    )
    groups = [*permissions, *regions]
    if users_view.needs_region_warning(groups):
        st.warning(t("users.warning.no_region"), icon=":material/warning:")
    return groups


st.title(t("users.title"))
st.caption(t("users.caption"))
if notice := st.session_state.pop(NOTICE, None):
    st.success(notice)
if shown := st.session_state.pop(SHOWN_ONCE, None):
    st.info(t("users.temporary_password", username=shown[0]), icon=":material/key:")
    st.code(shown[1], language=None)

try:
    users = ui.client().list_users()
except ApiError as err:
    ui.show_api_error(err, t("what.users"))
    st.stop()

query = st.text_input(t("users.search"), key="users_q", max_chars=100)
shown_users = [u for u in users if users_view.matches(u, query)]
if not shown_users:
    st.info(t("users.no_match") if query.strip() else t("users.none"))
else:
    frame = users_view.user_frame(shown_users)
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={c: st.column_config.TextColumn(t(m)) for c, m in users_view.COLUMN_LABELS.items()},
    )

with st.expander(t("users.invite.title"), icon=":material/person_add:"):
    with st.form("users_invite", clear_on_submit=False):
        username = st.text_input(t(users_view.COLUMN_LABELS["username"]), key="invite_username", max_chars=64)
        email = st.text_input(t(users_view.COLUMN_LABELS["email"]), key="invite_email", max_chars=254)
        groups = group_inputs("invite", [])
        sure = st.checkbox(t("users.confirm"), key="invite_sure")
        sent = st.form_submit_button(t("users.invite.submit"), type="primary")
    if sent:
        if not sure:
            st.warning(t("users.confirm_first"))
        else:
            try:
                result = ui.client().invite_user(username.strip().lower(), email.strip(), groups)
            except ApiError as err:
                refused(err)
            else:
                done(t("users.done.invited", username=username.strip().lower()), result)

if users:
    st.subheader(t("users.change.title"))
    names = [u["username"] for u in shown_users] or [u["username"] for u in users]
    chosen = st.selectbox(t("users.change.user"), names, key="users_chosen")
    user = next(u for u in users if u["username"] == chosen)
    st.caption(
        t(
            "users.change.state",
            status=t(users_view.STATUS_TEXT.get(str(user.get("status")), "users.status.other")),
        )
    )
    for note in user.get("warnings") or []:
        st.warning(t("users.warning.no_region") if "Regio_" in note else note)

    groups_tab, account_tab = st.tabs([t("users.tab.groups"), t("users.tab.account")])
    with groups_tab:
        new_groups = group_inputs(f"edit_{chosen}", list(user.get("groups") or []))
        sure = st.checkbox(t("users.confirm"), key=f"sure_groups_{chosen}")
        if st.button(t("users.groups.save"), key=f"save_groups_{chosen}", disabled=not sure, type="primary"):
            try:
                result = ui.client().set_user_groups(chosen, new_groups)
            except ApiError as err:
                refused(err)
            else:
                done(t("users.done.groups", username=chosen), result)
    with account_tab:
        action = "enable" if not user.get("enabled", True) else "disable"
        actions = {a: t(users_view.ACTION_LABELS[a]) for a in (action, "reset-password", "remove")}
        what = st.radio(
            t("users.action.choose"), list(actions), format_func=actions.__getitem__, key=f"act_{chosen}"
        )
        sure = st.checkbox(
            t("users.confirm_action", action=actions[what], username=chosen), key=f"sure_{what}_{chosen}"
        )
        if st.button(actions[what], key=f"do_{what}_{chosen}", disabled=not sure):
            changed: dict[str, Any] | None = None
            try:
                if what == "remove":
                    ui.client().remove_user(chosen)
                else:
                    changed = ui.client().user_action(chosen, what)
            except ApiError as err:
                refused(err)
            else:
                done(t("users.done.action", action=actions[what], username=chosen), changed)
