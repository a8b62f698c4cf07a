"""AppTest, but selectboxes and multiselects send back what a browser holds between runs.

AppTest sends each widget's value as the *current* run formats it. A browser does not: a
selectbox keeps the label it was last sent (``set_value``) or chose, and sends that label
back on every rerun; a widget that was not on screen in the last run comes back with its
proto's ``default``. Those two differences hid two bugs from AppTest: a Builder selectbox
whose labels changed under it (a preset loaded) got its old label back as a str, and the
Latency batch list came back empty after a run that stopped before drawing it.

``browser(app, monkeypatch)`` patches the two widget classes for one test: a widget the test
did not set sends the browser's held value; every run then records what the browser holds next.
"""

from __future__ import annotations

from typing import Any

from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import InitialValue, Multiselect, Selectbox


class Browser:
    def __init__(self, app: AppTest) -> None:
        self.app = app
        self.held: dict[str, Any] = {}
        self.observe()

    def observe(self) -> None:
        """After a run: what the browser shows for each selectbox and multiselect now on the page."""
        held = {}
        for box in self.app.selectbox:
            proto = box.proto
            if proto.set_value:
                held[box.id] = proto.raw_value
            elif box.id in self.held:
                held[box.id] = self.held[box.id]
            else:  # mounted afresh: the proto's default
                held[box.id] = proto.options[proto.default] if proto.options else None
        for select in self.app.multiselect:
            proto = select.proto
            if proto.set_value:
                held[select.id] = list(proto.raw_values)
            elif select.id in self.held:
                held[select.id] = self.held[select.id]
            else:
                held[select.id] = [proto.options[i] for i in proto.default]
        self.held = held


def browser(app: AppTest, monkeypatch) -> Browser:
    """``app`` from now on talking like a browser (undone at the end of the test)."""
    session = Browser(app)
    selectbox_state, multiselect_state = Selectbox._widget_state.fget, Multiselect._widget_state.fget

    def held_selectbox(box: Selectbox) -> WidgetState:
        if not isinstance(box._value, InitialValue) or box.id not in session.held:
            state = selectbox_state(box)  # the user picks: the browser holds that label from now on
            session.held[box.id] = state.string_value if state.HasField("string_value") else None
            return state
        state = WidgetState(id=box.id)
        if session.held[box.id] is not None:
            state.string_value = session.held[box.id]
        return state

    def held_multiselect(select: Multiselect) -> WidgetState:
        if select._value is not None or select.id not in session.held:  # None: not set by the test
            state = multiselect_state(select)
            session.held[select.id] = list(state.string_array_value.data)
            return state
        state = WidgetState(id=select.id)
        state.string_array_value.data[:] = session.held[select.id]
        return state

    monkeypatch.setattr(Selectbox, "_widget_state", property(held_selectbox))
    monkeypatch.setattr(Multiselect, "_widget_state", property(held_multiselect))
    run_script = app._run  # what every run() goes through, the app's and an element's

    def run_and_observe(*args, **kwargs) -> AppTest:
        result = run_script(*args, **kwargs)
        session.observe()
        return result

    monkeypatch.setattr(app, "_run", run_and_observe)
    return session
