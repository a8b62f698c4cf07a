"""Home: what MACscope does, the counting convention, and a way into each page."""

import streamlit as st

from calc import analyze, parse_stack
from calc.explain import explain
from calc.presets import preset
from calc.units import exact, si
from ui import links, shell

shell.require_navigation()

st.title("MACscope")
links.report_problems("home")  # a bad app-wide value in the link (present=)
st.markdown(
    "See what a neural network **computes** and what that **costs**: output shapes, parameters, "
    "multiply-accumulates (MACs), FLOPs and memory traffic, layer by layer, with the formula behind "
    "every number."
)
st.page_link(
    "pages/concepts.py",
    label="Concepts: MACs, FLOPs, K to P, and why measured latency exceeds FLOPs / peak",
    icon=":material/school:",
)
st.page_link(
    "pages/builder.py",
    label="Layer Builder: build a stack of layers and see its cost",
    icon=":material/stacks:",
)
st.page_link(
    "pages/model.py",
    label="Model: pick any torchvision classifier and see where its MACs go",
    icon=":material/account_tree:",
)
st.page_link(
    "pages/compare.py",
    label="Compare: models and stacks side by side, cost against accuracy",
    icon=":material/compare_arrows:",
)
st.page_link(
    "pages/separable.py",
    label="Separable: what depthwise-separable convs save, in MACs and in time",
    icon=":material/call_split:",
)
st.page_link(
    "pages/latency.py",
    label="Latency: how fast it should run on a device, how fast it runs here, and why",
    icon=":material/speed:",
)

st.subheader("How MACscope counts")
st.markdown(
    "- **MAC**: one multiply-accumulate, *a ← a + w·x*, in convolutions, linear layers and attention "
    "matmuls. Bias adds are not MACs.\n"
    "- **FLOPs = 2 × MACs**: a multiply and an add. FLOPs is a *count*; **FLOPS** (FLOP/s) is a *rate*.\n"
    "- **Other ops** (normalization, activations, pooling, softmax, bias adds) are counted and shown "
    "separately, never folded into MACs.\n"
    "- **K, M, G, T, P** are powers of 1000. torchvision's “GFLOPS” metadata is GMACs."
)
# The example under the list, at full width: in half a column its formula did not fit 1024 px.
example = preset("Worked example: 3x3 conv, RGB in")
row = analyze(parse_stack(example.stack)).rows[0]
text = explain(row.cost)
st.markdown(f"**Example**: {example.description}. Output {'×'.join(map(str, row.output_shape))}.")
st.latex(text.macs_symbolic)
st.latex(text.macs_substituted)
st.caption(
    f"{exact(row.macs)} MACs ≈ {si(row.macs, 'MACs')} = {si(row.flops, 'FLOPs')}, computed live by calc."
)
