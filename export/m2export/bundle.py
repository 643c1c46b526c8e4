"""`export_bundle`: a checkpoint folder (or preset) → a verified, self-describing bundle folder.

Everything is written into a hidden temporary folder next to ``out`` and renamed into place only after
the parity check passed through the SDK's own loader, so an interrupted or failed export never leaves a
half-written bundle behind. The bundle holds:

    manifest.json          format version, model config, precision, shapes, opset, tools, SHA-256 of all files
    vision.onnx(+.data)    ViT + merger + projector + L2 norm, one frame per call
    decoder.onnx(+.data)   Qwen2 decoder with KV cache → last-token logits
    embed_tokens.npy       token-embedding table (host lookup + image-feature scatter)
    tokenizer.json, tokenizer_config.json, preprocessor_config.json, prompt.json
    parity.json            logits and greedy answers against the PyTorch model
    tensorrt/              with --tensorrt: TensorRT-form graphs, profiles, build script, op check
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from m2export import graphs
from m2export.export_config import ExportConfig
from m2export.quantize import require_quant_method
from m2sdk import prompt
from m2sdk.errors import InputError
from m2sdk.runtime.bundle import FORMAT_VERSION, MANIFEST_FILE, PARITY_FILE, file_entries

log = logging.getLogger(__name__)

EMBEDDING_FILE = "embed_tokens.npy"
CALIBRATION_SAMPLES = 32


def export_bundle(config: ExportConfig) -> Path:
    """Export ``config.checkpoint`` into the bundle folder ``config.out``; returns its path.

    Example:
        >>> export_bundle(ExportConfig("m2-tiny", Path("bundles/tiny-fp32")))
    """
    import torch

    from m2sdk.model.checkpoint import load_model

    started = time.perf_counter()
    require_quant_method(config.quant_method, config.precision)
    if config.quant_method == "awq" and not config.tensorrt:
        raise InputError("--quant-method awq makes the TensorRT-form graph: add --tensorrt")
    model, processor = load_model(config.checkpoint, dtype=torch.float32)  # validates every tensor first
    processor.max_context = resolve_max_context(config, model)
    tmp = temporary_folder(config.out)
    try:
        manifest = write_bundle(model, processor, config, tmp)
        report = check_parity(model, processor, tmp, config)
        (tmp / PARITY_FILE).write_text(json.dumps(report, indent=2) + "\n")
        manifest["export_seconds"] = round(time.perf_counter() - started, 2)
        write_manifest(tmp, manifest)
        move_into_place(tmp, config.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("exported %s in %.1f s", config.out, time.perf_counter() - started)
    return config.out


def resolve_max_context(config: ExportConfig, model: Any) -> int:
    limit = int(model.config.text_config.max_position_embeddings)
    if config.max_context is not None and config.max_context > limit:
        raise InputError(f"--max-context {config.max_context} exceeds the model's {limit} positions")
    return config.max_context or min(limit, 4096)


def temporary_folder(out: Path) -> Path:
    """A fresh hidden folder beside ``out`` (same file system, so the final rename is atomic)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp


def move_into_place(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an existing ``out`` (``--force``) is moved aside first, then deleted."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def write_bundle(model: Any, processor: Any, config: ExportConfig, tmp: Path) -> dict[str, Any]:
    """Export the graphs, embeddings and processor files into ``tmp``; returns the manifest."""
    from m2export.decoder_export import export_decoder
    from m2export.vision_export import export_vision

    work = tmp / "_work"
    export_vision(model, work / "vision.onnx", opset=config.opset)
    export_decoder(model, work / "decoder.onnx", max_context=processor.max_context, opset=config.opset)
    manifest = base_manifest(model, processor, config)
    calibration = _calibration(model, processor, config) if config.quant_method != "rtn" else None
    manifest["graphs"] = {
        "vision": {"file": "vision.onnx", "precision": graphs.write_vision(work, tmp, config.precision)},
        "decoder": {"file": "decoder.onnx", "precision": graphs.write_decoder(
            work, tmp, config.precision, config.quant_method, calibration)},
    }  # fmt: skip
    for entry in manifest["graphs"].values():
        entry |= graphs.graph_io(tmp / entry["file"])
        entry["ops"] = graphs.count_ops(tmp / entry["file"])
    manifest["embedding"] = save_embeddings(model, tmp, config.precision)
    if config.tensorrt:
        manifest["tensorrt"] = write_tensorrt(work, tmp / "tensorrt", manifest, calibration)
    shutil.rmtree(work)
    processor.save(tmp)
    (tmp / "prompt.json").write_text(json.dumps(prompt_settings(), indent=2) + "\n")
    write_manifest(tmp, manifest)  # parity loads the bundle through the SDK, which verifies it
    return manifest


def _calibration(model: Any, processor: Any, config: ExportConfig):
    """A factory of GPTQ readers / the AWQ batch, on synthetic spatial questions."""
    from m2export.calibration import FeedReader, calibration_inputs, decoder_feeds, stacked
    from m2sdk.runtime.backends.torch_backend import TorchBackend

    inputs = calibration_inputs(processor, config.image_size, CALIBRATION_SAMPLES)
    feeds = decoder_feeds(TorchBackend(model, processor), inputs, model.config.text_config.num_hidden_layers)
    return stacked(feeds) if config.quant_method == "awq" else (lambda: FeedReader(feeds))


def write_tensorrt(work: Path, folder: Path, manifest: dict[str, Any], calibration: Any) -> dict[str, Any]:
    from m2export.tensorrt import build_engines_if_possible, write_build_files

    graphs.write_tensorrt_graphs(
        work, folder, manifest, awq_data=calibration if isinstance(calibration, dict) else None
    )
    profiles = write_build_files(folder, manifest)
    report = graphs.check_tensorrt_graphs(folder, profiles)
    (folder / "op_check.json").write_text(json.dumps(report, indent=2) + "\n")
    engines = build_engines_if_possible(folder)
    return {"folder": "tensorrt", "engines": [p.name for p in engines], "op_check": "ok",
            "build": "python3 tensorrt/build_engines.py (on the target device)"}  # fmt: skip


def save_embeddings(model: Any, folder: Path, precision: str) -> dict[str, Any]:
    """The token-embedding table as .npy: fp32 for fp32 bundles, fp16 otherwise (half the bytes)."""
    table = model.get_input_embeddings().weight.detach().float().numpy()  # (vocab, hidden)
    dtype = np.float32 if precision == "fp32" else np.float16
    np.save(folder / EMBEDDING_FILE, table.astype(dtype))
    return {"file": EMBEDDING_FILE, "dtype": np.dtype(dtype).name, "shape": list(table.shape)}


def prompt_settings() -> dict[str, str]:
    """The prompt template the bundle's model expects (the SDK builds it with :mod:`m2sdk.prompt`)."""
    return {
        "system_prompt": prompt.SYSTEM_PROMPT,
        "chat_template": prompt.system_turn("{system}") + prompt.user_turn_open() + "{media}{question}"
        + prompt.user_turn_close(),
        "fast_response_prefix": prompt.FAST_RESPONSE_PREFIX,
    }  # fmt: skip


def base_manifest(model: Any, processor: Any, config: ExportConfig) -> dict[str, Any]:
    """Everything a runtime needs to know about the model, without importing transformers."""
    from m2export.vision_export import vision_spec

    cfg, text = model.config, model.config.text_config
    width, height = config.image_size
    tokens = (width // 28) * (height // 28)
    sample = processor(None, "How far is the chair from the camera, in metres?", reasoning=False)
    return {
        "format_version": FORMAT_VERSION,
        "source": str(config.checkpoint),
        "precision": config.precision,
        "quant_method": config.quant_method if config.precision == "int4" else None,
        "image_size": [width, height],
        "image_tokens": tokens,
        "typical_prompt_tokens": tokens + len(sample) + 2,
        "max_context": processor.max_context,
        "opset": config.opset,
        "exporter": "torch.onnx.export(dynamo=True)",
        "text": {
            "hidden_size": text.hidden_size,
            "num_hidden_layers": text.num_hidden_layers,
            "num_attention_heads": text.num_attention_heads,
            "num_key_value_heads": text.num_key_value_heads,
            "head_dim": text.hidden_size // text.num_attention_heads,
            "vocab_size": text.vocab_size,
        },
        "vision": {
            "spatial_merge_size": cfg.vision_config.spatial_merge_size,
            "tokens_per_second": cfg.vision_config.tokens_per_second,
            "spec": vision_spec(cfg).to_dict(),
        },
        "tokens": {"image_token_id": cfg.image_token_id, "eos_token_id": cfg.im_end_token_id},
        "model_config": cfg.to_dict(),
        "tools": tool_versions(),
    }


def tool_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("m2sdk", "torch", "transformers", "onnx", "onnxruntime", "onnxscript", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Hash every file of the bundle into the manifest and write it."""
    manifest["files"] = file_entries(folder)
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, default=str) + "\n")


def check_parity(model: Any, processor: Any, folder: Path, config: ExportConfig) -> dict[str, Any]:
    """Parity of the bundle in ``folder`` (loaded and verified by the SDK) against the torch model."""
    from m2export import parity
    from m2sdk.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend
    from m2sdk.runtime.backends.torch_backend import TorchBackend

    reference, candidate = TorchBackend(model, processor), OnnxRuntimeBackend.from_bundle(folder)
    inputs = parity.parity_inputs(processor, config.image_size)
    report = parity.measure_parity(reference, candidate, inputs, config.parity_new_tokens)
    report["precision"] = config.precision
    if config.precision in ("int8", "int4") and config.eval_samples:
        report["eval"] = parity.eval_change(reference, candidate, config.image_size, config.eval_samples)
    elif config.precision in ("int8", "int4"):
        report["eval"] = {"skipped": "eval_samples = 0"}
    log.info(parity.summary_line(report))
    return report
