"""Sign in with the club's Cognito user pool."""

from __future__ import annotations

import streamlit as st

from console import ui
from console.api_client import ApiError
from console.auth import LoginError

st.title("H-DCN admin console")
notice = st.session_state.get(ui.NOTICE_KEY)
if notice:
    st.info(notice)

with st.form("login"):
    username = st.text_input("Username", key="login_username", autocomplete="username")
    password = st.text_input(
        "Password", type="password", key="login_password", autocomplete="current-password"
    )
    submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")

if submitted:
    try:
        tokens = ui.cognito_login().login(username.strip(), password)
    except LoginError as err:
        st.error(err.message, icon=":material/lock:")
    else:
        ui.sign_in(tokens)
        st.rerun()

# The API's health, so "cannot sign in" and "the API is down" are told apart.
try:
    health = ui.client().health()
    st.caption(f"API {ui.api_url_from_env()} is {health.get('status')} (version {health.get('version')})")
except ApiError:
    st.warning(f"The API at {ui.api_url_from_env()} cannot be reached. Is the stack running?")
