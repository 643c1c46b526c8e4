"""Run configs: the shipped YAML files load, bad fields are named, overrides apply, launcher configs parse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from m2train.config import RLRunConfig, SFTRunConfig, apply_overrides, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "train" / "configs"


SHIPPED = [("sft_tiny", "sft"), ("sft_7b", "sft"), ("rl_tiny", "rl"), ("rl_7b", "rl"), ("m2_mini_sft", "sft"),
           ("m2_mini_sft_read", "sft"), ("m2_mini_sft_count", "sft"), ("m2_mini_sft_roles", "sft"),
           ("m2_mini_sft_compare", "sft"), ("m2_mini_rl", "rl"),
           ("m2_mini_vision", "vision"), ("vision_tiny", "vision")]  # fmt: skip


@pytest.mark.parametrize("name, kind", SHIPPED)
def test_shipped_configs_load(name, kind):
    cfg = load_config(CONFIGS / f"{name}.yaml", kind)
    assert isinstance(cfg, RLRunConfig if kind == "rl" else SFTRunConfig)
    if kind == "rl":
        assert cfg.kl.beta_start > 0 and 0.0 <= cfg.kl.beta_end < cfg.kl.beta_start  # annealed
        assert cfg.optim.max_steps >= 1
    if name.endswith("7b"):
        assert cfg.model.dtype == "bfloat16" and cfg.model.gradient_checkpointing


def _write(tmp_path, data) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


BASE = {"data": {"datasets": [{"path": "d"}]}}


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"optim": {"lr": 0.1}}, "optim.lr"),
        ({"optim": {"learning_rate": -1.0}}, "optim.learning_rate"),
        ({"model": {"dtype": "int8"}}, "model.dtype"),
        ({"kl": {"beta_start": 0.0}}, "kl.beta_start"),
        ({"rollout": {"num_generations": 1}}, "rollout.num_generations"),
        ({"rollout": {"reasoning": "no"}}, "rollout.reasoning"),
        ({"optim": {"adam_epsilon": 0.0}}, "optim.adam_epsilon"),
        ({"data": {"datasets": [{"path": "d"}], "response": "both"}}, "data.response"),
        ({"data": {"datasets": [{"path": "d"}], "response": "cot", "count_listing": True}}, "data.count_listing"),
        ({"rewards": {"routes": {"geometry": "bleu"}}}, "rewards.routes.geometry"),
        ({"rewards": {"listing_weight": -0.5}}, "rewards.listing_weight"),
        ({"rewards": {"listing_weight": 0.5}, "rollout": {"reasoning": True}}, "rewards.listing_weight"),
        ({"data": {"datasets": [{"path": "d"}], "response": "cot", "position_listing": True}}, "data.position_listing"),
        ({"curriculum": {"kind": "stages", "stages": [{"until": 0.5, "max_difficulty": 0.3}]}}, "curriculum.stages"),
        ({"data": {"datasets": []}}, "data.datasets"),
    ],
)
def test_bad_fields_are_named(tmp_path, patch, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        load_config(_write(tmp_path, {**BASE, **patch}), "rl")


def test_kind_mismatch_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="m2 train rl"):
        load_config(_write(tmp_path, {**BASE, "kind": "rl"}), "sft")


def test_sft_config_rejects_rl_sections(tmp_path):
    with pytest.raises(ValueError, match="kl"):
        load_config(_write(tmp_path, {**BASE, "kl": {"beta_start": 0.02}}), "sft")


def test_overrides(tmp_path):
    cfg = load_config(_write(tmp_path, BASE), "rl")
    out = apply_overrides(cfg, output_dir="o", max_steps=7, init="ckpt")
    assert (out.output_dir, out.optim.max_steps, out.model.init) == ("o", 7, "ckpt")
    assert cfg.optim.max_steps == -1  # the original is untouched


def test_accelerate_and_deepspeed_configs_parse():
    from accelerate.commands.config.config_args import ClusterConfig

    zero3 = ClusterConfig.from_yaml_file(str(CONFIGS / "deepspeed_zero3.yaml"))
    assert zero3.distributed_type == "DEEPSPEED" and zero3.deepspeed_config["zero_stage"] == 3
    fsdp = ClusterConfig.from_yaml_file(str(CONFIGS / "fsdp2.yaml"))
    assert fsdp.distributed_type == "FSDP" and fsdp.fsdp_config["fsdp_version"] == 2
    ds = json.loads((CONFIGS / "deepspeed_zero3.json").read_text())
    assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    assert "accelerate launch" in (CONFIGS / "slurm_multinode.sh").read_text()


def test_m2_mini_recipe_is_fast_mode_end_to_end():
    """SFT teaches answers in both prompt forms; RL rolls out in the fast mode the SFT model learned."""
    from m2train.common import training_kwargs

    sft = load_config(CONFIGS / "m2_mini_sft.yaml", "sft")
    count = load_config(CONFIGS / "m2_mini_sft_count.yaml", "sft")
    roles = load_config(CONFIGS / "m2_mini_sft_roles.yaml", "sft")
    compare = load_config(CONFIGS / "m2_mini_sft_compare.yaml", "sft")
    rl = load_config(CONFIGS / "m2_mini_rl.yaml", "rl")
    assert sft.data.response == count.data.response == "answer" and rl.rollout.reasoning is False
    assert count.model.init == f"{sft.output_dir}/final" and count.data.count_listing == "colours"
    assert roles.model.init == f"{count.output_dir}/final" and compare.model.init == f"{roles.output_dir}/final"
    for stage in (roles, compare):  # the later stages keep the counting stage's answers and layer 0's grounding
        assert stage.data.response == "answer" and stage.data.count_listing == "colours"
        assert (stage.grounding[0].layer, stage.grounding[0].at) == (0, "mentions")
        assert (stage.grounding[1].at, stage.grounding[1].keys) == ("answer", "mentions")
    assert roles.role_code.comparison_layer is None and not roles.role_code.polarity
    assert (compare.role_code.comparison_layer, compare.role_code.polarity) == (3, True)  # the last layer
    assert rl.model.init == f"{compare.output_dir}/final" and rl.rewards.numeric == "ednm"
    assert training_kwargs(sft)["adam_epsilon"] == sft.optim.adam_epsilon == 1e-12
    vision = load_config(CONFIGS / "m2_mini_vision.yaml", "vision")
    read = load_config(CONFIGS / "m2_mini_sft_read.yaml", "sft")
    assert read.model.init == f"{vision.output_dir}/final"  # SFT reads the code the vision stage wrote
    assert sft.model.init == f"{read.output_dir}/final" and read.data.response == "answer"
    assert [d.tasks for d in read.data.datasets] == [["camera_distance"]]  # the reading stage is one task
    for later in (read, sft, count, roles, compare, rl):
        assert later.model.freeze_vision and later.model.freeze_projector


def test_vision_code_sections(tmp_path):
    from m2train.config import VisionRunConfig

    sft = load_config(_write(tmp_path, {**BASE, "vision_code": {"weight": 0.5, "seed": 3}}), "sft")
    assert sft.vision_code.weight == 0.5 and sft.vision_code.seed == 3
    assert load_config(_write(tmp_path, {**BASE, "vision_code": None}), "sft").vision_code is None
    assert load_config(_write(tmp_path, BASE), "sft").vision_code is None  # off unless asked for
    vision = load_config(_write(tmp_path, BASE), "vision")
    assert isinstance(vision, VisionRunConfig) and vision.vision_code.weight == 1.0
    with pytest.raises(ValueError, match=r"vision_code\.weight"):
        load_config(_write(tmp_path, {**BASE, "vision_code": {"weight": 0}}), "vision")
    frozen = {"model": {"freeze_vision": True, "freeze_projector": True}, "vision_code": {"weight": 1.0}}
    with pytest.raises(ValueError, match="would train nothing"):
        load_config(_write(tmp_path, {**BASE, **frozen}), "sft")
    with pytest.raises(ValueError, match=r"vision_code\.colours"):
        load_config(_write(tmp_path, {**BASE, "vision_code": {"colours": "red"}}), "sft")
