"""One registered formula per layer kind: shapes and ints in, a Cost out.

Counting convention (stated here once; everything in MACscope follows it):
- MACs are multiply-accumulates of convolutions, linear layers and attention
  matmuls. Bias adds are excluded. This is the convention of papers, of
  torchvision's ``_ops`` metadata, and of torch.utils.flop_counter divided by 2.
- FLOPs = 2 x MACs, derived in calc.units and nowhere else.
- Everything else is "other ops", counted per kind and labelled, never in MACs.
  Stacks (the formulas below) and torch models (calc.torch_count.OTHER_OPS, one rule
  per aten op) use the same labels and counts; tests/test_other_ops_agree.py holds
  them to it, layer by layer:
  bias add         1 per output element (linear layers', convolutions' biases)
  normalization    batchnorm (inference): 2 per element (scale, shift);
                   layernorm, groupnorm: 5 per element (mean, subtract, variance, normalize,
                   affine) -- fvcore's convention
  activation       1 per element
  pooling          max: kh*kw - 1 comparisons per output; average: kh*kw (adds and
                   the divide) per output; adaptive: the window's size per output, so
                   global average pooling (a mean over H and W) is 1 per input element
  scaling          x times or over one constant, 1 per element: attention's 1/sqrt(d)
                   applied to Q (and so inside a fused attention kernel)
  softmax          3 per score (exp, sum, divide)
  elementwise      arithmetic between tensors (a residual add): 1 per output element
  reduction        a sum, mean or maximum over some axes: 1 per input element
                   (these two only in torch models: no stack layer does them)
  Dropout and flatten are identities at inference: known zero, not unknown.

Shapes are batch first. The letters, used in every signature and formula:
  N batch      C_in, C_out channels      H, W height, width (in), H', W' (out)
  K_h, K_w kernel  S stride  P padding  Dl dilation  G groups  M depth multiplier
  L sequence length   D features (D_in, D_out)   h heads
"""

from __future__ import annotations

import math

from calc import fuzzing
from calc.cost import Cost, Term
from calc.errors import SpecError
from calc.fields import (
    BoolField,
    IntField,
    Padding,
    PaddingField,
    PaddingOneAxis,
    Pair,
    PairField,
    ProbabilityField,
)
from calc.registry import register
from calc.work import Work, conv_work

Shape = tuple[int, ...]  # batch first

# ---------------------------------------------------------------------------
# shared pieces

_KERNEL = PairField("kernel_size", help="kernel height and width", suggest=3, fuzz=fuzzing.kernel())
_STRIDE = PairField("stride", 1, help="step between windows", fuzz=fuzzing.stride())
_PADDING = PaddingField("padding", 0, help='zeros added on each side, or "same"', fuzz=fuzzing.conv_padding())
_DILATION = PairField("dilation", 1, help="spacing between kernel taps", fuzz=fuzzing.dilation())
_BIAS = BoolField("bias", True, help="learned bias (its adds are other ops, not MACs)")
_OUT_CHANNELS = IntField("out_channels", suggest=64)


def _conv_extent(
    size: int, kernel: int, stride: int, padding: int, dilation: int, axis: str, field: str = "kernel_size"
) -> tuple[int, str]:
    """Output extent of one spatial axis, as torch.nn.Conv2d computes it."""
    span = dilation * (kernel - 1) + 1
    if span > size + 2 * padding:
        raise SpecError(
            f"kernel {kernel} (spanning {span} with dilation {dilation}) is larger than the "
            f"padded input {axis} {size} + 2*{padding} = {size + 2 * padding}",
            field=field,
        )
    out = (size + 2 * padding - span) // stride + 1
    latex = (
        rf"{axis}' = \left\lfloor \frac{{{size} + 2\cdot{padding} - {dilation}\cdot({kernel}-1) - 1}}"
        rf"{{{stride}}} \right\rfloor + 1 = {out}"
    )
    return out, latex


def _check_conv_settings(c_in: int, out_channels: int, groups: int, padding, strided: bool) -> None:
    """What torch refuses in any convolution: groups that do not divide both channel counts,
    padding "same" with a stride."""
    if c_in % groups:
        raise SpecError(f"groups {groups} does not divide the {c_in} input channels", field="groups")
    if out_channels % groups:
        raise SpecError(f"groups {groups} does not divide out_channels {out_channels}", field="groups")
    if padding == "same" and strided:
        raise SpecError(
            'padding "same" needs stride 1 (torch refuses it for strided convolutions)', field="padding"
        )


def _conv(
    shape: Shape,
    out_channels: int,
    kernel: Pair,
    stride: Pair,
    padding: Padding,
    dilation: Pair,
    groups: int,
    bias: bool,
    label: str,
) -> Cost:
    # [N, C_out, H', W'] = conv2d([N, C_in, H, W], w[C_out, C_in/G, K_h, K_w])
    n, c_in, h, w = shape
    _check_conv_settings(c_in, out_channels, groups, padding, strided=stride != (1, 1))
    if padding == "same":
        h_out, w_out = h, w
        shape_latex = (rf"H' = H = {h_out},\quad W' = W = {w_out} \quad (\text{{padding ``same''}})",)
    else:
        h_out, h_latex = _conv_extent(h, kernel[0], stride[0], padding[0], dilation[0], "H")
        w_out, w_latex = _conv_extent(w, kernel[1], stride[1], padding[1], dilation[1], "W")
        shape_latex = (h_latex, w_latex)
    out_elements = n * out_channels * h_out * w_out
    c_per_group = c_in // groups
    weights = out_channels * c_per_group * kernel[0] * kernel[1]
    return Cost(
        output_shape=(n, out_channels, h_out, w_out),
        params=weights + (out_channels if bias else 0),
        terms=(
            Term(
                label,
                (
                    ("N", n),
                    ("C_{out}", out_channels),
                    ("H'", h_out),
                    ("W'", w_out),
                    ("C_{in}/G", c_per_group),
                    ("K_h", kernel[0]),
                    ("K_w", kernel[1]),
                ),
                conv_work(c_in, groups, kernel),
            ),
        ),
        other_ops=(("bias add", out_elements),) if bias else (),
        input_elements=math.prod(shape),
        output_elements=out_elements,
        shape_latex=shape_latex,
    )


def _combine(parts: tuple[tuple[str, Cost], ...]) -> Cost:
    """A layer made of sub-layers applied in sequence."""
    merged: dict[str, int] = {}
    for _, part in parts:
        for label, count in part.other_ops:
            merged[label] = merged.get(label, 0) + count
    first, last = parts[0][1], parts[-1][1]
    return Cost(
        output_shape=last.output_shape,
        params=sum(part.params for _, part in parts),
        terms=tuple(Term(f"{name}", term.factors, term.work) for name, part in parts for term in part.terms),
        other_ops=tuple(merged.items()),
        input_elements=first.input_elements,
        output_elements=last.output_elements,
        shape_latex=tuple(line for _, part in parts for line in part.shape_latex),
        parts=parts,
    )


def _elementwise(shape: Shape, label: str, ops_per_element: int, params: int = 0) -> Cost:
    elements = math.prod(shape)
    return Cost(
        output_shape=shape,
        params=params,
        other_ops=((label, ops_per_element * elements),) if ops_per_element else (),
        input_elements=elements,
        output_elements=elements,
    )


# ---------------------------------------------------------------------------
# convolutions


@register(
    "conv2d",
    group="convolution",
    input_rank=3,
    summary="2-D convolution (torch.nn.Conv2d)",
    fields=(
        IntField("out_channels", suggest=64, fuzz=fuzzing.out_channels_sharing_a_divisor),
        _KERNEL,
        _STRIDE,
        _PADDING,
        _DILATION,
        IntField("groups", 1, help="channel groups; must divide both channel counts", fuzz=fuzzing.groups),
        _BIAS,
    ),
    module=lambda nn, f, in_shape: nn.Conv2d(
        in_shape[0],
        f["out_channels"],
        f["kernel_size"],
        f["stride"],
        f["padding"],
        f["dilation"],
        f["groups"],
        f["bias"],
    ),
)
def conv2d(
    shape: Shape,
    out_channels: int,
    kernel_size: Pair,
    stride: Pair,
    padding: Padding,
    dilation: Pair,
    groups: int,
    bias: bool,
) -> Cost:
    label = "depthwise conv" if groups == shape[1] == out_channels and groups > 1 else "conv"
    return _conv(shape, out_channels, kernel_size, stride, padding, dilation, groups, bias, label)


@register(
    "depthwise_conv2d",
    group="convolution",
    input_rank=3,
    summary="depthwise convolution: one k×k filter per input channel (groups = C_in)",
    fields=(
        _KERNEL,
        _STRIDE,
        _PADDING,
        _DILATION,
        IntField("multiplier", 1, help="output channels per input channel", fuzz=fuzzing.depth_multiplier),
        _BIAS,
    ),
    module=lambda nn, f, in_shape: nn.Conv2d(
        in_shape[0],
        in_shape[0] * f["multiplier"],
        f["kernel_size"],
        f["stride"],
        f["padding"],
        f["dilation"],
        groups=in_shape[0],
        bias=f["bias"],
    ),
)
def depthwise_conv2d(
    shape: Shape,
    kernel_size: Pair,
    stride: Pair,
    padding: Padding,
    dilation: Pair,
    multiplier: int,
    bias: bool,
) -> Cost:
    # [N, C_in*M, H', W'] = conv2d([N, C_in, H, W], w[C_in*M, 1, K_h, K_w], groups=C_in)
    c_in = shape[1]
    return _conv(
        shape, c_in * multiplier, kernel_size, stride, padding, dilation, c_in, bias, "depthwise conv"
    )


@register(
    "pointwise_conv2d",
    group="convolution",
    input_rank=3,
    summary="pointwise (1×1) convolution: mixes channels, one pixel at a time",
    fields=(_OUT_CHANNELS, _BIAS),
    module=lambda nn, f, in_shape: nn.Conv2d(in_shape[0], f["out_channels"], 1, bias=f["bias"]),
)
def pointwise_conv2d(shape: Shape, out_channels: int, bias: bool) -> Cost:
    # [N, C_out, H, W] = conv2d([N, C_in, H, W], w[C_out, C_in, 1, 1])
    return _conv(shape, out_channels, (1, 1), (1, 1), (0, 0), (1, 1), 1, bias, "pointwise conv")


@register(
    "separable_conv2d",
    group="convolution",
    input_rank=3,
    summary="depthwise-separable: depthwise k×k (no bias) then pointwise 1×1, as Keras' SeparableConv2D",
    fields=(_OUT_CHANNELS, _KERNEL, _STRIDE, _PADDING, _DILATION, _BIAS),
    module=lambda nn, f, in_shape: nn.Sequential(  # depthwise without bias, then pointwise
        nn.Conv2d(
            in_shape[0],
            in_shape[0],
            f["kernel_size"],
            f["stride"],
            f["padding"],
            f["dilation"],
            groups=in_shape[0],
            bias=False,
        ),
        nn.Conv2d(in_shape[0], f["out_channels"], 1, bias=f["bias"]),
    ),
)
def separable_conv2d(
    shape: Shape,
    out_channels: int,
    kernel_size: Pair,
    stride: Pair,
    padding: Padding,
    dilation: Pair,
    bias: bool,
) -> Cost:
    # [N, C_out, H', W'] = pointwise(depthwise([N, C_in, H, W]))
    c_in = shape[1]
    depthwise = _conv(shape, c_in, kernel_size, stride, padding, dilation, c_in, False, "depthwise")
    pointwise = _conv(
        depthwise.output_shape, out_channels, (1, 1), (1, 1), (0, 0), (1, 1), 1, bias, "pointwise"
    )
    return _combine((("depthwise", depthwise), ("pointwise", pointwise)))


@register(
    "conv1d",
    group="convolution",
    input_rank=2,
    input_name="a sequence [C, L]",
    summary="1-D convolution over a sequence [C, L] (torch.nn.Conv1d)",
    fields=(
        IntField("out_channels", suggest=64, fuzz=fuzzing.out_channels_sharing_a_divisor),
        IntField("kernel_size", help="kernel length", suggest=3, fuzz=fuzzing.kernel(axes=1)),
        IntField("stride", 1, help="step between windows", fuzz=fuzzing.stride(axes=1)),
        PaddingField(
            "padding",
            0,
            axes=1,
            help='zeros added on each side, or "same"',
            fuzz=fuzzing.conv_padding(axes=1),
        ),
        IntField("dilation", 1, help="spacing between kernel taps", fuzz=fuzzing.dilation(axes=1)),
        IntField("groups", 1, help="channel groups; must divide both channel counts", fuzz=fuzzing.groups),
        _BIAS,
    ),
    module=lambda nn, f, in_shape: nn.Conv1d(
        in_shape[0],
        f["out_channels"],
        f["kernel_size"],
        f["stride"],
        f["padding"],
        f["dilation"],
        f["groups"],
        f["bias"],
    ),
)
def conv1d(
    shape: Shape,
    out_channels: int,
    kernel_size: int,
    stride: int,
    padding: PaddingOneAxis,
    dilation: int,
    groups: int,
    bias: bool,
) -> Cost:
    # [N, C_out, L'] = conv1d([N, C_in, L], w[C_out, C_in/G, K])
    n, c_in, length = shape
    _check_conv_settings(c_in, out_channels, groups, padding, strided=stride != 1)
    if padding == "same":
        l_out = length
        shape_latex = (rf"L' = L = {l_out} \quad (\text{{padding ``same''}})",)
    else:
        l_out, l_latex = _conv_extent(length, kernel_size, stride, padding, dilation, "L")
        shape_latex = (l_latex,)
    out_elements = n * out_channels * l_out
    c_per_group = c_in // groups
    return Cost(
        output_shape=(n, out_channels, l_out),
        params=out_channels * c_per_group * kernel_size + (out_channels if bias else 0),
        terms=(
            Term(
                "conv",
                (
                    ("N", n),
                    ("C_{out}", out_channels),
                    ("L'", l_out),
                    ("C_{in}/G", c_per_group),
                    ("K", kernel_size),
                ),
                conv_work(c_in, groups, (kernel_size,)),
            ),
        ),
        other_ops=(("bias add", out_elements),) if bias else (),
        input_elements=math.prod(shape),
        output_elements=out_elements,
        shape_latex=shape_latex,
    )


# ---------------------------------------------------------------------------
# linear and attention


@register(
    "linear",
    group="linear",
    input_rank=None,
    summary="fully connected layer on the last dimension (torch.nn.Linear)",
    fields=(IntField("out_features", suggest=128), _BIAS),
    module=lambda nn, f, in_shape: nn.Linear(in_shape[-1], f["out_features"], bias=f["bias"]),
)
def linear(shape: Shape, out_features: int, bias: bool) -> Cost:
    # [N, ..., D_out] = linear([N, ..., D_in], w[D_out, D_in])
    *leading, d_in = shape
    rows = math.prod(leading)
    out_elements = rows * out_features
    row_factors = (("N", shape[0]),) + ((("L", math.prod(leading[1:])),) if len(leading) > 1 else ())
    return Cost(
        output_shape=(*leading, out_features),
        params=out_features * d_in + (out_features if bias else 0),
        terms=(Term("matmul", (*row_factors, ("D_{in}", d_in), ("D_{out}", out_features)), Work.LINEAR),),
        other_ops=(("bias add", out_elements),) if bias else (),
        input_elements=math.prod(shape),
        output_elements=out_elements,
    )


def _heads_for(incoming_shape: tuple[int, ...] | None) -> int:
    """The most heads of 8, 4, 2, 1 that divide the incoming features (1 after an error)."""
    if incoming_shape is None:
        return 1
    return next(heads for heads in (8, 4, 2, 1) if incoming_shape[-1] % heads == 0)


@register(
    "attention",
    group="attention",
    input_rank=2,
    summary="multi-head self-attention (torch.nn.MultiheadAttention(D, h, batch_first=True)(x, x, x))",
    fields=(
        IntField("num_heads", help="heads; must divide D", suggest=_heads_for, fuzz=fuzzing.heads),
        _BIAS,
    ),
    module=lambda nn, f, in_shape: nn.SelfAttention(in_shape[-1], f["num_heads"], f["bias"]),
)
def attention(shape: Shape, num_heads: int, bias: bool) -> Cost:
    # [N, L, D] = out_proj(softmax(Q Kᵀ / sqrt(D/h)) V), Q, K, V = x W_q, x W_k, x W_v
    n, length, d = shape
    if d % num_heads:
        raise SpecError(f"num_heads {num_heads} does not divide the {d} features", field="num_heads")
    head_dim = d // num_heads
    tokens = n * length
    scores = n * num_heads * length * length
    other = [("scaling", tokens * d), ("softmax", 3 * scores)]
    if bias:
        other.insert(0, ("bias add", tokens * 3 * d + tokens * d))
    return Cost(
        output_shape=shape,
        params=4 * d * d + (4 * d if bias else 0),
        terms=(
            Term("Q, K, V projections", (("N", n), ("L", length), ("D", d), ("3D", 3 * d)), Work.LINEAR),
            Term(
                "attention scores",
                (("N", n), ("h", num_heads), ("L", length), ("L", length), ("D/h", head_dim)),
                Work.ATTENTION_MATMULS,
            ),
            Term(
                "weighted values",
                (("N", n), ("h", num_heads), ("L", length), ("L", length), ("D/h", head_dim)),
                Work.ATTENTION_MATMULS,
            ),
            Term("output projection", (("N", n), ("L", length), ("D", d), ("D", d)), Work.LINEAR),
        ),
        other_ops=tuple(other),
        input_elements=math.prod(shape),
        output_elements=math.prod(shape),
    )


# ---------------------------------------------------------------------------
# normalization, activations, reshapes


@register(
    "batchnorm2d",
    group="normalization",
    input_rank=3,
    summary="batch normalization over channels (torch.nn.BatchNorm2d, affine)",
    module=lambda nn, f, in_shape: nn.BatchNorm2d(in_shape[0]),
)
def batchnorm2d(shape: Shape) -> Cost:
    # [N, C, H, W] = batchnorm([N, C, H, W]); learned γ, β per channel
    return _elementwise(shape, "normalization", 2, params=2 * shape[1])


@register(
    "layernorm",
    group="normalization",
    input_rank=None,
    summary="layer normalization over the last dimension (torch.nn.LayerNorm, affine)",
    module=lambda nn, f, in_shape: nn.LayerNorm(in_shape[-1]),
)
def layernorm(shape: Shape) -> Cost:
    # [N, ..., D] = layernorm([N, ..., D]); learned γ, β per feature
    return _elementwise(shape, "normalization", 5, params=2 * shape[-1])


def _activation(shape: Shape) -> Cost:
    # [N, ...] = f([N, ...]) element by element
    return _elementwise(shape, "activation", 1)


for _name, _summary, _module in (
    ("relu", "max(0, x)", "ReLU"),
    ("relu6", "min(max(0, x), 6)", "ReLU6"),
    ("gelu", "x·Φ(x)", "GELU"),
    ("silu", "x·σ(x), also called swish", "SiLU"),
    ("sigmoid", "1 / (1 + e⁻ˣ)", "Sigmoid"),
    ("tanh", "hyperbolic tangent", "Tanh"),
    ("hardswish", "x·relu6(x + 3) / 6", "Hardswish"),
):
    register(
        _name,
        group="activation",
        summary=f"activation: {_summary}",
        module=lambda nn, f, in_shape, module=_module: getattr(nn, module)(),
    )(_activation)


@register(
    "dropout",
    group="reshape",
    summary="dropout: an identity at inference, zero ops",
    fields=(ProbabilityField("p", 0.5, help="drop probability in training"),),
    module=lambda nn, f, in_shape: nn.Dropout(f["p"]),
)
def dropout(shape: Shape, p: float) -> Cost:
    return _elementwise(shape, "identity", 0)


@register(
    "flatten",
    group="reshape",
    summary="flatten one sample to a vector [D] (torch.nn.Flatten)",
    module=lambda nn, f, in_shape: nn.Flatten(),
)
def flatten(shape: Shape) -> Cost:
    # [N, C·H·W] = flatten([N, C, H, W]), a view: no ops
    elements = math.prod(shape)
    return Cost(
        output_shape=(shape[0], math.prod(shape[1:])),
        params=0,
        input_elements=elements,
        output_elements=elements,
    )


# ---------------------------------------------------------------------------
# pooling


def _pool(
    shape: Shape, kernel: Pair, stride: Pair | None, padding: Pair, ops_per_window: int, label: str
) -> Cost:
    # [N, C, H', W'] = pool([N, C, H, W]) with a K_h×K_w window
    n, c, h, w = shape
    stride = stride or kernel
    for k, p, axis in ((kernel[0], padding[0], "height"), (kernel[1], padding[1], "width")):
        if p > k // 2:
            raise SpecError(
                f"padding {p} is more than half the kernel {axis} {k} (torch refuses it)", field="padding"
            )
    h_out, h_latex = _conv_extent(h, kernel[0], stride[0], padding[0], 1, "H")
    w_out, w_latex = _conv_extent(w, kernel[1], stride[1], padding[1], 1, "W")
    outputs = n * c * h_out * w_out
    return Cost(
        output_shape=(n, c, h_out, w_out),
        params=0,
        other_ops=((label, ops_per_window * outputs),) if ops_per_window else (),
        input_elements=math.prod(shape),
        output_elements=outputs,
        shape_latex=(h_latex, w_latex),
    )


_POOL_FIELDS = (
    _KERNEL,
    PairField("stride", None, help="defaults to kernel_size", fuzz=fuzzing.pool_stride),
    PairField("padding", 0, minimum=0, help="at most half the kernel", fuzz=fuzzing.pool_padding),
)


@register(
    "maxpool2d",
    group="pooling",
    input_rank=3,
    summary="max pooling (torch.nn.MaxPool2d)",
    fields=_POOL_FIELDS,
    module=lambda nn, f, in_shape: nn.MaxPool2d(f["kernel_size"], f["stride"], f["padding"]),
)
def maxpool2d(shape: Shape, kernel_size: Pair, stride: Pair | None, padding: Pair) -> Cost:
    return _pool(shape, kernel_size, stride, padding, kernel_size[0] * kernel_size[1] - 1, "pooling")


@register(
    "avgpool2d",
    group="pooling",
    input_rank=3,
    summary="average pooling (torch.nn.AvgPool2d)",
    fields=_POOL_FIELDS,
    module=lambda nn, f, in_shape: nn.AvgPool2d(f["kernel_size"], f["stride"], f["padding"]),
)
def avgpool2d(shape: Shape, kernel_size: Pair, stride: Pair | None, padding: Pair) -> Cost:
    return _pool(shape, kernel_size, stride, padding, kernel_size[0] * kernel_size[1], "pooling")


def adaptive_window_elements(size: int, out: int) -> int:
    """Sum of window lengths along one axis, with torch's start/end indices.

    Window i spans [floor(i*H/H'), ceil((i+1)*H/H')). Each ceiling is its floor plus 1
    unless (i+1)*H/H' is whole, which it is for gcd(H, H') of the H' windows; the floors
    then telescope to H. Total: H + H' - gcd(H, H'). Closed form because H' may be up to
    MAX_DIM, where a loop over the windows took 0.5 s a layer.
    """
    return size + out - math.gcd(size, out)


@register(
    "adaptive_avgpool2d",
    group="pooling",
    input_rank=3,
    summary="adaptive average pooling to a fixed output size (torch.nn.AdaptiveAvgPool2d)",
    fields=(PairField("output_size", 1, help="output height and width", fuzz=fuzzing.output_size),),
    module=lambda nn, f, in_shape: nn.AdaptiveAvgPool2d(f["output_size"]),
)
def adaptive_avgpool2d(shape: Shape, output_size: Pair) -> Cost:
    # [N, C, H', W'] = adaptive_avgpool([N, C, H, W]), H' W' = output_size
    n, c, h, w = shape
    h_out, w_out = output_size
    window_elements = adaptive_window_elements(h, h_out) * adaptive_window_elements(w, w_out)
    return Cost(
        output_shape=(n, c, h_out, w_out),
        params=0,
        other_ops=(("pooling", n * c * window_elements),),
        input_elements=math.prod(shape),
        output_elements=n * c * h_out * w_out,
        shape_latex=(rf"H' = {h_out},\quad W' = {w_out} \quad (\text{{output\_size}})",),
    )
