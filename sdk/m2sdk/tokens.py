"""M2-Reasoning's special tokens, in one place.

The ids are those of the released M2-Reasoning-7B tokenizer (Qwen2.5 vocabulary plus M2's additions).
Tiny presets use an offline tokenizer with the same strings but other ids: code must look ids up through
the tokenizer, never hard-code them; these constants document the released checkpoint.
"""

from __future__ import annotations

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
ENDOFTEXT = "<|endoftext|>"
THINK_START = "<think>"
THINK_END = "</think>"
IMAGE_PATCH = "<imagePatch>"
IMAGE_START = "<image>"
IMAGE_END = "</image>"
VIDEO_START = "<video>"
VIDEO_END = "</video>"

# Order matters for the offline tokenizer: it fixes the ids of the tiny presets.
SPECIAL_TOKENS: tuple[str, ...] = (
    ENDOFTEXT,
    IM_START,
    IM_END,
    THINK_START,
    THINK_END,
    IMAGE_PATCH,
    IMAGE_START,
    IMAGE_END,
    VIDEO_START,
    VIDEO_END,
)

# Ids in the released M2-Reasoning-7B tokenizer (from its model card); used by `m2 convert` checks.
RELEASED_IDS: dict[str, int] = {
    ENDOFTEXT: 151643,
    IM_START: 151644,
    IM_END: 151645,
    THINK_START: 151676,
    THINK_END: 151677,
    IMAGE_PATCH: 151678,
    IMAGE_START: 151679,
    IMAGE_END: 151680,
    VIDEO_START: 151681,
    VIDEO_END: 151682,
}
