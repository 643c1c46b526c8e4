"""M2's processor behind the ``ProcessorMixin`` interface TRL's vision-language paths call.

TRL's trainers take a transformers processor: they render chat prompts with ``apply_chat_template``,
tokenise them with images through ``processor(images=..., text=...)`` and decode completions with
``batch_decode``. M2 has one processor (:class:`m2sdk.processor.M2Processor`), which this adapter wraps,
so rollouts and training see exactly the tokens the SDK builds at inference: the same system prompt, the
same ``<image>`` + N × ``<imagePatch>`` + ``</image>`` expansion, the same question layout.

The rendered prompt text is M2's chat template with an empty ``<image></image>`` per image; the adapter
parses it back (system, image count, question) when TRL hands it over with the images, so the two TRL
calls produce identical ids. Completions are decoded with the think/answer tags kept (TRL asks for
``skip_special_tokens=True``, which would strip ``<think>`` and break the format reward).

Example:
    >>> proc = TRLProcessor(M2Processor.tiny())
    >>> out = proc.apply_chat_template([messages], tokenize=True, return_dict=True, add_generation_prompt=True)
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import numpy as np
from transformers import ProcessorMixin

from m2sdk import prompt, tokens
from m2sdk.errors import InputError

_IMAGE_SLOT = f"{tokens.IMAGE_START}{tokens.IMAGE_END}"
_PROMPT_RE = re.compile(
    re.escape(tokens.IM_START) + r"system\n(?P<system>.*?)" + re.escape(tokens.IM_END) + r"\n"
    + re.escape(prompt.user_turn_open()) + r"(?P<images>(?:" + re.escape(_IMAGE_SLOT) + r")*)"
    + r"(?P<question>.*)" + re.escape(prompt.user_turn_close()) + r"\Z",
    re.DOTALL,
)  # fmt: skip


class TRLProcessor(ProcessorMixin):
    """Adapter from :class:`~m2sdk.processor.M2Processor` to what TRL's ``SFTTrainer``/``GRPOTrainer`` call.

    ``ProcessorMixin.__init__`` is not called: it validates transformers sub-processors, which M2 does not
    use (its pixels go through :mod:`m2sdk.processing`). ``reasoning=False`` ends every encoded prompt with
    the fast-mode prefix (empty think block, open ``<answer>``), for answer-only rollouts.
    """

    def __init__(self, processor: Any, reasoning: bool = True) -> None:
        self.m2 = processor
        self.reasoning = reasoning
        self.tokenizer = processor.tokenizer.to_transformers()
        self.chat_template = None
        self.image_processor = SimpleNamespace(merge_size=processor.config.merge_size)

    @property
    def model_input_names(self) -> list[str]:
        return ["input_ids", "attention_mask", "mm_token_type_ids", "pixel_values", "image_grid_thw"]

    def __repr__(self) -> str:
        return f"TRLProcessor({type(self.m2).__name__}, vocab={self.m2.tokenizer.vocab_size})"

    def save_pretrained(self, folder: str, **kwargs: Any) -> None:
        """Write ``tokenizer.json`` and ``preprocessor_config.json`` as :func:`save_checkpoint` does."""
        self.m2.save(folder)

    def apply_chat_template(
        self, conversation: list, *, tokenize: bool = False, return_dict: bool = False, **kwargs: Any
    ) -> Any:
        """Render (``tokenize=False``) or encode one conversation or a batch of them.

        Only system + user turns are supported (a generation prompt is always added): the rollouts' case.
        """
        batch = conversation if conversation and isinstance(conversation[0], list) else [conversation]
        parts = [split_conversation(c) for c in batch]
        if not tokenize:
            texts = [render(system, len(images), question) for system, images, question in parts]
            return texts if batch is conversation else texts[0]
        encoded = self._encode(parts, pad=False)
        return encoded if return_dict else encoded["input_ids"]

    def __call__(self, images: Any = None, text: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Encode rendered prompts with their images: left-padded tensors, as TRL's prompts are."""
        texts = [text] if isinstance(text, str) else list(text or [])
        image_lists = list(images) if images is not None else [None] * len(texts)
        if len(image_lists) != len(texts):
            raise InputError(f"{len(texts)} prompts but {len(image_lists)} image lists")
        parts = []
        for rendered, imgs in zip(texts, image_lists, strict=True):
            system, n_images, question = parse_rendered(rendered)
            imgs = list(imgs or [])
            if len(imgs) != n_images:
                raise InputError(f"prompt has {n_images} image slots but {len(imgs)} images were given")
            parts.append((system, imgs, question))
        return self._encode(parts, pad=True)

    def _encode(self, parts: list[tuple[str, list, str]], *, pad: bool) -> dict[str, Any]:
        import torch

        inputs = [
            self.m2([_as_rgb(i) for i in imgs] or None, q, system=system, reasoning=self.reasoning)
            for system, imgs, q in parts
        ]
        out: dict[str, Any] = {}
        if pad:
            out.update(_left_pad(inputs, self.m2.tokenizer.pad_id))
        else:
            out["input_ids"] = [x.input_ids.tolist() for x in inputs]
            out["mm_token_type_ids"] = [x.mm_token_type_ids.tolist() for x in inputs]
        with_pixels = [x for x in inputs if x.pixel_values is not None]
        if with_pixels:
            out["pixel_values"] = torch.from_numpy(np.concatenate([x.pixel_values for x in with_pixels]))
            out["image_grid_thw"] = torch.from_numpy(np.concatenate([x.image_grid_thw for x in with_pixels])).long()
        return out

    def batch_decode(self, sequences: Any, **kwargs: Any) -> list[str]:
        """Completion ids → text up to ``<|im_end|>``, think/answer tags kept (see the module doc)."""
        return [self.decode(ids) for ids in sequences]

    def decode(self, ids: Any, **kwargs: Any) -> str:
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        return self.m2.decode([i for i in ids if i != self.m2.tokenizer.pad_id])


def split_conversation(messages: list[dict[str, Any]]) -> tuple[str, list, str]:
    """(system text, images in order, user text) of a system + user conversation."""
    system, images, texts = prompt.SYSTEM_PROMPT, [], []
    for message in messages:
        role, content = message["role"], message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
        if role == "system":
            system = "".join(p.get("text") or "" for p in parts if p.get("type") == "text")
        elif role == "user":
            images += [p["image"] for p in parts if p.get("type") == "image"]
            texts += [p.get("text") or "" for p in parts if p.get("type") == "text"]
        else:
            raise InputError(f"M2 rollout prompts hold system and user turns only, got a {role!r} turn")
    question = "\n".join(t for t in texts if t)
    if not question.strip():
        raise InputError("the user turn has no question text")
    return system, images, question


def render(system: str, n_images: int, question: str) -> str:
    """M2's chat template as text, one empty ``<image></image>`` slot per image."""
    head = prompt.system_turn(system) + prompt.user_turn_open()
    return head + _IMAGE_SLOT * n_images + question + prompt.user_turn_close()


def parse_rendered(text: str) -> tuple[str, int, str]:
    """Inverse of :func:`render`."""
    match = _PROMPT_RE.match(text)
    if match is None:
        raise InputError(f"not an M2 prompt rendered by TRLProcessor: {text[:80]!r}...")
    return match["system"], match["images"].count(_IMAGE_SLOT), match["question"]


def _as_rgb(image: Any) -> np.ndarray:
    from m2sdk.processing import to_rgb

    return to_rgb(image, bgr=False) if isinstance(image, np.ndarray) else to_rgb(image)


def _left_pad(inputs: list[Any], pad_id: int) -> dict[str, Any]:
    import torch

    length = max(len(x) for x in inputs)
    ids = torch.full((len(inputs), length), pad_id, dtype=torch.long)  # (B, P)
    mask = torch.zeros((len(inputs), length), dtype=torch.long)
    types = torch.zeros((len(inputs), length), dtype=torch.long)
    for i, x in enumerate(inputs):
        ids[i, length - len(x) :] = torch.from_numpy(x.input_ids)
        mask[i, length - len(x) :] = 1
        types[i, length - len(x) :] = torch.from_numpy(x.mm_token_type_ids.astype(np.int64))
    return {"input_ids": ids, "attention_mask": mask, "mm_token_type_ids": types}
