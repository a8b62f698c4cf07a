"""Refined kinds of work (calc.calibration.RefinedKind): which kernel torch runs a CPU convolution on
(calc.conv_path), checked against aten's own choice (torch._C._select_conv_backend), which
activations and norms are priced apart by their module, and how the calibration prices them: by a
refined kind's table where the calibration timed one, else by the kind it refines."""

from __future__ import annotations

import pytest
import torch

from calc import calibration as model
from calc import calibration_file
from calc.analyze import Row
from calc.calibration_fit import Sample, fit
from calc.conv_path import ConvRules, ConvShape, padded, runs_onednn
from calc.cost import Cost, Term
from calc.work import Work, conv_work
from tests.test_calibration import BANDWIDTH, CALL_S, OP_S, PEAK, calibration_with, flat, synthetic_samples

AVX512 = 16

# (in channels, out channels, input size, kernel, stride, groups, batch)
CONVS = [
    pytest.param(58, 58, 28, 1, 1, 1, 1, id="shufflenet-pointwise-58"),
    pytest.param(64, 64, 28, 1, 1, 1, 1, id="pointwise-64"),
    pytest.param(232, 232, 7, 1, 1, 1, 1, id="pointwise-small-input"),
    pytest.param(16, 1280, 1, 1, 1, 1, 1, id="pointwise-one-pixel"),
    pytest.param(64, 128, 56, 1, 2, 1, 1, id="strided-pointwise"),
    pytest.param(64, 128, 8, 1, 2, 1, 1, id="strided-pointwise-small-input"),
    pytest.param(24, 58, 56, 1, 1, 1, 4, id="pointwise-batch-4"),
    pytest.param(24, 58, 8, 1, 1, 1, 16, id="pointwise-batch-16"),
    pytest.param(58, 58, 28, 3, 1, 58, 1, id="depthwise-58"),
    pytest.param(8, 8, 4, 3, 1, 8, 1, id="depthwise-tiny"),
    pytest.param(104, 104, 28, 3, 1, 13, 1, id="grouped"),
    pytest.param(64, 64, 56, 3, 1, 1, 1, id="standard"),
    pytest.param(16, 16, 14, 3, 1, 1, 1, id="standard-small-input"),
    pytest.param(3, 768, 224, 32, 32, 1, 1, id="patches"),
    pytest.param(16, 16, 14, 3, 1, 1, 2, id="standard-batch-2"),
]


def _padding(kernel: int, stride: int) -> int:
    return 0 if kernel == stride > 1 else kernel // 2


def _counted(c_in, c_out, size, kernel, stride, groups, batch) -> ConvShape:
    out = (size + 2 * _padding(kernel, stride) - kernel) // stride + 1
    return ConvShape(conv_work(c_in, groups, (kernel, kernel)), (c_in, size, size), (c_out, out, out), batch)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("c_in, c_out, size, kernel, stride, groups, batch", CONVS)
def test_the_rule_is_atens_choice(threads, c_in, c_out, size, kernel, stride, groups, batch):
    conv = _counted(c_in, c_out, size, kernel, stride, groups, batch)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        backend = torch._C._select_conv_backend(
            torch.empty(batch, c_in, size, size),
            torch.empty(c_out, c_in // groups, kernel, kernel),
            None,
            [stride, stride],
            [_padding(kernel, stride)] * 2,
            [1, 1],
            False,
            [0, 0],
            groups,
            None,
        )
    finally:
        torch.set_num_threads(before)
    assert runs_onednn(conv, ConvRules(threads, AVX512)) == (backend == torch._C._ConvBackend.Mkldnn)


@pytest.mark.parametrize(
    "conv, rules, expected",
    [
        pytest.param(_counted(58, 58, 28, 1, 1, 1, 1), ConvRules(2, AVX512), True, id="58-at-2-threads"),
        pytest.param(_counted(58, 58, 28, 1, 1, 1, 1), ConvRules(1, AVX512), False, id="58-native-at-1"),
        pytest.param(_counted(64, 64, 28, 1, 1, 1, 1), ConvRules(2, AVX512), False, id="64-a-whole-block"),
        pytest.param(_counted(24, 64, 56, 1, 1, 1, 1), ConvRules(2, AVX512), True, id="24-in"),
        pytest.param(_counted(24, 64, 56, 1, 1, 1, 1), ConvRules(2, 8), False, id="24-in-avx2-block-8"),
        pytest.param(_counted(58, 58, 28, 3, 1, 58, 1), ConvRules(1, AVX512), True, id="depthwise-58"),
        pytest.param(_counted(58, 58, 28, 3, 1, 58, 1), ConvRules(2, 0), False, id="no-onednn-rule"),
    ],
)
def test_padded_channels(conv, rules, expected):
    assert padded(conv, rules) == expected


# ------------------------------------------------------------------ priced by the refined kind


def _conv_row(c_in, c_out, size, kernel, groups) -> Row:
    conv = _counted(c_in, c_out, size, kernel, 1, groups, 1)
    cost = Cost(
        (1, *conv.output_shape),
        c_out * (c_in // groups) * kernel * kernel,
        terms=(
            Term(
                "conv",
                (
                    ("C_{out}", c_out),
                    ("C_{in}/g", c_in // groups),
                    ("k^2", kernel * kernel),
                    ("HW", size * size),
                ),
                conv.work,
            ),
        ),
        input_elements=c_in * size * size,
        output_elements=c_out * size * size,
    )
    return Row(0, "conv", "Conv2d", conv.input_shape, conv.output_shape, cost, 4)


@pytest.mark.parametrize(
    "row, rules, kind",
    [
        pytest.param(_conv_row(58, 58, 28, 1, 1), None, Work.POINTWISE_CONV, id="no-rules"),
        pytest.param(_conv_row(58, 58, 28, 1, 1), ConvRules(1, AVX512), Work.POINTWISE_CONV, id="1-thread"),
        pytest.param(
            _conv_row(58, 58, 28, 1, 1), ConvRules(2, AVX512), model.RefinedKind.POINTWISE_PADDED, id="padded"
        ),
        pytest.param(
            _conv_row(64, 64, 28, 1, 1), ConvRules(2, AVX512), model.RefinedKind.POINTWISE_ONEDNN, id="onednn"
        ),
        pytest.param(
            _conv_row(72, 72, 56, 3, 72), ConvRules(1, AVX512), model.RefinedKind.DEPTHWISE_PADDED, id="dw-72"
        ),
        pytest.param(_conv_row(64, 64, 56, 3, 64), ConvRules(1, AVX512), Work.DEPTHWISE_CONV, id="dw-64"),
        pytest.param(_conv_row(104, 104, 28, 3, 13), ConvRules(2, AVX512), Work.GROUPED_CONV, id="grouped"),
        pytest.param(
            _conv_row(3, 64, 224, 7, 1), ConvRules(1, AVX512), model.RefinedKind.STANDARD_PADDED, id="stem"
        ),
        pytest.param(_conv_row(64, 64, 56, 3, 1), ConvRules(2, AVX512), Work.STANDARD_CONV, id="standard"),
        pytest.param(
            _conv_row(64, 64, 14, 3, 1), ConvRules(2, AVX512), model.RefinedKind.STANDARD_NATIVE, id="native"
        ),
        pytest.param(_conv_row(64, 64, 14, 3, 1), ConvRules(2, 0), Work.STANDARD_CONV, id="native-on-a-gpu"),
    ],
)
def test_a_convolution_is_priced_by_the_kernel_it_runs(row, rules, kind):
    (piece,) = model.components(row, rules)
    assert piece.kind == kind
    assert piece.flops == 2 * row.cost.macs
    assert piece.memory_bytes == (row.cost.params + row.cost.input_elements + row.cost.output_elements) * 4


REFINED = {
    model.RefinedKind.POINTWISE_ONEDNN: 0.2,
    model.RefinedKind.POINTWISE_PADDED: 0.1,
    model.RefinedKind.DEPTHWISE_PADDED: 0.05,
    model.RefinedKind.STANDARD_PADDED: 0.3,
    model.RefinedKind.STANDARD_NATIVE: 0.15,
}


def _with_refined(*kinds) -> model.Calibration:
    plain = calibration_with(channel_block=AVX512)
    extra = tuple(model.KindFit(kind, flat(REFINED[kind]), flat(0.5), 3) for kind in kinds)
    return model.Calibration(**{**plain.__dict__, "fits": plain.fits + extra})


@pytest.mark.parametrize(
    "timed, kind, efficiency",
    [
        pytest.param((), model.RefinedKind.POINTWISE_PADDED, 0.5, id="none-timed-the-pointwise-table"),
        pytest.param(
            (model.RefinedKind.POINTWISE_ONEDNN,), model.RefinedKind.POINTWISE_PADDED, 0.2, id="onednn-table"
        ),
        pytest.param(tuple(REFINED), model.RefinedKind.POINTWISE_PADDED, 0.1, id="its-own-table"),
        pytest.param((), model.RefinedKind.DEPTHWISE_PADDED, 0.5, id="depthwise-table"),
    ],
)
def test_a_refined_kind_not_timed_is_priced_as_the_kind_it_refines(timed, kind, efficiency):
    assert _with_refined(*timed).fit_of(kind).compute.at(1e7) == efficiency


def test_a_58_channel_pointwise_conv_is_priced_by_the_padded_table_at_2_threads_only():
    row = _conv_row(58, 58, 28, 1, 1)
    flops = 2 * 58 * 58 * 28 * 28
    for threads, efficiency in ((2, 0.1), (1, 0.5)):
        calibration = _with_refined(*REFINED)
        calibration = model.Calibration(
            **{
                **calibration.__dict__,
                "fingerprint": model.Fingerprint("cpu", "Test CPU", threads, "2", "fp32"),
            }
        )
        (piece,) = model.components(row, calibration.conv_rules)
        seconds = model.component_time(piece, calibration).compute_seconds
        assert seconds == pytest.approx(flops / (efficiency * PEAK)), threads


def test_the_fit_fits_the_refined_kinds_it_has_samples_of():
    truth = _with_refined(*REFINED)
    samples = synthetic_samples(truth) + [
        Sample(
            model.RefinedKind.DEPTHWISE_PADDED,
            flops,
            flops / 200,
            model.component_time(
                model.Component(model.RefinedKind.DEPTHWISE_PADDED, flops, flops / 200), truth
            ).seconds
            + CALL_S,
        )
        for flops in (10**6, 10**7, 10**8)
    ]
    fits = {item.kind: item for item in fit(samples, PEAK, BANDWIDTH, OP_S, CALL_S)}
    assert set(fits) == {*model.CALIBRATED_KINDS, model.RefinedKind.DEPTHWISE_PADDED}
    assert fits[model.RefinedKind.DEPTHWISE_PADDED].compute.at(1e7) == pytest.approx(0.05, rel=1e-6)


def test_refined_fits_and_the_channel_block_round_trip_through_json():
    calibration = _with_refined(*REFINED)
    text = calibration_file.calibration_to_json(calibration)
    assert calibration_file.calibration_from_json(text) == calibration


def test_a_calibration_refuses_a_refined_kind_twice():
    calibration = _with_refined(model.RefinedKind.POINTWISE_PADDED)
    with pytest.raises(ValueError, match="at most one of each refined"):
        model.Calibration(**{**calibration.__dict__, "fits": calibration.fits + calibration.fits[-1:]})


@pytest.mark.parametrize(
    "module_kind, label, kind",
    [
        pytest.param("GELU", "activation", model.RefinedKind.TRANSCENDENTAL_ACTIVATION, id="gelu"),
        pytest.param("SiLU", "activation", model.RefinedKind.TRANSCENDENTAL_ACTIVATION, id="silu"),
        pytest.param("NewGELUActivation", "activation", model.RefinedKind.TRANSCENDENTAL_ACTIVATION, id="hf"),
        pytest.param("ReLU", "activation", model.OtherWork.ACTIVATION, id="relu"),
        pytest.param("Hardswish", "activation", model.OtherWork.ACTIVATION, id="hardswish"),
        pytest.param("LayerNorm", "normalization", model.RefinedKind.FEATURE_NORMALIZATION, id="layer-norm"),
        pytest.param("LayerNorm2d", "normalization", model.RefinedKind.FEATURE_NORMALIZATION, id="convnext"),
        pytest.param("LlamaRMSNorm", "normalization", model.RefinedKind.FEATURE_NORMALIZATION, id="rms-norm"),
        pytest.param("BatchNorm2d", "normalization", model.OtherWork.NORMALIZATION, id="batch-norm"),
        pytest.param("Softmax", "softmax", model.OtherWork.NORMALIZATION, id="softmax"),
        pytest.param("GELU", "elementwise", model.OtherWork.ELEMENTWISE, id="not-its-activation"),
    ],
)
def test_an_activation_or_norm_is_priced_by_its_module(module_kind, label, kind):
    cost = Cost(
        (1, 50, 768), 0, other_ops=((label, 50 * 768),), input_elements=50 * 768, output_elements=50 * 768
    )
    (piece,) = model.components(Row(0, "op", module_kind, (50, 768), (50, 768), cost, 4))
    assert piece.kind == kind
    assert piece.memory_bytes == 2 * 50 * 768 * 4
