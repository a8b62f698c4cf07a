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


# Presentation mode: everything in the main area larger, and fewer controls (no chart
# toolbars, no download buttons, no share box) on a shared screen.
_PRESENTATION_CSS = """
<style>
[data-testid="stMain"] { zoom: 1.15; }
.modebar-container { display: none !important; }
[data-testid="stDownloadButton"] { display: none; }
[data-testid="stSidebar"] [data-testid="stExpander"]:has(code) { display: none; }
</style>
"""


def apply(presentation: bool = False) -> None:
    st.html(_CSS + (_PRESENTATION_CSS if presentation else ""))
