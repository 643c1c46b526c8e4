"""Golden tests of the host M-RoPE port (m2sdk.rope) against transformers' Qwen2.5-VL get_rope_index.

Prompts are built by the real processor (text only, one image, several images of different sizes, a
video, image + video), so the token layout is exactly what the runtimes see.
"""

from __future__ import annotations

import numpy as np
import pytest

from m2sdk.rope import decode_positions, get_rope_index
from tests.conftest import make_frame

torch = pytest.importorskip("torch")


def transformers_positions(model, inputs, extra_text: int = 0) -> tuple[np.ndarray, int]:
    """(3, S) positions and delta from transformers, optionally with ``extra_text`` answer tokens appended."""
    ids = np.concatenate([inputs.input_ids, np.zeros(extra_text, np.int64)])
    types = np.concatenate([inputs.mm_token_type_ids, np.zeros(extra_text, np.int32)])
    t = inputs.to_torch()
    pos, delta = model.model.get_rope_index(
        torch.from_numpy(ids)[None], torch.from_numpy(types)[None], t.get("image_grid_thw"),
        t.get("video_grid_thw"), t.get("second_per_grid_ts"),
    )  # fmt: skip
    return pos[:, 0].numpy(), int(delta.reshape(-1)[0])


def port_positions(model, inputs) -> tuple[np.ndarray, int]:
    vision = model.config.vision_config
    return get_rope_index(
        inputs.mm_token_type_ids, inputs.image_grid_thw, inputs.video_grid_thw, inputs.second_per_grid_ts,
        spatial_merge_size=vision.spatial_merge_size, tokens_per_second=vision.tokens_per_second,
    )  # fmt: skip


def prompts(processor) -> dict:
    clip = [make_frame(112, 140, seed=i) for i in range(6)]
    return {
        "text_only": processor(None, "How far is the chair from the camera, in metres?"),
        "one_image": processor(make_frame(112, 168), "How many chairs are in the room?"),
        "several_images": processor(
            [make_frame(112, 168), make_frame(196, 84, seed=1), make_frame(56, 56, seed=2)],
            "Which image shows the lamp?",
            options=["first", "second", "third"],
        ),
        "video": processor(None, "Which object appears first in the video?", video=clip, video_fps=2.0),
        "video_slow_fps": processor(None, "Which object appears first?", video=clip, video_fps=0.5),
        "image_and_video": processor(make_frame(84, 112), "Is the chair in the video too?", video=clip),
    }


@pytest.mark.parametrize(
    "name", ["text_only", "one_image", "several_images", "video", "video_slow_fps", "image_and_video"]
)
def test_prompt_positions_match_transformers(tiny_model, tiny_processor, name):
    inputs = prompts(tiny_processor)[name]
    expected, expected_delta = transformers_positions(tiny_model, inputs)
    positions, delta = port_positions(tiny_model, inputs)
    np.testing.assert_array_equal(positions, expected)
    assert delta == expected_delta
    if name != "text_only":
        assert delta < 0  # a vision block takes fewer positions than tokens
        assert not np.array_equal(positions[1], positions[2])  # h and w differ inside the block


@pytest.mark.parametrize("name", ["text_only", "one_image", "several_images", "video"])
def test_decode_positions_continue_like_transformers(tiny_model, tiny_processor, name):
    """Answer tokens appended after the prompt: transformers' positions of the longer sequence."""
    inputs = prompts(tiny_processor)[name]
    n_new = 5
    expected, _ = transformers_positions(tiny_model, inputs, extra_text=n_new)
    _, delta = port_positions(tiny_model, inputs)
    for i in range(n_new):
        np.testing.assert_array_equal(
            decode_positions(len(inputs) + i, 1, delta), expected[:, len(inputs) + i : len(inputs) + i + 1]
        )
    np.testing.assert_array_equal(decode_positions(len(inputs), n_new, delta), expected[:, len(inputs) :])


def test_text_only_positions_are_plain_arange(tiny_model, tiny_processor):
    inputs = prompts(tiny_processor)["text_only"]
    positions, delta = port_positions(tiny_model, inputs)
    np.testing.assert_array_equal(positions, np.broadcast_to(np.arange(len(inputs)), (3, len(inputs))))
    assert delta == 0


def test_grid_mismatch_is_reported():
    with pytest.raises(ValueError, match="vision block has 3 tokens"):
        get_rope_index(np.array([0, 1, 1, 1, 0]), np.array([[1, 4, 4]]))
