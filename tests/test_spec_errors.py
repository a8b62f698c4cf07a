"""Bad input: one exception type, SpecError, naming the layer and the field -- and nothing else."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import calc
from calc.presets import PRESETS
from calc.registry import MAX_BATCH, MAX_DIM, MAX_LAYERS


def _conv(out_channels: int = 8, kernel_size=3, **fields) -> dict:
    return {"type": "conv2d", "out_channels": out_channels, "kernel_size": kernel_size, **fields}


def _image(*layers: dict, **top) -> dict:
    return {"input": [3, 32, 32], "layers": list(layers), **top}


RELU = {"type": "relu"}

BAD = [
    # stack, layer, field, a fragment of the reason
    pytest.param(_image(RELU, {"type": "conv3d"}), 1, "type", "unknown layer type", id="unknown-kind"),
    pytest.param(_image({"kind": "relu"}), 0, "type", "unknown layer type", id="no-type"),
    pytest.param(_image({"type": 3}), 0, "type", "unknown layer type", id="type-not-a-string"),
    pytest.param(
        _image(RELU, {"type": "conv2d", "kernel_size": 3}), 1, "out_channels", "required", id="missing-field"
    ),
    pytest.param(_image(_conv(kernel_size="3")), 0, "kernel_size", "whole number", id="wrong-typed-field"),
    pytest.param(
        _image(_conv(kernel_size=[3, 3, 3])), 0, "kernel_size", "[height, width]", id="pair-of-three"
    ),
    pytest.param(_image(_conv(kernel_size=3.0)), 0, "kernel_size", "whole number", id="float-for-int"),
    pytest.param(_image(_conv(bias=1)), 0, "bias", "true or false", id="int-given-as-bool"),
    pytest.param(_image(_conv(out_channels=True)), 0, "out_channels", "whole number", id="bool-given-as-int"),
    pytest.param(_image(_conv(stride=[1, False])), 0, "stride", "whole number", id="bool-inside-a-pair"),
    pytest.param(_image(_conv(out_channels=0)), 0, "out_channels", "at least 1", id="zero-channels"),
    pytest.param(_image(_conv(kernel_size=[3, -1])), 0, "kernel_size", "at least 1", id="negative-kernel"),
    pytest.param(_image(_conv(padding=-1)), 0, "padding", "at least 0", id="negative-padding"),
    pytest.param(_image(_conv(padding="valid")), 0, "padding", '"same"', id="padding-other-string"),
    pytest.param(_image(_conv(padding=None)), 0, "padding", "whole number", id="padding-null"),
    pytest.param({"input": [3, 0, 32], "layers": []}, None, "input", "at least 1", id="zero-input-size"),
    pytest.param(
        {"input": [6, 8, 8], "layers": [RELU, RELU, _conv(8, groups=4)]},
        2,
        "groups",
        "does not divide the 6 input channels",
        id="groups-not-dividing-in-channels",
    ),
    pytest.param(
        {"input": [8, 8, 8], "layers": [_conv(6, groups=4)]},
        0,
        "groups",
        "does not divide out_channels 6",
        id="groups-not-dividing-out-channels",
    ),
    # 4 + 2*1 = 6 < 7
    pytest.param(
        {"input": [3, 4, 4], "layers": [_conv(8, 7, padding=1)]},
        0,
        "kernel_size",
        "larger than the padded",
        id="kernel-larger-than-padded-input",
    ),
    # span 3*(3-1)+1 = 7 > 5
    pytest.param(
        {"input": [3, 5, 9], "layers": [_conv(8, 3, dilation=3)]},
        0,
        "kernel_size",
        "spanning 7",
        id="dilated-kernel-larger-than-input",
    ),
    pytest.param(
        {"input": [3, 8, 8], "layers": [_conv(8, 3, stride=2), _conv(8, 3, stride=2), _conv(8, 3)]},
        2,
        "kernel_size",
        "larger than the padded",
        id="shrunk-below-kernel-downstream",
    ),
    pytest.param(
        {"input": [1, 3, 3], "layers": [{"type": "maxpool2d", "kernel_size": [2, 5]}]},
        0,
        "kernel_size",
        "kernel 5 (spanning 5 with dilation 1) is larger than the padded input W 3",
        id="pool-kernel-larger-than-input",
    ),
    pytest.param(
        {"input": [3, 8, 8], "layers": [{"type": "separable_conv2d", "out_channels": 4, "kernel_size": 9}]},
        0,
        "kernel_size",
        "larger",
        id="separable-kernel",
    ),
    pytest.param(
        {"input": [10, 64], "layers": [{"type": "attention", "num_heads": 5}]},
        0,
        "num_heads",
        "does not divide the 64 features",
        id="heads-not-dividing-features",
    ),
    pytest.param(
        {"input": [10, 4], "layers": [{"type": "attention", "num_heads": 8}]},
        0,
        "num_heads",
        "does not divide",
        id="more-heads-than-features",
    ),
    pytest.param(
        _image(_conv(padding="same", stride=2)), 0, "padding", "stride 1", id="same-padding-stride2"
    ),
    pytest.param(
        _image(
            {
                "type": "separable_conv2d",
                "out_channels": 4,
                "kernel_size": 3,
                "padding": "same",
                "stride": [1, 2],
            }
        ),
        0,
        "padding",
        "stride 1",
        id="same-padding-separable-stride",
    ),
    pytest.param(
        _image({"type": "maxpool2d", "kernel_size": 3, "padding": 2}),
        0,
        "padding",
        "half the kernel",
        id="pool-padding-over-half-kernel",
    ),
    pytest.param(
        _image({"type": "avgpool2d", "kernel_size": [4, 2], "padding": [2, 2]}),
        0,
        "padding",
        "half the kernel width",
        id="avgpool-padding-over-half-kernel-width",
    ),
    pytest.param(
        dict(_image(RELU), batchsize=2),
        None,
        "batchsize",
        "unknown top-level key",
        id="unknown-top-level-key",
    ),
    pytest.param(
        _image(RELU, {"type": "relu", "inplace": True}),
        1,
        "inplace",
        "unknown field",
        id="unknown-layer-field",
    ),
    pytest.param(
        _image({"type": "linear", "out_features": 4, "out_channels": 4}),
        0,
        "out_channels",
        "unknown field",
        id="field-of-another-kind",
    ),
    pytest.param({"input": [10, 64], "layers": [_conv()]}, 0, "type", "needs an image", id="conv-on-tokens"),
    pytest.param(
        {"input": [64], "layers": [{"type": "batchnorm2d"}]},
        0,
        "type",
        "needs an image",
        id="batchnorm-on-vector",
    ),
    pytest.param(
        _image({"type": "attention", "num_heads": 1}), 0, "type", "needs tokens", id="attention-on-image"
    ),
    pytest.param(
        _image(RELU, RELU, {"type": "flatten"}, {"type": "maxpool2d", "kernel_size": 2}),
        3,
        "type",
        "needs an image",
        id="pool-after-flatten",
    ),
    pytest.param(_image(dtype="fp64"), None, "dtype", "fp32", id="bad-dtype"),
    pytest.param(_image(dtype=["fp32"]), None, "dtype", "fp32", id="dtype-a-list"),
    pytest.param(_image(dtype={"bits": 32}), None, "dtype", "fp32", id="dtype-an-object"),
    pytest.param(_image(batch=0), None, "batch", "from 1", id="batch-zero"),
    pytest.param(_image(batch=1.5), None, "batch", "whole number", id="batch-float"),
    pytest.param(_image(batch=True), None, "batch", "whole number", id="batch-bool"),
    pytest.param(_image(batch=MAX_BATCH + 1), None, "batch", "from 1", id="batch-beyond-limit"),
    pytest.param(
        {"input": [MAX_DIM + 1], "layers": []}, None, "input", "beyond the limit", id="input-beyond-limit"
    ),
    pytest.param(
        _image(_conv(out_channels=2**20 + 1)),
        0,
        "out_channels",
        "beyond the limit",
        id="channels-beyond-limit",
    ),
    # 1,000 * 2^20 * 2^20 = 1.1e15 > 10^15 elements
    pytest.param(
        {"input": [2**20, 2**20], "batch": 1000, "layers": [{"type": "layernorm"}]},
        0,
        None,
        "beyond the limit",
        id="output-too-many-elements",
    ),
    pytest.param({"input": [1, 2, 3, 4], "layers": []}, None, "input", "[C, H, W]", id="input-rank-4"),
    pytest.param({"input": [], "layers": []}, None, "input", "[C, H, W]", id="input-empty"),
    pytest.param({"input": "3x32x32", "layers": []}, None, "input", "[C, H, W]", id="input-a-string"),
    pytest.param({"layers": []}, None, "input", "[C, H, W]", id="input-missing"),
    pytest.param({"input": [3, 32, 32]}, None, "layers", "list of layers", id="layers-missing"),
    pytest.param(
        {"input": [3, 32, 32], "layers": {"0": RELU}}, None, "layers", "list of layers", id="layers-an-object"
    ),
    pytest.param(
        {"input": [8], "layers": [RELU] * (MAX_LAYERS + 1)},
        None,
        "layers",
        "1,001 layers",
        id="too-many-layers",
    ),
    pytest.param(_image(RELU, "relu"), 1, None, "must be an object", id="layer-not-an-object"),
    pytest.param(
        _image({"type": "dropout", "p": 1.0}), 0, "p", "up to (not including) 1", id="dropout-p-one"
    ),
    pytest.param(_image({"type": "dropout", "p": "0.5"}), 0, "p", "number", id="dropout-p-string"),
    pytest.param(
        _image({"type": "adaptive_avgpool2d", "output_size": [0, 1]}),
        0,
        "output_size",
        "at least 1",
        id="adaptive-output-zero",
    ),
    pytest.param([], None, None, "JSON object", id="stack-a-list"),
    pytest.param(None, None, None, "JSON object", id="stack-null"),
    # text, through calc.load_stack
    pytest.param(
        '{"input": [3, 32, 32], "layers": [', None, None, "not valid JSON (line 1", id="json-truncated"
    ),
    pytest.param("{'input': [3]}", None, None, "not valid JSON", id="json-single-quotes"),
    pytest.param("", None, None, "not valid JSON", id="json-empty"),
    pytest.param(
        "[" * 100_000 + "]" * 100_000,
        None,
        None,
        "nested more than 32 levels deep",
        id="json-nested-too-deeply",
    ),
    pytest.param(
        '{"input": [' + "1" * 5000 + '], "layers": []}', None, None, "too many digits", id="json-huge-number"
    ),
    pytest.param(
        '{"input": [3], "layers": [], "dtype": "fp64"}', None, "dtype", "fp64", id="json-text-bad-dtype"
    ),
    pytest.param(
        '{"input": [3], "layers": [], "input": [4]}', None, "input", "given twice", id="json-duplicate-key"
    ),
    pytest.param(
        '{"input": [3], "layers": [{"type": "relu", "type": "gelu"}]}',
        None,
        "type",
        "given twice",
        id="json-duplicate-key-in-a-layer",
    ),
    pytest.param(
        '{"input": [3], "layers": [], "batch": ' + "[" * 40 + "]" * 40 + "}",
        None,
        None,
        "nested more than 32 levels deep",
        id="json-nested-past-the-limit",
    ),
    pytest.param(
        '{"input": [3], "layers": [{"type": "' + "x" * 2_000_000 + '"}]}',
        None,
        None,
        "2,000,0",
        id="json-too-long",
    ),
    pytest.param(
        '{"input": [3], "layers": [{"type": "' + "x" * 100_000 + '"}]}',
        0,
        "type",
        "unknown layer type",
        id="json-huge-unknown-type",
    ),
    pytest.param(
        '{"input": [3, 8, 8], "layers": [{"type": "relu"}, {"type": "conv2d", "out_channels": 4, '
        '"kernel_size": 3, "groups": 2}]}',
        1,
        "groups",
        "does not divide",
        id="json-text-groups",
    ),
]


def analyse(stack) -> calc.Report:
    return calc.analyze(calc.load_stack(stack) if isinstance(stack, str) else calc.parse_stack(stack))


@pytest.mark.parametrize("stack, layer, field, reason", BAD)
def test_bad_stack_raises_spec_error_naming_layer_and_field(stack, layer, field, reason):
    with pytest.raises(calc.SpecError) as caught:
        analyse(stack)
    error = caught.value
    assert (error.layer, error.field) == (layer, field)
    assert reason in error.reason
    message = str(error)
    assert message.endswith(error.reason)
    assert (f"layer {layer}" in message) == (layer is not None)
    assert (f"field '{field}'" in message) == (field is not None)
    assert len(message) < 400, "a message quotes at most a short cut of what the user gave"
    assert "\n" not in message


def test_message_names_layer_kind_and_field():
    with pytest.raises(calc.SpecError) as caught:
        analyse({"input": [6, 8, 8], "layers": [RELU, RELU, _conv(8, groups=4)]})
    assert (
        str(caught.value) == "layer 2 (conv2d), field 'groups': groups 4 does not divide the 6 input channels"
    )


def test_spec_error_is_a_value_error():
    # callers that catch ValueError around user input keep working
    assert issubclass(calc.SpecError, ValueError)


def test_too_long_json_text_is_refused_before_parsing():
    with pytest.raises(calc.SpecError, match="beyond the limit"):
        calc.load_stack(" " * 2_000_001)


# ---------------------------------------------------------------------------
# stopping at the first bad layer


def test_analyze_until_error_keeps_the_good_prefix():
    stack = calc.parse_stack(
        {
            "input": [6, 8, 8],
            "layers": [
                _conv(4, 3, padding=1),
                RELU,
                {"type": "maxpool2d", "kernel_size": 2},
                _conv(8, 3, groups=3),
                RELU,
            ],
        }
    )
    report, error = calc.analyze_until_error(stack)
    assert [row.output_shape for row in report.rows] == [(4, 8, 8), (4, 8, 8), (4, 4, 4)]
    assert report.macs == 4 * 6 * 3 * 3 * 8 * 8
    assert (error.layer, error.field, error.kind) == (3, "groups", "conv2d")
    with pytest.raises(calc.SpecError) as caught:
        calc.analyze(stack)
    assert str(caught.value) == str(error)


def test_analyze_until_error_on_a_good_stack_has_no_error():
    report, error = calc.analyze_until_error(calc.parse_stack(_image(_conv(), RELU)))
    assert error is None and len(report.rows) == 2


def test_analyze_json_until_error_reports_layers_before_a_field_error():
    report, error = calc.analyze_json_until_error(_image(_conv(4, padding=1), RELU, {"type": "linear"}))
    assert (error.layer, error.field) == (2, "out_features")
    assert [row.output_shape for row in report.rows] == [(4, 32, 32), (4, 32, 32)]


def test_analyze_json_until_error_has_no_report_for_a_stack_error():
    report, error = calc.analyze_json_until_error(_image(_conv(), batch=0))
    assert report is None and (error.layer, error.field) == (None, "batch")


# ---------------------------------------------------------------------------
# random bad input: SpecError or success, never another exception

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-3, 40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["same", "fp16", "relu", "conv2d", "attention", "layers", "type", "input"])
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=8) | st.sampled_from(["type", "input", "layers"]), children, max_size=4
        )
    ),
    max_leaves=12,
)

VALID = [entry.stack for entry in PRESETS] + [
    {
        "input": [4, 9, 9],
        "batch": 2,
        "dtype": "fp16",
        "layers": [
            _conv(4, [2, 3], padding="same", groups=2),
            {"type": "depthwise_conv2d", "kernel_size": 3, "multiplier": 2},
            {"type": "avgpool2d", "kernel_size": 2, "stride": 1, "padding": 1},
            {"type": "adaptive_avgpool2d", "output_size": [3, 2]},
            {"type": "flatten"},
            {"type": "layernorm"},
            {"type": "dropout", "p": 0.1},
            {"type": "linear", "out_features": 3},
        ],
    },
    {"input": [6, 12], "layers": [{"type": "attention", "num_heads": 3, "bias": False}, {"type": "silu"}]},
]


def _paths(value, path=()):
    """Every place inside a JSON value: (path to its container, key)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield path, key
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield path, index
            yield from _paths(child, (*path, index))


@st.composite
def mutated_stacks(draw):
    stack = json.loads(json.dumps(draw(st.sampled_from(VALID))))
    for _ in range(draw(st.integers(1, 3))):
        places = list(_paths(stack))
        if not places:  # everything deleted
            break
        path, key = draw(st.sampled_from(places))
        container = stack
        for step in path:
            container = container[step]
        action = draw(st.sampled_from(["replace", "delete", "add", "nudge"]))
        if action == "replace":
            container[key] = draw(JSON_VALUES)
        elif action == "delete":
            del container[key]
        elif action == "add" and isinstance(container, dict):
            name = draw(st.text(max_size=8) | st.sampled_from(["bias", "groups", "stride", "p"]))
            container[name] = draw(JSON_VALUES)
        elif action == "add":
            container.insert(key, draw(JSON_VALUES))
        elif isinstance(container[key], int) and not isinstance(container[key], bool):
            container[key] += draw(st.sampled_from([-1_000_000, -2, -1, 1, 2, MAX_DIM]))
    return stack


def _succeeds_or_spec_error(raw) -> None:
    refusal: calc.SpecError | None = None
    try:
        report = calc.analyze(calc.parse_stack(raw))
    except calc.SpecError as error:
        refusal = error
    if refusal is not None:
        assert refusal.layer is None or isinstance(refusal.layer, int)
        assert refusal.field is None or isinstance(refusal.field, str)
        str(refusal)
    else:
        assert report.macs >= 0 and report.params >= 0 and report.other_ops >= 0
        assert all(size >= 1 for row in report.rows for size in row.output_shape)
    # the page's path (analyze_json_until_error) refuses exactly what analyze refuses, with the
    # same message; a whole-stack error leaves no report, a layer's error the layers before it
    so_far, error = calc.analyze_json_until_error(raw)
    if refusal is None:
        assert error is None and so_far == report
    else:
        assert error is not None and str(error) == str(refusal)
        assert (so_far is None) == (error.layer is None)
        assert so_far is None or len(so_far.rows) <= error.layer  # fewer when an earlier layer does not fit


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_stacks())
def test_mutated_stacks_raise_only_spec_error(raw):
    _succeeds_or_spec_error(raw)
    # the same, as text, through the JSON loader
    with contextlib.suppress(calc.SpecError):
        calc.load_stack(json.dumps(raw))


@settings(max_examples=100, deadline=None)
@given(JSON_VALUES)
def test_arbitrary_json_raises_only_spec_error(raw):
    _succeeds_or_spec_error(raw)


@settings(max_examples=100, deadline=None)
@given(st.lists(JSON_VALUES, max_size=4), JSON_VALUES, JSON_VALUES)
def test_arbitrary_fields_raise_only_spec_error(layers, batch, dtype):
    _succeeds_or_spec_error({"input": [4, 8, 8], "batch": batch, "dtype": dtype, "layers": layers})


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_raises_only_spec_error(text):
    with contextlib.suppress(calc.SpecError):
        calc.load_stack(text)
