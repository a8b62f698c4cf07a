"""LLM: how fast a language model serves on a device and how much memory it needs: prefill (time
to first token), decode (time per output token), the KV cache, and why decode is memory-bound."""

from __future__ import annotations

import streamlit as st

from calc.errors import SpecError
from calc.kv_cache import KV_DTYPE_BYTES
from calc.llm_phases import Forms, Setting, largest_batch, memory, serve
from calc.llm_sweep import first_unfit, sweep
from calc.llm_weights import ACTIVATION_DTYPES, WEIGHT_FORMATS
from calc.units import duration, si_bytes
from charts import llm as charts
from ui import figures, links, shell, widget_defaults
from ui import llm as models
from ui import llm_devices as devices
from ui.stack_state import MAX_UPLOAD_MB
from ui.text import plain

shell.require_navigation()

PROMPT, GENERATE, BATCH = links.Whole(1, 131_072), links.Whole(1, 32_768), links.Whole(1, 4096)
KV_DTYPES = tuple(name for name in KV_DTYPE_BYTES if name != "fp32")
TABS = ["Roofline", "Batch sweep", "Context sweep"]
LINK = [
    links.choice("model", "llm_source", models.sources),
    links.integer("prompt", "llm_prompt", PROMPT),
    links.integer("generate", "llm_generate", GENERATE),
    links.integer("batch", "llm_batch", BATCH),
    links.choice("dtype", "llm_dtype", lambda: ACTIVATION_DTYPES),
    links.choice("weights", "llm_weights", lambda: tuple(WEIGHT_FORMATS)),
    links.choice("kv", "llm_kv", lambda: KV_DTYPES),
    links.choice("hw", "llm_hardware", devices.choices),
    links.real("peak", devices.KEYS["peak"], devices.PEAK),  # a custom device's figures
    links.real("bw", devices.KEYS["bandwidth"], devices.BANDWIDTH),
    links.real("mem", devices.KEYS["memory"], devices.MEMORY),
    links.choice("tab", "llm_tab", lambda: TABS),
]
links.restore("llm", LINK)
st.session_state.setdefault("llm_source", "hf:llama")
devices.set_defaults()
for key, default in (("llm_prompt", 512), ("llm_generate", 128), ("llm_batch", 1)):
    st.session_state.setdefault(key, default)
st.session_state.setdefault("llm_dtype", "bf16")
st.session_state.setdefault("llm_weights", "bf16")

with st.sidebar:
    st.subheader("What to serve")
    sources = models.sources()
    source = st.selectbox(
        "Model",
        sources,
        index=widget_defaults.index("llm_source", sources),
        key="llm_source",
        help="hf: a model type at its defaults",
    )
    upload = st.file_uploader(
        "Or a config.json",
        type=["json"],
        key="llm_upload",
        max_upload_size=MAX_UPLOAD_MB,
        help="A Hugging Face config.json: counted from its sizes, no weights, never custom code; "
        "an uploaded file is not part of the share link",
    )
    prompt = st.number_input(
        "Prompt tokens P",
        **PROMPT.widget("llm_prompt"),
    )
    generate = st.number_input(
        "Generated tokens G",
        **GENERATE.widget("llm_generate"),
    )
    batch = st.number_input(
        "Batch B (sequences)",
        **BATCH.widget("llm_batch"),
    )
    dtype = st.selectbox(
        "Activations",
        ACTIVATION_DTYPES,
        index=widget_defaults.index("llm_dtype", ACTIVATION_DTYPES),
        key="llm_dtype",
    )
    weights = st.selectbox(
        "Weights",
        tuple(WEIGHT_FORMATS),
        index=widget_defaults.index("llm_weights", tuple(WEIGHT_FORMATS)),
        key="llm_weights",
    )
    kv_dtype = st.selectbox(
        "KV cache", KV_DTYPES, index=widget_defaults.index("llm_kv", KV_DTYPES), key="llm_kv"
    )
    device_choices = devices.choices()
    choice = st.selectbox(
        "Device",
        device_choices,
        index=widget_defaults.index("llm_hardware", device_choices),
        key="llm_hardware",
        help="A preset; a custom device (its peak, bandwidth and memory); or this machine: its CPU's "
        "probed roofs (as on the Latency page, once per session) and its RAM",
    )
    if choice == devices.CUSTOM:
        devices.custom_inputs(dtype)

st.title("LLM inference")
links.report_problems("llm")
setting = Setting(int(prompt), int(generate), int(batch), dtype, weights, kv_dtype)
try:
    device = devices.device(choice, dtype)
    counted = models.uploaded_counts(upload) if upload is not None else models.counts(source)
    forms = Forms(counted)
    roofs = device.roofs(dtype)
    served = serve(forms, setting, roofs)
except SpecError as error:
    st.error(plain(str(error)), icon=":material/error:")
    st.stop()
held = memory(forms, setting, device.memory_bytes)
st.caption(plain(models.described(counted, setting, device), limit=300))
note = devices.provenance(choice, device)
if note:
    st.caption(plain(note, limit=400))

columns = st.columns(6)
columns[0].metric("Time to first token", duration(served.time_to_first_token_s))
columns[1].metric("Time per output token", duration(served.time_per_output_token_s))
columns[2].metric("Tokens/s", f"{served.tokens_per_s:,.1f}")
columns[3].metric("KV cache", si_bytes(held.kv_cache_bytes))
columns[4].metric("Weights", si_bytes(held.weight_bytes))
columns[5].metric("Fits?", {True: "yes", False: "no", None: "unknown"}[held.fits])
if held.fits is False:
    most = largest_batch(forms, setting, device.memory_bytes)
    st.warning(
        f"{si_bytes(held.total_bytes)} do not fit {device.name}'s {si_bytes(device.memory_bytes)}: "
        + (
            f"at most {most:,} sequences of this length do."
            if most
            else "quantize the weights or choose a larger device."
        )
    )

st.subheader("The formulas, with this model's numbers")
for formula, caption in models.formulas(counted, forms, setting, served, held, device):
    st.latex(formula)
    st.caption(caption)

# A chart in a closed tab costs the browser its drawing for nothing: each tab draws when open.
roofline_tab, batch_tab, context_tab = st.tabs(
    TABS, default=widget_defaults.option("llm_tab", TABS), key="llm_tab", on_change="rerun"
)
if roofline_tab.open:
    figures.show(
        charts.roofline(served.prefill, served.decode, forms.names, roofs), "llm_roofline", roofline_tab
    )
for tab, axis in ((batch_tab, "batch"), (context_tab, "context")):
    if tab.open:
        points = sweep(forms, setting, roofs, device.memory_bytes, axis)
        figures.show(
            charts.sweep(points, axis, device.memory_bytes, first_unfit(points)), f"llm_sweep_{axis}", tab
        )

with st.sidebar:
    links.share_box(links.publish(LINK, devices.link_values(choice)))
