"""m2sdk: run, export and train the M2-Reasoning spatial vision-language model.

The one call an app needs::

    import m2sdk
    answer = m2sdk.query(frame_bgr, "How far is the chair from the camera, in metres?")
    print(answer.value, answer.unit)

Importing m2sdk is light: torch, transformers and onnxruntime load only when a feature needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from m2sdk.answer import Answer, QuestionKind, Timings
from m2sdk.errors import (
    CheckpointError,
    InputError,
    M2Error,
    MissingExtraError,
    ModelError,
    PromptTooLongError,
    SourceError,
)

__version__ = "0.1.0"

# Public names that live in modules importing heavy or optional packages: resolved on first use.
_LAZY = {
    "load": "m2sdk.runtime.api",
    "query": "m2sdk.runtime.api",
    "Model": "m2sdk.runtime.model",
    "parse_answer": "m2sdk.answer_parser",
    "ParsedAnswer": "m2sdk.answer_parser",
    "classify_question": "m2sdk.questions",
    "M2Processor": "m2sdk.processor",
    "M2ReasoningConfig": "m2sdk.model.config",
    "M2ReasoningForConditionalGeneration": "m2sdk.model.modeling",
    "load_model": "m2sdk.model.checkpoint",
    "build_preset": "m2sdk.model.presets",
    "PRESETS": "m2sdk.model.presets",
}

__all__ = [
    "PRESETS",
    "Answer",
    "CheckpointError",
    "InputError",
    "M2Error",
    "M2Processor",
    "M2ReasoningConfig",
    "M2ReasoningForConditionalGeneration",
    "MissingExtraError",
    "Model",
    "ModelError",
    "ParsedAnswer",
    "PromptTooLongError",
    "QuestionKind",
    "SourceError",
    "Timings",
    "build_preset",
    "classify_question",
    "load",
    "load_model",
    "parse_answer",
    "query",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'm2sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    from m2sdk.answer_parser import ParsedAnswer, parse_answer
    from m2sdk.model.checkpoint import load_model
    from m2sdk.model.config import M2ReasoningConfig
    from m2sdk.model.modeling import M2ReasoningForConditionalGeneration
    from m2sdk.model.presets import PRESETS, build_preset
    from m2sdk.processor import M2Processor
    from m2sdk.questions import classify_question
    from m2sdk.runtime.api import load, query
    from m2sdk.runtime.model import Model
