"""Hostile .onnx files, generated here: each refused with a clear SpecError, nothing read outside
the model's folder, nothing executed."""

from __future__ import annotations

import os

import pytest
from onnx import TensorProto, helper

from calc import onnx_graph
from calc.errors import SpecError
from calc.onnx_source import source_from_bytes, source_from_path
from calc.sources import resolve
from tests.onnx_graphs import graph_model, one_node

CONV = one_node("Conv", {"x": (1, 3, 8, 8)}, {"w": (4, 3, 3, 3)})


def with_external_weight(location: str) -> bytes:
    """A MatMul whose weight lies in an external file at ``location`` (never written here)."""
    model = graph_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": (2, 8)})
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=(8, 4))
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value=location)
    model.graph.initializer.append(tensor)
    return model.SerializeToString()


@pytest.mark.parametrize(
    ("location", "problem"),
    [
        pytest.param("/etc/passwd", "absolute", id="absolute"),
        pytest.param("../../secret.bin", "'..'", id="dot-dot"),
        pytest.param("weights/../../secret.bin", "'..'", id="dot-dot-inside"),
        pytest.param("C:\\secret.bin", "absolute", id="windows-drive"),
        pytest.param("", "names no file", id="empty"),
    ],
)
def test_external_data_outside_the_folder_is_refused(location, problem):
    with pytest.raises(SpecError, match=problem):
        source_from_bytes("upload.onnx", with_external_weight(location))


def test_a_link_out_of_the_folder_is_refused(tmp_path):
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"\0" * 128)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").symlink_to(outside)
    path = folder / "model.onnx"
    path.write_bytes(with_external_weight("weights.bin"))
    with pytest.raises(SpecError, match="outside the model's folder"):
        source_from_path(str(path))


def test_external_data_is_never_read_for_counting(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(with_external_weight("weights.bin"))  # weights.bin does not exist
    report = resolve(str(path)).count()
    assert report.macs == 2 * 8 * 4
    assert report.params == 8 * 4


def test_files_past_protobufs_2_gb_are_refused_unread(tmp_path):
    path = tmp_path / "huge.onnx"
    with open(path, "wb") as handle:
        handle.truncate(2**31)  # sparse: no disk used
    with pytest.raises(SpecError, match="2 GB"):
        resolve(str(path))


def test_files_past_the_size_limit_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_graph, "MAX_ONNX_BYTES", len(CONV) - 1)
    with pytest.raises(SpecError, match="beyond the limit"):
        source_from_bytes("upload.onnx", CONV)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(CONV[: len(CONV) // 2], "truncated|no node makes|holds no ONNX graph", id="truncated"),
        pytest.param(CONV[:-7], "truncated|no node makes|holds no ONNX graph", id="last-bytes-cut"),
        pytest.param(b"", "holds no ONNX graph", id="empty"),
        pytest.param(os.urandom(0) + b"\xff" * 64, "not an ONNX model|holds no ONNX graph", id="garbage"),
        pytest.param(b'{"input": [3, 8, 8]}', "not an ONNX model|holds no ONNX graph", id="json"),
    ],
)
def test_malformed_files_get_a_message(data, message):
    with pytest.raises(SpecError, match=message):
        source_from_bytes("upload.onnx", data).count()


def test_cyclic_graphs_are_refused():
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="first"), helper.make_node("Relu", ["a"], ["b"])]
    model = graph_model(nodes, {"x": (1, 4)}, output="b")
    with pytest.raises(SpecError, match="cycle"):
        source_from_bytes("upload.onnx", model.SerializeToString())


def test_a_tensor_nothing_makes_is_refused():
    model = graph_model([helper.make_node("Add", ["x", "ghost"], ["y"])], {"x": (1, 4)})
    with pytest.raises(SpecError, match="'ghost'"):
        source_from_bytes("upload.onnx", model.SerializeToString())


@pytest.mark.parametrize(
    "dims",
    [
        pytest.param((1, 3, 10**18, 8), id="input-dim"),
        pytest.param(("N", 2**40, 2**40), id="input-elements"),
    ],
)
def test_absurd_declared_dimensions_are_refused(dims):
    with pytest.raises(SpecError, match="absurd"):
        source_from_bytes("upload.onnx", one_node("Relu", {"x": dims})).count()


def test_absurd_inferred_shapes_are_refused():
    # Expand to a shape given as data: 2**30 × 2**30 elements would be inferred
    target = helper.make_tensor("target", TensorProto.INT64, (3,), [2**30, 2**30, 4])
    model = graph_model(
        [helper.make_node("Expand", ["x", "target"], ["y"])], {"x": (1, 4)}, initializers=(target,)
    )
    with pytest.raises(SpecError, match="absurd"):
        source_from_bytes("upload.onnx", model.SerializeToString()).count()


def test_unknown_domains_are_refused():
    data = one_node("Backdoor", {"x": (1, 4)}, domain="evil.custom")
    with pytest.raises(SpecError, match=r"evil\.custom\.Backdoor"):
        source_from_bytes("upload.onnx", data)


def test_functions_calling_themselves_are_refused():
    model = graph_model([helper.make_node("Loopy", ["x"], ["y"], domain="local")], {"x": (1, 4)})
    body = helper.make_node("Loopy", ["a"], ["b"], domain="local")
    model.functions.append(
        helper.make_function("local", "Loopy", ["a"], ["b"], [body], [helper.make_opsetid("", 23)])
    )
    model.opset_import.append(helper.make_opsetid("local", 1))
    with pytest.raises(SpecError, match="calls itself"):
        source_from_bytes("upload.onnx", model.SerializeToString()).count()


def test_unknown_domains_inside_functions_are_refused():
    model = graph_model([helper.make_node("Block", ["x"], ["y"], domain="local")], {"x": (1, 4)})
    body = [helper.make_node("Backdoor", ["a"], ["b"], domain="evil.custom")]
    model.functions.append(
        helper.make_function("local", "Block", ["a"], ["b"], body, [helper.make_opsetid("", 23)])
    )
    model.opset_import.append(helper.make_opsetid("local", 1))
    with pytest.raises(SpecError, match=r"evil\.custom"):
        source_from_bytes("upload.onnx", model.SerializeToString())


def test_function_chains_past_pythons_depth_are_refused():
    model = graph_model([helper.make_node("F0", ["x"], ["y"], domain="local")], {"x": (1, 4)})
    for depth in range(3000):  # F0 calls F1 calls F2 ... calls Relu
        inner = helper.make_node(f"F{depth + 1}", ["a"], ["b"], domain="local") if depth < 2999 else None
        body = [inner or helper.make_node("Relu", ["a"], ["b"])]
        opsets = [helper.make_opsetid("", 23), helper.make_opsetid("local", 1)]
        model.functions.append(helper.make_function("local", f"F{depth}", ["a"], ["b"], body, opsets))
    model.opset_import.append(helper.make_opsetid("local", 1))
    with pytest.raises(SpecError, match="too deeply"):
        source_from_bytes("upload.onnx", model.SerializeToString()).count()


def test_local_functions_are_inlined_and_counted():
    model = graph_model(
        [helper.make_node("Block", ["x", "w"], ["y"], domain="local")], {"x": (2, 8)}, {"w": (8, 4)}
    )
    body = [helper.make_node("MatMul", ["a", "v"], ["m"]), helper.make_node("Relu", ["m"], ["b"])]
    model.functions.append(
        helper.make_function("local", "Block", ["a", "v"], ["b"], body, [helper.make_opsetid("", 23)])
    )
    model.opset_import.append(helper.make_opsetid("local", 1))
    report = source_from_bytes("upload.onnx", model.SerializeToString()).count()
    assert report.macs == 2 * 8 * 4
    assert report.other_ops_by_label() == {"activation": 2 * 4}


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2), written by hand."""
    length, size = b"", len(payload)
    while True:
        byte, size = size & 0x7F, size >> 7
        length += bytes([byte | (0x80 if size else 0)])
        if not size:
            break
    return bytes([number << 3 | 2]) + length + payload


def test_subgraphs_nested_past_protobufs_depth_are_refused():
    # ModelProto.graph (7) -> GraphProto.node (1) -> NodeProto.attribute (5) -> AttributeProto.g (6) -> ...
    graph = b""
    for _ in range(300):
        graph = _field(1, _field(5, _field(6, graph)))
    with pytest.raises(SpecError, match="not an ONNX model"):
        source_from_bytes("deep.onnx", _field(7, graph))
