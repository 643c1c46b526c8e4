"""Turn frames and a question into model inputs, and generated ids back into text.

The one processor of the project: the SDK backends, training collators, export parity checks and the
ROS node all call it. Pixels go through the numpy/OpenCV code in :mod:`m2sdk.processing`; text goes
through :class:`~m2sdk.tokenizer.M2Tokenizer`. Each image becomes ``<image>`` + N × ``<imagePatch>`` +
``</image>`` with N taken from *that* image's grid (the released code put the patches of several
images into the wrong slots); a video becomes ``<video>`` + N × ``<imagePatch>`` + ``</video>``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from m2sdk import prompt, tokens
from m2sdk.errors import CheckpointError, InputError, PromptTooLongError
from m2sdk.processing import ImageProcessorConfig, num_image_tokens, preprocess_images, preprocess_video
from m2sdk.tokenizer import M2Tokenizer

PROCESSOR_FILE = "preprocessor_config.json"

TEXT, IMAGE, VIDEO = 0, 1, 2  # mm_token_type_ids values, as transformers' Qwen2.5-VL expects


@dataclass
class ModelInputs:
    """Everything one prompt needs, as numpy arrays (batch of one).

    Shapes: ``input_ids`` (S,), ``mm_token_type_ids`` (S,), ``pixel_values`` (N_img_patches, 1176),
    ``image_grid_thw`` (n_images, 3), ``pixel_values_videos`` (N_vid_patches, 1176), ``video_grid_thw``
    (n_videos, 3), ``second_per_grid_ts`` (n_videos,), ``response_mask`` (S,) True on assistant tokens
    that a training loss should cover.
    """

    input_ids: np.ndarray
    mm_token_type_ids: np.ndarray
    response_mask: np.ndarray
    pixel_values: np.ndarray | None = None
    image_grid_thw: np.ndarray | None = None
    pixel_values_videos: np.ndarray | None = None
    video_grid_thw: np.ndarray | None = None
    second_per_grid_ts: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def to_torch(self, device: Any = "cpu", dtype: Any = None) -> dict[str, Any]:
        """Keyword arguments for ``M2ReasoningForConditionalGeneration.forward``/``generate``."""
        import torch

        out: dict[str, Any] = {
            "input_ids": torch.from_numpy(self.input_ids).long()[None].to(device),
            "attention_mask": torch.ones(1, len(self), dtype=torch.long, device=device),
            "mm_token_type_ids": torch.from_numpy(self.mm_token_type_ids).int()[None].to(device),
        }
        for name in ("pixel_values", "pixel_values_videos"):
            value = getattr(self, name)
            if value is not None:
                out[name] = torch.from_numpy(value).to(device=device, dtype=dtype or torch.float32)
        for name in ("image_grid_thw", "video_grid_thw"):
            value = getattr(self, name)
            if value is not None:
                out[name] = torch.from_numpy(value).long().to(device)
        if self.second_per_grid_ts is not None:
            out["second_per_grid_ts"] = torch.from_numpy(self.second_per_grid_ts).float().to(device)
        return out


class M2Processor:
    """Tokenizer + image/video preprocessing + prompt template.

    Example:
        >>> proc = M2Processor.tiny()
        >>> inputs = proc(rgb_frame, "How far is the chair from the camera, in metres?")
        >>> inputs.input_ids.shape, inputs.image_grid_thw
        ((420,), array([[ 1, 34, 46]]))
    """

    def __init__(
        self, tokenizer: M2Tokenizer, config: ImageProcessorConfig | None = None, max_context: int = 32768
    ) -> None:
        self.tokenizer = tokenizer
        self.config = config or ImageProcessorConfig()
        self.max_context = max_context
        self._template_ids = {
            "user_open": tokenizer.encode_trusted(prompt.user_turn_open()),
            "user_close": tokenizer.encode_trusted(prompt.user_turn_close()),
            "fast": tokenizer.encode_trusted(prompt.FAST_RESPONSE_PREFIX),
        }

    @classmethod
    def tiny(cls, config: ImageProcessorConfig | None = None) -> M2Processor:
        """Processor of the tiny presets (offline tokenizer)."""
        return cls(M2Tokenizer.tiny(), config)

    @classmethod
    def from_folder(cls, folder: str | Path) -> M2Processor:
        """Load tokenizer and ``preprocessor_config.json`` from a checkpoint or bundle folder."""
        folder = Path(folder)
        settings: dict[str, Any] = {}
        path = folder / PROCESSOR_FILE
        if path.is_file():
            try:
                settings = json.loads(path.read_text())
            except json.JSONDecodeError as err:
                raise CheckpointError(f"{path} is not valid JSON: {err}") from err
        max_context = int(settings.pop("max_context", 32768))
        return cls(M2Tokenizer.from_folder(folder), ImageProcessorConfig.from_dict(settings), max_context)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        self.tokenizer.save(folder)
        settings = {**self.config.to_dict(), "max_context": self.max_context}
        (folder / PROCESSOR_FILE).write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")

    def __call__(
        self,
        images: np.ndarray | Sequence[np.ndarray] | None,
        question: str,
        *,
        video: Sequence[np.ndarray] | None = None,
        video_fps: float | None = None,
        options: Sequence[str] | None = None,
        reasoning: bool = True,
        system: str = prompt.SYSTEM_PROMPT,
        response: str | None = None,
    ) -> ModelInputs:
        """Build the inputs of one prompt.

        Args:
            images: RGB uint8 frames (H, W, 3), one or several, or None. Convert camera frames with
                :func:`m2sdk.processing.to_rgb` first (OpenCV gives BGR).
            question: The user's question (untrusted text: special tokens in it stay plain text).
            video: RGB frames of one clip, already sampled (at ``config.video_fps``), or None.
            video_fps: The rate the clip was sampled at (for M-RoPE time positions); default config's.
            options: Option texts of a multiple-choice question (lettered A, B, ...).
            reasoning: False starts the answer with an empty think block (fast answer-only mode).
            system: The system prompt.
            response: For training: the assistant text to append (loss goes on it, see response_mask).
        """
        if not isinstance(question, str) or not question.strip():
            raise InputError("the question must be a non-empty string")
        image_list = _as_image_list(images)
        ids: list[int] = self.tokenizer.encode_trusted(prompt.system_turn(system)) + self._template_ids["user_open"]
        types: list[int] = [TEXT] * len(ids)
        inputs = ModelInputs(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, bool))
        if image_list:
            inputs.pixel_values, inputs.image_grid_thw = preprocess_images(image_list, self.config)
            for grid in inputs.image_grid_thw:
                self._append_media(ids, types, tokens.IMAGE_START, tokens.IMAGE_END, grid, IMAGE)
        if video is not None and len(video) > 0:
            inputs.pixel_values_videos, inputs.video_grid_thw = preprocess_video(list(video), self.config)
            fps = video_fps or self.config.video_fps
            inputs.second_per_grid_ts = np.array([self.config.temporal_patch_size / fps], np.float32)
            self._append_media(ids, types, tokens.VIDEO_START, tokens.VIDEO_END, inputs.video_grid_thw[0], VIDEO)
        text_ids = self.tokenizer.encode_text(prompt.format_question(question, options))
        ids += text_ids + self._template_ids["user_close"]
        types += [TEXT] * (len(text_ids) + len(self._template_ids["user_close"]))
        prompt_len = len(ids)
        ids += self._response_ids(reasoning, response)
        types += [TEXT] * (len(ids) - prompt_len)
        if len(ids) > self.max_context:
            raise PromptTooLongError(
                f"the prompt needs {len(ids)} tokens but the model's context is {self.max_context}; "
                "use fewer or smaller frames (max_pixels) or a shorter question"
            )
        inputs.input_ids = np.asarray(ids, np.int64)
        inputs.mm_token_type_ids = np.asarray(types, np.int32)
        inputs.response_mask = np.arange(len(ids)) >= (prompt_len if response is not None else len(ids))
        return inputs

    def _append_media(
        self, ids: list[int], types: list[int], start: str, end: str, grid_thw: np.ndarray, kind: int
    ) -> None:
        (n,) = num_image_tokens(grid_thw, self.config.merge_size)
        tok = self.tokenizer
        ids += [tok.id_of(start), *[tok.id_of(tokens.IMAGE_PATCH)] * n, tok.id_of(end)]
        types += [TEXT] + [kind] * n + [TEXT]

    def _response_ids(self, reasoning: bool, response: str | None) -> list[int]:
        out = [] if reasoning else list(self._template_ids["fast"])
        if response is not None:
            out += [*self.tokenizer.encode_trusted(response), self.tokenizer.eos_id]
        return out

    def decode(self, ids: Sequence[int]) -> str:
        """Generated ids to text, stopping at ``<|im_end|>``; think/answer tags are kept for parsing."""
        ids = list(ids)
        if self.tokenizer.eos_id in ids:
            ids = ids[: ids.index(self.tokenizer.eos_id)]
        return self.tokenizer.decode(ids)


def _as_image_list(images: np.ndarray | Sequence[np.ndarray] | None) -> list[np.ndarray]:
    if images is None:
        return []
    if isinstance(images, np.ndarray):
        return [images] if images.ndim == 3 else list(images)
    return list(images)
