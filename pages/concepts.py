"""Concepts, for a class: what a MAC is, FLOPs (a count) against FLOPS (a rate), the K-to-P
ladder, the worked examples, why measured latency exceeds FLOPs / peak, and published
figures that are wrong. Every number here is computed by calc when the page runs."""

from __future__ import annotations

import math

import streamlit as st

import calc
from calc import hardware as hw
from calc import roofline, zoo
from calc.decode_bound import decode_bound
from calc.errors import SpecError
from calc.explain import explain
from calc.presets import PRESETS, preset
from calc.units import FLOPS_PER_MAC, SI_PREFIXES, duration, exact, flops_from_macs, si, si_bytes
from charts import concepts as charts
from ui import figures, links, shell, tables, widget_defaults
from ui.counts import count

shell.require_navigation()

WORKED = "Worked example: "
SMALL_LINEAR, CONV = "Worked example: matrix-vector", "Worked example: 3x3 conv, RGB in"
STANDARD, SEPARABLE = (
    "Worked example: standard 3x3 conv 32 -> 64",
    "Worked example: separable 3x3 conv 32 -> 64",
)
GPU, TPU = "NVIDIA RTX 3090", "Google TPU v4"
TABS = [
    "MACs and FLOPs",
    "K, M, G, T, P",
    "Worked examples",
    "The reality gap",
    "LLM decode",
    "Wrong published figures",
]
BIG_BATCH = 1_000_000  # images, for the P row: a count scales linearly with the batch
# The LLM decode example: a curated checkpoint (its config values, no torch) on the LLM page's default
# device, at the LLM page's default prompt and output lengths.
LLM, LLM_DEVICE, LLM_PROMPT, LLM_GENERATED = "Llama-3.1-8B", "NVIDIA A100 80GB SXM", 512, 128


def counted(name: str) -> calc.Report:
    """A zoo model at its native size; the page's title is up while a first count runs."""
    with st.spinner(shell.READING_ZOO):
        size = "×".join(map(str, zoo.model_info(name).input_shape[1:]))
    with st.spinner(f"Counting {name} at {size} on the meta device…"):
        return count(name)


def analyzed(name: str, bias: bool = True) -> calc.Report:
    """A preset counted as written, or (``bias=False``) with every bias turned off, as the Separable
    page counts."""
    stack = preset(name).stack
    if not bias:
        stack = dict(
            stack,
            layers=[
                dict(layer, bias=False)
                if any(field.name == "bias" for field in calc.layer_kind(layer["type"]).fields)
                else layer
                for layer in stack["layers"]
            ],
        )
    return calc.analyze(calc.parse_stack(stack))


def show_formula(report: calc.Report) -> None:
    """The layer's MAC formula, symbols then numbers; a composite layer term by term."""
    text = explain(report.rows[0].cost)
    for line in text.term_lines or (text.macs_symbolic,):
        st.latex(line)
    st.latex(r"\text{MACs} " + text.macs_substituted)
    st.latex(text.flops)


gpu = hw.hardware(GPU)
gpu_roofs = gpu.roofs("fp32")
scales = dict(SI_PREFIXES)

LINK = [
    links.choice("tab", "concepts_tab", lambda: TABS),
    links.choice(
        "example",
        "concepts_example",
        lambda: [entry.name for entry in PRESETS if entry.name.startswith(WORKED)],
    ),
]
links.restore("concepts", LINK)
with st.sidebar:
    links.share_box(links.publish(LINK))
st.title("Concepts")
links.report_problems("concepts")
st.caption(
    "MACs, FLOPs and what they cost, for a class. Every number on this page is computed by MACscope "
    "when the page runs; none is typed in."
)
resnet, mobilenet, vit_h = counted("resnet50"), counted("mobilenet_v2"), counted("vit_h_14")
basics_tab, units_tab, worked_tab, gap_tab, decode_tab, wrong_tab = st.tabs(
    TABS, default=widget_defaults.option("concepts_tab", TABS), key="concepts_tab", on_change="rerun"
)

with basics_tab:
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("**A MAC** (multiply-accumulate) is one weight times one input, added to a running sum:")
        st.latex(r"a \leftarrow a + w \cdot x")
        st.markdown(
            f"Convolutions, linear layers and attention are almost all MACs. A MAC is a multiply and an add, "
            f"so **FLOPs = {FLOPS_PER_MAC} × MACs**. Bias adds, normalization and activations are counted "
            "apart, as *other ops*."
        )
    with right:
        st.markdown(
            "**FLOPs** is a *count*: how much work one forward pass is. **FLOPS** (FLOP/s) is a *rate*: how "
            f"fast a device works. resnet50 needs **{si(resnet.flops, 'FLOPs')}** per image; the {GPU} peaks "
            f"at **{si(gpu_roofs.peak_flops_per_s, 'FLOP/s')}** in fp32. Count ÷ rate = "
            f"**{duration(roofline.peak_seconds(resnet.flops, gpu_roofs))}**: the least time that image can "
            "take."
        )
    conv = analyzed(CONV)
    st.markdown(
        f"**Live example**, {preset(CONV).description}: **{exact(conv.macs)} MACs** = "
        f"{si(conv.macs, 'MACs')} → **{exact(flops_from_macs(conv.macs))} FLOPs** = {si(conv.flops, 'FLOPs')}"
    )
    show_formula(conv)

with units_tab:
    linear, images = analyzed(SMALL_LINEAR), BIG_BATCH * resnet.flops
    examples = [
        charts.ScaleExample(
            "K",
            scales["K"],
            f"a small linear layer ({SMALL_LINEAR.removeprefix(WORKED)})",
            "MACs",
            linear.macs,
        ),
        charts.ScaleExample(
            "M", scales["M"], f"one conv layer ({CONV.removeprefix(WORKED)})", "MACs", conv.macs
        ),
        charts.ScaleExample(
            "G",
            scales["G"],
            f"resnet50, one {'×'.join(map(str, resnet.input_shape[1:]))} image",
            "MACs",
            resnet.macs,
        ),
        charts.ScaleExample(
            "T",
            scales["T"],
            f"vit_h_14, one image at its native {vit_h.input_shape[-1]} px",
            "MACs",
            vit_h.macs,
        ),
        charts.ScaleExample("P", scales["P"], f"resnet50 over {exact(BIG_BATCH)} images", "FLOPs", images),
    ]
    st.markdown(
        "**K, M, G, T, P are powers of 1000**, not 1024: each step up the ladder is a thousand times more. "
        "Each row is a live count from MACscope."
    )
    if (
        units_tab.open
    ):  # tables and charts are drawn only in the open tab: the others cost the browser for nothing
        tables.show(
            charts.units_table(examples),
            hide_index=True,
            width="stretch",
            column_config={"prefix": st.column_config.TextColumn(width="small")},
        )
    st.caption(
        f"The P row is resnet50's {exact(resnet.flops)} FLOPs per image × {exact(BIG_BATCH)} images: a count "
        "scales linearly with the batch, so it is multiplied rather than counted on a million images. "
        "Byte counts and memory bandwidths (kB, MB, GB/s) use the same powers of 1000."
    )

with worked_tab:
    worked = {
        entry.name: (entry.description, analyzed(entry.name))
        for entry in PRESETS
        if entry.name.startswith(WORKED)
    }
    no_bias = {name: analyzed(name, bias=False).params for name in worked}
    if worked_tab.open:
        tables.show(
            charts.worked_table(worked, no_bias),
            hide_index=True,
            width="stretch",
            column_config={
                column: st.column_config.NumberColumn(format="localized")
                for column in ("MACs", "FLOPs", "params", "params without bias")
            },
        )
    st.caption(
        "params: weights and bias, torch's default. The Separable page counts its convolutions without "
        "bias (the usual layout, with batch norm after): that is the “params without bias” column."
    )
    chosen = st.radio(
        "Show the formula of",
        list(worked),
        index=widget_defaults.index("concepts_example", worked),
        key="concepts_example",
        horizontal=True,
        format_func=lambda name: name.removeprefix(WORKED),
        label_visibility="collapsed",
    )
    description, report = worked[chosen]
    st.markdown(
        f"**{chosen.removeprefix(WORKED)}**: {description}. Output "
        f"{'×'.join(map(str, report.output_shape))}, {exact(report.params)} parameters: "
        f"{exact(no_bias[chosen])} weights + {exact(report.params - no_bias[chosen])} bias."
    )
    show_formula(report)

with gap_tab:
    st.markdown(
        "**(a) FLOPs ÷ peak** is a floor no real run reaches. The **roofline** adds memory: a layer must "
        "also read its weights and input and write its output, at the memory bandwidth. A layer whose "
        "*intensity* (FLOPs per byte moved) is below the device's **ridge point** (peak ÷ bandwidth = "
        f"{gpu_roofs.ridge_flops_per_byte:.1f} FLOPs/byte on the {GPU}, fp32) waits on memory: it is "
        "*memory-bound*. **(b)** sums each layer's max(FLOPs ÷ peak, bytes ÷ bandwidth)."
    )
    estimates = {
        name: roofline.estimate(report, gpu_roofs)
        for name, report in (("resnet50", resnet), ("mobilenet_v2", mobilenet))
    }
    if gap_tab.open:
        tables.show(charts.gap_table(estimates), hide_index=True, width="stretch")
        figures.show(charts.gap_bars(estimates), key="concepts_gap_bars")
    share = {name: f"{estimate.memory_bound_share:.0%}" for name, estimate in estimates.items()}
    st.markdown(
        f"mobilenet_v2 does {mobilenet.macs / resnet.macs:.0%} of resnet50's MACs, but "
        f"{share['mobilenet_v2']} of its roofline time is in memory-bound layers (resnet50: "
        f"{share['resnet50']}), so it is not {resnet.macs / mobilenet.macs:.0f}× faster: the roofline makes "
        f"it {estimates['resnet50'].roofline_seconds / estimates['mobilenet_v2'].roofline_seconds:.1f}× "
        "faster. Beyond the roofline, a measurement also pays for:"
    )
    first_input = resnet.rows[0].input_bytes
    st.markdown(
        f"- **Data transfer.** Copying the input from the host to the device ({si_bytes(first_input)} for "
        "one resnet50 image in fp32) is not in the FLOPs. The Latency page creates its input on the device "
        "it times, so add the copy yourself.\n"
        "- **Kernel launch overhead.** Each layer launches at least one kernel, a fixed cost however small "
        f"the layer: mobilenet_v2 has {len(mobilenet.rows)} layers to resnet50's {len(resnet.rows)}. Latency "
        "→ *Per layer* shows measured against roofline time, layer by layer.\n"
        "- **Tensor shapes.** Sizes that do not fill the hardware's tiles or SIMD width waste lanes. Latency "
        "→ *Hardware* → *Probe this machine* plots achieved FLOP/s of n×n matmuls against n.\n"
        "- **Software overhead.** Python and the framework's dispatch run for every layer. Latency → *Batch "
        "sweep*: the time per image falls as the batch grows and that fixed cost is shared."
    )
    st.page_link(
        "pages/latency.py", label="Latency: measure the gap on this machine", icon=":material/speed:"
    )
    st.markdown(
        "Closing the gap: a **calibration** times single ops on a machine once and learns how much of its "
        "roofs each kind of work attains (depthwise convolutions far less than dense ones, small layers "
        "less than large ones), plus a fixed cost per op; it then predicts any model before it runs. "
        "Latency → *Accuracy here* measures models it never saw and shows how close each predictor comes."
    )
    st.page_link(
        "pages/latency.py",
        label="Latency: accuracy of the predictions here",
        icon=":material/target:",
        query_params={"tab": "Accuracy here"},
    )

with decode_tab:
    st.subheader("Why decode is memory-bound")
    bound = decode_bound(LLM, hw.hardware(LLM_DEVICE), LLM_PROMPT + LLM_GENERATED)
    st.markdown(
        "A language model writes one token at a time. Each **decode step** multiplies every weight once "
        "(a multiply-add: **2 FLOPs per parameter**) but must first read every weight from memory, and "
        f"the **KV cache** of the tokens so far. {LLM} (*N* = {si(bound.params)} parameters, from its "
        f"config.json) in {bound.dtype} (*b* = {bound.bytes_per_weight} bytes per weight), "
        f"{exact(bound.context)} tokens of context, one sequence, on the {bound.device}:"
    )
    for formula in charts.decode_formulas(bound):
        st.latex(formula)
    reach = bound.batch_at_ridge
    st.markdown(
        f"**{bound.intensity:.2f} FLOPs per byte against a ridge point of "
        f"{bound.ridge_flops_per_byte:.0f}**: "
        f"the step waits on memory {bound.memory_seconds / bound.compute_seconds:.0f}× longer than its "
        "arithmetic takes. *Prefill* is different: the prompt's tokens share one read of the weights, so "
        "its intensity grows with the prompt and it is compute-bound. Decoding *B* sequences together "
        "shares the reads too, 2NB ÷ (Nb + B·KV) FLOPs per byte: "
        + (
            f"it reaches the ridge at B ≈ {reach:,.0f}, whose KV caches alone would take "
            f"{si_bytes(bound.kv_bytes_per_sequence * math.ceil(reach))}."
            if reach is not None
            else "at this context the KV cache grows as fast as the work, so it never reaches the ridge."
        )
    )
    st.page_link(
        "pages/llm.py",
        label=f"LLM: {LLM} counted on the real model, any device, batch and context",
        icon=":material/chat:",
        query_params={
            "model": LLM,
            "prompt": str(LLM_PROMPT),
            "generate": str(LLM_GENERATED),
            "hw": LLM_DEVICE,
        },
    )

with wrong_tab:
    info, tpu = zoo.model_info("resnet50"), hw.hardware(TPU)
    peaks = tpu.peak_flops_per_s
    try:
        fp32_peak = si(tpu.peak("fp32"), "FLOP/s")
    except SpecError:
        fp32_peak = "none published"
    left, right = st.columns(2)
    with left.container(border=True):
        st.markdown(
            "**1. torchvision's docs label GMACs as “GFLOPS”.**  \n"
            f"Published: resnet50, “{info.gmacs:.2f} GFLOPS”.  \n"
            f"Correct: **{si(resnet.macs, 'MACs')}** ({exact(resnet.macs)} MACs) = "
            f"**{si(resnet.flops, 'FLOPs')}** ({exact(resnet.flops)} FLOPs). Every model's figure is MACs: "
            f"vit_h_14's “{zoo.model_info('vit_h_14').gmacs:.2f} GFLOPS” are {si(vit_h.macs, 'MACs')} = "
            f"{si(vit_h.flops, 'FLOPs')}."
        )
    with right.container(border=True):
        st.markdown(
            f"**2. The {TPU}'s peak is often quoted as FP32.**  \n"
            f"Published, in {tpu.source.split(';')[0]}.  \n"
            f"Repeated in comparisons and articles as “{peaks['bf16'] / scales['T']:g} TFLOPS FP32”.  \n"
            f"Correct: **{si(peaks['bf16'], 'FLOP/s')} bf16** and {si(peaks['int8'], 'OP/s')} int8; FP32 "
            f"peak: **{fp32_peak}**."
        )
        st.caption(f"Source: {tpu.source}.")
    standard, separable = analyzed(STANDARD), analyzed(SEPARABLE)
    parts = dict(separable.rows[0].cost.parts)
    channels, height, width = preset(STANDARD).stack["input"]
    layer = preset(STANDARD).stack["layers"][0]
    kernel = f"{layer['kernel_size']}×{layer['kernel_size']}"
    with st.container(border=True):
        st.markdown(
            f"**3. The depthwise-separable example is often printed with arithmetic slips.** {channels} → "
            f"{layer['out_channels']} channels, {kernel} kernel, {height}×{width} input, stride 1, padding "
            f"{layer['padding']}. Correct:"
        )
        table, savings = st.columns([3, 2])
        table.markdown(
            "| | MACs |\n|---|---:|\n"
            f"| standard {kernel} conv | {exact(standard.macs)} |\n"
            f"| depthwise {kernel} | {exact(parts['depthwise'].macs)} |\n"
            f"| pointwise 1×1 | {exact(parts['pointwise'].macs)} |\n"
            f"| **separable** (depthwise + pointwise) | **{exact(separable.macs)}** |"
        )
        savings.markdown(
            f"Savings: 1 − {exact(separable.macs)} ÷ {exact(standard.macs)} = "
            f"**{1 - separable.macs / standard.macs:.4f}**: the separable conv needs "
            f"{standard.macs / separable.macs:.2f}× fewer MACs. Formulas: *Worked examples* tab."
        )
