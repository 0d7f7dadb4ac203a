"""H-DCN admin console: the router (auth gate, then the pages the user's roles allow)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run console/streamlit_app.py` puts console/ on sys.path, not the repo root.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from console import formats, ui  # noqa: E402 - after the path fix above
from console.i18n import t  # noqa: E402
from console.roles import PAGES, pages_for  # noqa: E402

PAGES_DIR = Path(__file__).resolve().parent / "app_pages"

st.set_page_config(page_title=t("app.title"), page_icon=":material/two_wheeler:", layout="wide")
# Streamlit's own menu (rerun, settings, deploy) is English developer tooling: not for volunteers.
st.set_option("client.toolbarMode", "minimal")

ui.language_choice()
# A new session (reload, deep link, restart) resumes from the session cookie here, before the
# pages are chosen, so the page the URL asks for is among them.
tokens = ui.current_tokens()
if tokens is None:
    # The sign-in form answers every page's address too: a deep link (or the page someone signed
    # out on) shows the form, not Streamlit's English "Page not found", and after signing in the
    # user is on the page they asked for.
    login = PAGES_DIR / "login.py"
    page = st.navigation(
        [
            st.Page(login, title=t("nav.login"), icon=":material/login:", default=True),
            *(st.Page(login, title=t(p.title), url_path=p.key, visibility="hidden") for p in PAGES),
        ],
        position="hidden",
    )
else:
    specs = pages_for(tokens.groups)
    # A page this user does not have (a deep link, or the page the previous user of this tab was
    # on) opens their first page instead of Streamlit's English "Page not found".
    others = [p for p in PAGES if p not in specs]
    page = st.navigation(
        [
            *(
                st.Page(PAGES_DIR / spec.filename, title=t(spec.title), icon=spec.icon, default=i == 0)
                for i, spec in enumerate(specs)
            ),
            *(
                st.Page(PAGES_DIR / specs[0].filename, title=t(p.title), url_path=p.key, visibility="hidden")
                for p in others
            ),
        ]
    )
    with st.sidebar:
        st.caption(t("sidebar.signed_in_as", user=formats.md_escape(tokens.username)))
        if st.button(t("sidebar.sign_out"), icon=":material/logout:", key="sign_out"):
            ui.sign_out(t("auth.signed_out"), everywhere=True)
            st.rerun()
with st.sidebar:
    ui.sync_session_cookie()
page.run()
