"""H-DCN admin console (foundation page: API health)."""

from __future__ import annotations

import os

import requests
import streamlit as st

st.set_page_config(page_title="H-DCN admin", page_icon=":material/two_wheeler:", layout="wide")
st.title("H-DCN admin console")
api = os.environ.get("HDCN_API_URL", "http://127.0.0.1:3000")
try:
    resp = requests.get(f"{api}/health", timeout=5)
    health = resp.json()
    st.success(
        f"API {api} is {health.get('status')} — version {health.get('version')}, stage {health.get('stage')}"
    )
except (requests.RequestException, ValueError):
    st.error(f"API {api} is not reachable")
