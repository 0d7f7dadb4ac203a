"""Sign in with the club's Cognito user pool, including every step the pool can ask for.

The steps (a new password after a temporary one, setting up an authenticator app, its code)
are kept as a `Challenge` in the server-side session state: Cognito's step session never
reaches the page, the URL or the browser's storage.
"""

from __future__ import annotations

import streamlit as st

from console import ui
from console.api_client import ApiError
from console.auth import MFA_SETUP, NEW_PASSWORD, TOTP_CODE, Challenge, LoginError, Tokens
from console.i18n import t

st.title(t("login.title"))
notice = st.session_state.get(ui.NOTICE_KEY)
if notice:
    st.info(notice)


def _advance(outcome: Tokens | Challenge) -> None:
    """Signed in, or on to the next step."""
    if isinstance(outcome, Tokens):
        ui.sign_in(outcome)
    else:
        st.session_state[ui.STEP_KEY] = outcome
    st.rerun()


def _failed(err: LoginError) -> None:
    """Show the failure; a step that can no longer be answered starts over at the form."""
    if err.kind in ui.RESTART_KINDS:
        st.session_state.pop(ui.STEP_KEY, None)
    st.error(ui.login_message(err), icon=":material/lock:")


def password_form() -> None:
    with st.form("login"):
        username = st.text_input(
            t("login.username"), key="login_username", autocomplete="username", max_chars=128
        )
        password = st.text_input(
            t("login.password"), type="password", key="login_password", autocomplete="current-password"
        )
        submitted = st.form_submit_button(t("login.submit"), type="primary", icon=":material/login:")
    # Recovery is by an administrator only: the pool sends no reset mail to members.
    with st.expander(t("login.forgot.title")):
        st.markdown(t("login.forgot.body"))
    if submitted:
        try:
            outcome = ui.cognito_login().start(username.strip(), password)
        except LoginError as err:
            _failed(err)
        else:
            _advance(outcome)


def new_password_form(step: Challenge) -> None:
    st.subheader(t("login.new_password.title"))
    st.info(t("login.new_password.rules"))
    with st.form("new_password"):
        first = st.text_input(
            t("login.new_password.new"), type="password", key="new_password_1", autocomplete="new-password"
        )
        second = st.text_input(
            t("login.new_password.repeat"), type="password", key="new_password_2", autocomplete="new-password"
        )
        submitted = st.form_submit_button(t("login.new_password.submit"), type="primary")
    if submitted:
        if first != second:
            st.error(t("login.new_password.mismatch"))
            return
        try:
            outcome = ui.cognito_login().new_password(step, first)
        except LoginError as err:
            _failed(err)
        else:
            _advance(outcome)


def mfa_setup_form(step: Challenge) -> None:
    st.subheader(t("login.mfa_setup.title"))
    st.markdown(t("login.mfa_setup.intro"))
    image = ui.qr_image(step.otpauth_uri())
    if image is not None:
        st.image(image, width=220)
    st.caption(t("login.mfa_setup.key"))
    st.code(step.secret, language=None)
    with st.form("mfa_setup"):
        code = st.text_input(
            t("login.mfa.code"), key="mfa_setup_code", max_chars=6, autocomplete="one-time-code"
        )
        submitted = st.form_submit_button(t("login.mfa_setup.submit"), type="primary")
    if submitted:
        try:
            outcome = ui.cognito_login().verify_setup(step, code)
        except LoginError as err:
            _failed(err)
        else:
            _advance(outcome)


def totp_form(step: Challenge) -> None:
    st.subheader(t("login.mfa.title"))
    with st.form("mfa_code"):
        code = st.text_input(t("login.mfa.code"), key="mfa_code", max_chars=6, autocomplete="one-time-code")
        submitted = st.form_submit_button(t("login.submit"), type="primary")
    if submitted:
        try:
            outcome = ui.cognito_login().totp(step, code)
        except LoginError as err:
            _failed(err)
        else:
            _advance(outcome)


step: Challenge | None = st.session_state.get(ui.STEP_KEY)
if step is None:
    password_form()
else:
    if step.name == NEW_PASSWORD:
        new_password_form(step)
    elif step.name == MFA_SETUP:
        mfa_setup_form(step)
    elif step.name == TOTP_CODE:
        totp_form(step)
    if st.button(t("login.start_over"), key="login_start_over"):
        st.session_state.pop(ui.STEP_KEY, None)
        st.rerun()

# The API's state, so "cannot sign in" and "the system is down" are told apart.
try:
    ui.client().health()
    st.caption(t("login.api_ok"))
except ApiError:
    st.warning(t("login.api_down"))
