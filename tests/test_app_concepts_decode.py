"""AppTest of Concepts' "LLM decode" tab: why decode is memory-bound, with the formula shown and
every number calc's (calc.decode_bound, torch-free), and a link to the LLM page with the same
model, lengths and device."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from test_app import open_page
from test_app_concepts import latex, open_tab, text

from calc import hardware as hw
from calc.decode_bound import decode_bound
from calc.units import duration, si, si_bytes

MODEL, DEVICE, CONTEXT = "Llama-3.1-8B", "NVIDIA A100 80GB SXM", 512 + 128  # the LLM page's P + G


@pytest.fixture(scope="module")
def decode():
    return open_tab(open_page("pages/concepts.py"), "LLM decode")


def test_the_section_shows_the_formula_with_calcs_numbers(decode):
    bound = decode_bound(MODEL, hw.hardware(DEVICE), CONTEXT)
    shown = latex(decode)
    assert r"\frac{2N}{N\,b + \text{KV}}" in shown  # the formula, then the numbers substituted
    for number in (
        si(bound.params),
        si_bytes(bound.weight_bytes),
        si_bytes(bound.kv_cache_bytes),
        f"{bound.intensity:.2f} FLOPs/byte",
        f"{bound.ridge_flops_per_byte:.0f} FLOPs/byte",
        duration(bound.memory_seconds),
        duration(bound.compute_seconds),
    ):
        assert number in shown, number
    words = text(decode)
    assert "Why decode is memory-bound" in " ".join(header.value for header in decode.subheader)
    assert (
        f"{bound.intensity:.2f} FLOPs per byte against a ridge point of {bound.ridge_flops_per_byte:.0f}"
        in words
    )
    assert f"B ≈ {bound.batch_at_ridge:,.0f}" in words
    assert bound.intensity < 2 < 100 < bound.ridge_flops_per_byte  # what the section is there to show


def test_the_section_links_to_the_llm_page_with_its_setting(decode):
    link = next(link.proto for link in decode.get("page_link") if link.proto.page == "llm")
    query = {name: values[0] for name, values in parse_qs(link.query_string).items()}
    assert query == {"model": MODEL, "prompt": "512", "generate": "128", "hw": DEVICE}
