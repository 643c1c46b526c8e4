"""`ExportConfig`: what ``m2 export`` turns into a bundle, checked before any work starts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from m2sdk.errors import InputError

PRECISIONS = ("fp32", "fp16", "int8", "int4")
PIXELS_PER_TOKEN = 28  # patch 14 × spatial merge 2: one LLM token per 28×28 px
DEFAULT_IMAGE_SIZE = (644, 476)  # what a 640×480 camera frame resizes to: 23×17 = 391 tokens
DEFAULT_OPSET = 21  # blockwise (INT4) DequantizeLinear needs opset 21


def parse_image_size(text: str) -> tuple[int, int]:
    """``"644x476"`` → ``(644, 476)`` (width, height), both multiples of 28.

    Example:
        >>> parse_image_size("644x476")
        (644, 476)
    """
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not match:
        raise InputError(f"--image-size must look like WIDTHxHEIGHT (e.g. 644x476), got {text!r}")
    return check_image_size((int(match.group(1)), int(match.group(2))))


def check_image_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = size
    bad = [f"{name} {v}" for name, v in (("width", width), ("height", height)) if v < 28 or v % PIXELS_PER_TOKEN]
    if bad:
        near = "x".join(str(max(28, round(v / PIXELS_PER_TOKEN) * PIXELS_PER_TOKEN)) for v in (width, height))
        raise InputError(
            f"--image-size {width}x{height}: {', '.join(bad)} is not a multiple of {PIXELS_PER_TOKEN} "
            f"(patch 14 × merge 2); the processor resizes frames to multiples of 28, try {near}"
        )
    return width, height


@dataclass
class ExportConfig:
    """Settings of one export.

    Attributes:
        checkpoint: A checkpoint folder or a preset name (``m2-tiny``).
        out: The bundle folder to create (written to a temporary folder first, then renamed).
        precision: fp32, fp16, int8 or int4 (int8/int4 quantize the decoder's linear layers).
        image_size: (width, height) of the camera frames after resizing; fixes TensorRT's vision
            profile and the parity frames. Multiples of 28.
        max_context: Longest prompt + answer, in tokens (TensorRT profile, processor check).
        tensorrt: Also write the TensorRT folder (and build engines when ``tensorrt`` is installed).
        quant_method: int4 only: rtn (no data), gptq (ONNX Runtime GPTQ on synthetic calibration
            prompts) or awq (NVIDIA ModelOpt, TensorRT form; needs nvidia-modelopt).
        parity_new_tokens: Greedy tokens generated per parity prompt.
        eval_samples: Held-out synthetic questions for the int8/int4 metric change (0 = skip).
        force: Replace an existing ``out`` folder.

    Example:
        >>> ExportConfig("m2-tiny", Path("bundles/tiny-int4"), precision="int4")
    """

    checkpoint: str
    out: Path
    precision: str = "fp32"
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE
    max_context: int | None = None
    tensorrt: bool = False
    quant_method: str = "rtn"
    opset: int = DEFAULT_OPSET
    parity_new_tokens: int = 16
    eval_samples: int = 8
    force: bool = False

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.precision not in PRECISIONS:
            raise InputError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        self.image_size = check_image_size(tuple(self.image_size))
        if self.max_context is not None and self.max_context < 16:
            raise InputError(f"max_context must be >= 16 tokens, got {self.max_context}")
        if self.opset < 21:
            raise InputError(f"opset must be >= 21 (blockwise DequantizeLinear), got {self.opset}")
        if self.parity_new_tokens < 1 or self.eval_samples < 0:
            raise InputError("parity_new_tokens must be >= 1 and eval_samples >= 0")
        if self.out.exists() and not self.force:
            raise InputError(f"{self.out} already exists; choose another --out or pass --force to replace it")
