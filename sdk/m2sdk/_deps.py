"""Lazy, friendly imports of optional dependencies.

`import m2sdk` must stay light (no torch, transformers or onnxruntime): AR apps and robots that run an
exported bundle never need them. Code that does need them calls :func:`require` at use time.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# Which extra brings which top-level module, so the error can print the exact install command.
_EXTRA_OF_MODULE = {
    "torch": "torch",
    "transformers": "torch",
    "onnxruntime": "onnx",
    "onnx": "export",
    "onnxscript": "export",
    "trl": "train",
    "accelerate": "train",
    "math_verify": "train",
    "tensorboard": "train",
    "rosbags": "ros",
    "tensorrt": "gpu",
}


def install_hint(module: str) -> str:
    """The pip command that installs the extra providing ``module``."""
    extra = _EXTRA_OF_MODULE.get(module.split(".")[0])
    if extra is None:
        return f"pip install {module}"
    return f'pip install "m2sdk[{extra}]"'


def require(module: str) -> ModuleType:
    """Import ``module`` or raise :class:`~m2sdk.errors.MissingExtraError` naming the install command.

    Example:
        >>> torch = require("torch")
    """
    from m2sdk.errors import MissingExtraError

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(
            f"{module} is needed for this feature but is not installed ({err}). Install it with: {install_hint(module)}"
        ) from err


def available(module: str) -> bool:
    """True when ``module`` can be imported (without importing it twice)."""
    return importlib.util.find_spec(module) is not None
