"""TensorRT form: what can be checked without TensorRT is checked; building engines needs `tensorrt`."""

from __future__ import annotations

import json
import py_compile

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from m2export.tensorrt import TENSORRT_ONNX_OPS, check_graph, decoder_profiles, vision_profiles


def trt_report(folder) -> dict:
    return json.loads((folder / "tensorrt" / "op_check.json").read_text())


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8", "int4"])
def test_tensorrt_graphs_pass_the_op_check(export_tiny, precision):
    folder = export_tiny(precision)
    profiles = json.loads((folder / "tensorrt" / "profiles.json").read_text())["graphs"]
    for name, spec in profiles.items():
        model = onnx.load(str(folder / "tensorrt" / spec["onnx"]), load_external_data=False)
        report = check_graph(model, spec["profiles"])  # recomputed here, not only read from the bundle
        assert report["ok"], report
        assert set(report["ops"]) <= TENSORRT_ONNX_OPS
        assert report == trt_report(folder)[name]


def test_int4_tensorrt_form_is_blockwise_int4_dequantize_without_zero_points(export_tiny):
    model = onnx.load(str(export_tiny("int4") / "tensorrt" / "decoder.onnx"), load_external_data=False)
    inits = {t.name: t for t in model.graph.initializer}
    dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    assert len(dq) == 7 * 2
    for node in dq:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert inits[node.input[0]].data_type == TensorProto.INT4
        assert attrs["block_size"] == 128 and attrs.get("axis", 1) == 0
        assert len(node.input) == 2  # no zero point: TensorRT rejects INT4 zero points
    assert not [n for n in model.graph.node if n.domain not in ("", "ai.onnx")]
    assert model.opset_import[0].version == 21
    assert trt_report(export_tiny("int4"))["decoder"]["quantized_weights"] == {"INT4": 14}


def test_int8_tensorrt_form_is_per_channel_int8(export_tiny):
    report = trt_report(export_tiny("int8"))["decoder"]
    assert report["quantized_weights"] == {"INT8": 14} and report["zero_point_problems"] == []
    assert "MatMulInteger" not in report["ops"] and "DynamicQuantizeLinear" not in report["ops"]


def test_static_shapes_follow_the_profiles(export_tiny):
    folder = export_tiny("int4")
    manifest = json.loads((folder / "manifest.json").read_text())
    vision = onnx.load(str(folder / "tensorrt" / "vision.onnx"), load_external_data=False)
    dims = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in vision.graph.input}
    assert dims["pixel_values"] == [96, 1176] and dims["window_mask"] == [96, 96]  # 168×112 px = 8×12 patches
    assert dims["window_index"] == [24]
    decoder = onnx.load(str(folder / "tensorrt" / "decoder.onnx"), load_external_data=False)
    embeds = next(i for i in decoder.graph.input if i.name == "inputs_embeds").type.tensor_type.shape.dim
    assert embeds[0].dim_value == 1 and embeds[1].dim_param == "seq"
    prefill, decode = decoder_profiles(manifest)
    assert prefill["shapes"]["past_key.0"] == [[1, 2, 0, 16]] * 3
    assert decode["shapes"]["inputs_embeds"] == [[1, 1, 64]] * 3
    assert decode["shapes"]["attention_mask"][2] == [1, manifest["max_context"]]


def test_the_checker_catches_what_tensorrt_rejects(export_tiny):
    folder = export_tiny("int4")
    manifest = json.loads((folder / "manifest.json").read_text())
    ort_decoder = onnx.load(str(folder / "decoder.onnx"), load_external_data=False)  # ONNX Runtime form
    report = check_graph(ort_decoder, decoder_profiles(manifest))
    assert not report["ok"] and report["unsupported_ops"] == ["com.microsoft::MatMulNBits"]
    assert any("inputs_embeds[0]: profile fixes 1" in p for p in report["shape_problems"])  # batch is dynamic there
    dynamic_vision = onnx.load(str(folder / "vision.onnx"), load_external_data=False)
    problems = check_graph(dynamic_vision, vision_profiles(manifest))["shape_problems"]
    assert 'pixel_values[0]: profile fixes 96, graph has dim_param: "4*tokens"\n' in problems
    int8 = onnx.load(str(export_tiny("int8") / "decoder.onnx"), load_external_data=False)
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= set(
        check_graph(int8, decoder_profiles(manifest))["unsupported_ops"]
    )


def test_the_checker_rejects_int4_zero_points():
    weight = numpy_helper.from_array(np.zeros((128, 8), np.uint8), "w")
    weight.data_type = TensorProto.UINT4  # asymmetric INT4 as ORT's asym quantizer writes it
    scale = numpy_helper.from_array(np.ones((1, 8), np.float32), "s")
    zero = numpy_helper.from_array(np.zeros((1, 8), np.uint8), "z")
    zero.data_type = TensorProto.UINT4
    graph = helper.make_graph(
        [helper.make_node("DequantizeLinear", ["w", "s", "z"], ["wf"], "dq", axis=0, block_size=128),
         helper.make_node("MatMul", ["x", "wf"], ["y"], "mm")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 128])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])], [weight, scale, zero],
    )  # fmt: skip
    report = check_graph(helper.make_model(graph), [{"shapes": {"x": [[1, 128]] * 3}}])
    assert not report["ok"]
    assert report["zero_point_problems"] == ["dq: UINT4 (asymmetric) weights", "dq: has a zero point (z)"]


def test_build_files_for_the_target(export_tiny):
    folder = export_tiny("int4") / "tensorrt"
    py_compile.compile(str(folder / "build_engines.py"), doraise=True)
    assert "m2sdk" not in (folder / "build_engines.py").read_text().split('"""', 2)[2]  # standalone on the robot
    spec = json.loads((folder / "profiles.json").read_text())
    assert spec["graphs"]["decoder"]["flags"] == ["FP16", "INT4"] and spec["graphs"]["vision"]["flags"] == ["FP16"]
    lines = (folder / "trtexec.sh").read_text().splitlines()
    decoder_line = next(line for line in lines if "--onnx=decoder.onnx" in line)
    assert "--fp16 --int4" in decoder_line and "--timingCacheFile=timing.cache" in decoder_line
    assert "--minShapes=inputs_embeds:1x1x64,attention_mask:1x1," in decoder_line
    assert "past_key.0:1x2x0x16" in decoder_line and "--maxShapes=inputs_embeds:1x4096x64" in decoder_line
    vision_line = next(line for line in lines if "--onnx=vision.onnx" in line)
    assert "Shapes" not in vision_line  # static graph: no shape flags needed


def test_engines_build_and_match_onnxruntime(export_tiny):
    """Only where TensorRT and a GPU exist (a Jetson or a GPU box): never faked."""
    pytest.importorskip("tensorrt")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("TensorRT needs a CUDA GPU")
    from m2export.trt_builder import build_all
    from m2sdk.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend
    from m2sdk.runtime.backends.tensorrt_backend import TensorRTBackend

    folder = export_tiny("fp16")
    build_all(folder / "tensorrt")
    trt_backend = TensorRTBackend.from_bundle(folder)  # extra engine files are not in the manifest: allowed
    ort_backend = OnnxRuntimeBackend.from_bundle(folder)
    pixels = np.random.default_rng(0).standard_normal((96, 1176)).astype(np.float32)
    grid = np.array([[1, 8, 12]])
    np.testing.assert_allclose(
        trt_backend.encode_vision(pixels, grid), ort_backend.encode_vision(pixels, grid), atol=2e-2
    )
