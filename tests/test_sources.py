"""Sources: a SOURCE string resolves to the right kind, name and default input; an unknown name is
refused with the closest names across kinds; the Hugging Face slot is called as documented;
calc.sources is torch-free; the command line counts any source and lists each kind."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from calc import source_hf
from calc.cli import main as cli_main
from calc.errors import SpecError
from calc.presets import preset
from calc.sources import DEFAULT_SEQ_LEN, Takes, resolve

ROOT = Path(__file__).resolve().parents[1]
RGB_CONV = preset("Worked example: 3x3 conv, RGB in").stack
TINY_CONFIG = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2}
GRAY_VIT_CONFIG = {
    "model_type": "vit",
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "image_size": 64,
    "num_channels": 1,
}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "calc", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    stack, config, vit = tmp_path / "block.json", tmp_path / "config.json", tmp_path / "vit" / "config.json"
    stack.write_text(json.dumps(RGB_CONV), encoding="utf-8")
    config.write_text(json.dumps(TINY_CONFIG), encoding="utf-8")
    vit.parent.mkdir()
    vit.write_text(json.dumps(GRAY_VIT_CONFIG), encoding="utf-8")
    return {"STACK": str(stack), "CONFIG": str(config), "VIT_CONFIG": str(vit)}


PARSING = [
    pytest.param("resnet50", "torchvision", "resnet50", Takes.IMAGE, (3, 224, 224), id="bare-torchvision"),
    pytest.param(
        "torchvision:inception_v3", "torchvision", "inception_v3", Takes.IMAGE, (3, 299, 299), id="prefixed"
    ),
    pytest.param("timm:resnet18", "timm", "timm:resnet18", Takes.IMAGE, (3, 224, 224), id="timm"),
    pytest.param(
        "timm:vit_base_patch16_384",
        "timm",
        "timm:vit_base_patch16_384",
        Takes.IMAGE,
        (3, 384, 384),
        id="timm-384",
    ),
    pytest.param(
        "stack: Worked example: 3x3 conv, RGB in",
        "stack",
        "stack: Worked example: 3x3 conv, RGB in",
        Takes.STACK,
        (3, 224, 224),
        id="preset",
    ),
    pytest.param("STACK", "stack", "STACK", Takes.STACK, (3, 224, 224), id="stack-file"),
    pytest.param("CONFIG", "hf", "CONFIG", Takes.TOKENS, (DEFAULT_SEQ_LEN,), id="config-json"),
    pytest.param("hf:mistral", "hf", "hf:mistral", Takes.TOKENS, (DEFAULT_SEQ_LEN,), id="hf-model-type"),
    pytest.param(
        "Llama-3.1-8B", "hf", "Llama-3.1-8B", Takes.TOKENS, (DEFAULT_SEQ_LEN,), id="bare-checkpoint"
    ),
    # image encoders take an image at their config's size: its image_size and num_channels
    pytest.param("hf:vit", "hf", "hf:vit", Takes.IMAGE, (3, 224, 224), id="hf-vit"),
    pytest.param("hf:swin", "hf", "hf:swin", Takes.IMAGE, (3, 224, 224), id="hf-swin"),
    pytest.param(
        "hf:efficientnet", "hf", "hf:efficientnet", Takes.IMAGE, (3, 600, 600), id="hf-efficientnet"
    ),
    pytest.param("ViT-B/16", "hf", "ViT-B/16", Takes.IMAGE, (3, 224, 224), id="vit-checkpoint"),
    pytest.param("VIT_CONFIG", "hf", "VIT_CONFIG", Takes.IMAGE, (1, 64, 64), id="vit-config-json"),
    pytest.param("hf:bert", "hf", "hf:bert", Takes.TOKENS, (DEFAULT_SEQ_LEN,), id="hf-bert-tokens"),
    pytest.param("hf:clip", "hf", "hf:clip", Takes.TOKENS, (DEFAULT_SEQ_LEN,), id="hf-clip-text-first"),
    pytest.param("CLIP ViT-B/32", "hf", "CLIP ViT-B/32", Takes.TOKENS, (77,), id="clip-77-positions"),
]


@pytest.mark.parametrize("text, kind, name, takes, default_input", PARSING)
def test_a_source_resolves_to_its_kind(files, text, kind, name, takes, default_input):
    source = resolve(files.get(text, text))
    assert (source.kind, source.name, source.takes, source.default_input) == (
        kind,
        files.get(name, name),
        takes,
        default_input,
    )


def test_hf_names_resolve_through_the_hf_kind():
    source = resolve("hf:llama")
    assert (source.kind, source.name, source.target, source.input_shape(seq_len=256)) == (
        "hf",
        "hf:llama",
        "llama",
        (256,),
    )


def test_an_hf_image_encoder_is_counted_at_the_resolution_asked(files):
    from calc.torch_hf import count_hf

    report = resolve(files["VIT_CONFIG"]).count(resolution=32)
    assert report.input_shape == (1, 32, 32)
    assert report.macs == count_hf({**GRAY_VIT_CONFIG, "image_size": 32}).macs
    assert resolve("hf:bert").count(resolution=32, seq_len=8).input_shape == (8,)  # tokens: no resolution


def test_the_zoo_shows_an_image_encoders_image_not_tokens(capsys):
    assert cli_main(["zoo", "--source", "hf"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert " 3x224x224 " in rows["hf:vit"] and "tokens" not in rows["hf:vit"]
    assert " 3x224x224 " in rows["ViT-B/16"]
    assert f" {DEFAULT_SEQ_LEN} tokens " in rows["hf:bert"]


UNKNOWN = [
    pytest.param("resnt50", "resnet50", id="typo-torchvision"),
    pytest.param("vit_base_patch16_224", "timm:vit_base_patch16_224", id="timm-name-without-prefix"),
    pytest.param("timm:resnet5", "timm:resnet50", id="typo-timm"),
    pytest.param("timm:efficientnet_b", "timm:efficientnet_b0", id="timm-prefix"),
]


@pytest.mark.parametrize("text, suggestion", UNKNOWN)
def test_an_unknown_name_is_refused_with_the_closest_names(text: str, suggestion: str):
    with pytest.raises(SpecError, match="did you mean") as refusal:
        resolve(text)
    assert refusal.value.field == "SOURCE"
    assert suggestion in refusal.value.reason.split("did you mean ")[1].split("?")[0].split(", ")


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(("count", "resnt50"), id="count"),
        pytest.param(("count", "resnet18", "timm:no_such_model"), id="count-second-source"),
        pytest.param(("latency", "timm:resnt18", "--hardware", "NVIDIA T4"), id="latency"),
        pytest.param(("whatif", "timm:resnt18"), id="whatif"),
    ],
)
def test_cli_unknown_name_exits_2_with_suggestions(arguments):
    result = run_cli(*arguments)
    assert result.returncode == 2 and result.stdout == ""
    assert "did you mean" in result.stderr and result.stderr.count("\n") == 1


def test_hf_without_its_counter_says_it_is_not_available(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(source_hf, "HF_COUNT", ("calc.no_such_module", "count_hf"))
    with pytest.raises(SpecError, match="not available"):
        resolve("hf:llama").count()


def test_hf_sources_are_counted_by_count_hf(monkeypatch: pytest.MonkeyPatch, files):
    """The slot the Hugging Face side fills: count_hf(name or config, seq_len, batch, dtype, device)."""
    calls = []
    fake = types.ModuleType("fake_torch_hf")
    fake.count_hf = lambda *arguments: calls.append(arguments) or "report"
    monkeypatch.setitem(sys.modules, "fake_torch_hf", fake)
    monkeypatch.setattr(source_hf, "HF_COUNT", ("fake_torch_hf", "count_hf"))
    assert resolve("hf:llama").count(seq_len=256, batch=2) == "report"
    assert resolve(files["CONFIG"]).count(dtype="bf16", device="cpu") == "report"
    assert calls == [("llama", 256, 2, "fp32", "meta"), (TINY_CONFIG, None, 1, "bf16", "cpu")]


@pytest.mark.parametrize(
    "config, field",
    [
        pytest.param({"model_type": 7}, "model_type", id="model-type-not-text"),
        pytest.param({"model_type": "llama", "auto_map": {"AutoModel": "x.Y"}}, "auto_map", id="custom-code"),
        pytest.param(
            {"model_type": "llama", "num_hidden_layers": -2}, "num_hidden_layers", id="negative-layers"
        ),
    ],
)
def test_a_bad_config_is_refused_when_resolved_naming_the_field(tmp_path: Path, config, field):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    result = run_cli("count", str(path))
    assert result.returncode == 2 and f"field '{field}'" in result.stderr and "Traceback" not in result.stderr


def test_cli_counts_an_hf_model_type_with_its_seq_len():
    pytest.importorskip("transformers")
    result = run_cli("count", "hf:gpt2", "--seq-len", "16", "--json")
    assert result.returncode == 0, result.stderr
    (gpt2,) = json.loads(result.stdout)
    assert (gpt2["model"], gpt2["source"], gpt2["input_shape"]) == ("hf:gpt2", "hf", [16])
    assert gpt2["params"] == 124_439_808  # GPT-2 small, its config class's defaults


def test_sources_import_without_torch_or_timm(files):
    code = f"""
        import sys
        for blocked in ("torch", "torchvision", "timm", "transformers"):
            sys.modules[blocked] = None  # importing it now raises ImportError
        from calc import sources, timm_models
        from calc.cli import count
        report = sources.resolve({files["STACK"]!r}).count(resolution=32)
        assert report.macs == 64 * 3 * 3 * 3 * 32 * 32, report.macs
        print("ok")
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_cli_count_mixes_sources_with_their_kind_in_json(files):
    result = run_cli("count", "resnet18", "timm:resnet18", files["STACK"], "--json")
    assert result.returncode == 0, result.stderr
    torchvision, timm, stack = json.loads(result.stdout)
    assert [entry["source"] for entry in (torchvision, timm, stack)] == ["torchvision", "timm", "stack"]
    assert [entry["model"] for entry in (torchvision, timm, stack)] == [
        "resnet18",
        "timm:resnet18",
        files["STACK"],
    ]
    assert timm["macs"] == torchvision["macs"] and timm["params"] == torchvision["params"]  # the same network
    assert stack["macs"] == 64 * 3 * 3 * 3 * 224 * 224


@pytest.mark.parametrize(
    "arguments, field",
    [
        pytest.param(("count", "resnet18", "--seq-len", "0"), "--seq-len", id="zero-seq-len"),
        pytest.param(
            ("count", "timm:vit_tiny_patch16_224", "--resolution", "256"), "resolution", id="fixed-size"
        ),
        pytest.param(("zoo", "--source", "nothing"), None, id="unknown-kind"),
    ],
)
def test_cli_bad_arguments_exit_2(arguments, field):
    result = run_cli(*arguments)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    if field:
        assert f"field '{field}'" in result.stderr


def test_cli_zoo_lists_timm_with_config_inputs():
    timm = pytest.importorskip("timm")
    from timm.models import get_pretrained_cfg

    result = run_cli("zoo", "--source", "timm", "--json")
    assert result.returncode == 0, result.stderr
    models = {entry["model"]: entry for entry in json.loads(result.stdout)}
    assert list(models) == ["timm:" + name for name in timm.list_models()]
    assert models["timm:vit_base_patch16_384"]["input_shape"] == list(
        get_pretrained_cfg("vit_base_patch16_384").input_size
    )
    assert {entry["source"] for entry in models.values()} == {"timm"}


def test_cli_zoo_lists_hf_checkpoints_and_model_types():
    pytest.importorskip("transformers")
    from calc.hf_models import CHECKPOINTS

    result = run_cli("zoo", "--source", "hf", "--json")
    assert result.returncode == 0, result.stderr
    models = {entry["model"]: entry for entry in json.loads(result.stdout)}
    assert set(CHECKPOINTS) <= set(models) and {"hf:llama", "hf:gpt2", "hf:bert"} <= set(models)
    assert models["Llama-3.1-8B"]["family"] == "llama" and models["hf:bert"]["source"] == "hf"


@pytest.mark.parametrize(
    "command, keys",
    [
        pytest.param(("whatif",), ("macs_before", "macs_after", "params_after"), id="whatif"),
        pytest.param(("latency", "--hardware", "NVIDIA T4"), ("macs", "roofline_s"), id="latency"),
    ],
)
def test_latency_and_whatif_take_a_timm_source(command, keys):
    """timm's resnet18 is torchvision's network: the same figures through either source."""
    torchvision, timm = (
        json.loads(run_cli(command[0], name, *command[1:], "--json").stdout)
        for name in ("resnet18", "timm:resnet18")
    )
    assert timm["model"] == "timm:resnet18"
    # the roofline sums the same layers' times in another order: equal to the last bits of a float
    assert [timm[key] for key in keys] == pytest.approx([torchvision[key] for key in keys], rel=1e-12)
