"""fp16, int8 and int4 bundles: they load in ONNX Runtime, have the promised graph forms, and report parity."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from m2export.graphs import count_ops

ort = pytest.importorskip("onnxruntime")


def report(folder) -> dict:
    return json.loads((folder / "parity.json").read_text())


def decoder_bytes(folder) -> int:
    return sum(p.stat().st_size for p in folder.glob("decoder.onnx*"))


@pytest.mark.parametrize("precision", ["fp16", "int8", "int4"])
def test_bundle_loads_and_reports_parity(export_tiny, precision):
    from m2sdk.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend
    from m2sdk.runtime.generation import GenerationConfig, generate

    folder = export_tiny(precision)
    backend = OnnxRuntimeBackend.from_bundle(folder)
    frame = np.full((112, 168, 3), 90, np.uint8)
    gen = generate(backend, backend.processor(frame, "How far is the lamp?"), GenerationConfig(max_new_tokens=3))
    assert gen.timings.prefill_ms > 0
    numbers = report(folder)
    assert numbers["precision"] == precision
    assert 0 < numbers["max_abs_logit_diff"] < 0.5  # quantized: not exact, but far from random
    assert 0 < numbers["mean_abs_logit_diff"] <= numbers["max_abs_logit_diff"]
    assert 0.0 <= numbers["greedy_agreement"] <= 1.0


def test_fp16_keeps_norms_rotary_and_softmax_in_fp32(export_tiny):
    folder = export_tiny("fp16")
    session = ort.InferenceSession(str(folder / "decoder.onnx"), providers=["CPUExecutionProvider"])
    types = {i.name: i.type for i in session.get_inputs()} | {o.name: o.type for o in session.get_outputs()}
    assert types["inputs_embeds"] == types["logits"] == "tensor(float)"
    assert types["past_key.0"] == types["present_value.1"] == "tensor(float16)"  # KV cache in fp16
    for name in ("decoder.onnx", "vision.onnx"):
        model = onnx.shape_inference.infer_shapes(onnx.load(str(folder / name)))
        elem = {v.name: v.type.tensor_type.elem_type for v in [*model.graph.value_info, *model.graph.input]}
        for node in model.graph.node:
            if node.op_type in ("Softmax", "ReduceMean", "Pow", "Sqrt", "Cos", "Sin", "ReduceL2"):
                assert elem.get(node.input[0], onnx.TensorProto.FLOAT) == onnx.TensorProto.FLOAT, (name, node.name)
        weights = [t for t in model.graph.initializer if len(t.dims) == 2]
        assert weights and all(t.data_type == onnx.TensorProto.FLOAT16 for t in weights)
    assert report(folder)["max_abs_logit_diff"] < 5e-3


def test_int8_uses_dynamic_int8_matmuls_and_keeps_lm_head(export_tiny):
    folder = export_tiny("int8")
    assert count_ops(folder / "decoder.onnx")["MatMulInteger"] == 7 * 2  # q, k, v, o, gate, up, down × 2 layers
    model = onnx.load(str(folder / "decoder.onnx"))
    head = [t for t in model.graph.initializer if t.name.startswith("lm_head.weight")]
    assert len(head) == 1 and head[0].data_type == onnx.TensorProto.FLOAT  # lm_head stays fp32
    assert report(export_tiny("int8"))["eval"] == {"skipped": "eval_samples = 0"}


def test_int4_has_matmulnbits_blockwise_symmetric(export_tiny):
    folder = export_tiny("int4")
    model = onnx.load(str(folder / "decoder.onnx"), load_external_data=False)
    nbits = [n for n in model.graph.node if n.op_type == "MatMulNBits"]
    assert len(nbits) == 7 * 2 and all(n.domain == "com.microsoft" for n in nbits)
    for node in nbits:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attrs["bits"] == 4 and attrs["block_size"] == 128
        assert len(node.input) == 3  # activations, packed weights, scales: no zero point (symmetric)
    gemm = [n for n in model.graph.node if n.op_type == "Gemm"]
    assert len(gemm) == 1 and "lm_head.weight" in gemm[0].input  # lm_head left at fp32
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["quant_method"] == "rtn" and manifest["embedding"]["dtype"] == "float16"


def test_int4_reports_the_eval_metric_change(export_tiny):
    evaluation = report(export_tiny("int4"))["eval"]
    assert evaluation["reference"]["count"] == evaluation["candidate"]["count"] == 3
    delta = evaluation["candidate"]["overall"] - evaluation["reference"]["overall"]
    assert evaluation["delta_overall"] == pytest.approx(delta)


def test_sizes_shrink_with_precision(export_tiny):
    sizes = {p: decoder_bytes(export_tiny(p)) for p in ("fp32", "fp16", "int8", "int4")}
    assert sizes["fp16"] < 0.65 * sizes["fp32"]
    assert sizes["int8"] < 0.65 * sizes["fp32"]
    # m2-tiny's decoder is 40% lm_head (628×64, kept fp32) and its 64-wide layers are half a 128 block,
    # so int4 cannot reach 30% at this size; the 30% bound is checked on a bigger model below.
    assert sizes["int4"] < 0.6 * sizes["fp32"]


def small_model(hidden: int = 256, layers: int = 4):
    """m2-tiny's vision tower with a wider, deeper decoder (hidden 256, 4 layers), seeded."""
    import torch

    from m2sdk.model.config import M2ReasoningConfig
    from m2sdk.model.modeling import M2ReasoningForConditionalGeneration
    from m2sdk.model.presets import preset_config

    base = preset_config("m2-tiny").to_dict()
    text = {
        **base["text_config"],
        "hidden_size": hidden,
        "layer_types": ["full_attention"] * layers,
        "intermediate_size": 4 * hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [8, 12, 12]},
    }
    vision = {**base["vision_config"], "out_hidden_size": hidden}
    keep = {k: v for k, v in base.items() if k.endswith("token_id") or k == "projector_depth"}
    config = M2ReasoningConfig(vision_config=vision, text_config=text, **keep)  # fmt: skip
    torch.manual_seed(0)
    return M2ReasoningForConditionalGeneration(config).eval()


def test_int4_decoder_is_under_30_percent_of_fp32_on_a_wider_model(tmp_path):
    from m2export.decoder_export import export_decoder
    from m2export.graphs import write_decoder

    model = small_model()
    work, out = tmp_path / "work", tmp_path / "out"
    out.mkdir()
    export_decoder(model, work / "decoder.onnx", max_context=512)
    write_decoder(work, out, "int4")
    fp32_bytes = sum(p.stat().st_size for p in work.glob("decoder.onnx*"))
    int4_bytes = decoder_bytes(out)
    assert int4_bytes / fp32_bytes <= 0.30, (int4_bytes, fp32_bytes)
    assert count_ops(out / "decoder.onnx")["com.microsoft::MatMulNBits"] == 7 * 4
    # and it still computes the same function: random Gaussian weights are hard on int4 (about 12% error
    # per layer, see edge_export.md), so compare the direction of the logits, not their last digits
    feeds = {"inputs_embeds": np.random.default_rng(0).standard_normal((1, 6, 256)).astype(np.float32) * 0.02,
             "attention_mask": np.ones((1, 6), np.int64), "position_ids": np.tile(np.arange(6), (3, 1, 1))}  # fmt: skip
    feeds |= {f"past_{kv}.{i}": np.zeros((1, 2, 0, 64), np.float32) for i in range(4) for kv in ("key", "value")}
    logits = [ort.InferenceSession(str(d / "decoder.onnx")).run(["logits"], feeds)[0] for d in (work, out)]
    assert np.corrcoef(logits[0].ravel(), logits[1].ravel())[0, 1] > 0.9


@pytest.mark.slow
def test_gptq_int4_with_synthetic_calibration(tmp_path):
    """ONNX Runtime's GPTQ (CPU) on 32 synthetic spatial questions."""
    from m2export.bundle import export_bundle
    from m2export.export_config import ExportConfig

    folder = export_bundle(ExportConfig("m2-tiny", tmp_path / "gptq", precision="int4", quant_method="gptq",
                                        image_size=(168, 112), eval_samples=0, parity_new_tokens=4))  # fmt: skip
    assert count_ops(folder / "decoder.onnx")["com.microsoft::MatMulNBits"] == 14
    assert json.loads((folder / "manifest.json").read_text())["quant_method"] == "gptq"
    assert report(folder)["max_abs_logit_diff"] < 0.5
