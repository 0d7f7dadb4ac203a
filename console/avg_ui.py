"""Streamlit glue for the AVG parts: cached access-log reads, and the member page's data export and erasure.

A data export and an erasure are each written to the access log by the API, so neither is
called on a rerun: the data export only on its button, the erasure only after the typed
lidnummer matches. An erasure runs as a job; a polling fragment follows it until it ends.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from console import audit_view, erasure_view, formats, ui
from console.api_client import ApiClient, ApiError
from console.i18n import t

# Session-state keys.
DATA_EXPORT_KEY = "avg_data_export"  # (member_id, the API's answer)
WATCH_KEY = "avg_erase_watch"  # the erasure being followed: {"member_id", "lidnummer", "erasure"}
RESULT_KEY = "avg_erase_result"  # the last erasure that ended (shown once, above the member list)


# --------------------------------------------------------------------- access log


@st.cache_data(ttl=30, show_spinner=False)
def _audit_page(
    base_url: str, id_token: str, params: tuple[tuple[str, str], ...], cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    query = dict(params)
    return ApiClient(base_url, id_token, ui.http_session()).audit(
        since=query.get("since"),
        until=query.get("until"),
        user=query.get("user"),
        action=query.get("action"),
        member=query.get("member"),
        limit=limit,
        cursor=cursor,
    )


def audit_page(
    filters: audit_view.AuditFilters, cursor: str | None, limit: int = audit_view.PAGE_SIZE
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the access log as the signed-in user may read it (briefly cached; never mutate)."""
    api = ui.client()
    params = tuple(sorted(filters.params().items()))
    entries, following = _audit_page(api.base_url, api.id_token or "", params, cursor, limit)
    return [e for e in entries if filters.keeps(e)], following


def forget_audit() -> None:
    _audit_page.clear()


# --------------------------------------------------------------------- the member page


def member_section(member: dict[str, Any]) -> None:
    """The AVG tools for an opened member: their data as a file, and erasure behind a typed lidnummer."""
    member_id = str(member.get("member_id") or "")
    if not member_id:
        return
    st.subheader(t("avg.title"))
    _data_export(member, member_id)
    _erase(member, member_id)


def _data_export(member: dict[str, Any], member_id: str) -> None:
    with st.expander(t("avg.data_export.title"), icon=":material/folder_shared:"):
        st.markdown(t("avg.data_export.intro"))
        if st.button(t("avg.data_export.fetch"), key=f"avg_fetch_{member_id}", icon=":material/search:"):
            try:
                data = ui.client().member_data_export(member_id)
            except ApiError as err:
                ui.show_api_error(err, t("what.data_export"))
            else:
                st.session_state[DATA_EXPORT_KEY] = (member_id, data)
        held = st.session_state.get(DATA_EXPORT_KEY)
        if held and held[0] == member_id:
            st.caption(erasure_view.data_export_summary(held[1]))
            st.download_button(
                t("avg.data_export.download"),
                erasure_view.data_export_bytes(held[1]),
                erasure_view.data_export_file_name(member),
                "application/json",
                key=f"avg_download_{member_id}",
                icon=":material/download:",
            )


def _erase(member: dict[str, Any], member_id: str) -> None:
    watching = st.session_state.get(WATCH_KEY)
    with st.expander(t("avg.erase.title"), icon=":material/person_remove:"):
        if watching:
            st.info(t("avg.erase.busy"), icon=":material/hourglass_top:")
            return
        st.markdown(t("avg.erase.intro"))
        token = erasure_view.confirmation_token(member)
        typed = st.text_input(
            t("avg.erase.type_lidnummer", lidnummer=formats.md_escape(token)),
            key=f"avg_erase_typed_{member_id}",
            max_chars=64,
        )
        if not st.button(
            t("avg.erase.submit"),
            type="primary",
            key=f"avg_erase_{member_id}",
            icon=":material/delete_forever:",
        ):
            return
        if not erasure_view.confirmed(typed, member):
            st.error(t("avg.erase.wrong_lidnummer"), icon=":material/block:")
            return
        version = member.get("version")
        try:
            erasure = ui.client().erase_member(member_id, int(version) if version is not None else None)
        except ApiError as err:
            if err.status == 409:
                st.error(t("avg.erase.conflict"), icon=":material/sync_problem:")
            else:
                ui.show_api_error(err, t("what.erase"))
            return
    st.session_state[WATCH_KEY] = {"member_id": member_id, "lidnummer": token, "erasure": erasure}
    st.session_state.pop(RESULT_KEY, None)
    # The API removes the record at once; the job then does the exports. The open form would go on
    # showing the erased data from this session, so it closes now (the progress stays at the top).
    _close_member()
    st.rerun()


def _close_member() -> None:
    """Forget the opened member, its data export and the cached lists (they held the member)."""
    for key in ("mem_chosen", "mem_loaded", DATA_EXPORT_KEY):
        st.session_state.pop(key, None)
    ui.forget_members()


def _watch_erasure() -> None:
    """The followed erasure's progress; reruns itself every few seconds until it is done or failed."""
    watching = st.session_state.get(WATCH_KEY)
    if not watching:
        return
    erasure = watching["erasure"]
    try:
        erasure = ui.client().member_erasure(watching["member_id"])
    except ApiError as err:
        if err.status != 404:  # just started: not yet readable; the POST's answer is shown meanwhile
            ui.show_api_error(err, t("what.erase"))
    view = erasure_view.erasure_status(erasure)
    lidnummer = formats.md_escape(watching["lidnummer"])
    # Not a `with` block: leaving one would mark a running status complete.
    box = st.status(
        t("avg.erase.progress", lidnummer=lidnummer, status=view.label), state="running", expanded=True
    )
    box.progress(view.progress, text=view.detail)
    if view.finished:
        st.session_state.pop(WATCH_KEY, None)
        st.session_state[RESULT_KEY] = {**watching, "erasure": erasure}
        _close_member()  # the lists read anew (a wiped record, or none at all)
        forget_audit()
        st.rerun(scope="app")


def erasure_progress() -> None:
    """The running erasure (polling while one runs) and, once ended, its outcome in plain Dutch."""
    watching = bool(st.session_state.get(WATCH_KEY))
    st.fragment(_watch_erasure, run_every=erasure_view.POLL_SECONDS if watching else None)()
    result = st.session_state.get(RESULT_KEY)
    if result and not watching:
        view = erasure_view.erasure_status(result["erasure"])
        lidnummer = formats.md_escape(result["lidnummer"])
        if view.failed:
            st.error(f"{t('avg.erase.failed', lidnummer=lidnummer)} {view.detail}", icon=":material/error:")
        else:
            st.success(
                f"{t('avg.erase.done', lidnummer=lidnummer)} {view.detail}", icon=":material/check_circle:"
            )
