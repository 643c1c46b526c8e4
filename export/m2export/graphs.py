"""From the two fp32 graphs to the bundle's graphs of one precision, and the TensorRT-form graphs.

The fp32 exports are written once into a scratch folder; each pass loads them fresh (the passes edit
protos in place), and every graph is saved the same way: node metadata stripped, weights in one
``<name>.data`` file next to it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import onnx

from m2export import quantize
from m2export.vision_export import VISION_INPUTS, VISION_OUTPUTS
from m2sdk.errors import ModelError

log = logging.getLogger(__name__)

DECODER_FP32_IO = ("inputs_embeds", "attention_mask", "position_ids", "logits")  # the KV cache goes fp16
_ELEM_TYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16", onnx.TensorProto.INT64: "int64"}


def save_graph(model: onnx.ModelProto, path: Path) -> Path:
    """Save with metadata stripped and all weights in ``path.name + '.data'`` (replacing old files)."""
    data = path.with_name(path.name + ".data")
    for old in (path, data):
        old.unlink(missing_ok=True)  # onnx appends to an existing data file
    quantize.strip_metadata(model)
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data.name, size_threshold=1024)  # fmt: skip
    return path


def load(path: Path) -> onnx.ModelProto:
    return onnx.load(str(path))


def write_vision(work: Path, out: Path, precision: str) -> str:
    """The bundle's vision graph: fp16 for fp16 bundles, fp32 otherwise (int8/int4 quantize the LLM)."""
    model = load(work / "vision.onnx")
    if precision == "fp16":
        model = quantize.to_fp16(model, keep_fp32_io=(*VISION_INPUTS, *VISION_OUTPUTS))
    save_graph(model, out / "vision.onnx")
    return "fp16" if precision == "fp16" else "fp32"


def write_decoder(work: Path, out: Path, precision: str, method: str = "rtn", calibration: Any = None) -> str:
    """The bundle's decoder graph in ``precision`` (ONNX Runtime form); returns a description."""
    src = work / "decoder.onnx"
    model = load(src)
    if precision == "fp32":
        save_graph(model, out / "decoder.onnx")
        return "fp32"
    if precision == "fp16":
        save_graph(quantize.to_fp16(model, DECODER_FP32_IO), out / "decoder.onnx")
        return "fp16 (norms, rotary, softmax fp32; KV cache fp16)"
    if precision == "int8":
        scratch = work / "decoder_int8.onnx"
        quantize.to_int8_dynamic(model, src, scratch)
        save_graph(load(scratch), out / "decoder.onnx")
        return "int8 dynamic (MatMulInteger), lm_head fp32"
    reader = calibration() if method == "gptq" else None
    save_graph(quantize.to_int4(model, method=method, calibration=reader), out / "decoder.onnx")
    return f"int4 weight-only MatMulNBits ({method}, block {quantize.INT4_BLOCK_SIZE}, symmetric), lm_head fp32"


def write_tensorrt_graphs(work: Path, folder: Path, manifest: dict[str, Any], awq_data: Any = None) -> None:
    """TensorRT-form graphs: fp16 static-shape vision, batch-1 decoder in the precision's QDQ form."""
    from m2export.tensorrt import vision_profiles

    folder.mkdir(parents=True, exist_ok=True)
    spec = manifest["vision"]["spec"]
    static = vision_profiles(manifest)[0]["shapes"]
    n, tokens = static["pixel_values"][0][0], static["window_index"][0][0]
    vision = quantize.to_fp16(load(work / "vision.onnx"), keep_fp32_io=(*VISION_INPUTS, *VISION_OUTPUTS))
    merge_unit = spec["spatial_merge_size"] ** 2
    save_graph(_fix(vision, {"tokens": tokens, f"{merge_unit}*tokens": n}), folder / "vision.onnx")
    precision, decoder = manifest["precision"], load(work / "decoder.onnx")
    if precision == "int4" and awq_data is not None:
        quantize.to_int4_awq(
            work / "decoder.onnx", folder / "decoder_awq.onnx", awq_data, quantize.lm_head_nodes(decoder)
        )
        decoder = load(folder / "decoder_awq.onnx")
        for leftover in folder.glob("decoder_awq.onnx*"):
            leftover.unlink()
    elif precision == "int4":
        decoder = quantize.to_int4(decoder, qdq=True)
    elif precision == "int8":
        decoder = quantize.to_int8_qdq(decoder)
    else:
        decoder = quantize.to_fp16(decoder, DECODER_FP32_IO)
    save_graph(_fix(decoder, {"batch": 1}), folder / "decoder.onnx")


def _fix(model: onnx.ModelProto, values: dict[str, int]) -> onnx.ModelProto:
    from m2export.tensorrt import fix_static_dims

    return fix_static_dims(model, values)


def check_tensorrt_graphs(folder: Path, profiles: dict[str, Any]) -> dict[str, Any]:
    """Run the op/zero-point/shape check on both TensorRT-form graphs; raise if any fails."""
    from m2export.tensorrt import check_graph

    report = {
        name: check_graph(onnx.load(str(folder / spec["onnx"]), load_external_data=False), spec["profiles"])
        for name, spec in profiles.items()
    }
    failed = {name: r for name, r in report.items() if not r["ok"]}
    if failed:
        details = "; ".join(
            f"{name}: unsupported {r['unsupported_ops']}, zero points {r['zero_point_problems'][:3]}, "
            f"shapes {r['shape_problems'][:3]}"
            for name, r in failed.items()
        )
        raise ModelError(f"the TensorRT-form graphs would not build: {details}")
    return report


def graph_io(path: Path) -> dict[str, Any]:
    """Inputs and outputs (dtype, shape with symbolic dims as names) of a saved graph."""
    model = onnx.load(str(path), load_external_data=False)

    def describe(values) -> dict[str, Any]:
        return {
            v.name: {
                "dtype": _ELEM_TYPES.get(v.type.tensor_type.elem_type, str(v.type.tensor_type.elem_type)),
                "shape": [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim],
            }
            for v in values
        }

    return {"inputs": describe(model.graph.input), "outputs": describe(model.graph.output)}


def count_ops(path: Path) -> dict[str, int]:
    """Node count per op type (``domain::op`` outside the default domain)."""
    model = onnx.load(str(path), load_external_data=False)
    counts: dict[str, int] = {}
    for node in model.graph.node:
        key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
