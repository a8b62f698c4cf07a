"""A calibrated latency model of one machine: how much of its roofs each kind of work attains.

The roofline (calc.roofline) prices a layer at the machine's probed roofs; real kernels
attain a fraction of them that depends on what they compute and how big it is (a
depthwise convolution streams far below the copy bandwidth, a 7×7×512 matmul is too small
to fill the cores, a small tensor is read from cache faster than from memory), and every
op pays a fixed dispatch cost. Calibration times micro-benchmarks per kind of work
(calc.torch_calibrate) and fits, per kind, two small tables (calc.calibration_fit):

  e_c(F)  the attained fraction of the compute roof P, by the layer's FLOPs F
  e_b(B)  the attained fraction of the bandwidth roof B_w, by the bytes B it moves
          (above 1 where the data fits in cache)

each a value per half decade of size, interpolated linearly in log size and log
efficiency, flat beyond its ends. A layer is then predicted as

  t = max(F / (e_c(F) · P), B / (e_b(B) · B_w)) + o          o: the per-op dispatch overhead

and a model as the sum over its layers plus one call overhead. Intensity enters through
the max: a layer of low FLOPs per byte is priced by its bytes.

Layers are classified from the counted report, so every source MACscope counts is
predicted the same way: a layer's MAC terms by their kind of work (calc.work), refined for
a convolution by the kernel torch runs it on and whether its channels are padded there
(calc.conv_path), for an activation or a norm by its module (RefinedKind), its bytes
(Row.memory_bytes) shared among them by MACs; other ops in a layer with MACs run inside
its kernels (bias adds, fused attention's scaling and softmax) and are not priced again;
a layer without MACs is priced by its other ops' labels (normalization, activation,
elementwise, window pooling, and reduction: global pooling included), its bytes shared by
their counts. Nothing that runs is free: a layer's views, reshapes and copies (Cost.layout_ops,
copied_elements) pay the op overhead each and their copies' bytes (layout_time). Torch-free:
arithmetic on a Report; calc.calibration_file reads and writes calibrations as JSON.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from enum import StrEnum

from calc.analyze import Report, Row
from calc.conv_path import ConvRules, ConvShape, padded, runs_onednn
from calc.cost import Cost
from calc.errors import SpecError
from calc.hardware import STORAGE_DTYPE
from calc.machine_load import BUSY_OTHER_CORES
from calc.units import flops_from_macs
from calc.work import Work


class OtherWork(StrEnum):
    """Kinds of work without MACs, each calibrated on its own."""

    NORMALIZATION = "normalization"
    ACTIVATION = "activation"
    ELEMENTWISE = "elementwise"
    POOLING = "pooling"
    REDUCTION = "reduction"


class RefinedKind(StrEnum):
    """Cases of a kind of work that run at another speed: convolutions that torch runs on another
    kernel, or on padded channels, on some machines (calc.conv_path), and activations and norms of
    another arithmetic. Calibrated apart where the calibrating machine runs them, else priced as
    the kind they refine (REFINES)."""

    POINTWISE_ONEDNN = "pointwise conv, oneDNN"
    POINTWISE_PADDED = "pointwise conv, oneDNN, padded channels"
    DEPTHWISE_PADDED = "depthwise conv, padded channels"
    STANDARD_PADDED = "standard conv, padded channels"
    STANDARD_NATIVE = "standard conv, native"
    # an exp, erf or tanh per element, where ReLU's kin compare or clamp: a GELU of vit_b_32 (50×3072)
    # took 129 µs at 2 threads on this machine, priced at 26 by the activation table of mostly ReLUs
    TRANSCENDENTAL_ACTIVATION = "activation, transcendental"
    # a mean and a variance per token or group, where an inference batch norm scales and shifts each
    # channel: vit_b_32's 25 layer norms took 1.0 ms at 2 threads, priced at 0.43 with the batch norms
    FEATURE_NORMALIZATION = "normalization, per token"


# Module classes (Row.kind) of each refined activation or norm; any other is priced by its label alone.
# torch.nn's, timm's and Hugging Face's (transformers.activations) names.
TRANSCENDENTAL_ACTIVATIONS = frozenset(
    {
        "GELU", "GELUTanh", "QuickGELU", "GELUActivation", "NewGELUActivation", "FastGELUActivation",
        "QuickGELUActivation", "PytorchGELUTanh", "GELUPytorchTanh", "SiLU", "Swish", "SiLUActivation",
        "Sigmoid", "Tanh", "ELU", "SELU", "CELU", "Mish", "Softplus", "LogSigmoid",
    }
)  # fmt: skip
FEATURE_NORMALIZATION_SUFFIXES = ("LayerNorm", "LayerNorm2d", "GroupNorm", "RMSNorm", "GroupNorm1")


Kind = Work | OtherWork | RefinedKind

# The kind a refined one is priced as when its calibration has no fit of it (a machine that does not
# run it: one thread, a GPU; a quick grid).
REFINES: dict[RefinedKind, Kind] = {
    RefinedKind.POINTWISE_ONEDNN: Work.POINTWISE_CONV,
    RefinedKind.POINTWISE_PADDED: RefinedKind.POINTWISE_ONEDNN,
    RefinedKind.DEPTHWISE_PADDED: Work.DEPTHWISE_CONV,
    RefinedKind.STANDARD_PADDED: Work.STANDARD_CONV,
    RefinedKind.STANDARD_NATIVE: Work.STANDARD_CONV,
    RefinedKind.TRANSCENDENTAL_ACTIVATION: OtherWork.ACTIVATION,
    RefinedKind.FEATURE_NORMALIZATION: OtherWork.NORMALIZATION,
}

# The kind an other-op label runs as (calc.formulas and calc.torch_count's labels).
LABEL_WORK: dict[str, OtherWork] = {
    "normalization": OtherWork.NORMALIZATION,
    "softmax": OtherWork.NORMALIZATION,  # a reduction along one axis, then elementwise, like a norm
    "activation": OtherWork.ACTIVATION,
    "elementwise": OtherWork.ELEMENTWISE,
    "bias add": OtherWork.ELEMENTWISE,
    "scaling": OtherWork.ELEMENTWISE,
    "pooling": OtherWork.POOLING,
    "reduction": OtherWork.REDUCTION,
}
# A pooling that shrinks its input this much or more reads each channel once and writes a value or a
# few: global pooling, a reduction, not a window sliding over its input. Apart in the calibration
# because they stream at different rates: on this shared 2-core machine (one thread) efficientnet_b0's
# 17 squeeze-excitation and final pools, priced as 3×3 max pools, were predicted at 5.7 ms for 0.7 ms
# measured (the model +19 %).
GLOBAL_POOLING_SHRINK = 16
SPEED_CHANGED = 0.10  # |speed factor - 1| beyond which a measurement's predictions say the speed moved

# Kinds a calibration times, and the kinds priced as one of them.
CALIBRATED_KINDS: tuple[Kind, ...] = (
    Work.STANDARD_CONV,
    Work.GROUPED_CONV,
    Work.DEPTHWISE_CONV,
    Work.POINTWISE_CONV,
    Work.LINEAR,
    Work.ATTENTION_MATMULS,
    *OtherWork,
)
PRICED_AS: dict[Kind, Kind] = {
    Work.OTHER_CONV: Work.STANDARD_CONV,  # 1-D, 3-D and transposed convolutions: the closest dense kernel
    Work.OTHER_MATMULS: Work.LINEAR,  # a GEMM outside a Linear module runs the same BLAS call
}


def base_kind(kind: Kind) -> Kind:
    """The calibrated kind ``kind`` is one case of: a refined kind's (REFINES), else itself."""
    while kind in REFINES:
        kind = REFINES[kind]
    return PRICED_AS.get(kind, kind)


MAC_KINDS = frozenset(kind for kind in (*CALIBRATED_KINDS, *RefinedKind) if isinstance(base_kind(kind), Work))


# Kinds whose compute efficiency is keyed by intensity I = F / B (FLOPs per byte moved), not by F: a
# GEMM's efficiency follows how often each weight is reused, its rows (tokens), which I tracks. At the
# same 0.23 GFLOP on this machine (one thread) a linear of 49 tokens, 768→3072 (I = 23), attained 67
# GFLOP/s, one of 197 tokens, 768→768 (I = 65), 95, and 3136×96→384 (I = 37) 94; keyed by F alone they
# shared one efficiency, and vit_b_32's 50-token linears were predicted 20 % fast.
INTENSITY_KEYED: frozenset[Kind] = frozenset({Work.LINEAR, Work.ATTENTION_MATMULS})


def compute_size(kind: Kind, flops: float, memory_bytes: float) -> float:
    """What a kind's compute table is keyed by: F, or F / B for the INTENSITY_KEYED kinds."""
    if PRICED_AS.get(kind, kind) in INTENSITY_KEYED:
        return flops / memory_bytes if memory_bytes > 0 else flops
    return flops


def kind_of(value: str) -> Kind:
    """A kind from its JSON value; ValueError for anything else."""
    for enum in (Work, OtherWork, RefinedKind):
        try:
            return enum(value)
        except ValueError:
            continue
    raise ValueError(f"unknown kind of work {value!r:.40}")


# ------------------------------------------------------------------ the model


@dataclass(frozen=True)
class EfficiencyTable:
    """Attained fraction of a roof by size: a value at each point of log10(size), interpolated
    linearly in log size and log efficiency, flat beyond the first and last points."""

    log10_sizes: tuple[float, ...]  # increasing
    efficiencies: tuple[float, ...]  # > 0, one per point

    def __post_init__(self):
        if not self.log10_sizes or len(self.log10_sizes) != len(self.efficiencies):
            raise ValueError("an efficiency table needs one efficiency per size point, at least one")
        if any(b <= a for a, b in zip(self.log10_sizes, self.log10_sizes[1:], strict=False)):
            raise ValueError("an efficiency table's sizes must increase")
        if not all(math.isfinite(e) and e > 0 for e in self.efficiencies):
            raise ValueError("efficiencies must be positive and finite")

    def at(self, size: float) -> float:
        x = math.log10(max(size, 1.0))
        points, values = self.log10_sizes, self.efficiencies
        if x <= points[0]:
            return values[0]
        if x >= points[-1]:
            return values[-1]
        i = bisect.bisect_right(points, x)
        share = (x - points[i - 1]) / (points[i] - points[i - 1])
        return math.exp((1 - share) * math.log(values[i - 1]) + share * math.log(values[i]))


@dataclass(frozen=True)
class KindFit:
    kind: Kind
    compute: EfficiencyTable | None  # None for kinds without MACs
    memory: EfficiencyTable
    samples: int  # micro-benchmarks it was fitted on


@dataclass(frozen=True)
class Fingerprint:
    """What a calibration holds for: the same device, threads, torch and dtype, or it is stale."""

    device: str  # "cpu" or "cuda"
    label: str  # the CPU model or the GPU name
    threads: int  # torch's CPU threads (they set a CPU's speed; recorded for a GPU too)
    torch_version: str
    dtype: str  # compute dtype: fp32, bf16, fp16

    def as_data(self) -> dict:
        return {
            "device": self.device,
            "label": self.label,
            "threads": self.threads,
            "torch_version": self.torch_version,
            "dtype": self.dtype,
        }


@dataclass(frozen=True)
class Disturbance:
    """How disturbed a calibration's timing was: a calibration made while other programs ran
    holds their load in its efficiencies (a busy machine's ops look slower) and predicts a quiet
    machine badly, so it says so and the page and the CLI warn."""

    other_cores: float | None = None  # other programs' average CPU use while it ran, in cores; None: unknown
    benchmarks: int = 0  # micro-benchmarks timed
    disturbed: int = 0  # of them, timed in a group while other programs used the CPU
    noisy: int = 0  # of them, whose rounds disagreed (calc.timings.NOISY_SPREAD)

    def __post_init__(self):
        if self.other_cores is not None and not (math.isfinite(self.other_cores) and self.other_cores >= 0):
            raise ValueError("other_cores must be zero or positive")
        if not 0 <= self.disturbed <= self.benchmarks or not 0 <= self.noisy <= self.benchmarks:
            raise ValueError("disturbed and noisy benchmarks must be between 0 and the benchmarks timed")

    @property
    def busy_machine(self) -> bool:
        """Other programs used the CPU while it ran (calc.machine_load's rule for a measurement)."""
        return self.other_cores is not None and self.other_cores > BUSY_OTHER_CORES

    def warning(self) -> str:
        """What to tell a user of a calibration made on a busy machine; "" for a quiet one."""
        if not self.busy_machine:
            return ""
        return (
            f"calibrated while other programs used {self.other_cores:.1f} CPU cores on average "
            f"({self.disturbed} of {self.benchmarks} benchmarks timed while the machine was busy, "
            f"{self.noisy} with rounds that disagreed): its predictions carry that load; "
            "recalibrate on a quiet machine"
        )


@dataclass(frozen=True)
class Calibration:
    fingerprint: Fingerprint
    peak_flops_per_s: float  # the probed roofs the efficiencies are fractions of
    bandwidth_bytes_per_s: float
    op_overhead_s: float  # per priced op: framework dispatch, kernel launch
    call_overhead_s: float  # per forward call of a whole model
    fits: tuple[KindFit, ...]  # one per CALIBRATED_KINDS
    quick: bool = False  # a short grid (tests, previews): less accurate
    seconds: float = 0.0  # wall time of the calibration
    disturbance: Disturbance = Disturbance()
    channel_block: int = 0  # oneDNN's fp32 channel block on a CPU (calc.conv_path); 0: no such rule
    # seconds of the speed reference (calc.torch_calibrate.REFERENCE) while the grid was timed: the
    # geometric mean of its timings before each group; 0: not timed
    reference_s: float = 0.0

    def __post_init__(self):
        kinds = [fit.kind for fit in self.fits]
        required = [kind for kind in kinds if not isinstance(kind, RefinedKind)]
        if sorted(required) != sorted(CALIBRATED_KINDS) or len(set(kinds)) != len(kinds):
            raise ValueError(
                "a calibration needs one fit for each calibrated kind of work, and at most one of each "
                "refined kind"
            )
        if self.channel_block < 0:
            raise ValueError("channel_block must be zero or positive")
        for fit in self.fits:
            if (fit.compute is None) == (fit.kind in MAC_KINDS):
                raise ValueError(f"{fit.kind.value}: a compute table exactly for kinds with MACs")
        for name in ("peak_flops_per_s", "bandwidth_bytes_per_s"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"{name} must be positive")
        for name in ("op_overhead_s", "call_overhead_s", "seconds", "reference_s"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be zero or positive")

    @property
    def conv_rules(self) -> ConvRules:
        return ConvRules(self.fingerprint.threads, self.channel_block)

    def fit_of(self, kind: Kind) -> KindFit:
        kind = PRICED_AS.get(kind, kind)
        while True:
            fit = next((fit for fit in self.fits if fit.kind == kind), None)
            if fit is not None:
                return fit
            kind = REFINES[kind]  # a refined kind this calibration did not time


@dataclass(frozen=True)
class Component:
    """One priced piece of a layer: its kind, FLOPs and bytes."""

    kind: Kind
    flops: int
    memory_bytes: float


def refined_kind(conv: ConvShape, rules: ConvRules | None) -> Kind:
    """The kind ``conv`` is priced as on a machine of ``rules``: its own, or the RefinedKind of the
    kernel aten runs it on there (calc.conv_path); its own without rules."""
    if rules is None or rules.channel_block <= 0 or len(conv.input_shape) != 3:
        return conv.work
    if not runs_onednn(conv, rules):
        return RefinedKind.STANDARD_NATIVE if conv.work == Work.STANDARD_CONV else conv.work
    if conv.work == Work.POINTWISE_CONV:
        return RefinedKind.POINTWISE_PADDED if padded(conv, rules) else RefinedKind.POINTWISE_ONEDNN
    if padded(conv, rules):
        return {
            Work.DEPTHWISE_CONV: RefinedKind.DEPTHWISE_PADDED,
            Work.STANDARD_CONV: RefinedKind.STANDARD_PADDED,
        }.get(conv.work, conv.work)
    return conv.work


def refined_other(kind: OtherWork, module_kind: str) -> Kind:
    """The kind an other op of a ``module_kind`` layer (a module's class name) is priced as."""
    if kind == OtherWork.ACTIVATION and module_kind in TRANSCENDENTAL_ACTIVATIONS:
        return RefinedKind.TRANSCENDENTAL_ACTIVATION
    if kind == OtherWork.NORMALIZATION and module_kind.endswith(FEATURE_NORMALIZATION_SUFFIXES):
        return RefinedKind.FEATURE_NORMALIZATION
    return kind


def _cost_components(
    cost: Cost,
    bytes_per_element: int,
    input_shape: tuple[int, ...],
    rules: ConvRules | None,
    module_kind: str = "",
) -> list[Component]:
    memory_bytes = (cost.params + cost.input_elements + cost.output_elements) * bytes_per_element
    if cost.terms:
        macs = cost.macs
        terms = [term for term in cost.terms if term.value]
        if len(terms) == 1:  # one convolution: its shapes are the layer's (a block of several is not refined)
            conv = ConvShape(terms[0].work, input_shape, cost.output_shape[1:], cost.output_shape[0])
            return [Component(refined_kind(conv, rules), flops_from_macs(terms[0].value), memory_bytes)]
        return [
            Component(term.work, flops_from_macs(term.value), memory_bytes * term.value / macs if macs else 0)
            for term in terms
        ]
    by_kind: dict[Kind, int] = {}
    shrinks = cost.output_elements * GLOBAL_POOLING_SHRINK <= cost.input_elements
    for label, count in cost.other_ops:
        kind = LABEL_WORK.get(label, OtherWork.ELEMENTWISE)  # an unknown label: the simplest streaming op
        if kind == OtherWork.POOLING and shrinks:
            kind = OtherWork.REDUCTION
        kind = refined_other(kind, module_kind)
        by_kind[kind] = by_kind.get(kind, 0) + count
    total = sum(by_kind.values())
    return [
        Component(kind, 0, memory_bytes * count / total) for kind, count in by_kind.items() if count and total
    ]


def components(row: Row, rules: ConvRules | None = None) -> list[Component]:
    """What is priced of ``row`` on a machine of ``rules`` (a convolution's kind refined by the kernel
    it runs there; None: by its kind alone; an activation or a norm by its module, RefinedKind): its
    parts' components when it has parts (a separable conv, each part's input the one before's
    output), else its own."""
    if not row.cost.parts:
        return _cost_components(row.cost, row.bytes_per_element, row.input_shape, rules, row.kind)
    pieces, input_shape = [], row.input_shape
    for _, part in row.cost.parts:
        pieces += _cost_components(part, row.bytes_per_element, input_shape, rules)
        input_shape = part.output_shape[1:]
    return pieces


@dataclass(frozen=True)
class ComponentTime:
    component: Component
    compute_seconds: float  # F / (e_c · P); 0 without MACs
    memory_seconds: float  # B / (e_b · B_w)
    overhead_seconds: float

    @property
    def seconds(self) -> float:
        return max(self.compute_seconds, self.memory_seconds) + self.overhead_seconds


def component_time(component: Component, calibration: Calibration) -> ComponentTime:
    fit = calibration.fit_of(component.kind)
    compute = (
        component.flops
        / (
            fit.compute.at(compute_size(component.kind, component.flops, component.memory_bytes))
            * calibration.peak_flops_per_s
        )
        if fit.compute is not None and component.flops
        else 0.0
    )
    memory = component.memory_bytes / (
        fit.memory.at(component.memory_bytes) * calibration.bandwidth_bytes_per_s
    )
    return ComponentTime(component, compute, memory, calibration.op_overhead_s)


def layout_time(cost: Cost, bytes_per_element: int, calibration: Calibration) -> ComponentTime | None:
    """What a layer's views, reshapes and copies cost (calc.torch_count's Cost.layout_ops and
    copied_elements; None for a layer without any): each dispatch the op overhead, and the copies'
    bytes, read and written, at the elementwise kind's bandwidth (a copy streams like an add)."""
    if not cost.layout_ops and not cost.copied_elements:
        return None
    moved_bytes = 2 * cost.copied_elements * bytes_per_element
    memory = (
        moved_bytes
        / (
            calibration.fit_of(OtherWork.ELEMENTWISE).memory.at(moved_bytes)
            * calibration.bandwidth_bytes_per_s
        )
        if moved_bytes
        else 0.0
    )
    return ComponentTime(
        Component(OtherWork.ELEMENTWISE, 0, moved_bytes),
        0.0,
        memory,
        cost.layout_ops * calibration.op_overhead_s,
    )


def _layer(row: Row, calibration: Calibration) -> LayerPrediction:
    times = [component_time(piece, calibration) for piece in components(row, calibration.conv_rules)]
    layout = layout_time(row.cost, row.bytes_per_element, calibration)
    return LayerPrediction(row, tuple(times + ([layout] if layout else [])))


@dataclass(frozen=True)
class LayerPrediction:
    row: Row
    times: tuple[ComponentTime, ...]

    @property
    def seconds(self) -> float:
        return sum(time.seconds for time in self.times)

    @property
    def work(self) -> str:
        """The kind of its slowest piece ("" for a layer with nothing to price)."""
        return max(self.times, key=lambda time: time.seconds).component.kind.value if self.times else ""

    @property
    def bound(self) -> str:
        """What limits its slowest piece: "compute", "memory", or "" when nothing is priced."""
        if not self.times:
            return ""
        slowest = max(self.times, key=lambda time: time.seconds)
        return "memory" if slowest.memory_seconds >= slowest.compute_seconds else "compute"


@dataclass(frozen=True)
class Prediction:
    layers: tuple[LayerPrediction, ...]
    call_overhead_s: float

    @property
    def seconds(self) -> float:
        return sum(layer.seconds for layer in self.layers) + self.call_overhead_s


def predict(report: Report, calibration: Calibration) -> Prediction:
    """The calibrated latency of one forward of ``report`` (its batch and dtype) on the calibrated
    machine; SpecError when the report's dtype is not the calibration's."""
    storage = STORAGE_DTYPE[calibration.fingerprint.dtype]
    if report.dtype != storage:
        raise SpecError(
            f"the calibration is for {calibration.fingerprint.dtype} ({storage} tensors), the model is "
            f"counted in {report.dtype}; calibrate for {report.dtype} or count the model in {storage}",
            field="dtype",
        )
    layers = tuple(_layer(row, calibration) for row in report.rows)
    return Prediction(layers, calibration.call_overhead_s)


def speed_factor(reference_now_s: float, calibration: Calibration, disturbed: bool = False) -> float:
    """How much slower (above 1) or faster this machine runs now than while it was calibrated:
    the speed reference timed now over its time during the calibration; 1 where either is unknown,
    and for a measurement ``disturbed`` by other programs (calc.machine_load): their load slows the
    reference's short ops far more than a model's forward (9.2x against 2.6x for
    mobilenet_v3_small, seen here under a test run), and such a measurement is flagged anyway.

    Why: a virtual machine's speed moves with where its host places it. On this 2-vCPU KVM guest
    the reference took 2.75 ms for minutes, then 3.45 ms for minutes more, and the models with it
    (resnet18 1.17x, mobilenet_v3_small and shufflenet_v2 1.35x slower): a calibration made in one
    spell mispredicts the other by 15-35 %. Predictions set against a measurement are scaled by
    this factor, timed around the measurement, and say so when it is beyond SPEED_CHANGED."""
    if reference_now_s <= 0 or calibration.reference_s <= 0 or disturbed:
        return 1.0
    return reference_now_s / calibration.reference_s


def speed_note(factor: float) -> str:
    """What to tell a user when the machine's speed moved since the calibration; "" when it did not."""
    if abs(factor - 1) <= SPEED_CHANGED:
        return ""
    return (
        f"this machine ran its speed reference {factor:.2f}x as long as during the calibration "
        f"({'slower' if factor > 1 else 'faster'} now: another load, or the host placed it elsewhere); "
        "the predictions set against this measurement are scaled by it"
    )


def prediction_error(predicted_seconds: float, measured_seconds: float) -> float:
    """Predicted / measured − 1: 0.25 is 25 % slow-predicted, −0.2 is 20 % fast-predicted."""
    return predicted_seconds / measured_seconds - 1 if measured_seconds > 0 else float("nan")


__all__ = [
    "CALIBRATED_KINDS",
    "Calibration",
    "Component",
    "Disturbance",
    "EfficiencyTable",
    "Fingerprint",
    "Kind",
    "KindFit",
    "OtherWork",
    "Prediction",
    "RefinedKind",
    "components",
    "predict",
    "prediction_error",
    "speed_factor",
    "speed_note",
]
