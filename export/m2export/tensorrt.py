"""TensorRT step of an export: TensorRT-form graphs, profiles, build commands, op check, engines.

``m2 export ... --tensorrt`` writes ``BUNDLE/tensorrt/``: a self-contained folder to copy to the robot.

* ``vision.onnx``: the vision graph in fp16 with **static** shapes for the bundle's image size;
* ``decoder.onnx``: batch fixed to 1; weights in the precision's TensorRT form (fp16; INT8 or INT4
  ``DequantizeLinear`` + MatMul: TensorRT has no ``MatMulNBits``);
* ``profiles.json``: optimisation profiles (vision: one static profile; decoder: a prefill profile with
  an empty cache and a decode profile with one new token) and builder flags for Orin's SM87;
* ``build_engines.py`` (TensorRT Python API, two profiles, timing cache) and ``trtexec.sh`` (one
  profile spanning both phases, for a quick check with NVIDIA's CLI);
* ``op_check.json``: every op of both graphs against :data:`TENSORRT_ONNX_OPS`, static shapes against
  the profiles, and no INT4/INT8 zero points (TensorRT rejects them).

Engines are built when ``tensorrt`` is importable (on the target device); here it never is, and nothing
pretends otherwise: the folder then holds everything needed to build them there.
"""

from __future__ import annotations

import json
import logging
import shlex
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import onnx

from m2sdk._deps import available

log = logging.getLogger(__name__)

# ONNX ops the TensorRT 10 ONNX parser imports (onnx-tensorrt docs/operators.md, the 10.x matrix),
# restricted to the default domain. Anything else (MatMulNBits, DynamicQuantizeLinear, MatMulInteger,
# com.microsoft contrib ops) makes the parser fail.
_TENSORRT_OPS_TEXT = """
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Cast CastLike
Ceil Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DepthToSpace
DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather GatherElements
GatherND Gelu Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual GridSample
GroupNormalization GRU HardSigmoid HardSwish Identity If InstanceNormalization IsInf IsNaN
LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax Loop LpNormalization LpPool LRN LSTM MatMul
Max MaxPool Mean MeanVarianceNormalization Min Mish Mod Mul Neg NonMaxSuppression NonZero Not OneHot Or
Pad ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal RandomNormalLike RandomUniform
RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean
ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence RNN RoiAlign Round
ScaledTanh Scan Scatter ScatterElements ScatterND Selu Shape Shrink Sigmoid Sign Sin Sinh Size Slice
Softmax Softplus Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh ThresholdedRelu Tile TopK
Transpose Trilu Unsqueeze Upsample Where Xor
"""
TENSORRT_ONNX_OPS = frozenset(_TENSORRT_OPS_TEXT.split())
_QUANT_TYPES = {onnx.TensorProto.INT4: "INT4", onnx.TensorProto.UINT4: "UINT4", onnx.TensorProto.INT8: "INT8"}
FLAGS = {"fp32": [], "fp16": ["FP16"], "int8": ["FP16", "INT8"], "int4": ["FP16", "INT4"]}
VISION_FLAGS = ["FP16"]  # the ViT is built in FP16 for every precision (edge_export.md)


def vision_profiles(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """One static profile for the bundle's image size (``image_size`` W×H in the manifest)."""
    spec = manifest["vision"]["spec"]
    width, height = manifest["image_size"]
    n = (height // spec["patch_size"]) * (width // spec["patch_size"])
    tokens, dim = n // spec["spatial_merge_size"] ** 2, 3 * spec["temporal_patch_size"] * spec["patch_size"] ** 2
    static = {
        "pixel_values": [n, dim],
        "window_index": [tokens],
        "reverse_index": [tokens],
        "rotary_cos": [n, spec["head_dim"]],
        "rotary_sin": [n, spec["head_dim"]],
        "window_mask": [n, n],
    }
    return [{"name": "static", "shapes": {k: [v, v, v] for k, v in static.items()}}]


def decoder_profiles(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Prefill (empty cache, 1…max_context tokens) and decode (one token, cache 1…max_context-1)."""
    text, ctx = manifest["text"], int(manifest["max_context"])
    hidden, kvh, hd = text["hidden_size"], text["num_key_value_heads"], text["head_dim"]
    opt_prompt = min(ctx, int(manifest["typical_prompt_tokens"]))

    def shapes(seq: tuple[int, int, int], past: tuple[int, int, int]) -> dict[str, list[list[int]]]:
        out = {
            "inputs_embeds": [[1, s, hidden] for s in seq],
            "attention_mask": [[1, s + p] for s, p in zip(seq, past, strict=True)],
            "position_ids": [[3, 1, s] for s in seq],
        }
        for i in range(text["num_hidden_layers"]):
            for kv in ("key", "value"):
                out[f"past_{kv}.{i}"] = [[1, kvh, p, hd] for p in past]
        return out

    return [
        {"name": "prefill", "shapes": shapes((1, opt_prompt, ctx), (0, 0, 0))},
        {"name": "decode", "shapes": shapes((1, 1, 1), (1, opt_prompt, ctx - 1))},
    ]


def fix_static_dims(model: onnx.ModelProto, values: dict[str, int]) -> onnx.ModelProto:
    """Replace symbolic dims (``dim_param``) named in ``values`` by fixed sizes on inputs and outputs."""
    for info in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        for dim in info.type.tensor_type.shape.dim:
            if dim.HasField("dim_param") and dim.dim_param in values:
                dim.dim_value = values[dim.dim_param]
    return model


def check_graph(model: onnx.ModelProto, profiles: list[dict[str, Any]]) -> dict[str, Any]:
    """Op, zero-point and static-shape check of one TensorRT-form graph (no TensorRT needed).

    Returns a report with ``ok`` and the lists of problems; nothing is raised, so all show at once.
    """
    ops = Counter(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}" for n in model.graph.node)
    unsupported = sorted(op for op in ops if op not in TENSORRT_ONNX_OPS)
    zero_points = _zero_point_problems(model)
    shapes = _shape_problems(model, profiles)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    return {
        "ok": not (unsupported or zero_points or shapes),
        "ops": dict(sorted(ops.items())),
        "unsupported_ops": unsupported,
        "zero_point_problems": zero_points,
        "shape_problems": shapes,
        "opset": opset,
        "quantized_weights": _quantized_weight_types(model),
    }


def _quantized_weight_types(model: onnx.ModelProto) -> dict[str, int]:
    inits = {t.name: t for t in model.graph.initializer}
    counts: Counter[str] = Counter()
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in inits:
            counts[_QUANT_TYPES.get(inits[node.input[0]].data_type, "other")] += 1
    return dict(counts)


def _zero_point_problems(model: onnx.ModelProto) -> list[str]:
    """TensorRT takes symmetric quantization only: no UINT4 weights, no zero-point input."""
    inits = {t.name: t for t in model.graph.initializer}
    problems = []
    for node in model.graph.node:
        if node.op_type not in ("DequantizeLinear", "QuantizeLinear"):
            continue
        weight = inits.get(node.input[0])
        if weight is not None and weight.data_type == onnx.TensorProto.UINT4:
            problems.append(f"{node.name}: UINT4 (asymmetric) weights")
        if len(node.input) > 2 and node.input[2]:
            problems.append(f"{node.name}: has a zero point ({node.input[2]})")
    return problems


def _shape_problems(model: onnx.ModelProto, profiles: list[dict[str, Any]]) -> list[str]:
    """Every input the profiles pin (min = max in all profiles) must have that fixed size in the graph."""
    problems = []
    graph_inputs = {i.name: i.type.tensor_type.shape.dim for i in model.graph.input}
    for name in profiles[0]["shapes"]:
        if name not in graph_inputs:
            problems.append(f"{name}: in the profile but not a graph input")
            continue
        dims = graph_inputs[name]
        ranges = [p["shapes"][name] for p in profiles]  # per profile: [min, opt, max]
        for axis, dim in enumerate(dims):
            values = {shape[axis] for r in ranges for shape in r}
            if len(values) == 1 and dim.dim_value != next(iter(values)):
                problems.append(f"{name}[{axis}]: profile fixes {next(iter(values))}, graph has {dim}")
            if len(values) > 1 and dim.HasField("dim_value"):
                problems.append(f"{name}[{axis}]: graph fixes {dim.dim_value}, profile spans {sorted(values)}")
    return problems


def trtexec_command(onnx_name: str, engine_name: str, flags: list[str], profiles: list[dict[str, Any]]) -> str:
    """One trtexec line; several profiles are merged into one min/opt/max span (trtexec builds one)."""
    cmd = ["trtexec", f"--onnx={onnx_name}", f"--saveEngine={engine_name}", "--timingCacheFile=timing.cache"]
    cmd += [f"--{f.lower()}" for f in flags] + ["--memPoolSize=workspace:4096M"]
    names = profiles[0]["shapes"]
    if any(len({str(s) for s in p["shapes"][n]}) > 1 for p in profiles for n in names):
        for index, flag in ((0, "minShapes"), (1, "optShapes"), (2, "maxShapes")):
            spans = {n: _merged(profiles, n, index) for n in names}
            cmd.append(f"--{flag}=" + ",".join(f"{n}:{'x'.join(map(str, s))}" for n, s in spans.items()))
    return shlex.join(cmd)


def _merged(profiles: list[dict[str, Any]], name: str, index: int) -> list[int]:
    shapes = [p["shapes"][name] for p in profiles]
    if index == 1:
        return shapes[-1][1]  # the decode profile's opt shape: decode dominates generation time
    pick = min if index == 0 else max
    return [pick(s[index][axis] for s in shapes) for axis in range(len(shapes[0][0]))]


def write_build_files(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Write profiles.json, build_engines.py and trtexec.sh into ``folder``; returns the profiles."""
    precision = manifest["precision"]
    graphs = {
        "vision": {"onnx": "vision.onnx", "engine": "vision.engine", "flags": VISION_FLAGS,
                   "profiles": vision_profiles(manifest)},
        "decoder": {"onnx": "decoder.onnx", "engine": "decoder.engine", "flags": FLAGS[precision],
                    "profiles": decoder_profiles(manifest)},
    }  # fmt: skip
    spec = {"target": "Jetson Orin (SM87) / Thor; build on the device", "precision": precision, "graphs": graphs}
    (folder / "profiles.json").write_text(json.dumps(spec, indent=2) + "\n")
    shutil.copyfile(Path(__file__).with_name("trt_builder.py"), folder / "build_engines.py")
    lines = [
        "#!/bin/sh",
        "# Build the engines with NVIDIA's trtexec, on the target device.",
        "set -e",
        'cd "$(dirname "$0")"',
    ]
    lines += [trtexec_command(g["onnx"], g["engine"], g["flags"], g["profiles"]) for g in graphs.values()]
    (folder / "trtexec.sh").write_text("\n".join(lines) + "\n")
    return graphs


def build_engines_if_possible(folder: Path) -> list[Path]:
    """Build the engines now when ``tensorrt`` is importable (on a Jetson or a GPU box); else log how."""
    if not available("tensorrt"):
        log.info("tensorrt is not installed here: engines not built; on the device run %s", folder / "build_engines.py")
        return []
    from m2export.trt_builder import build_all

    return build_all(folder)
