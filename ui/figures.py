"""Charts on the page: Streamlit's plotly chart, with the figure's text enlarged in
presentation mode (charts.layers.for_presentation) so that it reads on a projector."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from charts.layers import for_presentation


def show(figure: go.Figure, key: str, where=st) -> None:
    """Draw ``figure`` at its container's width, in ``where`` (st, a column, a container)."""
    if st.session_state.get("presentation"):
        figure = for_presentation(figure)
    where.plotly_chart(figure, key=key)
