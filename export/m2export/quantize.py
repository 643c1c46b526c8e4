"""Precision passes over exported ONNX graphs: fp16, int8, int4 (ONNX Runtime and TensorRT forms).

All passes work on ``onnx.ModelProto`` and run on the CPU; none needs a GPU. What each gives:

* **fp16**: every float weight and activation in fp16 except RMS norms, the rotary tables, softmax and
  the L2 norm, which stay fp32 (``onnxruntime.transformers.float16`` with a block list). Graph inputs
  and outputs stay fp32 except the KV cache, which is fp16 (half the memory).
* **int8**: ``onnxruntime.quantization.quantize_dynamic`` on the decoder's linear layers (int8 weights,
  activations quantized per call: DynamicQuantizeLinear + MatMulInteger). ONNX Runtime only.
* **int4** (ONNX Runtime): weight-only, blockwise, symmetric, block 128, as ``MatMulNBits``
  (com.microsoft), round-to-nearest; ``gptq`` uses ONNX Runtime's own GPTQ with a calibration set.
* **int4** (TensorRT form): the same quantization as INT4 ``DequantizeLinear`` (block 128, no zero
  point: TensorRT rejects INT4 zero points) + ``MatMul``; ``awq`` runs NVIDIA ModelOpt's AWQ when
  ``nvidia-modelopt`` is installed (it runs on the CPU EP too).
* **int8** (TensorRT form): per-output-channel INT8 weights behind ``DequantizeLinear`` + ``MatMul``.

The LM head is never quantized: it is a Gemm in the decoder graph and stays fp32 (int8/int4) or fp16.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from m2sdk._deps import available, install_hint
from m2sdk.errors import MissingExtraError

log = logging.getLogger(__name__)

INT4_BLOCK_SIZE = 128
# Name scopes (from the torch exporter's node metadata) whose nodes must stay fp32 in an fp16 graph.
FP32_SCOPES = ("layernorm", ".norm", "norm1", "norm2", "ln_q", "rotary_emb")
FP32_OPS = ("Softmax", "ReduceL2", "ReduceMean", "Pow", "Sqrt", "Reciprocal", "Cos", "Sin")
QUANT_METHODS = ("rtn", "gptq", "awq")


def name_scopes(node: onnx.NodeProto) -> str:
    """The torch module path a node came from ('' when the exporter recorded none)."""
    return next((p.value for p in node.metadata_props if p.key == "pkg.torch.onnx.name_scopes"), "")


def strip_metadata(model: onnx.ModelProto) -> onnx.ModelProto:
    """Drop per-node metadata (torch stack traces with local paths; a third of a tiny graph's bytes)."""
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    return model


def lm_head_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes of the LM head (kept out of every quantization)."""
    return [n.name for n in model.graph.node if "lm_head" in name_scopes(n) or "lm_head.weight" in n.input]


def to_fp16(model: onnx.ModelProto, keep_fp32_io: Iterable[str]) -> onnx.ModelProto:
    """fp16 graph with norms, rotary, softmax and L2 norm in fp32; ``keep_fp32_io`` names stay fp32."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    blocked = [n.name for n in model.graph.node if any(s in name_scopes(n) for s in FP32_SCOPES)]
    model = convert_float_to_float16(
        model,
        keep_io_types=list(keep_fp32_io),
        node_block_list=blocked,
        op_block_list=list(FP32_OPS),
        disable_shape_infer=True,
    )
    del model.graph.value_info[:]  # the exporter's intermediate types are stale now (fp32 → fp16)
    return model


def weight_matmuls(model: onnx.ModelProto) -> list[str]:
    """Names of the MatMuls with a 2D constant weight (the linear layers), LM head excluded."""
    inits = {t.name: t for t in model.graph.initializer}
    excluded = set(lm_head_nodes(model))
    return [
        n.name
        for n in model.graph.node
        if n.op_type == "MatMul" and n.input[1] in inits and len(inits[n.input[1]].dims) == 2 and n.name not in excluded
    ]


def to_int8_dynamic(model: onnx.ModelProto, src_path, dst_path) -> None:
    """int8 dynamic quantization of the linear layers' MatMuls (the LM head, a Gemm, stays fp32).

    The nodes are listed explicitly: ``quantize_dynamic`` would otherwise also rewrite the Gemm.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_dynamic warns on the root logger to run its preprocessing
    try:
        quantize_dynamic(
            src_path,
            dst_path,
            op_types_to_quantize=["MatMul"],
            nodes_to_quantize=weight_matmuls(model),
            per_channel=True,
            weight_type=QuantType.QInt8,
            use_external_data_format=True,
        )
    finally:
        root.setLevel(level)


def to_int4(model: onnx.ModelProto, *, qdq: bool = False, method: str = "rtn", calibration=None) -> onnx.ModelProto:
    """INT4 weight-only (blockwise 128, symmetric) as MatMulNBits, or as DequantizeLinear+MatMul (qdq).

    Args:
        model: fp32 graph.
        qdq: True for TensorRT's form (INT4 DequantizeLinear, no zero point), False for ONNX Runtime's.
        method: "rtn" (round to nearest, no data), "gptq" (ONNX Runtime's GPTQ; needs ``calibration``,
            an ``onnxruntime.quantization.CalibrationDataReader``), or "awq" (see :func:`to_int4_awq`).
    """
    from onnxruntime.quantization import QuantFormat
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        GPTQWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    fmt = QuantFormat.QDQ if qdq else QuantFormat.QOperator
    block = INT4_BLOCK_SIZE
    if method == "gptq":
        if qdq:
            raise ValueError("ONNX Runtime's GPTQ writes MatMulNBits only; use method='awq' for the TensorRT form")
        # The GPTQ path reads group size and symmetry from the quantizer, not from its config.
        config = GPTQWeightOnlyQuantConfig(calibration, op_types_to_quantize=("MatMul",))
    elif method == "rtn":
        config = DefaultWeightOnlyQuantConfig(
            block_size=INT4_BLOCK_SIZE, is_symmetric=True, quant_format=fmt, op_types_to_quantize=("MatMul",)
        )
    else:
        raise ValueError(f"int4 method must be one of {QUANT_METHODS[:2]} here, got {method!r}")
    quantizer = MatMulNBitsQuantizer(
        model, block_size=block, is_symmetric=True, nodes_to_exclude=lm_head_nodes(model), algo_config=config
    )
    quantizer.process()
    return quantizer.model.model


def to_int4_awq(src_path, dst_path, calibration: dict[str, np.ndarray], exclude: list[str]) -> None:
    """NVIDIA ModelOpt AWQ-lite INT4 in TensorRT's form (DequantizeLinear + MatMul), on the CPU EP.

    Needs ``nvidia-modelopt`` (not part of m2sdk's extras: it pins its own onnx). Give it at least ~32
    calibration samples (with 4 its error triples, see ../shared/reference/edge_export.md).
    """
    if not available("modelopt"):
        raise MissingExtraError(
            "AWQ needs NVIDIA ModelOpt, which is not installed. Install it with: pip install nvidia-modelopt "
            "onnx-graphsurgeon onnxslim polygraphy cppimport lief ml_dtypes (without the [onnx] extra, which "
            "replaces onnxruntime with onnxruntime-gpu); or use --quant-method rtn"
        )
    from modelopt.onnx.quantization import quantize

    quantize(
        str(src_path),
        quantize_mode="int4",
        calibration_method="awq_lite",
        block_size=INT4_BLOCK_SIZE,
        calibration_data=calibration,
        calibration_eps=["cpu"],
        nodes_to_exclude=exclude,
        output_path=str(dst_path),
    )


def to_int8_qdq(model: onnx.ModelProto) -> onnx.ModelProto:
    """TensorRT's int8 weight form: per-output-channel INT8 ``DequantizeLinear`` + MatMul (symmetric).

    Every MatMul whose second input is a 2D float initializer (the linear layers) is rewritten; the LM
    head (a Gemm) is left alone.
    """
    inits = {t.name: t for t in model.graph.initializer}
    excluded = set(lm_head_nodes(model))
    new_nodes, dropped = [], set()
    for node in model.graph.node:
        weight = inits.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) > 1 else None
        if weight is None or node.name in excluded or len(weight.dims) != 2:
            new_nodes.append(node)
            continue
        w = numpy_helper.to_array(weight).astype(np.float32)  # (K, N)
        scale = np.maximum(np.abs(w).max(axis=0), 1e-12) / 127.0  # (N,) per output channel
        q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        q_name, s_name = weight.name + "_int8", weight.name + "_scale"
        model.graph.initializer.extend([numpy_helper.from_array(q, q_name), numpy_helper.from_array(scale, s_name)])
        dq_out = weight.name + "_dequantized"
        new_nodes.append(helper.make_node("DequantizeLinear", [q_name, s_name], [dq_out], node.name + "_dq", axis=1))
        node.input[1] = dq_out
        new_nodes.append(node)
        dropped.add(weight.name)
    _replace_nodes(model, new_nodes, dropped)
    return model


def _replace_nodes(model: onnx.ModelProto, nodes: list[onnx.NodeProto], dropped_inits: set[str]) -> None:
    still_used = {name for n in nodes for name in n.input}
    keep = [t for t in model.graph.initializer if t.name not in dropped_inits or t.name in still_used]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)


def require_quant_method(method: str, precision: str) -> None:
    """Check early (before minutes of export) that ``method`` fits ``precision`` and is installed."""
    if method not in QUANT_METHODS:
        raise ValueError(f"--quant-method must be one of {QUANT_METHODS}, got {method!r}")
    if method != "rtn" and precision != "int4":
        raise ValueError(f"--quant-method {method} applies to --precision int4 only (got {precision})")
    if method == "awq" and not available("modelopt"):
        raise MissingExtraError(f"--quant-method awq needs nvidia-modelopt: {install_hint('nvidia-modelopt')}")
