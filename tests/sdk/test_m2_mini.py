"""The embedded model ``m2-mini``: the shipped checkpoint is the one its script made, it is small, it
answers in both modes, and its published quality table is complete and reproducible.

The fast tests check the shipped folder (``m2sdk/assets/m2-mini``) against its provenance and ask it
questions about freshly rendered rooms. The slow test re-measures ``QUALITY.md`` with ``m2 eval``'s own
code on the script's held-out set (seed 90001, never used in training). Whether the model beats its
baselines is what the table says (today on camera distance and object size; see docs/m2_mini.md), not something
asserted here; that it reads the frame for camera distance is (tests/train/test_image_use.py).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from m2sdk.model.checkpoint import load_model
from m2sdk.model.presets import BUNDLED, PRESETS, bundled_checkpoint

MAX_WEIGHTS_BYTES = 20 * 1024 * 1024
FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "preprocessor_config.json")
TASKS = ("camera_distance", "relative_distance", "relative_direction", "object_count", "object_size")
ROOMS = dict(width=224, height=168, objects=(3, 5), unique_colours=True, units="metres")  # as train_m2_mini.sh


@pytest.fixture(scope="module")
def mini():
    import m2sdk

    return m2sdk.load("m2-mini", backend="torch")


def synth(folder, n: int, seed: int, tasks=TASKS, per_scene: int = 1):
    from m2sdk.data.synth import SynthConfig, synthesize

    return synthesize(SynthConfig(folder, n=n, seed=seed, tasks=tasks, per_scene=per_scene, **ROOMS))


def test_bundled_folder_is_complete_small_and_the_one_its_script_made():
    import hashlib

    folder = bundled_checkpoint("m2-mini")
    assert "m2-mini" in BUNDLED and "m2-mini" not in PRESETS
    for name in FILES:
        assert (folder / name).is_file(), name
    weights = folder / "model.safetensors"
    assert 1_000_000 < weights.stat().st_size <= MAX_WEIGHTS_BYTES
    provenance = json.loads((folder / "provenance.json").read_text())
    assert provenance["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert provenance["made_by"] == "bash scripts/train_m2_mini.sh"
    assert provenance["data"]["heldout"]["seed"] != provenance["data"]["train"]["seed"]


def test_provenance_names_the_recipe_in_this_repository():
    """The configs the shipped weights were trained with are the ones committed here, byte for byte: a
    recipe edited without retraining (and re-running the card) fails here."""
    import hashlib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    configs = json.loads((bundled_checkpoint("m2-mini") / "provenance.json").read_text())["configs"]
    assert {"train/configs/m2_mini_vision.yaml", "train/configs/m2_mini_sft.yaml"} <= set(configs)
    for path, digest in configs.items():
        assert hashlib.sha256((root / path).read_bytes()).hexdigest() == digest, path


def test_published_quality_tables_are_complete_and_in_the_readme():
    """QUALITY.md / quality.json (written by the script from m2 eval's reports) cover every task, the SFT and
    RL checkpoints, both baselines and every bundle precision; the README shows the same table."""
    from pathlib import Path

    folder = bundled_checkpoint("m2-mini")
    quality = json.loads((folder / "quality.json").read_text())
    for name in ("m2-mini (SFT + RL)", "m2-mini (SFT only)", "constant baseline", "random baseline"):
        assert set(TASKS) <= set(quality["heldout"][name]), name
    assert set(quality["bundles"]) == {"fp32", "fp16", "int8", "int4"}
    assert all(set(TASKS) <= set(row) for row in quality["bundles"].values())
    assert set(quality["image_use"]) == set(TASKS)  # answer loss with real / other / blank frames per task
    assert all(set(g) == {"real", "shuffled", "blank", "gap"} for g in quality["image_use"].values())
    lines = (folder / "QUALITY.md").read_text().splitlines()
    table = [line for line in lines if line.startswith("| camera_distance | MRA")]  # model, targets, bundles
    table += [line for line in lines if line.startswith("| MRA | ")]  # RL - SFT
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert len(table) == 4 and all(line in readme for line in table)


def test_target_verdicts_follow_from_the_paired_differences():
    """quality.json's targets: each verdict is the stated rule applied to the stored intervals, and a paired
    mean difference over the same questions equals the difference of the published means."""
    quality = json.loads((bundled_checkpoint("m2-mini") / "quality.json").read_text())
    targets, heldout = quality["targets"], quality["heldout"]
    model = heldout["m2-mini (SFT + RL)"]
    for task in TASKS:
        constant, random = targets["vs_constant"][task], targets["vs_random"][task]
        assert constant["low"] <= constant["mean"] <= constant["high"] and constant["n"] == quality["n"][task]
        assert constant["mean"] == pytest.approx(model[task] - heldout["constant baseline"][task], abs=1e-9)
        assert random["mean"] == pytest.approx(model[task] - heldout["random baseline"][task], abs=1e-9)
        rule = constant["low"] > 0 and random["low"] > 0 and (task != "camera_distance" or constant["mean"] >= 0.15)
        assert targets["met"][task] == rule, task
    for task, gain in targets["rl_vs_sft"].items():
        assert gain["mean"] == pytest.approx(model[task] - heldout["m2-mini (SFT only)"][task], abs=1e-9)
    assert targets["met"]["rl_improves_numeric"] == (targets["rl_vs_sft_numeric_mean"]["low"] > 0)


def test_shipped_checkpoint_is_the_trained_init_architecture():
    from m2sdk.model.presets import preset_config

    model, processor = load_model("m2-mini")  # validates every tensor against config.json
    init = preset_config("m2-mini-init")
    assert model.config.text_config.hidden_size == init.text_config.hidden_size == 256
    assert model.config.vision_config.depth == init.vision_config.depth == 4
    assert processor.config.max_pixels == 224 * 168
    random_model, _ = load_model("m2-mini-init")
    trained, random = model.lm_head.weight.detach(), random_model.lm_head.weight.detach()
    assert trained.shape == random.shape and not np.allclose(trained.numpy(), random.numpy())


def test_camera_frames_become_48_visual_tokens():
    from m2sdk.processor import M2Processor

    processor = M2Processor.from_folder(bundled_checkpoint("m2-mini"))
    inputs = processor(np.zeros((480, 640, 3), np.uint8), "How far is the chair?", reasoning=False)
    assert inputs.image_grid_thw.tolist() == [[1, 12, 16]]  # 168x224 px: 6x8 merged tokens


def test_the_longest_count_listing_fits_the_fast_token_budget():
    """A count taught with ``data.count_listing: colours`` answers through every palette colour; a budget
    that cut it off would lose the boxed count (64 tokens did, for "plant pot"). RL rolls counts out too,
    so its completion budget must hold the listing as well (a clipped rollout has no boxed count)."""
    from pathlib import Path

    import yaml

    from m2sdk.data.scene import CATEGORIES, COLOURS_BGR
    from m2sdk.prompt import format_count_by_colour, format_fast_answer
    from m2sdk.runtime.model import FAST_MAX_NEW_TOKENS
    from m2sdk.tokenizer import M2Tokenizer

    tokenizer = M2Tokenizer.from_folder(bundled_checkpoint("m2-mini"))
    lengths = {
        category.name: len(tokenizer.encode_text(
            format_count_by_colour(category.name, list(COLOURS_BGR), set(COLOURS_BGR)) + format_fast_answer("10")
        ))
        for category in CATEGORIES
    }  # fmt: skip
    assert max(lengths.values()) <= FAST_MAX_NEW_TOKENS, lengths
    assert lengths["plant pot"] > 64, lengths  # the case the budget was raised for
    rl = yaml.safe_load((Path(__file__).resolve().parents[2] / "train/configs/m2_mini_rl.yaml").read_text())
    if any("object_count" in (d.get("tasks") or ["object_count"]) for d in rl["data"]["datasets"]):
        assert max(lengths.values()) <= rl["rollout"]["max_completion_length"], lengths


def test_the_longest_position_listing_fits_the_fast_token_budget():
    """A relative question taught with ``data.position_listing`` first says where each object it names is:
    up to five (a target and four options) with the longest names of the synthetic rooms must leave room for
    the boxed letter."""
    from m2sdk.data.scene import CATEGORIES, COLOURS_BGR
    from m2sdk.prompt import format_fast_answer, format_position_listing
    from m2sdk.runtime.model import FAST_MAX_NEW_TOKENS
    from m2sdk.tokenizer import M2Tokenizer

    tokenizer = M2Tokenizer.from_folder(bundled_checkpoint("m2-mini"))
    names = [f"{colour} {category.name}" for colour in COLOURS_BGR for category in CATEGORIES]
    longest = sorted(names, key=lambda name: -len(tokenizer.encode_text(" " + name)))[:5]
    objects = [(letter, name, -9.9, 19.9) for letter, name in zip(["", "A", "B", "C", "D"], longest, strict=True)]
    length = len(tokenizer.encode_text(format_position_listing(objects) + format_fast_answer("D")))
    assert 60 < length <= FAST_MAX_NEW_TOKENS, (length, longest)


@pytest.mark.parametrize("reasoning", [False, True])
def test_answers_a_distance_question_with_a_distance_in_both_modes(mini, tmp_path, reasoning):
    (record,) = synth(tmp_path, n=1, seed=424242, tasks=("camera_distance",))
    answer = mini.query(str(tmp_path / record.media[0]), record.question, reasoning=reasoning, bgr=False)
    assert answer.raw.startswith("<think>\n\n</think>\n<answer>\\boxed{"), answer.raw
    assert answer.value is not None and math.isfinite(answer.value), answer.raw
    assert 0.3 < answer.value < 30.0 and answer.unit in ("m", "cm", "ft"), answer.raw


def test_answers_a_choice_question_with_one_of_its_options(mini, tmp_path):
    (record,) = synth(tmp_path, n=1, seed=7, tasks=("relative_distance",))
    answer = mini.query(str(tmp_path / record.media[0]), record.question, options=record.options,
                        reasoning=False, bgr=False)  # fmt: skip
    assert answer.choice in "ABCD"[: len(record.options)], answer.raw


@pytest.mark.slow
def test_published_numbers_are_reproduced(mini, tmp_path):
    """Re-run m2 eval's code on the script's held-out set (seed 90001, same settings): the published per-task
    scores of the shipped model come back, so the README's table is a measurement, not a claim."""
    from m2sdk.data import load_records
    from m2sdk.eval.predictors import ModelPredictor
    from m2sdk.eval.runner import evaluate

    folder = bundled_checkpoint("m2-mini")
    provenance = json.loads((folder / "provenance.json").read_text())["data"]["heldout"]
    published = json.loads((folder / "quality.json").read_text())["heldout"]["m2-mini (SFT + RL)"]
    synth(tmp_path, n=provenance["n"], seed=provenance["seed"], per_scene=provenance["per_scene"])
    held_out, _ = load_records(tmp_path / "samples.jsonl")
    result = evaluate(ModelPredictor(mini, tmp_path, reasoning=False), held_out, progress=False)
    for task in TASKS:
        assert result.report.per_task[task].mean == pytest.approx(published[task], abs=0.02), task
