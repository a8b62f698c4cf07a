"""AppTest of the LLM page: its metrics are calc's (the issue's Llama-2-7B on the A100 80GB by
default), a change of batch is priced again, and a context beyond the model's positions says so
without an exception."""

from __future__ import annotations

import json

import pytest
from test_app import metrics, open_page, read_text

from calc.hardware import Hardware, hardware
from calc.llm_phases import Forms, Setting, memory, serve
from calc.llm_store import count_source
from calc.units import duration, si_bytes

A100 = "NVIDIA A100 80GB SXM"


@pytest.fixture(scope="module")
def page():
    return open_page("pages/llm.py")


def expected(source: str, setting: Setting, device: Hardware | None = None) -> dict[str, str]:
    """The page's metrics as calc gives them, on ``device`` (the page's A100 when None)."""
    device = device or hardware(A100)
    forms = Forms(count_source(source)[0])  # the disk cache holds the page's count
    served = serve(forms, setting, device.roofs(setting.dtype))
    held = memory(forms, setting, device.memory_bytes)
    return {
        "Time to first token": duration(served.time_to_first_token_s),
        "Time per output token": duration(served.time_per_output_token_s),
        "Tokens/s": f"{served.tokens_per_s:,.1f}",
        "KV cache": si_bytes(held.kv_cache_bytes),
        "Weights": si_bytes(held.weight_bytes),
        "Fits?": {True: "yes", False: "no", None: "unknown"}[held.fits],  # None: memory not known
    }


def test_default_is_llama_on_the_a100_as_calc_prices_it(page):
    assert not page.exception
    assert metrics(page) == expected("hf:llama", Setting(512, 128, 1, "bf16", "bf16", "bf16"))
    assert metrics(page)["KV cache"] == "335.5 MB"  # 335,544,320 bytes


def test_a_larger_batch_is_priced_again(page):
    page.number_input(key="llm_batch").set_value(8).run()
    assert not page.exception
    assert metrics(page) == expected("hf:llama", Setting(512, 128, 8, "bf16", "bf16", "bf16"))
    charts = {}
    for tab in ("Roofline", "Batch sweep", "Context sweep"):  # a tab draws its chart when open
        page.session_state["llm_tab"] = tab
        page.run()
        charts[tab] = [chart.key for chart in page.get("plotly_chart")]
    assert charts == {
        "Roofline": ["llm_roofline"],
        "Batch sweep": ["llm_sweep_batch"],
        "Context sweep": ["llm_sweep_context"],
    }


def test_a_context_beyond_the_models_positions_is_refused_by_name(page):
    page.selectbox(key="llm_source").set_value("hf:gpt2").run()
    page.number_input(key="llm_prompt").set_value(1000).run()
    assert not page.exception
    shown = [read_text(error.value) for error in page.error]
    assert any("field 'prompt'" in text and "1,024 positions" in text for text in shown), shown


TINY_CONFIG = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 256,
}


class Upload:  # what st.file_uploader gives: a name and the bytes
    def __init__(self, name: str, data: bytes):
        self.name, self.data = name, data

    def getvalue(self) -> bytes:
        return self.data


def test_an_uploaded_config_json_is_counted_from_its_sizes():
    from ui import llm as models

    counted = models.uploaded_counts(Upload("tiny.json", json.dumps(TINY_CONFIG).encode()))
    assert counted.model == "tiny.json" and len(counted.cache.layers) == 2
    assert counted.cache.bytes_per_token("bf16") == 2 * 2 * 2 * 16 * 2  # layers × K,V × kv heads × depth


@pytest.mark.parametrize(
    "data, reason",
    [
        pytest.param(b"\xff\xfe", "UTF-8", id="not-utf8"),
        pytest.param(json.dumps({"input": [3, 8, 8], "layers": []}).encode(), "stack", id="a-stack"),
        pytest.param(json.dumps({**TINY_CONFIG, "auto_map": {}}).encode(), "custom code", id="remote-code"),
        pytest.param(json.dumps({**TINY_CONFIG, "hidden_size": -1}).encode(), "hidden_size", id="bad-size"),
    ],
)
def test_a_bad_upload_is_refused_saying_why(data, reason):
    from calc.errors import SpecError
    from ui import llm as models

    with pytest.raises(SpecError, match=reason):
        models.uploaded_counts(Upload("bad.json", data))
