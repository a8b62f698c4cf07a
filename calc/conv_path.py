"""Which kernel a CPU convolution runs in torch, and whether it pays for padded channels.

aten sends a 2-D fp32 convolution on the CPU to oneDNN or to its own GEMM by a fixed rule
(aten/src/ATen/native/Convolution.cpp, ``use_mkldnn``): a grouped or depthwise convolution
always goes to oneDNN; a 1×1 one, at batch 1 and stride 1, only when torch has more than
one thread ("MKLDNN is faster than THNN when multi-threaded") and its input has more than
20480 elements ("for some case, native is faster"). oneDNN runs an NCHW model's convolution
on channels in blocks of its vector width (16 fp32 with AVX-512, 8 with AVX2) and reorders
the input and output to that layout at every call: a channel count that is not a multiple
of the block takes a padded reorder several times slower than the blocked one.

Measured on this 2-core AVX-512 machine (in rounds, best round): at 2 threads a 58→58 1×1
convolution at 28×28 took 136 µs and a 64→64 one 103 µs, for 14 % fewer MACs; 72→24 at
56×56 268 µs and 80→32 171 µs; a 3×3 depthwise one on 72 channels at 56×56, stride 2,
193 µs and on 80 channels 119 µs. At 1 thread the 1×1 ones run aten's GEMM and padded
channels cost nothing more (58→58: 80 µs, 64→64: 82 µs); depthwise ones still pay (163
and 123 µs). One efficiency table for all of a kind averaged the two paths, and the
held-out models of odd widths (shufflenet_v2's 58, 116, 232; the MobileNet V3s' 40, 72,
120, 200) were predicted 25-42 % fast at 2 threads. A standard convolution on 3 input
channels (a network's stem: 3×3, 7×7, a ViT's 32×32 patches) pads them to a whole block,
and its weights too: vit_b_32's 3→768 32×32 patch embedding (2.4 M weights) took 4.7 ms
where a 512→512 3×3 one of as many weights and FLOPs takes about 2. And a standard
convolution on an input of 20480 elements or fewer runs aten's own im2col and GEMM: at 2
threads a 64→64 3×3 one at 14×14 (12544 inputs) attained 84 GFLOP/s, a 32→64 one at 28×28
(on oneDNN) 152. So a calibration times the paths and the padding apart
(calc.calibration.RefinedKind), where its machine runs them.
Torch-free: the rule from the counted shapes, the machine's threads and block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from calc.work import Work

NATIVE_MOST_INPUT = 20480  # aten: a 1×1 convolution of this many input elements or fewer stays native
NATIVE_LEAST_BATCH = 16  # aten: from this batch on, a 1×1 convolution goes to oneDNN at one thread too


@dataclass(frozen=True)
class ConvRules:
    """What decides a convolution's kernel on the calibrated machine."""

    threads: int  # torch's CPU threads
    channel_block: int  # oneDNN's fp32 channel block; 0 where aten's rule does not apply (GPU, bf16)


@dataclass(frozen=True)
class ConvShape:
    """One 2-D convolution as counted: one sample's input and output shapes, (C, H, W), and the batch."""

    work: Work
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    batch: int

    @property
    def strided(self) -> bool:
        return math.prod(self.output_shape[1:]) < math.prod(self.input_shape[1:])


def runs_onednn(conv: ConvShape, rules: ConvRules) -> bool:
    """Whether aten runs ``conv`` (fp32, on the CPU) in oneDNN rather than its own GEMM."""
    if rules.channel_block <= 0 or len(conv.input_shape) != 3:
        return False
    if conv.work in (Work.DEPTHWISE_CONV, Work.GROUPED_CONV):
        return True
    elements = conv.batch * math.prod(conv.input_shape)
    large = conv.batch > 1 or elements > NATIVE_MOST_INPUT
    if conv.work == Work.STANDARD_CONV:
        # aten also sends a kernel larger than 3×3 on a smaller input to oneDNN; the counted shapes do
        # not carry the kernel, and such a convolution (rare, and small) is priced as native
        return large
    if conv.work != Work.POINTWISE_CONV:
        return False
    return (conv.strided or conv.batch >= NATIVE_LEAST_BATCH or rules.threads > 1) and large


def padded(conv: ConvShape, rules: ConvRules) -> bool:
    """Whether oneDNN pads ``conv``'s input or output channels to its block."""
    return runs_onednn(conv, rules) and any(
        shape[0] % rules.channel_block for shape in (conv.input_shape, conv.output_shape)
    )


__all__ = ["ConvRules", "ConvShape", "padded", "runs_onednn"]
