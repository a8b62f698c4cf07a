"""`python -m calc llm`: the JSON keys of the issue, the worked check on hf:llama, bad input refused
naming the option (exit 2), and memory limits (largest batch, longest context) as arithmetic."""

from __future__ import annotations

import json
from functools import cache

import pytest

from calc.cli import main
from calc.errors import SpecError
from calc.hardware import PRESETS, hardware
from calc.llm_phases import Forms, Setting, largest_batch, longest_context, memory
from calc.torch_llm import count_llm

A100 = "NVIDIA A100 80GB SXM"
KEYS = {
    "model",
    "params",
    "active_params",
    "weight_bytes",
    "kv_cache_bytes",
    "kv_bytes_per_token",
    "memory_bytes",
    "fits",
    "prefill",
    "decode",
    "time_to_first_token_s",
    "time_per_output_token_s",
    "tokens_per_s",
}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["llm", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_llama_json_has_the_issues_keys_and_figures(capsys):
    code, out, _ = run(
        capsys, "hf:llama", "--prompt", "512", "--generate", "128", "--hardware", A100, "--json"
    )
    assert code == 0
    result = json.loads(out)
    assert set(result) == KEYS
    assert set(result["prefill"]) == {"flops", "bytes", "theoretical_s", "roofline_s"}
    assert set(result["decode"]) == {"flops_per_token", "bytes_per_token", "theoretical_s", "roofline_s"}
    assert result["kv_cache_bytes"] == 2 * 32 * 32 * 128 * 640 * 2 == 335_544_320
    assert result["kv_bytes_per_token"] == 524_288
    assert result["weight_bytes"] == 13_476_831_232 and isinstance(result["weight_bytes"], int)
    assert result["fits"] is True
    assert 6.6e-3 < result["time_per_output_token_s"] < 6.9e-3
    assert result["time_per_output_token_s"] == result["decode"]["roofline_s"]
    assert result["time_to_first_token_s"] == result["prefill"]["roofline_s"]
    assert result["memory_bytes"] > result["weight_bytes"] + result["kv_cache_bytes"]


BAD = [
    pytest.param(("--prompt", "0"), "--prompt", id="prompt-zero"),
    pytest.param(("--prompt", "-3"), "--prompt", id="prompt-negative"),
    pytest.param(("--generate", "0"), "--generate", id="generate-zero"),
    pytest.param(("--batch", "0"), "--batch", id="batch-zero"),
    pytest.param(("--prompt", "1000", "--generate", "100"), "--prompt", id="beyond-1024-positions"),
    pytest.param(("--batch", "60000", "--prompt", "1000", "--generate", "24"), "--batch", id="cannot-fit"),
]


@pytest.mark.parametrize("argv, option", BAD)
def test_bad_input_is_refused_naming_the_option(capsys, argv, option):
    code, out, err = run(capsys, "hf:gpt2", *argv, "--hardware", "NVIDIA T4", "--dtype", "fp16")
    assert code == 2 and not out
    assert f"field '{option}'" in err


@pytest.mark.parametrize(
    "source, field",
    [pytest.param("resnet18", "SOURCE", id="vision"), pytest.param("hf:bert", "model_type", id="encoder")],
)
def test_a_model_that_is_no_causal_lm_is_refused(capsys, source, field):
    code, _, err = run(capsys, source, "--hardware", A100)
    assert code == 2 and f"field '{field}'" in err


def test_a_model_too_large_for_the_device_suggests_quantized_weights(capsys):
    # Llama-2-7B's 13.5 GB of bf16 weights on a 16 GiB T4 leave room; in fp32 (27 GB) they do not
    code, _, err = run(capsys, "hf:llama", "--dtype", "fp32", "--hardware", "NVIDIA T4")
    assert code == 2 and "field '--weights'" in err and "int4" in err


def test_text_output_says_what_bounds_each_phase(capsys):
    code, out, _ = run(capsys, "hf:gpt2", "--hardware", A100)
    assert code == 0
    assert "TTFT" in out and "TPOT" in out and "memory-bound" in out


# ---------------------------------------------------------------------------
# memory: what fits, as arithmetic on GPT-2 (its 1,024 positions)


@cache
def _gpt2():
    return Forms(count_llm("hf:gpt2"))


def test_largest_batch_fits_and_one_more_does_not():
    forms, setting, capacity = _gpt2(), Setting(512, 128), 2e9
    most = largest_batch(forms, setting, capacity)
    assert most >= 1
    assert memory(forms, Setting(512, 128, most), capacity).fits
    assert not memory(forms, Setting(512, 128, most + 1), capacity).fits


def test_memory_is_weights_plus_kv_plus_activations_and_the_kv_grows_with_batch():
    forms = _gpt2()
    one, four = memory(forms, Setting(512, 128, 1), None), memory(forms, Setting(512, 128, 4), None)
    assert four.kv_cache_bytes == 4 * one.kv_cache_bytes == 4 * 12 * 2 * 768 * 640 * 2  # bf16
    assert four.weight_bytes == one.weight_bytes == 2 * 124_439_808
    assert four.total_bytes == four.weight_bytes + four.kv_cache_bytes + four.activation_bytes
    assert one.fits is None  # no capacity given


def test_longest_context_is_the_last_that_fits_and_the_models_positions_cap_it():
    forms = _gpt2()
    capacity = memory(forms, Setting(300, 0, 8), None).total_bytes + 1  # 300 tokens × 8 just fit
    assert longest_context(forms, Setting(1, 1, 8), capacity) == 300
    assert longest_context(forms, Setting(1, 1, 1), 1e12) == 1024  # n_positions
    assert longest_context(forms, Setting(1, 1, 1), 1e6) == 0  # not even the weights fit


@pytest.mark.parametrize(
    "name, gib",
    [
        pytest.param("NVIDIA A100 40GB SXM", 40, id="a100-40"),
        pytest.param("NVIDIA A100 80GB SXM", 80, id="a100-80"),
        pytest.param("NVIDIA H100 SXM", 80, id="h100"),
        pytest.param("NVIDIA H200 SXM", 141, id="h200"),
        pytest.param("NVIDIA RTX 3090", 24, id="rtx3090"),
        pytest.param("NVIDIA RTX 4090", 24, id="rtx4090"),
        pytest.param("NVIDIA T4", 16, id="t4"),
        pytest.param("NVIDIA V100 SXM2", 16, id="v100-16"),
        pytest.param("NVIDIA V100 SXM2 32GB", 32, id="v100-32"),
    ],
)
def test_gpu_presets_carry_their_memory(name, gib):
    assert hardware(name).memory_bytes == gib * 2**30


def test_every_memory_figure_is_positive_or_absent():
    assert all(entry.memory_bytes is None or entry.memory_bytes > 0 for entry in PRESETS)


def test_setting_checks_name_the_field():
    with pytest.raises(SpecError, match="field 'prompt'"):
        Setting(0, 1).check()
    with pytest.raises(SpecError, match="field 'kv_dtype'"):
        Setting(1, 1, kv_dtype="int3").check()
    with pytest.raises(SpecError, match="field 'weights'"):
        Setting(1, 1, weights="int2").check()


# ---------------------------------------------------------------------------
# sweeps: closed forms at every point, the point where memory runs out marked


def test_a_batch_sweep_agrees_with_serve_and_marks_where_it_stops_fitting():
    from calc.llm_phases import serve
    from calc.llm_sweep import first_unfit, sweep

    forms, setting, capacity = _gpt2(), Setting(512, 16), 2e9
    roofs = hardware(A100).roofs("bf16")
    points = sweep(forms, setting, roofs, capacity, "batch", (1, 8, 64, 512, 4096))
    assert [point.value for point in points] == [1, 8, 64, 512, 4096]
    # G = 16 steps: the sweep evaluates all of them, so it is serve() exactly
    assert (
        points[2].time_per_output_token_s == serve(forms, Setting(512, 16, 64), roofs).time_per_output_token_s
    )
    most = largest_batch(forms, setting, capacity)
    assert first_unfit(points) == min(value for value in (1, 8, 64, 512, 4096) if value > most)


def test_a_context_sweep_stops_at_the_models_positions():
    from calc.llm_sweep import sweep

    points = sweep(_gpt2(), Setting(512, 128), hardware(A100).roofs("bf16"), None, "context")
    assert points[0].value > 128 and points[-1].value <= 1024
    assert all(point.fits is None for point in points)
    times = [point.time_per_output_token_s for point in points]
    assert times == sorted(times)  # a longer context reads more cache per token


# ---------------------------------------------------------------------------
# measured here: a reduced copy on the CPU

TINY_LLAMA = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 256,
    "max_position_embeddings": 512,
}


def test_device_cpu_measures_a_copy_against_its_own_theory(capsys, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY_LLAMA))
    code, out, err = run(
        capsys,
        str(config),
        "--device",
        "cpu",
        "--dtype",
        "fp32",
        "--prompt",
        "16",
        "--generate",
        "8",
        "--json",
    )
    assert code == 0, err
    measured = json.loads(out)["measured"]
    assert measured["device"] == "cpu" and measured["dtype"] == "fp32"
    assert measured["layers_kept"] == measured["layers"] == 2  # a tiny model fits whole
    assert measured["prefills"] >= 3 and 4 <= measured["decode_steps"] <= 8
    assert measured["prefill_s"] > 0 and measured["decode_s_per_token"] > 0
    ratio = measured["theory_decode_s_per_token"] / measured["decode_s_per_token"]
    assert ratio == pytest.approx(measured["decode_theory_over_measured"])
