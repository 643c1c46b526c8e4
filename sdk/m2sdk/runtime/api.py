"""`m2sdk.load` and `m2sdk.query`: the two calls most apps need."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from m2sdk._deps import available
from m2sdk.answer import Answer
from m2sdk.errors import InputError
from m2sdk.runtime.model import Model

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnxruntime", "tensorrt")
DEFAULT_MODEL = "m2-mini"  # the small trained model shipped in the package (m2sdk/assets/m2-mini)
BUNDLE_MANIFEST = "manifest.json"

_loaded: dict[str, Model] = {}
_loaded_lock = threading.Lock()


def load(path_or_preset: str | Path = DEFAULT_MODEL, backend: str = "auto", device: str = "cpu") -> Model:
    """Load a checkpoint folder, an exported bundle or a preset on a backend.

    ``backend="auto"`` picks the fastest backend the input and this machine allow: TensorRT engines
    when the bundle has them and `tensorrt` is installed, else ONNX Runtime for bundles, else torch
    for checkpoints and presets; the choice is logged and kept in ``Model.backend_name``.

    Example:
        >>> model = m2sdk.load("m2-tiny")                     # tiny random preset, torch
        >>> model = m2sdk.load("bundles/m2-mini-int4")         # exported bundle, ONNX Runtime
    """
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    path = Path(path_or_preset)
    is_bundle = (path / BUNDLE_MANIFEST).is_file()
    chosen = _pick_backend(backend, is_bundle, path)
    log.info("m2sdk: loading %s on the %s backend (%s)", path_or_preset, chosen, device)
    return Model(_make_backend(chosen, str(path_or_preset), device))


def _pick_backend(backend: str, is_bundle: bool, path: Path) -> str:
    if backend != "auto":
        if backend in ("onnxruntime", "tensorrt") and not is_bundle:
            raise InputError(
                f"the {backend} backend runs exported bundles; export first: m2 export {path} --out BUNDLE"
            )
        if backend == "torch" and is_bundle:
            raise InputError(f"{path} is an exported bundle; load its checkpoint for the torch backend")
        return backend
    if is_bundle:
        has_engines = any(path.glob("*.engine")) or any(path.glob("tensorrt/*.engine"))
        return "tensorrt" if has_engines and available("tensorrt") else "onnxruntime"
    return "torch"


def _make_backend(name: str, path: str, device: str) -> Any:
    if name == "torch":
        from m2sdk.runtime.backends.torch_backend import TorchBackend

        return TorchBackend.from_pretrained(path, device=device)
    if name == "onnxruntime":
        from m2sdk.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend.from_bundle(path, device=device)
    from m2sdk.runtime.backends.tensorrt_backend import TensorRTBackend

    return TensorRTBackend.from_bundle(path, device=device)


def query(frame: Any, prompt: str, *, model: Model | str | None = None, **kwargs: Any) -> Answer:
    """Answer one spatial question about a frame (numpy BGR, PIL image or path).

    Without ``model``, a module-level default (``m2-tiny`` unless set) is loaded once and reused.

    Example:
        >>> answer = m2sdk.query(frame, "How many chairs are there?")
        >>> answer.value
        3.0
    """
    if isinstance(model, Model):
        return model.query(frame, prompt, **kwargs)
    return default_model(model).query(frame, prompt, **kwargs)


def default_model(path_or_preset: str | None = None) -> Model:
    """The shared model for ``path_or_preset`` (default ``m2-mini``), loaded once (thread-safe)."""
    key = str(path_or_preset or DEFAULT_MODEL)
    with _loaded_lock:
        if key not in _loaded:
            _loaded[key] = load(key)
        return _loaded[key]
