"""ONNX Runtime backend: runs an exported bundle (``m2 export``) on the CPU or CUDA execution provider.

Stages: the vision graph once per frame (host-computed window index, masks and rotary table from
:mod:`m2sdk.runtime.vision_inputs`), the embedding lookup and scatter on the host
(:mod:`m2sdk.runtime.embedding`), and the decoder graph with a KV cache. The decoder always runs through
IO binding: on CUDA the present key/values stay on the GPU and are bound as the next step's past, which
is what makes decode fast (without it ONNX Runtime copies the whole cache to the host every token, 11-43x
slower per ../shared/reference/edge_export.md). No torch import anywhere on this path.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from m2sdk._deps import require
from m2sdk.errors import CheckpointError, MissingExtraError
from m2sdk.processor import M2Processor
from m2sdk.runtime.bundle import Bundle, load_bundle
from m2sdk.runtime.embedding import embed_prompt
from m2sdk.runtime.vision_inputs import VisionInputs, VisionSpec, frame_slices, make_vision_inputs

log = logging.getLogger(__name__)

_NP_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64}


def execution_providers(ort: Any, device: str) -> tuple[list[Any], str, int]:
    """ONNX Runtime providers for ``"cpu"``, ``"cuda"`` or ``"cuda:N"``, plus the IO-binding device."""
    if device == "cpu":
        return ["CPUExecutionProvider"], "cpu", 0
    kind, _, index = device.partition(":")
    if kind != "cuda":
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise MissingExtraError(
            f"device={device!r} needs onnxruntime with CUDA (available: {ort.get_available_providers()}). "
            'Install it with: pip install "m2sdk[gpu]" (and uninstall the CPU-only onnxruntime)'
        )
    device_id = int(index or 0)
    return [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"], "cuda", device_id


class _KVDecoder:
    """The decoder session with its KV cache held as OrtValues on the session's device."""

    def __init__(self, session: Any, ort: Any, num_layers: int, device: tuple[str, int]) -> None:
        self.session, self.ort, self.device = session, ort, device
        types = {i.name: i.type for i in session.get_inputs()}
        self.past_names = [f"past_{kv}.{i}" for i in range(num_layers) for kv in ("key", "value")]
        self.present_names = [f"present_{kv}.{i}" for i in range(num_layers) for kv in ("key", "value")]
        self.kv_dtype = _NP_TYPES[types[self.past_names[0]]]
        self.embeds_dtype = _NP_TYPES[types["inputs_embeds"]]
        shape = next(i.shape for i in session.get_inputs() if i.name == self.past_names[0])
        self.kv_heads, self.head_dim = int(shape[1]), int(shape[3])
        self.past: list[Any] = []
        self.past_len = 0

    def reset(self) -> None:
        empty = np.zeros((1, self.kv_heads, 0, self.head_dim), self.kv_dtype)
        self.past = [self.ort.OrtValue.ortvalue_from_numpy(empty, *self.device) for _ in self.past_names]
        self.past_len = 0

    def run(self, embeds: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """embeds (S, hidden), positions (3, S) → last-token logits (vocab,) float32; grows the cache."""
        seq = embeds.shape[0]
        binding = self.session.io_binding()
        binding.bind_cpu_input("inputs_embeds", np.ascontiguousarray(embeds[None], dtype=self.embeds_dtype))
        binding.bind_cpu_input("attention_mask", np.ones((1, self.past_len + seq), np.int64))
        binding.bind_cpu_input("position_ids", np.ascontiguousarray(positions[:, None, :], dtype=np.int64))
        for name, value in zip(self.past_names, self.past, strict=True):
            binding.bind_ortvalue_input(name, value)
        binding.bind_output("logits", "cpu")
        for name in self.present_names:
            binding.bind_output(name, *self.device)
        self.session.run_with_iobinding(binding)
        outputs = binding.get_outputs()
        self.past = list(outputs[1:])
        self.past_len += seq
        return outputs[0].numpy()[0].astype(np.float32)


class OnnxRuntimeBackend:
    """Runs an exported bundle with ONNX Runtime, for the shared generation loop.

    Example:
        >>> from m2sdk.runtime.generation import generate
        >>> backend = OnnxRuntimeBackend.from_bundle("bundles/m2-tiny-fp32")
        >>> generate(backend, backend.processor(frame_rgb, "How far is the chair?")).text
    """

    name = "onnxruntime"

    def __init__(self, bundle: Bundle, device: str = "cpu", *, threads: int | None = None) -> None:
        ort = require("onnxruntime")
        manifest = bundle.manifest
        self.bundle, self.device = bundle, device
        self.processor = M2Processor.from_folder(bundle.folder)
        self.spatial_merge_size = int(manifest["vision"]["spatial_merge_size"])
        self.tokens_per_second = float(manifest["vision"]["tokens_per_second"])
        self.max_context = min(int(manifest["max_context"]), self.processor.max_context)
        self.vision_spec = VisionSpec.from_dict(manifest["vision"]["spec"])
        self.patch_token_id = int(manifest["tokens"]["image_token_id"])
        providers, device_type, device_id = execution_providers(ort, device)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self._vision = self._session(ort, "vision", options, providers)
        decoder = self._session(ort, "decoder", options, providers)
        layers = int(manifest["text"]["num_hidden_layers"])
        self._decoder = _KVDecoder(decoder, ort, layers, (device_type, device_id))
        self._table = np.load(bundle.path(manifest["embedding"]["file"]), mmap_mode="r")  # (vocab, hidden)
        self._vision_inputs: dict[tuple[int, int], VisionInputs] = {}

    @classmethod
    def from_bundle(cls, path: str | Path, device: str = "cpu", **kwargs: Any) -> OnnxRuntimeBackend:
        """Load and verify (SHA-256 of every file) a bundle folder, then open its sessions."""
        return cls(load_bundle(path), device, **kwargs)

    def _session(self, ort: Any, role: str, options: Any, providers: list[Any]) -> Any:
        path = self.bundle.path(self.bundle.graph(role)["file"])
        try:
            return ort.InferenceSession(str(path), options, providers=providers)
        except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph types
            raise CheckpointError(f"ONNX Runtime cannot load {path}: {err}") from err

    def encode_vision(self, pixel_values: np.ndarray, grid_thw: np.ndarray) -> np.ndarray:
        parts = []
        for patches, grid_h, grid_w in frame_slices(pixel_values, grid_thw):
            feeds = self._host_inputs(grid_h, grid_w).feeds(patches)
            parts.append(self._vision.run(None, feeds)[0])  # (h·w / merge², hidden)
        return np.concatenate(parts, axis=0).astype(np.float32)

    def _host_inputs(self, grid_h: int, grid_w: int) -> VisionInputs:
        key = (grid_h, grid_w)  # a camera gives the same size every frame: compute once
        if key not in self._vision_inputs:
            self._vision_inputs[key] = make_vision_inputs(grid_h, grid_w, self.vision_spec)
        return self._vision_inputs[key]

    def prefill(self, input_ids: np.ndarray, visual_features: np.ndarray | None, positions: np.ndarray) -> np.ndarray:
        embeds = embed_prompt(self._table, input_ids, self.patch_token_id, visual_features)  # (S, hidden)
        self._decoder.reset()
        return self._decoder.run(embeds, positions)

    def step(self, token_id: int, positions: np.ndarray) -> np.ndarray:
        embeds = np.asarray(self._table[[int(token_id)]], dtype=np.float32)  # (1, hidden)
        return self._decoder.run(embeds, positions)
