"""TensorRT backend: runs the engines built from a bundle's ``tensorrt/`` folder (Jetson Orin / Thor).

Gated on the ``tensorrt`` package (JetPack ships it; there is no CPU build) and on CUDA through torch,
which holds the device buffers (JetPack's PyTorch wheel; cuda-python would do as well). Engines are
built on the device with ``python3 BUNDLE/tensorrt/build_engines.py``; this backend never builds or
fakes one. The vision engine has a static profile for the bundle's image size, so frames must resize
to that size (``manifest["image_size"]``); the decoder engine has a prefill and a decode profile, used
through two execution contexts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from m2sdk._deps import require
from m2sdk.errors import CheckpointError, InputError, ModelError
from m2sdk.processor import M2Processor
from m2sdk.runtime.bundle import Bundle, load_bundle
from m2sdk.runtime.embedding import embed_prompt
from m2sdk.runtime.vision_inputs import VisionSpec, frame_slices, make_vision_inputs


class _Engine:
    """One deserialized engine with an execution context per optimisation profile."""

    def __init__(self, trt: Any, torch: Any, path: Path, stream: Any) -> None:
        if not path.is_file():
            raise CheckpointError(
                f"{path} is missing: build the engines on this device first: python3 {path.parent}/build_engines.py"
            )
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise CheckpointError(f"{path} was built for another GPU or TensorRT version; rebuild it on this device")
        self.trt, self.torch, self.stream = trt, torch, stream
        self.contexts = []
        for index in range(self.engine.num_optimization_profiles):
            context = self.engine.create_execution_context()
            context.set_optimization_profile_async(index, stream.cuda_stream)
            self.contexts.append(context)
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]

    def run(self, inputs: dict[str, Any], profile: int = 0) -> dict[str, Any]:
        """inputs: name → CUDA tensor (right dtype). Returns name → new CUDA output tensor."""
        context = self.contexts[min(profile, len(self.contexts) - 1)]
        for name, tensor in inputs.items():
            context.set_input_shape(name, tuple(tensor.shape))
            context.set_tensor_address(name, tensor.data_ptr())
        outputs = {}
        for name in self.outputs:
            dtype = self.torch.from_numpy(np.zeros(0, self.trt.nptype(self.engine.get_tensor_dtype(name)))).dtype
            outputs[name] = self.torch.empty(tuple(context.get_tensor_shape(name)), dtype=dtype, device="cuda")
            context.set_tensor_address(name, outputs[name].data_ptr())
        if not context.execute_async_v3(self.stream.cuda_stream):
            raise ModelError("TensorRT execution failed (see the TensorRT log above)")
        self.stream.synchronize()
        return outputs


class TensorRTBackend:
    """TensorRT engines of a bundle, for the shared generation loop. The KV cache stays on the GPU.

    Example:
        >>> backend = TensorRTBackend.from_bundle("bundles/m2-int4")   # on a Jetson, engines built
        >>> generate(backend, backend.processor(frame_rgb, "How far is the chair?")).text
    """

    name = "tensorrt"

    def __init__(self, bundle: Bundle, device: str = "cuda") -> None:
        trt, torch = require("tensorrt"), require("torch")
        if not torch.cuda.is_available():
            raise ModelError("the TensorRT backend needs a CUDA GPU, and torch sees none")
        manifest = bundle.manifest
        self.torch, self.bundle, self.device = torch, bundle, device
        self.processor = M2Processor.from_folder(bundle.folder)
        self.spatial_merge_size = int(manifest["vision"]["spatial_merge_size"])
        self.tokens_per_second = float(manifest["vision"]["tokens_per_second"])
        self.max_context = min(int(manifest["max_context"]), self.processor.max_context)
        self.vision_spec = VisionSpec.from_dict(manifest["vision"]["spec"])
        self.patch_token_id = int(manifest["tokens"]["image_token_id"])
        self.image_size = tuple(manifest["image_size"])
        self.layers = int(manifest["text"]["num_hidden_layers"])
        stream = torch.cuda.Stream()
        folder = bundle.folder / "tensorrt"
        self._vision = _Engine(trt, torch, folder / "vision.engine", stream)
        self._decoder = _Engine(trt, torch, folder / "decoder.engine", stream)
        self._table = np.load(bundle.path(manifest["embedding"]["file"]), mmap_mode="r")
        self._kv_dtype = self._decoder_dtype("past_key.0")
        self._past: list[Any] = []

    @classmethod
    def from_bundle(cls, path: str | Path, device: str = "cuda") -> TensorRTBackend:
        return cls(load_bundle(path), device)

    def _decoder_dtype(self, name: str) -> Any:
        engine = self._decoder.engine
        return self.torch.from_numpy(np.zeros(0, self._decoder.trt.nptype(engine.get_tensor_dtype(name)))).dtype

    def _cuda(self, array: np.ndarray, dtype: Any = None) -> Any:
        return self.torch.from_numpy(np.ascontiguousarray(array)).to("cuda", dtype=dtype)

    def encode_vision(self, pixel_values: np.ndarray, grid_thw: np.ndarray) -> np.ndarray:
        parts = []
        width, height = self.image_size
        patch = self.vision_spec.patch_size
        for patches, grid_h, grid_w in frame_slices(pixel_values, grid_thw):
            if (grid_h * patch, grid_w * patch) != (height, width):
                raise InputError(
                    f"the TensorRT vision engine was built for {width}x{height} frames, this one resized to "
                    f"{grid_w * patch}x{grid_h * patch}; re-export with --image-size or use the onnxruntime backend"
                )
            feeds = make_vision_inputs(grid_h, grid_w, self.vision_spec).feeds(patches)
            out = self._vision.run({k: self._cuda(v) for k, v in feeds.items()})
            parts.append(out["visual_features"].float().cpu().numpy())
        return np.concatenate(parts, axis=0)

    def prefill(self, input_ids: np.ndarray, visual_features: np.ndarray | None, positions: np.ndarray) -> np.ndarray:
        embeds = embed_prompt(self._table, input_ids, self.patch_token_id, visual_features)
        kv_shape = (1, int(self.bundle.manifest["text"]["num_key_value_heads"]), 0,
                    int(self.bundle.manifest["text"]["head_dim"]))  # fmt: skip
        self._past = [self.torch.empty(kv_shape, dtype=self._kv_dtype, device="cuda") for _ in range(2 * self.layers)]
        return self._run(embeds, positions, profile=0)

    def step(self, token_id: int, positions: np.ndarray) -> np.ndarray:
        embeds = np.asarray(self._table[[int(token_id)]], dtype=np.float32)
        return self._run(embeds, positions, profile=1)

    def _run(self, embeds: np.ndarray, positions: np.ndarray, profile: int) -> np.ndarray:
        past_len = int(self._past[0].shape[2])
        inputs = {
            "inputs_embeds": self._cuda(embeds[None].astype(np.float32)),
            "attention_mask": self._cuda(np.ones((1, past_len + embeds.shape[0]), np.int64)),
            "position_ids": self._cuda(positions[:, None, :].astype(np.int64)),
        }
        names = [f"past_{kv}.{i}" for i in range(self.layers) for kv in ("key", "value")]
        inputs |= dict(zip(names, self._past, strict=True))
        out = self._decoder.run(inputs, profile)
        self._past = [out[n.replace("past_", "present_")] for n in names]
        return out["logits"][0].float().cpu().numpy()
