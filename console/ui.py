"""Streamlit glue shared by the pages: the signed-in user, their API client, caches, error display."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pandas as pd
import requests
import streamlit as st

from console import exports_view, i18n, ops_view, session
from console.api_client import ApiClient, ApiError, api_url_from_env, fetch_presigned
from console.auth import CognitoLogin, CognitoSettings, LoginError, Tokens
from console.i18n import N_, t
from console.roles import Access

TOKENS_KEY = "tokens"
NOTICE_KEY = "auth_notice"
# The sign-in step in progress (console.auth.Challenge): server-side session state only.
STEP_KEY = "login_step"
# The session cookie's ticket the page still has to post (console/session.py), and whether this
# Streamlit session has already looked at the cookie its browser sent when it connected.
COOKIE_TICKET_KEY = "session_cookie_ticket"
COOKIE_CHECKED_KEY = "session_cookie_checked"
# Failures after which the step cannot be answered any more: back to the username form.
RESTART_KINDS = frozenset({"step_expired", "temporary_expired", "disabled", "locked"})
# Kept across a sign-out: the language belongs to the person at this browser, not to the session;
# the cookie was read once (a cookie sent at connection time must not sign the user in again), and
# the ticket that expires it must still be posted.
KEEP_ON_SIGN_OUT = frozenset({i18n.LANGUAGE_KEY, COOKIE_CHECKED_KEY, COOKIE_TICKET_KEY})
# A session that could not be resumed from its cookie, by reason (console.auth.LoginError.kind).
SESSION_END_MESSAGES: dict[str, str] = {
    "disabled": N_("session.ended.disabled"),
    "revoked": N_("session.ended.revoked"),
    "expired": N_("session.ended.expired"),
}
# Failures that say nothing about the session (Cognito unreachable): the cookie is kept for later.
TRANSIENT_KINDS = frozenset({"unreachable", "throttled", "unavailable"})
# A login failure's kind (console.auth.LoginError.kind) → the message shown.
LOGIN_MESSAGES: dict[str, str] = {
    "wrong_password": N_("login.error.wrong_password"),
    "locked": N_("login.error.locked"),
    "disabled": N_("login.error.disabled"),
    "temporary_expired": N_("login.error.temporary_expired"),
    "step_expired": N_("login.error.step_expired"),
    "weak_password": N_("login.error.weak_password"),
    "wrong_code": N_("login.error.wrong_code"),
    "reset_required": N_("login.error.reset_required"),
    "throttled": N_("login.error.throttled"),
    "misconfigured": N_("login.error.misconfigured"),
    "unreachable": N_("login.error.unreachable"),
    "challenge": N_("login.error.challenge"),
    "expired": N_("login.error.expired"),
    "revoked": N_("login.error.revoked"),
    "unavailable": N_("login.error.unavailable"),
}
LANGUAGE_NAMES: dict[str, str] = {"nl": "Nederlands", "en": "English"}
NO_FILTERS = exports_view.Filters()


def login_message(err: LoginError) -> str:
    """A login failure in the user's language."""
    return t(LOGIN_MESSAGES.get(err.kind, "login.error.unavailable"))


def qr_image(text: str) -> bytes | None:
    """`text` as a QR code (PNG), or None where segno is not installed (the key is shown as text too)."""
    try:
        import segno
    except ImportError:
        return None
    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=6, border=2)
    return buf.getvalue()


def language_choice() -> None:
    """The sidebar's language switch (Dutch by default), remembered for this browser session."""
    st.session_state.setdefault(i18n.LANGUAGE_KEY, i18n.DEFAULT_LANGUAGE)
    st.sidebar.selectbox(
        t("sidebar.language"),
        i18n.LANGUAGES,
        format_func=LANGUAGE_NAMES.__getitem__,
        key=i18n.LANGUAGE_KEY,
    )


@st.cache_resource
def http_session() -> requests.Session:
    """One connection pool for the process; tokens go per request, never on the session."""
    return requests.Session()


@st.cache_resource
def cognito_login() -> CognitoLogin:
    return CognitoLogin(CognitoSettings.from_env())


def session_end_message(err: LoginError) -> str:
    """Why a signed-in session ended, in the user's language."""
    key = SESSION_END_MESSAGES.get(err.kind)
    return t(key) if key else login_message(err)


@st.cache_resource
def session_codec() -> session.SessionCodec:
    """The session cookie's codec (its key from HDCN_SESSION_SECRET), one per process."""
    return session.SessionCodec.from_env()


def session_cookie_value() -> str | None:
    """The session cookie the browser sent when this Streamlit session connected (HttpOnly: only here)."""
    value = st.context.cookies.get(session.COOKIE_NAME)
    return str(value) if value else None


def _resume_from_cookie() -> Tokens | None:
    """A new Streamlit session (reload, deep link, restart): the cookie's session, refreshed, or None."""
    if st.session_state.get(COOKIE_CHECKED_KEY):
        return None
    st.session_state[COOKIE_CHECKED_KEY] = True
    value = session_cookie_value()
    if not value:
        return None
    record = session_codec().open(value)
    if record is None:
        # Altered, sealed with another key, or older than the refresh token: forget it quietly.
        _post_cookie(None)
        return None
    try:
        tokens = cognito_login().resume(record.username, record.refresh_token)
    except LoginError as err:
        if err.kind in TRANSIENT_KINDS:
            # The session may be fine once Cognito answers: keep the cookie; a reload tries again
            # (not every run, or each run of the sign-in page would wait for Cognito's timeouts).
            st.session_state[NOTICE_KEY] = login_message(err)
            return None
        sign_out(session_end_message(err))
        return None
    st.session_state[TOKENS_KEY] = tokens
    return tokens


def current_tokens() -> Tokens | None:
    """The signed-in user's tokens (resumed from the session cookie), refreshed before they expire."""
    tokens: Tokens | None = st.session_state.get(TOKENS_KEY)
    if tokens is None:
        return _resume_from_cookie()
    if tokens.needs_refresh():
        try:
            refreshed = cognito_login().refresh(tokens)
        except LoginError as err:
            sign_out(session_end_message(err))
            return None
        st.session_state[TOKENS_KEY] = refreshed
        if refreshed.refresh_token != tokens.refresh_token:
            # A pool that rotates refresh tokens: the cookie must carry the new one, whose life
            # starts now.
            _post_cookie(session.SessionRecord(refreshed.username, refreshed.refresh_token, time.time()))
        tokens = refreshed
    return tokens


# The login page's secret inputs: dropped once signed in, so no password outlives the sign-in.
SECRET_INPUTS = ("login_password", "new_password_1", "new_password_2", "mfa_setup_code", "mfa_code")


def _post_cookie(record: session.SessionRecord | None) -> None:
    """Have the page set the session cookie for `record` (None: expire it) through a ticket."""
    codec = session_codec()
    value = codec.seal(record) if record is not None else None
    st.session_state[COOKIE_TICKET_KEY] = session.TICKETS.issue(value, codec.max_age)


def sync_session_cookie() -> None:
    """Post the pending ticket from the page (an invisible same-origin iframe) until it is redeemed."""
    ticket: str | None = st.session_state.get(COOKIE_TICKET_KEY)
    if not ticket:
        return
    if session.TICKETS.was_redeemed(ticket):
        del st.session_state[COOKIE_TICKET_KEY]
        return
    # Same content at every run until redeemed, so Streamlit keeps the frame instead of reloading it.
    st.iframe(session.poster_html(ticket), height=1, alt=t("session.frame"))


def sign_in(tokens: Tokens) -> None:
    st.session_state[TOKENS_KEY] = tokens
    for key in (NOTICE_KEY, STEP_KEY, *SECRET_INPUTS):
        st.session_state.pop(key, None)
    if tokens.refresh_token:
        _post_cookie(session.SessionRecord(tokens.username, tokens.refresh_token, time.time()))


def sign_out(notice: str | None = None, everywhere: bool = False) -> None:
    """Forget the tokens, this user's choices and the session cookie (everywhere: Cognito too).

    `everywhere` is the user's own sign-out: Cognito's GlobalSignOut revokes every refresh token
    of theirs, so a copy of the cookie, another browser or another tab is signed out as well.
    """
    tokens: Tokens | None = st.session_state.get(TOKENS_KEY)
    if everywhere and tokens is not None:
        # Already revoked or Cognito unreachable: this browser is signed out regardless.
        with contextlib.suppress(LoginError):
            cognito_login().sign_out_everywhere(tokens)
    for key in list(st.session_state.keys()):
        if key not in KEEP_ON_SIGN_OUT:
            del st.session_state[key]
    if notice:
        st.session_state[NOTICE_KEY] = notice
    _post_cookie(None)


def access() -> Access:
    tokens = current_tokens()
    return Access(tokens.groups if tokens else frozenset())


def client() -> ApiClient:
    """The API client for the signed-in user (a page is only shown to a signed-in user)."""
    tokens = current_tokens()
    return ApiClient(api_url_from_env(), tokens.id_token if tokens else None, http_session())


def api_error_text(err: ApiError) -> str:
    """A failed call as one plain sentence in the user's language (never the API's English)."""
    if err.endpoint_missing:
        return t("api.error.missing_endpoint")
    if err.unreachable:
        return t("api.error.unreachable")
    if err.status == 403:
        return t("api.error.forbidden")
    if err.status == 404:
        return t("api.error.not_found")
    if err.status == 409:
        return t("api.error.conflict")
    if err.status == 413:
        return t("api.error.too_large")
    if err.status == 422:
        return t("api.error.validation")
    if err.status == 429:
        return t("api.error.throttled")
    return t("api.error.other", status=err.status)


def show_api_error(err: ApiError, what: str) -> None:
    """A failed call as one plain line; `what` is the (translated) name of what was asked for."""
    if err.endpoint_missing:
        st.info(f"{what}: {api_error_text(err)}", icon=":material/construction:")
    elif err.status == 401:
        sign_out(t("auth.session_expired"))
        st.rerun()
    elif err.unreachable:
        st.error(f"{what}: {api_error_text(err)}", icon=":material/cloud_off:")
    else:
        st.error(f"{what}: {api_error_text(err)}", icon=":material/error:")


# --------------------------------------------------------------------- cached API reads
# Keyed by the ID token, so one user's answers never serve another (a refreshed token reads anew).


@st.cache_data(ttl=30, show_spinner=False)
def cached_get(base_url: str, id_token: str, path: str) -> Any:
    """A GET answer cached briefly (lists, stack state); errors are not cached."""
    return ApiClient(base_url, id_token, http_session()).request("GET", path)


def read(path: str) -> Any:
    """GET `path` as the signed-in user through the short cache."""
    api = client()
    return cached_get(api.base_url, api.id_token or "", path)


# --------------------------------------------------------------------- export data


def export_files(download: dict[str, Any]) -> list[dict[str, Any]]:
    """The file entries of a download answer, whatever the exact shape: url, regio, key."""
    files = download.get("files")
    if files is None:
        files = [{"url": u} for u in download.get("urls", [])]
    out = []
    for f in files:
        entry = {"url": f} if isinstance(f, str) else dict(f)
        if not entry.get("url"):
            continue
        entry.setdefault("key", entry.get("name") or entry.get("filename") or entry["url"].split("?")[0])
        out.append(entry)
    return out


@st.cache_data(ttl=3600, max_entries=8, show_spinner=False)
def export_parts(
    export_id: str, file_keys: tuple[str, ...], _files: tuple[tuple[str | None, str], ...]
) -> list[tuple[str | None, bytes]]:
    """The export's Parquet files, downloaded once per export id and file set (not per rerun).

    The presigned URLs change on every call, so they are left out of the cache key
    (leading underscore); the key is the export id and the object keys the user may read.
    """
    session = http_session()
    return [(regio, fetch_presigned(session, url)) for regio, url in _files]


@st.cache_resource(max_entries=4, show_spinner=False)
def decoded_frame(
    export_id: str, file_keys: tuple[str, ...], _load: Callable[[], list[tuple[str | None, bytes]]]
) -> pd.DataFrame:
    """The decoded frame of an export's file set, decoded once and shared read-only.

    `cache_resource` (no copy per rerun) because copying 100k rows on every filter change
    would eat the redraw budget; every view derives a new frame and never mutates this one.
    """
    return exports_view.to_frame(exports_view.read_parts(_load()))


@st.cache_resource(max_entries=4, show_spinner=False)
def _diff(
    old_id: str,
    new_id: str,
    old_keys: tuple[str, ...],
    new_keys: tuple[str, ...],
    filters: exports_view.Filters,
    _old: pd.DataFrame,
    _new: pd.DataFrame,
) -> exports_view.ExportDiff | None:
    try:
        return exports_view.compare_exports(
            exports_view.apply_filters(_old, filters), exports_view.apply_filters(_new, filters)
        )
    except ValueError:
        return None


def export_diff(
    old_id: str, new_id: str, filters: exports_view.Filters = NO_FILTERS
) -> exports_view.ExportDiff | None:
    """The comparison of two exports as this user sees them, within the active filters.

    Computed once per pair, file sets and filters (both exports filtered alike, so the
    comparison answers for the rows the person is looking at).
    """
    old, old_files, _ = load_export_frame(old_id)
    new, new_files, _ = load_export_frame(new_id)
    return _diff(old_id, new_id, _file_keys(old_files), _file_keys(new_files), filters, old, new)


def _file_keys(files: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(sorted(str(f["key"]) for f in files))


def load_export_frame(export_id: str) -> tuple[pd.DataFrame, list[dict[str, Any]], float]:
    """The signed-in user's view of an export (their regions' files) and the seconds it took."""
    started = time.perf_counter()
    path = f"/analytics/download-parquet/{quote(export_id, safe='')}"
    files = export_files(dict(read(path) or {}))
    keys = _file_keys(files)
    pairs = tuple((f.get("regio"), str(f["url"])) for f in files)
    frame = decoded_frame(export_id, keys, lambda: export_parts(export_id, keys, pairs))
    return frame, files, time.perf_counter() - started


# --------------------------------------------------------------------- health checks the console runs


@st.cache_data(ttl=30, show_spinner=False)
def _endpoint_statuses(base_url: str, id_token: str) -> dict[str, tuple[int | None, str | None]]:
    """HTTP status of the public health route and an authenticated read, through the console's API URL."""
    api = ApiClient(base_url, id_token, http_session())
    results: dict[str, tuple[int | None, str | None]] = {}
    for check_id, path, token in (
        ("endpoint_health", "/health", None),
        ("endpoint_authenticated", "/ops/stack", id_token),
    ):
        try:
            ApiClient(base_url, token, api.session).request("GET", path)
            results[check_id] = (200, None)
        except ApiError as err:
            results[check_id] = (err.status or None, err.code)
    return results


def endpoint_results() -> dict[str, ops_view.Check]:
    """The two endpoint checks as `hdcn health` runs them, from where the console reaches the API."""
    api = client()
    paths = {"endpoint_health": "/health", "endpoint_authenticated": "/ops/stack"}
    statuses = _endpoint_statuses(api.base_url, api.id_token or "")
    return {
        check_id: ops_view.endpoint_check(check_id, paths[check_id], status, error)
        for check_id, (status, error) in statuses.items()
    }


def clear_endpoint_results() -> None:
    """Forget the endpoint checks' answers, so "run again" runs them again."""
    _endpoint_statuses.clear()


# --------------------------------------------------------------------- members


# The API pages by up to 200; a club of a few thousand members is a few dozen calls at most.
MEMBER_PAGE_LIMIT = 200
MAX_MEMBER_PAGES = 100


@st.cache_data(ttl=30, show_spinner=False)
def _all_members(
    base_url: str,
    id_token: str,
    q: str | None,
    regio: str | None,
    status: str | None,
    lidmaatschap: str | None,
) -> list[dict[str, Any]]:
    api = ApiClient(base_url, id_token, http_session())
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_MEMBER_PAGES):
        page, cursor = api.list_members(
            limit=MEMBER_PAGE_LIMIT, cursor=cursor, q=q, regio=regio, status=status, lidmaatschap=lidmaatschap
        )
        found.extend(page)
        if cursor is None:
            break
    return found


def all_members(
    q: str | None, regio: str | None, status: str | None, lidmaatschap: str | None
) -> list[dict[str, Any]]:
    """Every member matching the search, across all of the API's pages (briefly cached; never mutate)."""
    api = client()
    return _all_members(api.base_url, api.id_token or "", q, regio, status, lidmaatschap)


def forget_members() -> None:
    """After a create, save or delete: the next search reads the API again."""
    _all_members.clear()
