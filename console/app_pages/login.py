"""Sign in with the club's Cognito user pool."""

from __future__ import annotations

import streamlit as st

from console import ui
from console.api_client import ApiError
from console.auth import LoginError
from console.i18n import t

st.title(t("login.title"))
notice = st.session_state.get(ui.NOTICE_KEY)
if notice:
    st.info(notice)

with st.form("login"):
    username = st.text_input(
        t("login.username"), key="login_username", autocomplete="username", max_chars=128
    )
    password = st.text_input(
        t("login.password"), type="password", key="login_password", autocomplete="current-password"
    )
    submitted = st.form_submit_button(t("login.submit"), type="primary", icon=":material/login:")

if submitted:
    try:
        tokens = ui.cognito_login().login(username.strip(), password)
    except LoginError as err:
        st.error(ui.login_message(err), icon=":material/lock:")
    else:
        ui.sign_in(tokens)
        st.rerun()

# The API's state, so "cannot sign in" and "the system is down" are told apart.
try:
    ui.client().health()
    st.caption(t("login.api_ok"))
except ApiError:
    st.warning(t("login.api_down"))
