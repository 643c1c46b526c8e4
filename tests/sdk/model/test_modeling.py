"""The tiny M2 model: generation with/without KV cache, multi-image prompts, projector, determinism."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch

from m2sdk.model.presets import build_preset
from tests.conftest import make_frame


def _generate(model, inputs, use_cache: bool) -> list[int]:
    out = model.generate(**inputs.to_torch(), max_new_tokens=12, do_sample=False, use_cache=use_cache)
    return out[0, len(inputs) :].tolist()


def test_generate_same_tokens_with_and_without_kv_cache(tiny_model, tiny_processor):
    inputs = tiny_processor(make_frame(), "How far is the red chair from the camera, in metres?")
    cached = _generate(tiny_model, inputs, use_cache=True)
    uncached = _generate(tiny_model, inputs, use_cache=False)
    assert len(cached) == 12
    assert cached == uncached


def test_two_image_prompt_expands_each_image_into_its_own_slot(tiny_model, tiny_processor):
    big, small = make_frame(112, 168, seed=1), make_frame(56, 56, seed=2)
    inputs = tiny_processor([big, small], "Which image shows the chair closer?")
    tok = tiny_processor.tokenizer
    ids = inputs.input_ids.tolist()
    starts = [i for i, t in enumerate(ids) if t == tok.id_of("<image>")]
    ends = [i for i, t in enumerate(ids) if t == tok.id_of("</image>")]
    counts = [e - s - 1 for s, e in zip(starts, ends, strict=True)]
    expected = [int(np.prod(g)) // 4 for g in inputs.image_grid_thw]
    assert counts == expected and expected[0] != expected[1]
    patch = tok.id_of("<imagePatch>")
    assert all(t == patch for s, e in zip(starts, ends, strict=True) for t in ids[s + 1 : e])
    # The image features land in order: the first slot receives the first image's features.
    feats = tiny_model.model.get_image_features(
        torch.from_numpy(inputs.pixel_values), torch.from_numpy(inputs.image_grid_thw)
    ).pooler_output
    assert [f.shape[0] for f in feats] == expected


def test_visual_features_are_l2_normalised(tiny_model, tiny_processor):
    inputs = tiny_processor(make_frame(), "How many chairs?")
    feats = tiny_model.model.get_image_features(
        torch.from_numpy(inputs.pixel_values), torch.from_numpy(inputs.image_grid_thw)
    ).pooler_output[0]
    assert torch.allclose(feats.norm(dim=-1), torch.ones(feats.shape[0]), atol=1e-5)


def test_image_changes_the_answer_logits(tiny_model, tiny_processor):
    a = tiny_processor(make_frame(seed=1), "How far is the lamp?").to_torch()
    b = tiny_processor(make_frame(seed=5) // 3, "How far is the lamp?").to_torch()
    with torch.no_grad():
        la, lb = tiny_model(**a).logits[0, -1], tiny_model(**b).logits[0, -1]
    assert not torch.allclose(la, lb)


def test_preset_weights_are_identical_across_processes():
    code = (
        "import hashlib;from m2sdk.model.presets import build_preset;m=build_preset('m2-tiny');"
        "h=hashlib.sha256();[h.update(v.numpy().tobytes()) for v in m.state_dict().values()];print(h.hexdigest())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    import hashlib

    h = hashlib.sha256()
    for v in build_preset("m2-tiny").state_dict().values():
        h.update(v.numpy().tobytes())
    assert out == h.hexdigest()


def test_m2_7b_preset_has_released_dimensions():
    model = build_preset("m2-7b", device="meta")
    config = model.config
    n_params = sum(p.numel() for p in model.parameters())
    assert 8.2e9 < n_params < 8.4e9
    assert config.text_config.rope_parameters["mrope_section"] == [16, 24, 24]
    assert (config.text_config.hidden_size, config.text_config.num_hidden_layers) == (3584, 28)
    assert (config.text_config.num_attention_heads, config.text_config.num_key_value_heads) == (28, 4)
    assert (config.vision_config.depth, config.vision_config.hidden_size) == (32, 1280)
    assert list(config.vision_config.fullatt_block_indexes) == [7, 15, 23, 31]
    assert [type(m).__name__ for m in model.model.linear_proj] == ["Linear", "GELU", "Linear"]
    assert model.lm_head.weight.shape == (152064, 3584)
