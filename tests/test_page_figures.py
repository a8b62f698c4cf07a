"""The figures the Latency, Separable and Compare pages show, computed in calc and charts
(the pages only lay them out), against hand-written arithmetic.

A linear layer 512 -> 1000 without bias, batch 1, fp32, is the model of the latency cases:
512·1000 MACs, FLOPs = 2 × MACs, bytes = weights + input + output, 4 bytes each.
"""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pytest

import calc
from calc import zoo
from calc.errors import SpecError
from calc.roofline import Roofs, against_measurement, estimate
from calc.separable import compare, timed_stacks
from calc.torch_measure import NOISY_SPREAD, Measurement
from calc.units import duration, si
from charts import compare as compare_charts
from charts import latency as latency_charts
from charts import separable as separable_charts
from ui import devices, links

ROOT = Path(__file__).resolve().parents[1]
LINEAR_MACS = 512 * 1000
LINEAR_FLOPS = 2 * 512 * 1000
LINEAR_BYTES = 4 * (512 * 1000 + 512 + 1000)
TIDY = Roofs(64e12, 2e12, "tidy device, fp32")  # ridge 32 FLOPs/byte
PROBED = Roofs(1e12, 1e11, "this machine, fp32")


def linear(batch: int = 1) -> calc.Report:
    return calc.analyze(
        calc.parse_stack(
            {
                "input": [512],
                "batch": batch,
                "layers": [{"type": "linear", "out_features": 1000, "bias": False}],
            }
        )
    )


# --- latency: theory against a measurement -----------------------------------------------------


@pytest.mark.parametrize(
    "measured, spec_peak, spec, probed_peak, roofline",
    [
        pytest.param(
            1e-4,
            2e12,
            (LINEAR_FLOPS / 2e12) / 1e-4,
            (LINEAR_FLOPS / 1e12) / 1e-4,
            max(LINEAR_FLOPS / 1e12, LINEAR_BYTES / 1e11) / 1e-4,
            id="with-spec-peak",
        ),
        pytest.param(
            5e-5,
            None,
            None,
            (LINEAR_FLOPS / 1e12) / 5e-5,
            max(LINEAR_FLOPS / 1e12, LINEAR_BYTES / 1e11) / 5e-5,
            id="no-spec-peak",
        ),
    ],
)
def test_efficiencies_are_theory_over_measured(measured, spec_peak, spec, probed_peak, roofline):
    here = against_measurement(linear(), PROBED, measured, spec_peak)
    assert here.spec_peak_efficiency == (None if spec is None else pytest.approx(spec))
    assert here.probed_peak_efficiency == pytest.approx(probed_peak)
    assert here.roofline_efficiency == pytest.approx(roofline)


def test_an_unmeasured_time_has_no_efficiency():
    assert math.isnan(against_measurement(linear(), PROBED, 0.0, 2e12).roofline_efficiency)


@pytest.mark.parametrize(
    "device, spec_peak, bars",
    [
        pytest.param(
            "cpu",
            2e12,
            [
                ("(a) tidy device, fp32", LINEAR_FLOPS / 64e12),
                ("(b) tidy device, fp32", LINEAR_BYTES / 2e12),
                ("(a) this CPU's spec-sheet peak", LINEAR_FLOPS / 2e12),
                ("(a) this machine's measured peak", LINEAR_FLOPS / 1e12),
                ("(b) this machine's measured roofs", LINEAR_BYTES / 1e11),
            ],
            id="cpu",
        ),
        pytest.param(
            "cuda:0",
            2e12,
            [
                ("(a) tidy device, fp32", LINEAR_FLOPS / 64e12),
                ("(b) tidy device, fp32", LINEAR_BYTES / 2e12),
                ("(a) this GPU's spec-sheet peak", LINEAR_FLOPS / 2e12),
                ("(a) this machine's measured peak", LINEAR_FLOPS / 1e12),
                ("(b) this machine's measured roofs", LINEAR_BYTES / 1e11),
            ],
            id="gpu",
        ),
        pytest.param(
            "cpu",
            None,
            [
                ("(a) tidy device, fp32", LINEAR_FLOPS / 64e12),
                ("(b) tidy device, fp32", LINEAR_BYTES / 2e12),
                ("(a) this machine's measured peak", LINEAR_FLOPS / 1e12),
                ("(b) this machine's measured roofs", LINEAR_BYTES / 1e11),
            ],
            id="no-spec-peak",
        ),
    ],
)
def test_comparison_bars(device, spec_peak, bars):
    report = linear()
    here = against_measurement(report, PROBED, 3e-3, spec_peak)
    shown = latency_charts.comparison_bars(estimate(report, TIDY), here, device, "a spec sheet", "the probe")
    assert [(label, pytest.approx(seconds)) for label, seconds, _ in shown] == bars


@pytest.mark.parametrize(
    "batches, probed, measured, rows",
    [
        pytest.param(
            (1, 4),
            {},
            {},
            [
                (1, "(b) roofline, tidy device, fp32", LINEAR_BYTES / 2e12),
                (4, "(b) roofline, tidy device, fp32", 4 * 4 * (512 + 1000) / 2e12 + 4 * 512 * 1000 / 2e12),
            ],
            id="theory-only",
        ),
        pytest.param(
            (2,),
            {"cpu": PROBED},
            {2: 0.5},
            [
                (2, "(b) roofline, tidy device, fp32", (4 * 512 * 1000 + 2 * 4 * (512 + 1000)) / 2e12),
                (
                    2,
                    "(b) roofline, this machine (cpu, measured roofs)",
                    (4 * 512 * 1000 + 2 * 4 * (512 + 1000)) / 1e11,
                ),
                (2, "measured here (cpu)", 0.5),
            ],
            id="probed-and-measured",
        ),
        pytest.param((), {}, {8: 0.25}, [(8, "measured here (cpu)", 0.25)], id="measured-only"),
    ],
)
def test_batch_sweep_table(batches, probed, measured, rows):
    reports = {size: linear(size) for size in batches}
    table = latency_charts.batch_sweep_table(reports, TIDY, probed, measured, "cpu")
    assert [
        (batch, series, pytest.approx(seconds))
        for batch, series, seconds in table[["batch", "series", "seconds"]].itertuples(index=False)
    ] == rows
    assert list(table["samples per s"]) == pytest.approx([batch / seconds for batch, _, seconds in rows])
    assert list(table["measured"]) == [series.startswith("measured") for _, series, _ in rows]


def test_an_empty_batch_sweep_is_an_empty_table():
    table = latency_charts.batch_sweep_table({}, TIDY, {}, {}, "cpu")
    assert table.empty and list(table.columns) == ["batch", "series", "measured", "seconds", "samples per s"]


@pytest.mark.parametrize(
    "text, latex",
    [
        pytest.param("8.178 GFLOPs", r"8.178\,\text{GFLOPs}", id="unit"),
        pytest.param("35.6 TFLOP/s", r"35.6\,\text{TFLOP/s}", id="rate"),
        pytest.param("12", "12", id="no-unit"),
    ],
)
def test_latex_quantity(text, latex):
    assert latency_charts.latex_quantity(text) == latex


def test_theory_formulas_show_the_estimate():
    peak, roof = latency_charts.theory_formulas(estimate(linear(), TIDY))
    quantity = latency_charts.latex_quantity
    flops, rate = quantity(si(LINEAR_FLOPS, "FLOPs")), quantity(si(64e12, "FLOP/s"))
    assert peak.endswith(rf"\frac{{{flops}}}{{{rate}}} = " + quantity(duration(LINEAR_FLOPS / 64e12)))
    assert roof.endswith("= " + quantity(duration(LINEAR_BYTES / 2e12)))  # memory-bound: bytes / B


@pytest.mark.parametrize(
    "times, spread, noisy",
    [
        pytest.param((1.0, 1.0, 1.0, 1.0), 0.0, False, id="still"),
        pytest.param((10.0, 10.0, 11.0, 11.0, 12.0), (11 - 10) / 11, False, id="quiet"),
        pytest.param((1.0, 2.0, 3.0, 4.0, 5.0), (4 - 2) / 3, True, id="noisy"),
    ],
)
def test_a_measurement_is_noisy_past_the_spread_limit(times, spread, noisy):
    measurement = Measurement("cpu", "fp32", 1, 1, times, 1, 0, 1.0)
    assert measurement.spread == pytest.approx(spread)
    assert measurement.noisy is noisy
    assert noisy == (spread > NOISY_SPREAD)


# --- separable: the two layers timed, and their table ----------------------------------------


@pytest.mark.parametrize(
    "in_channels, out_channels, kernel, size, stride, padding, out_size",
    [
        pytest.param(32, 64, 3, 224, 1, 1, 224, id="same"),
        pytest.param(16, 48, 5, 57, 2, 0, (57 - 5) // 2 + 1, id="strided-valid"),
        pytest.param(8, 8, 1, 9, 1, 0, 9, id="pointwise-kernel"),
    ],
)
def test_timed_stacks_count_as_compare(in_channels, out_channels, kernel, size, stride, padding, out_size):
    standard, separable = (
        calc.analyze(calc.parse_stack(stack))
        for stack in timed_stacks(in_channels, out_channels, kernel, size, stride, padding)
    )
    positions = out_size * out_size
    assert standard.macs == out_channels * in_channels * kernel**2 * positions
    assert [row.macs for row in separable.rows] == [
        in_channels * kernel**2 * positions,
        out_channels * in_channels * positions,
    ]
    comparison = compare(in_channels, out_channels, kernel, size, stride, padding)
    assert (standard.macs, separable.macs) == (comparison.standard_macs, comparison.separable_macs)
    assert comparison.flops_share == pytest.approx(
        (in_channels * kernel**2 + out_channels * in_channels) / (out_channels * in_channels * kernel**2)
    )


def test_measured_table_splits_the_separable_time_by_the_profiled_shares():
    standard_stack, separable_stack = timed_stacks(32, 64, 3, 56, 1, 1)
    standard = calc.analyze(calc.parse_stack(standard_stack))
    separable = calc.analyze(calc.parse_stack(separable_stack))
    table = separable_charts.measured_table(standard, separable, 4e-3, 2e-3, {"0": 3.0, "1": 1.0}, TIDY)
    assert list(table["layer"]) == ["standard conv", "depthwise part", "pointwise part"]
    assert list(table["measured (ms)"]) == pytest.approx([4.0, 2.0 * 3 / 4, 2.0 * 1 / 4])
    flops = [2 * 64 * 32 * 9 * 56 * 56, 2 * 32 * 9 * 56 * 56, 2 * 64 * 32 * 56 * 56]
    assert list(table["FLOPs"]) == flops
    assert list(table["achieved FLOP/s"]) == pytest.approx(
        [flops[0] / 4e-3, flops[1] / 1.5e-3, flops[2] / 0.5e-3]
    )
    rows = [standard.rows[0], *separable.rows]
    assert list(table["roofline time (ms)"]) == pytest.approx(
        [max(row.flops / 64e12, row.memory_bytes / 2e12) * 1e3 for row in rows]
    )
    assert list(table["bound here (roofline)"]) == [
        "memory" if row.flops / row.memory_bytes < 32 else "compute" for row in rows
    ]


def test_savings_formulas_show_the_counted_macs():
    symbols, textbook, counted = separable_charts.savings_formulas(compare(32, 64, 3, 224, 1, 1))
    assert r"\frac{1}{C_{out}} + \frac{1}{K^2}" in symbols
    assert textbook == (
        rf"= 1 - \left(\frac{{1}}{{64}} + \frac{{1}}{{3^2}}\right) = "
        f"{1 - (1 / 64 + 1 / 9):.4f}"
    )
    standard, separable = 64 * 32 * 9 * 224 * 224, (32 * 9 + 64 * 32) * 224 * 224
    assert rf"\frac{{{separable:,}}}{{{standard:,}}}".replace(",", "{,}") in counted
    assert counted.endswith(f"= {1 - separable / standard:.4f}\\end{{aligned}}")


# --- compare: FLOPs from calc.units, cost relative to a baseline --------------------------------


@pytest.mark.parametrize(
    "baseline, used, relative",
    [
        pytest.param("wide", "wide", [1.0, 1 / 2], id="chosen-baseline"),
        pytest.param("gone", "wide", [1.0, 1 / 2], id="missing-baseline-is-the-first"),
        pytest.param("narrow", "narrow", [2.0, 1.0], id="second-baseline"),
    ],
)
def test_comparison_table(baseline, used, relative):
    wide = calc.analyze(
        calc.parse_stack(
            {"input": [512], "layers": [{"type": "linear", "out_features": 1000, "bias": False}]}
        )
    )
    narrow = calc.analyze(
        calc.parse_stack({"input": [512], "layers": [{"type": "linear", "out_features": 500, "bias": False}]})
    )
    table, shown = compare_charts.comparison_table([("wide", wide, 76.1), ("narrow", narrow, None)], baseline)
    assert shown == used
    assert list(table["GMACs"]) == [512 * 1000 / 1e9, 512 * 500 / 1e9]
    assert list(table["GFLOPs"]) == [2 * 512 * 1000 / 1e9, 2 * 512 * 500 / 1e9]
    assert list(table["params (M)"]) == [512 * 1000 / 1e6, 512 * 500 / 1e6]
    assert table["acc@1 (%)"].iloc[0] == 76.1 and math.isnan(table["acc@1 (%)"].iloc[1])
    assert list(table["input"]) == ["512", "512"]
    assert list(table["relative cost"]) == relative


# --- link bounds: declared once, used by the widget and the link --------------------------------


@pytest.mark.parametrize(
    "bounds, accepted, refused",
    [
        pytest.param(
            links.RESOLUTION, ("32", "299", "1024"), ("31", "1025", "-1", "2.5", ""), id="resolution"
        ),
        pytest.param(links.BATCH, ("1", "1024"), ("0", "1025"), id="batch"),
        pytest.param(links.Whole(0, 15), ("0", "15"), ("16", "x"), id="from-zero"),
    ],
)
def test_a_link_reads_what_its_widget_accepts(bounds, accepted, refused):
    param = links.integer("n", "key", bounds)
    assert [param.read(text) for text in accepted] == [int(text) for text in accepted]
    for text in refused:
        with pytest.raises(ValueError, match=f"from {bounds.low} to {bounds.high:,}"):
            param.read(text)
    assert bounds.widget() == {"min_value": bounds.low, "max_value": bounds.high, "step": bounds.step}


def integer_params(tree: ast.AST) -> dict[str, str]:
    """session key -> the source of the bounds of each ``links.integer(name, key, bounds)``."""
    return {
        call.args[1].value: ast.unparse(call.args[2])
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and ast.unparse(call.func) == "links.integer"
    }


def _input_key(keyword: ast.keyword) -> str | None:
    """The session key a number input's keyword gives: ``key="…"``, or ``**RANGE.widget("…")``."""
    if keyword.arg == "key" and isinstance(keyword.value, ast.Constant):
        return keyword.value.value
    value = keyword.value
    if keyword.arg is None and isinstance(value, ast.Call) and value.args:
        return value.args[0].value if isinstance(value.args[0], ast.Constant) else None
    return None


def number_inputs(tree: ast.AST) -> dict[str, ast.Call]:
    return {
        _input_key(keyword): call
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and ast.unparse(call.func).endswith("number_input")
        for keyword in call.keywords
        if _input_key(keyword) is not None
    }


PAGES = sorted((ROOT / "pages").glob("*.py"))


@pytest.mark.parametrize("page", [pytest.param(path, id=path.stem) for path in PAGES])
def test_each_linked_number_input_takes_its_bounds_from_the_link(page):
    tree = ast.parse(page.read_text(encoding="utf-8"))
    inputs = number_inputs(tree)
    for key, bounds in integer_params(tree).items():
        if key not in inputs:  # a selectbox of layers, say: its options come from the stack
            continue
        call = inputs[key]
        assert [ast.unparse(keyword.value) for keyword in call.keywords if keyword.arg is None] in (
            [f"{bounds}.widget()"],
            [f"{bounds}.widget({key!r})"],  # the key and its default too (ui.widget_defaults)
        ), key
        assert not {"min_value", "max_value", "step"} & {keyword.arg for keyword in call.keywords}, key


def test_the_pages_link_their_number_inputs():
    """The test above would pass on pages whose links had no integers: these are the ones it checks."""
    linked = {
        page.stem: sorted(
            set(integer_params(ast.parse(page.read_text(encoding="utf-8"))))
            & set(number_inputs(ast.parse(page.read_text(encoding="utf-8"))))
        )
        for page in (ROOT / "pages").glob("*.py")
    }
    assert linked["model"] == ["model_batch"]  # its resolution and sequence length: ui.source_picker's
    assert linked["latency"] == ["latency_batch"]  # its resolution: ui.source_picker's, as the model page's
    assert linked["separable"] == ["sep_in", "sep_kernel", "sep_out", "sep_padding", "sep_size", "sep_stride"]


def test_the_source_pickers_inputs_take_the_bounds_of_their_links():
    """ui.source_picker draws the resolution and sequence-length boxes of the pages that pick a source
    (keys given by the page): each with the bounds its link parameter reads."""
    tree = ast.parse((ROOT / "ui" / "source_picker.py").read_text(encoding="utf-8"))
    calls = [
        call
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and ast.unparse(call.func) == "st.number_input"
    ]
    bounds = [
        ast.unparse(keyword.value.func) for call in calls for keyword in call.keywords if keyword.arg is None
    ]
    assert sorted(bounds) == ["SEQ_LEN.widget", "links.RESOLUTION.widget"]


# --- FLOPs = 2 × MACs only in calc.units ------------------------------------------------------


@pytest.mark.parametrize("folder", ["pages", "charts", "ui"])
def test_no_page_chart_or_widget_doubles_macs_itself(folder):
    """FLOPs are derived in calc/units.py (Report.flops): a ``2 * macs`` elsewhere could drift from it."""
    doubled = []
    for path in sorted((ROOT / folder).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
                sides = (node.left, node.right)
                if any(isinstance(side, ast.Constant) and side.value == 2 for side in sides) and any(
                    "mac" in ast.unparse(side).lower() for side in sides
                ):
                    doubled.append(f"{path.name}:{node.lineno}")
    assert doubled == []


# --- model: which zoo entries take a resolution; the per-module table -------------------------


@pytest.mark.parametrize(
    "name, takes_images, fixed",
    [
        pytest.param("resnet50", True, False, id="resnet50"),
        pytest.param("vit_b_16", True, True, id="vit-fixed"),
        pytest.param("stack: Worked example: 3x3 conv, RGB in", True, False, id="rgb-stack"),
        pytest.param("stack: MobileNetV2 block", False, False, id="32-channel-stack"),
        pytest.param("stack: Worked example: matrix-vector", False, False, id="vector-stack"),
    ],
)
def test_which_zoo_entries_take_a_resolution(name, takes_images, fixed):
    info = zoo.model_info(name)
    assert (info.takes_images, info.fixed_resolution) == (takes_images, fixed)


@pytest.mark.parametrize(
    "query, paths",
    [
        pytest.param("", ["0", "1", "2"], id="no-filter"),
        pytest.param("conv", ["0"], id="type-any-case"),
        pytest.param("1", ["1"], id="path"),
        pytest.param("LIN", ["2"], id="type-upper-case"),
        pytest.param(".*", [], id="no-pattern"),
    ],
)
def test_module_table_filters_by_path_or_type(query, paths):
    from charts.tables import module_table, module_totals

    report = calc.analyze(
        calc.parse_stack(
            {
                "input": [3, 8, 8],
                "layers": [
                    {"type": "conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1, "bias": False},
                    {"type": "relu"},
                    {"type": "linear", "out_features": 2, "bias": False},
                ],
            }
        )
    )
    table = module_table(report, query)
    assert list(table["module path"]) == paths
    assert {"module path", "type"} <= set(table.columns) and not {"#", "layer"} & set(table.columns)
    totals = module_totals(report)
    assert (totals["module path"], totals["MACs"]) == ("total", 4 * 3 * 9 * 8 * 8 + 2 * 4 * 8 * 8)


@pytest.mark.parametrize(
    "peak, bandwidth, accepted",
    [
        pytest.param(devices.MAX_PEAK, devices.MAX_BANDWIDTH, True, id="the-form's-maxima"),
        pytest.param(devices.MAX_PEAK * 1.001, 100.0, False, id="peak-beyond"),
        pytest.param(1.0, devices.MAX_BANDWIDTH * 1.001, False, id="bandwidth-beyond"),
    ],
)
def test_the_custom_device_form_allows_what_a_device_link_allows(peak, bandwidth, accepted):
    """The form's maxima (T(FL)OP/s, GB/s) are calc.hardware's limits, which read_device applies to a link."""
    link = json.dumps(
        {
            "name": "Mine",
            "peaks": {"fp32": peak * devices.PEAK_UNIT},
            "bandwidth": bandwidth * devices.BANDWIDTH_UNIT,
        }
    )
    if accepted:
        assert devices.read_device(link).peak_flops_per_s["fp32"] == peak * 1e12
    else:
        with pytest.raises(SpecError):
            devices.read_device(link)
