"""ONNX graphs counted node by node: MACs per op (expected values as arithmetic), other ops by
calc.formulas' convention, unsupported ops listed, symbolic dimensions fixed or named."""

from __future__ import annotations

import pytest
from onnx import helper

from calc.errors import SpecError
from calc.onnx_count import row_name
from calc.onnx_graph import Node
from calc.onnx_source import source_from_bytes
from calc.work import Work
from tests.onnx_graphs import INT64, graph_model, one_node, weight


def count(data: bytes, **settings):
    return source_from_bytes("test.onnx", data).count(**settings)


X8 = {"x": (1, 3, 8, 8)}

MAC_CASES = [
    pytest.param(one_node("Conv", X8, {"w": (4, 3, 3, 3)}, pads=[1, 1, 1, 1]), 4 * 8 * 8 * 3 * 3 * 3,
                 Work.STANDARD_CONV, id="conv-3x3"),
    pytest.param(one_node("Conv", {"x": (1, 8, 8, 8)}, {"w": (8, 2, 3, 3)}, group=4), 8 * 6 * 6 * 2 * 3 * 3,
                 Work.GROUPED_CONV, id="conv-grouped"),
    pytest.param(one_node("Conv", {"x": (1, 8, 8, 8)}, {"w": (8, 1, 3, 3)}, group=8), 8 * 6 * 6 * 1 * 3 * 3,
                 Work.DEPTHWISE_CONV, id="conv-depthwise"),
    pytest.param(one_node("Conv", {"x": (1, 3, 9, 9)}, {"w": (4, 3, 3, 3)}, dilations=[2, 2]),
                 4 * 5 * 5 * 3 * 9, Work.STANDARD_CONV, id="conv-dilated"),
    pytest.param(one_node("Conv", X8, {"w": (4, 3, 3, 3)}, strides=[2, 2], pads=[1, 1, 1, 1]),
                 4 * 4 * 4 * 3 * 9, Work.STANDARD_CONV, id="conv-strided"),
    pytest.param(one_node("Conv", X8, {"w": (4, 3, 1, 1)}), 4 * 8 * 8 * 3, Work.POINTWISE_CONV,
                 id="conv-1x1"),
    pytest.param(one_node("Conv", {"x": (2, 3, 10)}, {"w": (4, 3, 3)}), 2 * 4 * 8 * 3 * 3, Work.OTHER_CONV,
                 id="conv1d"),
    pytest.param(one_node("ConvTranspose", {"x": (1, 4, 5, 5)}, {"w": (4, 2, 3, 3)}, strides=[2, 2]),
                 4 * 5 * 5 * 2 * 3 * 3, Work.OTHER_CONV, id="conv-transpose"),
    pytest.param(one_node("Gemm", {"a": (2, 16)}, {"w": (8, 16)}, transB=1), 2 * 16 * 8, Work.LINEAR,
                 id="gemm"),
    pytest.param(one_node("MatMul", {"a": (2, 3, 4, 5)}, {"w": (5, 6)}), 2 * 3 * 4 * 5 * 6, Work.LINEAR,
                 id="matmul-weight"),
    pytest.param(one_node("MatMul", {"a": (2, 1, 4, 5), "b": (3, 5, 6)}), 2 * 3 * 4 * 5 * 6,
                 Work.OTHER_MATMULS, id="matmul-broadcast"),
    pytest.param(one_node("MatMul", {"a": (5,)}, {"w": (5, 6)}), 5 * 6, Work.LINEAR, id="matmul-vector"),
    pytest.param(one_node("Einsum", {"q": (1, 2, 4, 8), "k": (1, 2, 6, 8)}, equation="bhqd,bhkd->bhqk"),
                 1 * 2 * 4 * 6 * 8, Work.OTHER_MATMULS, id="einsum-scores"),
    pytest.param(one_node("Einsum", {"a": (2, 3, 4)}, {"w": (4, 5)}, equation="...ij,jk->...ik"),
                 2 * 3 * 4 * 5, Work.LINEAR, id="einsum-ellipsis"),
    pytest.param(one_node("Attention", {"q": (1, 2, 4, 8), "k": (1, 2, 6, 8), "v": (1, 2, 6, 8)}),
                 2 * (1 * 2 * 4 * 6 * 8), Work.ATTENTION_MATMULS, id="attention-opset23"),
    pytest.param(one_node("MultiHeadAttention", {"q": (1, 4, 16), "k": (1, 6, 16), "v": (1, 6, 16)},
                          domain="com.microsoft", num_heads=2),
                 2 * (1 * 2 * 4 * 6 * 8), Work.ATTENTION_MATMULS, id="multi-head-attention"),
    pytest.param(one_node("LSTM", {"x": (5, 1, 3)}, {"w": (1, 16, 3), "r": (1, 16, 4)}, hidden_size=4),
                 5 * 1 * 4 * 4 * (3 + 4), Work.LINEAR, id="lstm"),
    pytest.param(one_node("GRU", {"x": (5, 2, 3)}, {"w": (2, 12, 3), "r": (2, 12, 4)}, hidden_size=4,
                          direction="bidirectional"),
                 2 * 5 * 2 * 3 * 4 * (3 + 4), Work.LINEAR, id="gru-bidirectional"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "macs", "work"), MAC_CASES)
def test_macs_per_op(data, macs, work):
    report = count(data)
    assert report.unsupported == ()
    assert report.macs == macs
    assert {term.work for row in report.rows for term in row.cost.terms} == {work}


TORCH_ORACLE = [
    pytest.param("Conv", {"x": (1, 8, 8, 8)}, {"w": (8, 2, 3, 3)}, {"group": 4},
                 lambda nn: nn.Conv2d(8, 8, 3, groups=4, bias=False), (8, 8, 8), id="grouped-conv"),
    pytest.param("ConvTranspose", {"x": (1, 4, 5, 5)}, {"w": (4, 2, 3, 3)}, {"strides": [2, 2]},
                 lambda nn: nn.ConvTranspose2d(4, 2, 3, stride=2, bias=False), (4, 5, 5),
                 id="conv-transpose"),
    pytest.param("Conv", {"x": (1, 3, 9, 9)}, {"w": (4, 3, 3, 3)}, {"dilations": [2, 2], "strides": [2, 2]},
                 lambda nn: nn.Conv2d(3, 4, 3, dilation=2, stride=2, bias=False), (3, 9, 9),
                 id="dilated-strided"),
    pytest.param("Gemm", {"a": (1, 16)}, {"w": (8, 16)}, {"transB": 1},
                 lambda nn: nn.Linear(16, 8, bias=False), (16,),
                 id="linear"),
]  # fmt: skip


@pytest.mark.parametrize(("op", "inputs", "weights", "attributes", "module", "sample"), TORCH_ORACLE)
def test_macs_agree_with_torch(op, inputs, weights, attributes, module, sample):
    from torch import nn

    from calc.torch_count import count_module

    oracle = count_module(module(nn), sample)
    assert count(one_node(op, inputs, weights, **attributes)).macs == oracle.macs


N = 1 * 4 * 8 * 8  # elements of [1, 4, 8, 8]
OTHER_CASES = [
    pytest.param(one_node("Relu", {"x": (1, 4, 8, 8)}), {"activation": N}, id="relu"),
    pytest.param(one_node("Softmax", {"x": (1, 4, 8, 8)}), {"softmax": 3 * N}, id="softmax"),
    pytest.param(one_node("MaxPool", {"x": (1, 4, 8, 8)}, kernel_shape=[2, 2], strides=[2, 2]),
                 {"pooling": (2 * 2 - 1) * N // 4}, id="maxpool"),
    pytest.param(one_node("AveragePool", {"x": (1, 4, 8, 8)}, kernel_shape=[2, 2], strides=[2, 2]),
                 {"pooling": 2 * 2 * N // 4}, id="avgpool"),
    pytest.param(one_node("GlobalAveragePool", {"x": (1, 4, 8, 8)}), {"pooling": N}, id="global-avgpool"),
    pytest.param(one_node("ReduceMean", {"x": (1, 4, 8, 8)}, axes=[2, 3]), {"pooling": N}, id="mean-over-hw"),
    pytest.param(one_node("ReduceMean", {"x": (1, 4, 8, 8)}, axes=[1]), {"reduction": N}, id="mean-over-c"),
    pytest.param(one_node("BatchNormalization", {"x": (1, 4, 8, 8)},
                          {"s": (4,), "b": (4,), "m": (4,), "v": (4,)}),
                 {"normalization": 2 * N}, id="batchnorm"),
    pytest.param(one_node("LayerNormalization", {"x": (1, 4, 8, 8)}, {"s": (8,)}), {"normalization": 5 * N},
                 id="layernorm"),
    pytest.param(one_node("Add", {"x": (1, 4, 8, 8)}, {"b": (8,)}), {"bias add": N}, id="bias-add"),
    pytest.param(one_node("Add", {"x": (1, 4, 8, 8), "z": (1, 4, 8, 8)}), {"elementwise": N},
                 id="residual-add"),
    pytest.param(one_node("Mul", {"x": (1, 4, 8, 8)}, {"c": (1,)}), {"scaling": N}, id="scaling"),
    pytest.param(one_node("Gemm", {"a": (2, 16)}, {"w": (16, 8), "b": (8,)}), {"bias add": 2 * 8},
                 id="gemm-bias"),
    pytest.param(one_node("Reshape", {"x": (1, 4, 8, 8)}, {"shape": (2,)}), {}, id="reshape-costs-nothing"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "other_ops"), OTHER_CASES)
def test_other_ops_follow_the_convention(data, other_ops):
    report = count(data)
    assert report.unsupported == ()
    assert report.other_ops_by_label() == other_ops


def test_ops_without_a_rule_are_listed_never_zero():
    resize = one_node("Resize", {"x": (1, 4, 8, 8)}, {"roi": (0,), "scales": (4,)})
    report = count(resize)
    assert report.unsupported == (("Resize", 1),)


def test_control_flow_is_listed_as_unsupported():
    branch = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["b"])], "b", [], [helper.make_tensor_value_info("b", 1, None)]
    )
    nodes = [
        helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
        helper.make_node("Cast", ["s"], ["c"], to=9),
        helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch),
    ]
    report = count(graph_model(nodes, {"x": (2, 3)}).SerializeToString())
    assert ("If (control flow)", 1) in report.unsupported


def test_params_are_the_float_initializers_each_once():
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("MatMul", ["h", "w"], ["h2"]),  # the same weight again: counted once
        helper.make_node("Reshape", ["h2", "shape"], ["y"]),  # an int64 shape: not a parameter
    ]
    model = graph_model(nodes, {"x": (2, 8)}, {"w": (8, 8)}, initializers=(weight("shape", (2,), INT64),))
    report = count(model.SerializeToString())
    assert report.params == 8 * 8
    assert report.macs == 2 * (2 * 8 * 8)


def test_batchnorm_statistics_are_not_params():
    weights = {"scale": (4,), "shift": (4,), "mean": (4,), "var": (4,)}
    report = count(one_node("BatchNormalization", {"x": (1, 4, 8, 8)}, weights))
    assert report.params == 4 + 4  # scale and shift, as torch counts nn.BatchNorm2d(4)


def test_symbolic_batch_is_fixed_by_batch():
    data = one_node("Conv", {"x": ("N", 3, 8, 8)}, {"w": (4, 3, 3, 3)})
    assert count(data, batch=4).macs == 4 * count(data, batch=1).macs == 4 * (4 * 6 * 6 * 3 * 9)


def test_shapes_propagate_through_computed_reshapes():
    # y = reshape(x, [shape(x)[0], -1]) · W: the Reshape's target is data, computed from the input
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "zero_axis"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["y"]),
    ]
    constants = tuple(weight(name, shape, INT64) for name, shape in (("zero", ()), ("zero_axis", (1,))))
    minus_one = helper.make_tensor("minus_one", INT64, (1,), [-1])
    model = graph_model(nodes, {"x": ("N", 4, 4)}, {"w": (16, 8)}, initializers=(*constants, minus_one))
    report = count(model.SerializeToString(), batch=3)
    assert report.unsupported == ()
    assert report.macs == 3 * 16 * 8


def test_token_inputs_take_the_sequence_length():
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["e"]),
        helper.make_node("MatMul", ["e", "w"], ["y"]),
    ]
    model = graph_model(
        nodes, {"ids": ("batch", "sequence")}, {"table": (100, 16), "w": (16, 8)}, input_type=INT64
    )
    source = source_from_bytes("tokens.onnx", model.SerializeToString())
    assert source.takes.value == "tokens"
    assert source.count(seq_len=32, batch=2).macs == 2 * 32 * 16 * 8


@pytest.mark.parametrize(
    ("inputs", "settings", "named"),
    [
        pytest.param({"x": (1, 3, "height", "width")}, {}, "height", id="image-size-unset"),
        pytest.param({"x": (1, 3, 8, 8)}, {"batch": 2}, "--batch", id="fixed-batch"),
        pytest.param({"x": (1, 3, 8, 8)}, {"resolution": 16}, "--resolution", id="fixed-resolution"),
        pytest.param({"x": ("N", "C", 8, 8)}, {}, "'C'", id="channels-unset"),
    ],
)
def test_unresolved_dimensions_are_named(inputs, settings, named):
    data = one_node("Relu", inputs)
    with pytest.raises(SpecError, match=named):
        count(data, **settings)


def test_a_fixed_sequence_length_is_the_graphs_own():
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["e"]),
        helper.make_node("MatMul", ["e", "w"], ["y"]),
    ]
    model = graph_model(nodes, {"ids": (1, 32)}, {"table": (100, 16), "w": (16, 8)}, input_type=INT64)
    source = source_from_bytes("tokens.onnx", model.SerializeToString())
    assert source.count().macs == 32 * 16 * 8
    with pytest.raises(SpecError, match="--seq-len"):
        source.count(seq_len=64)


def test_resolution_fixes_symbolic_image_sides():
    data = one_node("Conv", {"x": (1, 3, "height", "width")}, {"w": (4, 3, 3, 3)})
    assert count(data, resolution=16).macs == 4 * 14 * 14 * 3 * 9


def test_attention_matmuls_are_told_by_the_softmax_between():
    nodes = [
        helper.make_node("MatMul", ["q", "kt"], ["scores"]),
        helper.make_node("Mul", ["scores", "scale"], ["scaled"]),
        helper.make_node("Softmax", ["scaled"], ["a"], axis=-1),
        helper.make_node("MatMul", ["a", "v"], ["y"]),
    ]
    inputs = {"q": (1, 2, 4, 8), "kt": (1, 2, 8, 6), "v": (1, 2, 6, 8)}
    report = count(graph_model(nodes, inputs, {"scale": (1,)}).SerializeToString())
    works = [term.work for row in report.rows for term in row.cost.terms]
    assert works == [Work.ATTENTION_MATMULS, Work.ATTENTION_MATMULS]
    assert report.macs == 2 * (1 * 2 * 4 * 6 * 8)


@pytest.mark.parametrize(
    ("name", "scope", "path"),
    [
        pytest.param("node_Conv_3", "layer1.0.conv1", "layer1.0.conv1.node_Conv_3", id="torch-dynamo-scope"),
        pytest.param("/layer1/layer1.0/conv1/Conv", "", "layer1.0.conv1.Conv", id="torch-legacy-path"),
        pytest.param("model/dense/MatMul", "", "model.dense.MatMul", id="tf2onnx-path"),
        pytest.param("conv1", "", "conv1", id="plain-name"),
    ],
)
def test_rows_are_named_as_a_tree(name, scope, path):
    assert row_name(Node(0, name, "Conv", scope, (), (), {})) == path
