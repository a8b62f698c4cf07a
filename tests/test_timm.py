"""timm models counted on the meta device against torch's own FlopCounterMode (MACs = FLOPs / 2)
and numel (params): a sample of the registry, one of each kind of trap; the whole registry is
benchmarks/bench_timm.py's.

The hybrids (a ResNet stem before a ViT) run their backbone inside the constructor; with
parameters on meta that forward fails unless calc.torch_timm gives it meta inputs.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from calc import timm_models, torch_timm
from calc.torch_build import materialize, parameters_on_meta
from calc.torch_count import count_module

timm = pytest.importorskip("timm")

SAMPLE = [
    pytest.param("resnet18", id="cnn-resnet18"),
    pytest.param("efficientnet_b0", id="cnn-efficientnet_b0"),
    pytest.param("vit_tiny_patch16_224", id="plain-vit"),
    pytest.param("deit_tiny_distilled_patch16_224", id="small-transformer-two-tokens"),
    pytest.param("swin_tiny_patch4_window7_224", id="swin-computed-buffers"),
    pytest.param("swinv2_tiny_window8_256", id="swin-v2-buffers-filled-by-reset-parameters"),
    pytest.param("vit_small_patch16_rope_mixed_224", id="rope-grid-buffers"),
    pytest.param("vit_dlittle_patch16_reg1_gap_256", id="diff-attention-v-deeper-than-q"),
    pytest.param("vit_tiny_r_s16_p8_224", id="hybrid-resnet-stem"),
    pytest.param("vitamin_small_224", id="hybrid-vitamin"),
]


def flop_counter_macs(model: torch.nn.Module, input_shape: tuple[int, ...], device: str = "meta") -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros((1, *input_shape), device=device))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("name", SAMPLE)
def test_macs_and_params_equal_torch_on_meta(name: str):
    model = torch_timm.build(name)
    shape = timm_models.input_shape(name)
    report = count_module(model, shape)
    assert report.macs == flop_counter_macs(model, shape)
    assert report.params == sum(parameter.numel() for parameter in model.parameters())
    assert report.unsupported == ()


@pytest.mark.parametrize("name", SAMPLE)
def test_input_shape_is_the_default_pretrained_configs(name: str):
    from timm.models import get_pretrained_cfg

    assert timm_models.input_shape(name) == tuple(get_pretrained_cfg(name).input_size)


def test_hybrid_fails_with_parameters_on_meta_alone():
    """The trap the probing hook removes: the constructor's forward meets a CPU tensor."""
    with pytest.raises(RuntimeError, match="meta"), parameters_on_meta():
        timm.create_model("vit_tiny_r_s16_p8_224", pretrained=False)


def test_hybrid_built_on_meta_has_the_cpu_builds_params():
    """Meta shapes give the constructor the same feature size as its CPU forward does."""
    on_cpu = timm.create_model("vit_tiny_r_s16_p8_224", pretrained=False)
    on_meta = torch_timm.build("vit_tiny_r_s16_p8_224")
    assert [(name, p.shape) for name, p in on_meta.named_parameters()] == [
        (name, p.shape) for name, p in on_cpu.named_parameters()
    ]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("swin_tiny_patch4_window7_224", id="swin-relative-position-index"),
        pytest.param("swinv2_tiny_window8_256", id="swin-v2-coordinates-table"),
        pytest.param("vit_small_patch16_rope_mixed_224", id="rope-grid"),
        pytest.param("vit_tiny_r_s16_p8_224", id="hybrid"),
    ],
)
def test_cpu_count_equals_meta_count(name: str):
    """Built on meta, materialized on the CPU (constructor-computed buffers kept): the same count,
    F.scaled_dot_product_attention's other ops included (one fused kernel on both)."""
    meta = timm_models.count(name)
    cpu = timm_models.count(name, device="cpu")
    assert (cpu.macs, cpu.params, cpu.other_ops_by_label()) == (
        meta.macs,
        meta.params,
        meta.other_ops_by_label(),
    )
    model = materialize(torch_timm.build(name), "cpu")
    assert torch.isfinite(model(torch.randn(1, *timm_models.input_shape(name)))).all()


def test_listing_is_timms_registry():
    assert timm_models.list_names() == tuple(timm.list_models())


def test_count_is_cached_on_disk(monkeypatch: pytest.MonkeyPatch):
    first = timm_models.count("resnet18", resolution=64)
    monkeypatch.setattr(torch_timm, "count", lambda *args: pytest.fail("counted again"))
    assert timm_models.count("resnet18", resolution=64).macs == first.macs


def test_a_fixed_size_model_refuses_another_resolution():
    from calc.errors import SpecError

    with pytest.raises(SpecError, match="takes only 224×224"):
        timm_models.count("vit_tiny_patch16_224", resolution=256)


class ScaledDotProductAttention(torch.nn.Module):
    """x [B, h, L, d] -> softmax(x·xᵀ/√d)·x, as timm's (and transformers') attention calls it."""

    def __init__(self, is_causal: bool):
        super().__init__()
        self.is_causal = is_causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.scaled_dot_product_attention(x, x, x, is_causal=self.is_causal)


@pytest.mark.parametrize("is_causal", [pytest.param(False, id="full"), pytest.param(True, id="causal")])
def test_scaled_dot_product_attention_counts_the_same_on_meta_and_cpu(is_causal: bool):
    batch, heads, length, depth = 2, 3, 5, 8
    counts = [
        count_module(ScaledDotProductAttention(is_causal), (heads, length, depth), batch=batch, device=device)
        for device in ("meta", "cpu")
    ]
    for report in counts:
        assert report.macs == 2 * batch * heads * length * length * depth
        assert report.other_ops_by_label() == {
            "scaling": batch * heads * length * depth,  # 1/√d once per element of Q, as calc.formulas
            "softmax": 3 * batch * heads * length * length,
        }


def test_attention_whose_values_are_deeper_than_its_queries_keeps_their_depth_on_meta():
    # [B, h, L, d_v] = softmax(Q[B, h, L, d] · Kᵀ[B, h, d, L]) · V[B, h, L, d_v]
    # with d_v = 2d, as timm's differential attention and iFormer run it
    batch, heads, length, depth = 1, 2, 5, 4

    class DeeperValues(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.scaled_dot_product_attention(x, x, torch.cat([x, x], dim=-1))

    report = count_module(DeeperValues(), (heads, length, depth), batch=batch)
    assert report.output_shape == (heads, length, 2 * depth)
    assert (
        report.macs == batch * heads * length * length * depth + batch * heads * length * length * 2 * depth
    )


def test_a_parameter_its_own_initializer_leaves_alone_keeps_its_constructed_value():
    """timm's RoPE frequencies: computed by the constructor, left alone by the module's own
    reset_parameters (which refills only its grid buffers), so materialize copies them back."""
    from calc.torch_build import constructed_values

    model = torch_timm.build("vit_small_patch16_rope_mixed_224")
    constructed = constructed_values(model.rope)["freqs"]
    assert torch.isfinite(constructed).all()
    assert torch.equal(materialize(model, "cpu").rope.freqs, constructed)
