"""The console's entry point: `streamlit run console/server.py` serves the app plus our own routes.

`st.App` runs the Streamlit script (`console/streamlit_app.py`) on Starlette, with the session
cookie's route (`console/session.py`) served by the same process: the route and the script share
the ticket book, so a ticket the script issues is redeemed by the route a moment later.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run console/server.py` puts console/ on sys.path, not the repo root.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from console.session import session_routes  # noqa: E402 - after the path fix above

SCRIPT = Path(__file__).resolve().parent / "streamlit_app.py"

app = st.App(str(SCRIPT), routes=session_routes())
