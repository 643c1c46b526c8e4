"""The shared-prefix SFT forward gives the plain forward's scores and gradients, in less decoder work."""

from __future__ import annotations

import pytest
import torch

from m2train.config import ModelConfig
from m2train.prefix import shared_prefix_length
from m2train.sft import build_sft_trainer, shared_prefix_scores
from tests.train.conftest import sft_config


def test_prefix_length_stops_at_the_first_difference_padding_or_media_token():
    ids = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 4, 9]])
    ones = torch.ones_like(ids)
    assert shared_prefix_length(ids, ones, []) == 3
    assert shared_prefix_length(ids, ones, [7]) == 2  # never inside (or after) an image
    padded = ones.clone()
    padded[1, 1] = 0
    assert shared_prefix_length(ids, padded, []) == 1
    same = torch.tensor([[5, 6, 7], [5, 6, 7]])
    assert shared_prefix_length(same, torch.ones_like(same), []) == 2  # the last position is always run per row


def test_shared_prefix_scores_and_gradients_match_the_plain_forward(tiny_data, tmp_path):
    trainer = build_sft_trainer(sft_config(tiny_data, tmp_path / "p"))
    model = trainer.model
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    inputs = {k: v for k, v in batch.items() if k != "sample_weight"}

    plain = model(**inputs, use_cache=False, fused_lm_head=True)
    (-plain.log_probs.sum()).backward()
    plain_grad = model.model.language_model.layers[0].self_attn.q_proj.weight.grad.clone()
    model.zero_grad()
    shared = shared_prefix_scores(model, inputs)
    (-shared.log_probs.sum()).backward()
    shared_grad = model.model.language_model.layers[0].self_attn.q_proj.weight.grad

    assert torch.equal(shared.label_mask, plain.label_mask) and shared.label_mask.any()
    assert torch.allclose(shared.log_probs, plain.log_probs, atol=1e-4)
    assert torch.equal(shared.is_top1, plain.is_top1)
    assert torch.allclose(shared_grad, plain_grad, atol=1e-5, rtol=1e-3)
    assert plain_grad.abs().sum() > 0


def test_sft_with_a_shared_prefix_trains_like_the_plain_one(tiny_data, tmp_path):
    losses = {}
    for shared in (False, True):
        config = sft_config(tiny_data, tmp_path / str(shared), max_steps=3, model=ModelConfig(shared_prefix=shared))
        trainer = build_sft_trainer(config)
        trainer.train()
        losses[shared] = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    assert len(losses[True]) == 3
    assert losses[True] == pytest.approx(losses[False], rel=1e-3)
