"""AppTest: every registered kind can be added in the Builder on an input it accepts, starts
with its registration's values (torch's defaults, the suggested value of each required field),
and its widgets show them: a new kind's registration is all the Builder needs."""

from __future__ import annotations

from test_app import field_key, open_page, stack

import calc
from ui.fields import WIDGETS, new_layer
from ui.stack_state import INPUT_KINDS


def test_every_kind_is_added_with_its_registered_values():
    app = open_page("pages/builder.py")
    app.button(key="clear_stack").click().run()
    for kind in calc.layer_kinds():
        input_kind = INPUT_KINDS[kind.input_rank or 2]  # a kind of any rank on tokens
        if app.radio(key="input_kind").value != input_kind:
            app.radio(key="input_kind").set_value(input_kind).run()
        app.selectbox(key="add_kind").set_value(kind.name).run()
        app.button(key="add_layer").click().run()
        assert not app.exception, (kind.name, app.exception)
        assert not app.error, (kind.name, [error.value for error in app.error])
        layer = stack(app)["layers"][0]
        assert layer == new_layer(kind, tuple(stack(app)["input"])), kind.name
        for field in kind.fields:
            key = field_key(app, 0, field.name)
            shown = WIDGETS[field.widget].state(key, layer.get(field.name, field.default))
            assert {widget_key: app.session_state[widget_key] for widget_key in shown} == shown, kind.name
        app.button(key="delete").click().run()
