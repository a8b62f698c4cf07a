"""AppTest: every registered kind can be added in the Builder on an input it accepts, starts
with its registration's values (torch's defaults, the suggested value of each required field),
and its widgets show them: a new kind's registration is all the Builder needs."""

from __future__ import annotations

import pytest
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


@pytest.mark.parametrize(
    "widget, value",
    [
        pytest.param("whole number", 7, id="whole-number"),
        pytest.param("checkbox", False, id="checkbox"),
        pytest.param("probability", 0.3, id="probability"),
        pytest.param("pair", 3, id="pair-one-number"),
        pytest.param("pair", [3, 5], id="pair-two"),
        pytest.param("pair or kernel_size", None, id="pair-as-kernel"),
        pytest.param("pair or kernel_size", [2, 1], id="pair-not-as-kernel"),
        pytest.param("padding", "same", id="padding-same"),
        pytest.param("padding", [0, 2], id="padding-pair"),
        pytest.param("padding, one axis", "same", id="padding-one-axis-same"),
        pytest.param("padding, one axis", 2, id="padding-one-axis-number"),
    ],
)
def test_a_widget_reads_back_the_value_it_was_seeded_with(widget, value):
    state = WIDGETS[widget].state("f1.field", value)
    assert all(key == "f1.field" or key.startswith("f1.field.") for key in state)
    assert WIDGETS[widget].read(state, "f1.field") == value


def test_every_registered_field_has_a_widget():
    widgets = {(kind.name, field.name): field.widget for kind in calc.layer_kinds() for field in kind.fields}
    assert {name: widget for name, widget in widgets.items() if widget not in WIDGETS} == {}
