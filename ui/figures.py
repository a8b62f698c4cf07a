"""Charts on the page: Streamlit's plotly chart, with the figure's text enlarged in
presentation mode (charts.layers.for_presentation) so that it reads on a projector.

A browser session's first charts are drawn a moment late. The browser loads plotly (4.7 MB
of JavaScript, about a second of parsing here) when it first meets a chart, and the numbers
that came in the same burst of the script's output waited for it: Separable's metrics
showed up to 1.5 s late on a cold visit. So the first run holds its charts back, their
places keep words at their height, and a timer in the browser asks for them once the
numbers are on screen. A rerun sent at once from the server does not do it: its chart
reaches the browser before the first run's numbers are drawn.

The timer reruns only a fragment, which draws the held charts into their places. It must
not rerun the page: a widget whose value the first run set through the session state
(Compare's models, read from the link) carries that value in the first run's output only.
When the browser had not yet loaded the widget's code as the timer fired (about one cold
visit in four here), it drew the page rerun's copy, which carries the bare default (no model
chosen), and sent that back on the next click.

A run that a click cuts short (Streamlit stops it at its next element and starts the click's)
leaves its held charts behind: their places belong to its page. The click's run drew into
them, in a page laid out anew, and the browser lost the whole page for good ("'setIn' cannot
be called on an ElementNode": Latency opened on its Roofline tab with a model not yet counted,
another tab clicked at once, every time). So each whole run drops what a cut run held, and a
run that ends cut short starts no timer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
import streamlit as st
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.scriptrunner import RerunException, get_script_run_ctx

from charts.layers import for_presentation

READY = "figures_ready"  # past the session's first run: charts are drawn at once
HELD = "figures_held"  # the charts this run held back, so far
PENDING = "figures_pending"  # the charts the last whole run held back, for the timer's fragment
DRAW_AFTER_S = 0.4  # the browser's wait before it asks for the held charts
DEFAULT_HEIGHT_PX = 450  # plotly's, for a figure that sets none


@dataclass(frozen=True)
class Held:
    place: Any  # an empty container where the chart goes, made by the run that held it back
    figure: go.Figure
    key: str

    def keep_place(self) -> None:
        """Words at the chart's height, until it comes."""
        height = int(self.figure.layout.height or DEFAULT_HEIGHT_PX)
        self.place.container(height=height, border=False).caption("Drawing the chart…")

    def draw(self) -> None:
        self.place.plotly_chart(self.figure, key=self.key)  # in the place of the words


def _fragment_run() -> bool:
    context = get_script_run_ctx()
    return context is not None and bool(context.fragment_ids_this_run)


def _hold_back() -> bool:
    """Whether this chart waits: in a browser session's first whole run that draws charts
    (AppTest sends no headers and runs no timers; a fragment's rerun draws its own)."""
    if st.session_state.get(READY) or not st.context.headers.get("User-Agent"):
        return False
    return get_script_run_ctx() is not None and not _fragment_run()


def show(figure: go.Figure, key: str, where=st) -> None:
    """Draw ``figure`` at its container's width, in ``where`` (st, a column, a container)."""
    if st.session_state.get("presentation"):
        figure = for_presentation(figure)
    if _hold_back():
        st.session_state.setdefault(HELD, []).append(Held(where.container(), figure, key))
        return
    where.plotly_chart(figure, key=key)


@st.fragment(run_every=DRAW_AFTER_S)
def _draw_held() -> None:
    """In the run that held the charts: their places' words (a fragment may fill a container
    made outside it only where it wrote in the last whole run), and the browser's timer.
    When the timer fires: the charts, and the timer stops."""
    if not _fragment_run():
        for held in st.session_state[PENDING]:
            held.keep_place()
        return
    for held in st.session_state.get(PENDING, []):
        held.draw()
    # Streamlit has no call that stops a fragment's timer; this is the message it sends itself
    # when a run_every fragment goes. A tick already on its way draws the same charts again.
    context = get_script_run_ctx()
    stop = ForwardMsg()
    stop.stop_auto_rerun.fragment_ids.extend(context.fragment_ids_this_run)
    context.enqueue(stop)


@contextmanager
def drawn_at_the_end() -> Iterator[None]:
    """Around a whole run of a page: at its end (also after st.stop or an error), if it held
    charts back, have the browser ask for them in a moment; not after a click cut it short,
    nor from what an earlier cut run held. Only the session's first finished run holds charts
    back; a widget changed before the timer fires reruns the page, charts and all, and the
    timer stops with that whole run."""
    st.session_state.pop(HELD, None)
    cut_short = False
    try:
        yield
    except RerunException:
        cut_short = True
        raise
    finally:
        held = st.session_state.pop(HELD, [])
        if not cut_short:
            st.session_state[PENDING] = held
            if held:
                _draw_held()
                st.session_state[READY] = True
