"""Streamlit glue shared by the pages: the signed-in user, their API client, caches, error display."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pandas as pd
import requests
import streamlit as st

from console import exports_view
from console.api_client import ApiClient, ApiError, api_url_from_env, fetch_presigned
from console.auth import CognitoLogin, CognitoSettings, LoginError, Tokens
from console.roles import Access

TOKENS_KEY = "tokens"
NOTICE_KEY = "auth_notice"


@st.cache_resource
def http_session() -> requests.Session:
    """One connection pool for the process; tokens go per request, never on the session."""
    return requests.Session()


@st.cache_resource
def cognito_login() -> CognitoLogin:
    return CognitoLogin(CognitoSettings.from_env())


def current_tokens() -> Tokens | None:
    """The signed-in user's tokens, refreshed when the ID token is about to expire."""
    tokens: Tokens | None = st.session_state.get(TOKENS_KEY)
    if tokens is None:
        return None
    if tokens.needs_refresh():
        try:
            tokens = cognito_login().refresh(tokens)
        except LoginError as err:
            sign_out(err.message)
            return None
        st.session_state[TOKENS_KEY] = tokens
    return tokens


def sign_in(tokens: Tokens) -> None:
    st.session_state[TOKENS_KEY] = tokens
    st.session_state.pop(NOTICE_KEY, None)


def sign_out(notice: str | None = None) -> None:
    """Forget the tokens and everything this user chose (their caches expire on their own)."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if notice:
        st.session_state[NOTICE_KEY] = notice


def access() -> Access:
    tokens = current_tokens()
    return Access(tokens.groups if tokens else frozenset())


def client() -> ApiClient:
    """The API client for the signed-in user (a page is only shown to a signed-in user)."""
    tokens = current_tokens()
    return ApiClient(api_url_from_env(), tokens.id_token if tokens else None, http_session())


def show_api_error(err: ApiError, what: str) -> None:
    """A failed call as one plain line; a missing endpoint is information, not an error."""
    if err.endpoint_missing:
        st.info(f"{what}: this endpoint is not deployed on the stack yet.", icon=":material/construction:")
    elif err.status == 401:
        sign_out("Your session is no longer valid; sign in again.")
        st.rerun()
    elif err.unreachable:
        st.error(f"{what}: the API cannot be reached. Is the stack running?", icon=":material/cloud_off:")
    else:
        st.error(f"{what}: {err.user_message()}", icon=":material/error:")


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
    _old: pd.DataFrame,
    _new: pd.DataFrame,
) -> exports_view.ExportDiff | None:
    try:
        return exports_view.compare_exports(_old, _new)
    except ValueError:
        return None


def export_diff(old_id: str, new_id: str) -> exports_view.ExportDiff | None:
    """The comparison of two exports as this user sees them, computed once per pair and file sets."""
    old, old_files, _ = load_export_frame(old_id)
    new, new_files, _ = load_export_frame(new_id)
    return _diff(old_id, new_id, _file_keys(old_files), _file_keys(new_files), old, new)


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
