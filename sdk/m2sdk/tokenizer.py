"""The M2 tokenizer: one thin wrapper over a `tokenizers.Tokenizer`, for real and tiny checkpoints.

Real checkpoints carry their own ``tokenizer.json`` (Qwen2.5 vocabulary plus M2's special tokens).
Tiny presets use a small byte-level BPE trained offline, deterministically, from a built-in corpus, so
tests and CPU work need no download. The wrapper depends only on `tokenizers`, which keeps the ONNX
runtime path free of transformers.

User text is always encoded with special-token matching switched off: a question that contains
``<|im_end|>`` or ``<imagePatch>`` is tokenised as plain characters and cannot inject control tokens.
"""

from __future__ import annotations

import functools
import json
import threading
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from m2sdk import tokens
from m2sdk.errors import CheckpointError

TOKENIZER_FILE = "tokenizer.json"

# Text the tiny tokenizer is trained on: the words of the prompt, of spatial questions and answers.
_CORPUS = """
You are a helpful assistant. The answer consists of two parts: the reasoning process inside <think> </think>
and the final answer inside <answer> </answer>, with the key result in \\boxed{}.
How far is the red chair from the camera, in metres? How many chairs are in the room? What is the length of
the longest dimension of the table in centimetres? What is the size of this room in square meters?
Which of these objects is the closest to the sofa? If I am standing by the bed and facing the lamp, is the
plant pot to my left, right or behind me? Which object is closer to the camera? Is the ball to the left of
the box in the image? Which object appears first in the video? Route: turn left, go forward, turn right.
Options: A. B. C. D. The answer is 2.5 m. about 1.25 meters, 3 feet, 40 cm, 12.5 m^2, 0 1 2 3 4 5 6 7 8 9.
The chair is at a depth of 2.4 metres and 0.3 metres to the right, so its distance is sqrt(2.4^2+0.3^2).
red green blue yellow white black orange purple brown grey gray pink cyan
chair table sofa bed lamp ball bin box plant pot shelf cabinet desk door window monitor tv stool
left right front back behind above below closer farther nearest distance size height width depth count
"""


def build_tiny_tokenizer(vocab_size: int = 1024) -> Tokenizer:
    """Train the offline byte-level BPE of the tiny presets; the same inputs always give the same ids.

    Example:
        >>> tok = build_tiny_tokenizer()
        >>> tok.token_to_id("<|im_end|>")
        2
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(tokens.SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    lines = [line for line in _CORPUS.splitlines() if line.strip()]
    tok.train_from_iterator(lines * 4, trainer=trainer)
    return tok


class M2Tokenizer:
    """Encode prompts and decode answers with M2's special tokens.

    Example:
        >>> tok = M2Tokenizer.tiny()
        >>> ids = tok.encode_text("How far is the chair?")
        >>> tok.decode(ids)
        'How far is the chair?'
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tok = tokenizer
        missing = [t for t in tokens.SPECIAL_TOKENS if tokenizer.token_to_id(t) is None]
        if missing:
            raise CheckpointError(f"tokenizer lacks M2 special tokens {missing}; is this an M2 checkpoint?")
        self.special_ids = {t: tokenizer.token_to_id(t) for t in tokens.SPECIAL_TOKENS}
        # encode_special_tokens is a flag on the shared Tokenizer: guard the flip for threaded callers.
        self._untrusted_lock = threading.Lock()

    @classmethod
    @functools.cache
    def tiny(cls) -> M2Tokenizer:
        """The offline tokenizer of the tiny presets (built once per process)."""
        return cls(build_tiny_tokenizer())

    @classmethod
    def from_folder(cls, folder: str | Path) -> M2Tokenizer:
        """Load ``tokenizer.json`` from a checkpoint or bundle folder."""
        path = Path(folder) / TOKENIZER_FILE
        if not path.is_file():
            raise CheckpointError(f"{path} is missing: every checkpoint folder needs its tokenizer.json")
        try:
            return cls(Tokenizer.from_file(str(path)))
        except Exception as err:  # tokenizers raises bare Exceptions on bad JSON
            raise CheckpointError(f"{path} is not a valid tokenizer file: {err}") from err

    def save(self, folder: str | Path) -> None:
        """Write ``tokenizer.json`` and a ``tokenizer_config.json`` that transformers can read."""
        folder = Path(folder)
        self._tok.save(str(folder / TOKENIZER_FILE))
        config = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "eos_token": tokens.IM_END,
            "pad_token": tokens.ENDOFTEXT,
            "additional_special_tokens": list(tokens.SPECIAL_TOKENS),
            "model_max_length": 32768,
        }
        (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    @property
    def backend(self) -> Tokenizer:
        """The underlying `tokenizers.Tokenizer` (for transformers' ``PreTrainedTokenizerFast``)."""
        return self._tok

    def id_of(self, token: str) -> int:
        return self.special_ids[token]

    @property
    def eos_id(self) -> int:
        return self.special_ids[tokens.IM_END]

    @property
    def pad_id(self) -> int:
        return self.special_ids[tokens.ENDOFTEXT]

    def encode_text(self, text: str) -> list[int]:
        """Token ids of untrusted text; special-token strings in it stay plain text."""
        with self._untrusted_lock:
            self._tok.encode_special_tokens = True
            try:
                return self._tok.encode(text, add_special_tokens=False).ids
            finally:
                self._tok.encode_special_tokens = False

    def encode_trusted(self, text: str) -> list[int]:
        """Token ids of template text written by us, where special-token strings are meant."""
        with self._untrusted_lock:
            return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int], *, skip_special: bool = False) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=skip_special)

    def to_transformers(self):
        """A transformers ``PreTrainedTokenizerFast`` over the same tokenizer (for TRL and generate)."""
        from m2sdk._deps import require

        transformers = require("transformers")
        return transformers.PreTrainedTokenizerFast(
            tokenizer_object=self._tok,
            eos_token=tokens.IM_END,
            pad_token=tokens.ENDOFTEXT,
            additional_special_tokens=list(tokens.SPECIAL_TOKENS),
        )
