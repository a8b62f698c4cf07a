"""Page-wide CSS for screen-sharing: less empty space around the main area, metric values
that fit five to a row at 1280x720 and are never cut (heading sizes are in
.streamlit/config.toml)."""

import streamlit as st

_CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding: 2.5rem 2rem 4rem 2rem; }
[data-testid="stSidebarHeader"] { height: 1rem; }
[data-testid="stMetricValue"] { font-size: 1.9rem; }
/* A metric is never cut: its label and value wrap rather than end in an ellipsis, and a
   row of metric columns wraps onto a second line before a card gets too narrow. */
[data-testid="stColumn"]:has([data-testid="stMetric"]) { min-width: 9.5rem; }
[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] *,
[data-testid="stMetricValue"], [data-testid="stMetricValue"] * {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
}
/* Beside the sidebar on a 1024-pixel screen, "0.2297 ms" fits a card on one line. */
@media (max-width: 1100px) { [data-testid="stMetricValue"] { font-size: 1.5rem; } }
/* A formula's fraction is taller than its line: KaTeX's box clipped the top of "FLOPs". */
.katex-display { overflow: visible !important; padding-top: 0.2em; }
</style>
"""


# Presentation mode: larger text that still fits. Streamlit sizes its text and spacing in
# rem, so a larger root font enlarges everything and the layout is recomputed at the
# window's real width (CSS zoom on the main area did not: charts and tables were laid out
# for the unzoomed width and cut at the right). The main area takes the room of the
# collapsed sidebar (app.py); charts get their larger fonts from ui.figures. No chart
# toolbars or download buttons on a shared screen; the share link stays in the sidebar.
BASE_ROOT_PX = 16  # theme.baseFontSize in .streamlit/config.toml
PRESENTATION_ROOT_PX = 19
_PRESENTATION_CSS = f"""
<style>
html {{ font-size: {PRESENTATION_ROOT_PX}px !important; }}
[data-testid="stMainBlockContainer"] {{ padding: 2rem 1.5rem 4rem 1.5rem; }}
[data-testid="stMetricValue"] {{ font-size: 1.6rem; }}
.modebar-container {{ display: none !important; }}
[data-testid="stDownloadButton"] {{ display: none; }}
</style>
"""


def apply(presentation: bool = False) -> None:
    st.html(_CSS + (_PRESENTATION_CSS if presentation else ""))
