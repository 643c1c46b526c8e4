"""Checkpoint folders: save, validate and load, from local folders only, safetensors only.

A checkpoint folder holds ``config.json``, ``model.safetensors`` (or shards plus
``model.safetensors.index.json``), ``tokenizer.json`` and ``preprocessor_config.json``. Before any
weight is loaded every tensor is checked against the model the config describes, so a missing
tensor, a wrong shape or a truncated file gives a :class:`~m2sdk.errors.CheckpointError` naming the
file and tensor, never a crash deep inside torch (or, worse, a silently re-initialised weight).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from m2sdk.errors import CheckpointError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
_HEADER_LEN_BYTES = 8


def read_safetensors_header(path: Path) -> dict[str, dict[str, Any]]:
    """Tensor name → {dtype, shape, data_offsets} from a safetensors header, checking the file is whole."""
    size = path.stat().st_size
    with path.open("rb") as f:
        raw_len = f.read(_HEADER_LEN_BYTES)
        if len(raw_len) < _HEADER_LEN_BYTES:
            raise CheckpointError(f"{path} is truncated: {size} bytes, not even a safetensors header")
        (header_len,) = struct.unpack("<Q", raw_len)
        if header_len > size - _HEADER_LEN_BYTES:
            raise CheckpointError(f"{path} is truncated or not safetensors: header says {header_len} bytes")
        try:
            header = json.loads(f.read(header_len))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise CheckpointError(f"{path} has a corrupt safetensors header: {err}") from err
    header.pop("__metadata__", None)
    data_len = size - _HEADER_LEN_BYTES - header_len
    needed = max((int(t["data_offsets"][1]) for t in header.values()), default=0)
    if needed > data_len:
        worst = max(header, key=lambda n: header[n]["data_offsets"][1])
        raise CheckpointError(
            f"{path} is truncated: tensor {worst!r} ends at byte {needed} of the data, "
            f"but the file holds only {data_len} bytes of data; re-copy or re-export the checkpoint"
        )
    return header


def weight_files(folder: Path) -> dict[str, Path]:
    """Tensor name → file holding it, from the shard index or the single weights file."""
    index = folder / INDEX_FILE
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError) as err:
            raise CheckpointError(f"{index} is not a valid shard index: {err}") from err
        return {name: folder / file for name, file in weight_map.items()}
    single = folder / WEIGHTS_FILE
    if not single.is_file():
        found = sorted(p.name for p in folder.glob("*.bin")) + sorted(p.name for p in folder.glob("*.pt"))
        hint = f" (found {found}: pickle weights are not loaded, convert them to safetensors)" if found else ""
        raise CheckpointError(f"{folder} has neither {WEIGHTS_FILE} nor {INDEX_FILE}{hint}")
    return {name: single for name in read_safetensors_header(single)}


def load_config(folder: str | Path):
    """Read ``config.json`` as an :class:`~m2sdk.model.config.M2ReasoningConfig`."""
    from m2sdk.model.config import M2ReasoningConfig

    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: is {folder} an m2sdk checkpoint folder?")
    try:
        data = json.loads(path.read_text())
        return M2ReasoningConfig(**{k: v for k, v in data.items() if k not in ("model_type", "architectures")})
    except (json.JSONDecodeError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path} is not a valid M2 config: {err}") from err


def expected_tensors(config) -> dict[str, tuple[int, ...]]:
    """Name → shape of every tensor a model with ``config`` has (built on the meta device, no memory)."""
    import torch

    from m2sdk.model.modeling import M2ReasoningForConditionalGeneration

    with torch.device("meta"):
        model = M2ReasoningForConditionalGeneration(config)
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def validate_checkpoint(folder: str | Path) -> None:
    """Raise :class:`CheckpointError` unless ``folder`` holds every tensor of its config, well shaped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(
            f"{folder} is not a local folder (m2sdk never downloads weights; give a checkpoint folder or a preset)"
        )
    expected = expected_tensors(load_config(folder))
    files = weight_files(folder)
    headers: dict[Path, dict[str, Any]] = {}
    for path in sorted(set(files.values())):
        if not path.is_file():
            raise CheckpointError(f"{path} is listed in {INDEX_FILE} but missing")
        headers[path] = read_safetensors_header(path)
    for name, shape in expected.items():
        if name not in files:
            raise CheckpointError(f"{folder}: tensor {name!r} {list(shape)} is missing from the weights files")
        path = files[name]
        entry = headers[path].get(name)
        if entry is None:
            raise CheckpointError(f"{path}: tensor {name!r} is listed in the index but not in this file")
        if tuple(entry["shape"]) != shape:
            raise CheckpointError(f"{path}: tensor {name!r} has shape {entry['shape']}, the config needs {list(shape)}")
    unexpected = sorted(set(files) - set(expected))
    if unexpected:
        raise CheckpointError(f"{folder}: unexpected tensors {unexpected[:5]} (wrong architecture or config?)")


def save_checkpoint(model, processor, folder: str | Path, *, max_shard_size: str = "4GB") -> Path:
    """Write a complete checkpoint folder (weights as safetensors, sharded when large).

    Example:
        >>> save_checkpoint(build_preset("m2-tiny"), preset_processor("m2-tiny"), "ckpt/tiny")
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, max_shard_size=max_shard_size)
    processor.save(folder)
    return folder


def load_model(path_or_preset: str | Path, *, dtype: Any = None, device: Any = "cpu"):
    """Load ``(model, processor)`` from a checkpoint folder, a preset name or a bundled model name, validated.

    Example:
        >>> model, processor = load_model("m2-tiny")  # random preset
        >>> model, processor = load_model("m2-mini")  # the trained model shipped in the package
    """
    from m2sdk.model.presets import PRESETS, build_preset, bundled_checkpoint, preset_processor

    if not Path(path_or_preset).exists():
        if str(path_or_preset) in PRESETS:
            return build_preset(str(path_or_preset), dtype=dtype, device=device), preset_processor(str(path_or_preset))
        path_or_preset = bundled_checkpoint(str(path_or_preset)) or path_or_preset
    from m2sdk.model.modeling import M2ReasoningForConditionalGeneration
    from m2sdk.processor import M2Processor

    folder = Path(path_or_preset)
    model = M2ReasoningForConditionalGeneration.from_pretrained(folder, dtype=dtype, device_map=None)
    return model.to(device).eval(), M2Processor.from_folder(folder)
