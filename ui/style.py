"""Page-wide CSS for screen-sharing: less empty space above the title, metric values
that fit five to a row at 1280x720 (heading sizes are in .streamlit/config.toml)."""

import streamlit as st

_CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; }
[data-testid="stSidebarHeader"] { height: 1rem; }
[data-testid="stMetricValue"] { font-size: 1.9rem; }
</style>
"""


def apply() -> None:
    st.html(_CSS)
