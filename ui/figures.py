"""Charts on the page: Streamlit's plotly chart, with the figure's text enlarged in
presentation mode (charts.layers.for_presentation) so that it reads on a projector.

A browser session's first charts are drawn a moment late. The browser loads plotly (4.7 MB
of JavaScript, about a second of parsing here) when it first meets a chart, and the numbers
that came in the same burst of the script's output waited for it: Separable's metrics
showed up to 1.5 s late on a cold visit. So the first run holds its charts back, their
places keep words at their height, and a timer in the browser asks for a rerun that draws
them once the numbers are on screen. A rerun sent at once from the server does not do it:
its chart reaches the browser before the first run's numbers are drawn.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from charts.layers import for_presentation
from ui import shell

READY = "figures_ready"  # past the session's first run: charts are drawn at once
HELD = "figures_held"  # this run held a chart back
ARMED = "figures_armed"  # the timer's fragment is being set, not fired
DRAW_AFTER_S = 0.4  # the browser's wait before it asks for the held charts
DEFAULT_HEIGHT_PX = 450  # plotly's, for a figure that sets none


def _hold_back() -> bool:
    """Whether this chart waits: in a browser session's first whole run that draws charts
    (AppTest sends no headers and runs no timers; a fragment's rerun does not reach the end
    of app.py, where the wait is set up)."""
    if st.session_state.get(READY) or not st.context.headers.get("User-Agent"):
        return False
    context = get_script_run_ctx()
    return context is not None and not context.fragment_ids_this_run


def show(figure: go.Figure, key: str, where=st) -> None:
    """Draw ``figure`` at its container's width, in ``where`` (st, a column, a container)."""
    if _hold_back():
        st.session_state[HELD] = True
        holder = where.container(height=int(figure.layout.height or DEFAULT_HEIGHT_PX), border=False)
        holder.caption("Drawing the chart…")
        return
    if st.session_state.get("presentation"):
        figure = for_presentation(figure)
    where.plotly_chart(figure, key=key)


@st.fragment(run_every=DRAW_AFTER_S)
def _draw_held() -> None:
    if st.session_state.pop(ARMED, False):
        return  # called by the run that held the charts: this sets the browser's timer
    st.session_state[shell.REDRAW] = True
    st.rerun()  # the whole page, with its charts; the timer stops with a full run


def draw_held() -> None:
    """At the end of a run (also one cut short by st.stop): if it held a chart back, have the
    browser ask for it in a moment. Only the session's first run holds charts back: a widget
    changed before the timer fires reruns the page, charts and all, and a fragment's rerun
    (which does not come here) draws its own."""
    st.session_state.pop(shell.REDRAW, None)
    if st.session_state.pop(HELD, False):
        st.session_state[READY] = True
        st.session_state[ARMED] = True
        _draw_held()
