"""AppTest of the Builder's editing aids: clear and undo, entries out of range refused with
the reason beside the field, and what the totals say while the stack has an error."""

from __future__ import annotations

import pytest
from test_app import expected_metrics, field_key, metrics, open_page, stack

from calc.presets import preset
from calc.registry import MAX_BATCH, MAX_DIM


@pytest.fixture
def builder():
    return open_page("pages/builder.py")


def load(app, name: str):
    app.selectbox(key="preset").set_value(name).run()
    app.button(key="load_preset").click().run()
    return app


def deltas(app) -> dict[str, str]:
    return {metric.label: metric.delta for metric in app.metric}


def captions(app) -> str:
    return " ".join(caption.value for caption in app.caption)


def test_clear_then_undo_brings_every_layer_back(builder):
    layers = [dict(layer) for layer in stack(builder)["layers"]]
    assert builder.button(key="undo").disabled  # nothing to undo on a fresh page
    builder.button(key="clear_stack").click().run()
    assert stack(builder)["layers"] == []
    assert any("stack is empty" in info.value for info in builder.info)
    builder.button(key="undo").click().run()
    assert stack(builder)["layers"] == layers
    assert metrics(builder) == expected_metrics(stack(builder))
    assert not builder.exception


def test_undo_reverts_the_last_edit_only(builder):
    original = [dict(layer) for layer in stack(builder)["layers"]]
    builder.number_input(key="in_h").set_value(64).run()
    builder.number_input(key=field_key(builder, 0, "out_channels")).set_value(16).run()
    builder.button(key="undo").click().run()
    assert stack(builder)["layers"] == original and stack(builder)["input"] == [3, 64, 32]
    assert (
        builder.number_input(key=field_key(builder, 0, "out_channels")).value == original[0]["out_channels"]
    )
    builder.button(key="undo").click().run()
    assert stack(builder)["input"] == [3, 32, 32] and builder.number_input(key="in_h").value == 32
    assert metrics(builder) == expected_metrics(stack(builder))


@pytest.mark.parametrize(
    "key, typed, reason",
    [
        pytest.param("out_channels", 0, "at least 1", id="zero-channels"),
        pytest.param("out_channels", -3, "at least 1", id="negative-channels"),
        pytest.param("out_channels", 10**12, f"beyond the limit of {MAX_DIM:,}", id="huge-channels"),
        pytest.param("kernel_size.h", 0, "at least 1", id="zero-kernel-height"),
        pytest.param("padding.w", -1, "at least 0", id="negative-padding"),
        pytest.param("in_h", 0, "at least 1", id="zero-input-height"),
        pytest.param("in_c", 10**12, f"beyond the limit of {MAX_DIM:,}", id="huge-input-channels"),
        pytest.param("batch", MAX_BATCH + 1, f"from 1 to {MAX_BATCH:,}", id="batch-over-limit"),
    ],
)
def test_an_entry_out_of_range_is_refused_with_the_reason(builder, key, typed, reason):
    before = dict(stack(builder))
    field = key.split(".")[0]
    widget = key if key in ("in_h", "in_c", "batch") else field_key(builder, 0, field) + key[len(field) :]
    kept = builder.number_input(key=widget).value
    builder.number_input(key=widget).set_value(typed).run()
    assert not builder.exception
    assert stack(builder) == before
    assert builder.number_input(key=widget).value == kept
    warnings = [warning.value for warning in builder.warning]
    assert any(
        str(typed) in w and "was not applied" in w and reason in w and f"stays {kept}" in w for w in warnings
    ), warnings
    builder.run()
    assert not builder.warning  # said once, beside the field


def test_a_broken_stack_shows_no_saving(builder):
    builder.number_input(key=field_key(builder, 0, "out_channels")).set_value(16).run()
    assert deltas(builder)["MACs"].startswith("-")  # an edit of a whole stack: its change
    builder.selectbox(key="edit_index").set_value(4).run()
    builder.number_input(key=field_key(builder, 4, "groups")).set_value(5).run()
    assert set(deltas(builder).values()) == {"layers 0–3 only"}
    assert "stops at layer 4" in captions(builder) and "15 layers" in captions(builder)
    assert any("The totals cover layers 0–3 only" in error.value for error in builder.error)
    builder.number_input(key=field_key(builder, 4, "groups")).set_value(1).run()
    assert not any(deltas(builder).values())  # fixed: the same whole stack as before the error, no change
    builder.selectbox(key="edit_index").set_value(0).run()
    builder.number_input(key=field_key(builder, 0, "out_channels")).set_value(32).run()
    assert deltas(builder)["MACs"].startswith("+")


def test_an_error_on_layer_0_says_no_layer_is_analysed(builder):
    builder.radio(key="input_kind").set_value("tokens L×D").run()
    assert set(deltas(builder).values()) == {"no layer analysed"}
    messages = " ".join(error.value for error in builder.error)
    assert "No layer is analysed" in messages and "cover no layer" not in messages


def test_one_layer_is_one_layer(builder):
    load(builder, "Worked example: GEMM")
    assert "· 1 layer ·" in captions(builder)


def test_num_heads_error_names_the_features(builder):
    load(builder, "Transformer encoder block (ViT-B/16)")
    builder.selectbox(key="edit_index").set_value(1).run()
    builder.number_input(key=field_key(builder, 1, "num_heads")).set_value(5).run()
    messages = " ".join(error.value for error in builder.error)
    assert "num_heads 5 does not divide the 768 features" in messages
    assert "does not fit" not in captions(builder) + messages
    assert (
        metrics(builder)["MACs"]
        == expected_metrics(
            dict(preset("Transformer encoder block (ViT-B/16)").stack, layers=stack(builder)["layers"][:1])
        )["MACs"]
    )
