"""AppTest of the Concepts page: every number it shows is calc's, and the figures it calls
wrong are corrected with calc's counts. Expected values are written as arithmetic."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_app import open_page

import calc
from calc import hardware as hw
from calc import roofline, zoo
from calc.errors import SpecError
from calc.explain import explain
from calc.presets import PRESETS, preset
from calc.units import SI_PREFIXES, duration, exact, si

PAGE = Path(__file__).resolve().parents[1] / "pages" / "concepts.py"
STANDARD, SEPARABLE = (
    "Worked example: standard 3x3 conv 32 -> 64",
    "Worked example: separable 3x3 conv 32 -> 64",
)
WORKED = [entry for entry in PRESETS if entry.name.startswith("Worked example")]


@pytest.fixture(scope="module")
def concepts() -> AppTest:
    return open_page("pages/concepts.py")


@pytest.fixture(scope="module")
def resnet50() -> calc.Report:
    return zoo.count("resnet50")


def analyzed(name: str) -> calc.Report:
    return calc.analyze(calc.parse_stack(preset(name).stack))


def text(app: AppTest) -> str:
    """Everything the page writes as markdown or a caption, in one string."""
    return " ".join([element.value for element in app.markdown] + [element.value for element in app.caption])


def latex(app: AppTest) -> str:
    return " ".join(element.value for element in app.latex)


def open_tab(app: AppTest, label: str) -> AppTest:
    """Tables and charts are drawn only in the open tab."""
    app.session_state["concepts_tab"] = label
    app.run()
    assert not app.exception
    return app


def frame(app: AppTest, column: str):
    return next(element.value for element in app.dataframe if column in element.value)


def test_the_page_runs_with_its_six_sections(concepts):
    assert not concepts.exception
    assert concepts.title[0].value == "Concepts"
    assert [tab.label for tab in concepts.tabs] == [
        "MACs and FLOPs",
        "K, M, G, T, P",
        "Worked examples",
        "The reality gap",
        "LLM decode",
        "Wrong published figures",
    ]


def test_no_count_is_typed_into_the_page():
    # Any number of five digits or more is a count that calc should have computed; the
    # one exception is the batch of the P row, a choice rather than a result.
    numbers = set(re.findall(r"\d[\d_,]{4,}", PAGE.read_text(encoding="utf-8")))
    assert numbers == {"1_000_000"}, numbers


def test_mac_and_flops_are_calcs(concepts, resnet50):
    conv = analyzed("Worked example: 3x3 conv, RGB in")
    assert conv.macs == 64 * 3 * 3 * 3 * 224 * 224 and conv.flops == 2 * conv.macs
    assert r"a \leftarrow a + w \cdot x" in latex(concepts)
    assert explain(conv.rows[0].cost).macs_substituted in latex(concepts)
    assert "FLOPs = 2 × MACs" in text(concepts)
    assert f"**{exact(conv.macs)} MACs**" in text(concepts) and f"**{exact(conv.flops)} FLOPs**" in text(
        concepts
    )
    peak = hw.hardware("NVIDIA RTX 3090").roofs("fp32")
    assert f"**{si(resnet50.flops, 'FLOPs')}** per image" in text(concepts)
    assert duration(roofline.peak_seconds(resnet50.flops, peak)) == duration(2 * 4_089_184_256 / 35.6e12)
    assert f"**{duration(roofline.peak_seconds(resnet50.flops, peak))}**" in text(concepts)


def test_only_the_open_tab_draws_its_tables_and_charts():
    app = open_page("pages/concepts.py")
    assert not app.dataframe and not app.get("plotly_chart")
    open_tab(app, "The reality gap")
    assert len(app.dataframe) == 1 and len(app.get("plotly_chart")) == 1


def test_units_table_is_si_of_live_counts(concepts, resnet50):
    open_tab(concepts, "K, M, G, T, P")
    table = frame(concepts, "in SI").set_index("prefix")
    assert list(table.index) == [prefix for prefix, _ in reversed(SI_PREFIXES)]
    vit_h = zoo.count("vit_h_14")
    assert vit_h.input_shape == (3, 518, 518)
    counts = {
        "K": (analyzed("Worked example: matrix-vector").macs, "MACs"),
        "M": (analyzed("Worked example: 3x3 conv, RGB in").macs, "MACs"),
        "G": (resnet50.macs, "MACs"),
        "T": (vit_h.macs, "MACs"),
        "P": (1_000_000 * resnet50.flops, "FLOPs"),
    }
    for prefix, (count, unit) in counts.items():
        assert table.loc[prefix, "in SI"] == si(count, unit)
        assert table.loc[prefix, "exact count"] == f"{exact(count)} {unit}"
    assert [table.loc[prefix, "in SI"] for prefix in counts] == [
        "512.0 KMACs",
        "86.70 MMACs",
        "4.089 GMACs",
        "1.017 TMACs",
        "8.178 PFLOPs",
    ]
    assert table.loc["G", "means"] == "1000³ = 10⁹"
    # the P row multiplies one image's count by the batch: counts are linear in the batch
    stack = preset("Worked example: 3x3 conv, RGB in").stack
    assert (
        calc.analyze(calc.parse_stack(dict(stack, batch=7))).flops
        == 7 * calc.analyze(calc.parse_stack(stack)).flops
    )


def test_worked_examples_table_and_formula(concepts):
    open_tab(concepts, "Worked examples")
    table = frame(concepts, "params").set_index("example")
    assert len(table) == len(WORKED)
    for entry in WORKED:
        report = analyzed(entry.name)
        row = table.loc[entry.name.removeprefix("Worked example: ")]
        assert (row["MACs"], row["FLOPs"], row["params"]) == (report.macs, report.flops, report.params)
    concepts.radio(key="concepts_example").set_value(SEPARABLE).run()
    assert not concepts.exception
    formula = explain(analyzed(SEPARABLE).rows[0].cost)
    assert all(line in latex(concepts) for line in formula.term_lines)
    assert "117{,}211{,}136" in latex(concepts) and formula.flops in latex(concepts)
    concepts.radio(key="concepts_example").set_value(WORKED[0].name).run()  # back, for the other tests


def test_reality_gap_is_the_roofline_of_both_models(concepts, resnet50):
    open_tab(concepts, "The reality gap")
    table = frame(concepts, "(b) roofline").set_index("model")
    roofs = hw.hardware("NVIDIA RTX 3090").roofs("fp32")
    for name, report in (("resnet50", resnet50), ("mobilenet_v2", zoo.count("mobilenet_v2"))):
        estimate = roofline.estimate(report, roofs)
        assert table.loc[name, "(a) FLOPs / peak"] == duration(estimate.peak_seconds)
        assert table.loc[name, "(b) roofline"] == duration(estimate.roofline_seconds)
        assert table.loc[name, "time in them"] == f"{estimate.memory_bound_share:.0%}"
        assert (
            table.loc[name, "memory-bound layers"]
            == f"{len(estimate.memory_bound_layers)} of {len(estimate.layers)}"
        )
    assert f"{roofs.ridge_flops_per_byte:.1f} FLOPs/byte" in text(concepts)
    for cause in ("Data transfer", "Kernel launch overhead", "Tensor shapes", "Software overhead"):
        assert f"**{cause}.**" in text(concepts)
    links = [link.proto for link in concepts.get("page_link")]
    # the gap, then the accuracy here; then the LLM decode tab's link to the LLM page
    assert [link.page for link in links] == ["latency", "latency", "llm"]


def test_torchvision_gflops_are_gmacs(concepts, resnet50):
    info = zoo.model_info("resnet50")
    assert round(info.gmacs, 2) == round(resnet50.macs / 1e9, 2)  # the metadata is MACs, not FLOPs
    assert resnet50.macs == 4_089_184_256 and resnet50.flops == 2 * 4_089_184_256
    shown = text(concepts)
    assert "“4.09 GFLOPS”" in shown
    assert f"**{si(resnet50.macs, 'MACs')}** ({exact(resnet50.macs)} MACs)" in shown
    assert f"**{si(resnet50.flops, 'FLOPs')}** ({exact(resnet50.flops)} FLOPs)" in shown
    assert si(resnet50.macs, "MACs") == "4.089 GMACs" and si(resnet50.flops, "FLOPs") == "8.178 GFLOPs"


def test_tpu_v4_peak_is_bf16_not_fp32(concepts):
    tpu = hw.hardware("Google TPU v4")
    assert tpu.peak("bf16") == 275e12 and tpu.peak("int8") == 275e12
    with pytest.raises(SpecError):
        tpu.peak("fp32")
    shown = text(concepts)
    assert "“275 TFLOPS FP32”" in shown
    assert "**275.0 TFLOP/s bf16** and 275.0 TOP/s int8; FP32 peak: **none published**" in shown


def test_separable_figures_are_calcs(concepts):
    standard, separable = analyzed(STANDARD), analyzed(SEPARABLE)
    parts = dict(separable.rows[0].cost.parts)
    assert standard.macs == 64 * 32 * 3 * 3 * 224 * 224 == 924_844_032
    assert parts["depthwise"].macs == 32 * 3 * 3 * 224 * 224 == 14_450_688
    assert parts["pointwise"].macs == 64 * 32 * 224 * 224 == 102_760_448
    assert separable.macs == parts["depthwise"].macs + parts["pointwise"].macs == 117_211_136
    shown = text(concepts)
    for label, macs in (
        ("standard 3×3 conv", standard.macs),
        ("depthwise 3×3", parts["depthwise"].macs),
        ("pointwise 1×1", parts["pointwise"].macs),
    ):
        assert f"| {label} | {exact(macs)} |" in shown
    assert f"| **separable** (depthwise + pointwise) | **{exact(separable.macs)}** |" in shown
    savings = 1 - separable.macs / standard.macs
    assert f"{savings:.4f}" == "0.8733" and f"**{savings:.4f}**" in shown
    assert "32 → 64 channels, 3×3 kernel, 224×224 input" in shown
