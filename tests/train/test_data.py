"""Training data: loss only on the answer, per-dataset pixel budgets, padding, image-token checks, TRL adapter."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from m2sdk import tokens
from m2sdk.errors import InputError
from m2sdk.model.presets import preset_processor
from m2train.config import DatasetSpec
from m2train.data import IGNORE_INDEX, SFTCollator, SFTExamples, encode_sample, load_mixture, rl_dataset, sft_dataset
from m2train.trl_processor import TRLProcessor, parse_rendered, render


@pytest.fixture(scope="module")
def processor():
    return preset_processor("m2-tiny")


def test_labels_cover_exactly_the_assistant_answer(tiny_data, processor):
    sample = load_mixture([DatasetSpec(path=str(tiny_data))])[0]
    example = encode_sample(sample, processor, "cot")
    labels = example["labels"]
    answer_ids = [int(t) for t in labels if t != IGNORE_INDEX]
    record = sample.record
    expected = f"<think>\n{record.cot}\n</think>\n<answer>\\boxed{{{record.answer} m}}</answer>"
    assert processor.tokenizer.decode(answer_ids) == expected + tokens.IM_END
    first = int(np.argmax(labels != IGNORE_INDEX))
    assert (labels[first:] != IGNORE_INDEX).all()  # one contiguous span at the end
    patch = processor.tokenizer.id_of(tokens.IMAGE_PATCH)
    assert (labels[example["input_ids"] == patch] == IGNORE_INDEX).all()


def test_answer_mode_uses_the_fast_prefix(tiny_data, processor):
    sample = load_mixture([DatasetSpec(path=str(tiny_data))])[1]  # a choice question
    example = encode_sample(sample, processor, "answer")
    text = processor.tokenizer.decode([int(t) for t in example["labels"] if t != IGNORE_INDEX])
    assert text.endswith(f"\\boxed{{{sample.record.answer}}}</answer>{tokens.IM_END}")


def test_per_dataset_pixel_budget(tiny_data, processor):
    small = load_mixture([DatasetSpec(path=str(tiny_data), max_pixels=28 * 28 * 4)])[0]
    large = load_mixture([DatasetSpec(path=str(tiny_data), min_pixels=112 * 112)])[0]
    assert encode_sample(small, processor, "cot")["image_grid_thw"].tolist() == [[1, 4, 4]]  # 56x56: 2x2 tokens
    assert encode_sample(large, processor, "cot")["image_grid_thw"].tolist() == [[1, 8, 8]]  # upscaled to 112x112


def test_weights_filters_and_limits(tmp_path, tiny_data):
    lines = (tiny_data / "samples.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    records[0]["weight"] = 3.0
    out = tmp_path / "w"
    out.mkdir()
    (out / "images").symlink_to(tiny_data / "images")
    (out / "samples.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\nnot json\n")
    samples = load_mixture([DatasetSpec(path=str(out), weight=0.5, tasks=["camera_distance"], max_samples=3)])
    assert [s.weight for s in samples] == [1.5, 0.5, 0.5]  # dataset weight x record weight; the bad line skipped
    assert {s.record.task for s in samples} == {"camera_distance"}


def test_collator_pads_and_concatenates(tiny_data, processor):
    ds = sft_dataset(load_mixture([DatasetSpec(path=str(tiny_data))]), processor, max_length=512)
    examples = [ds[0], ds[1]]
    batch = SFTCollator(processor)(examples)
    lengths = [len(e["input_ids"]) for e in examples]
    assert batch["input_ids"].shape == (2, max(lengths))
    assert batch["attention_mask"].sum(dim=1).tolist() == lengths
    short = int(np.argmin(lengths))
    assert (batch["labels"][short, lengths[short] :] == IGNORE_INDEX).all()
    assert batch["pixel_values"].shape[0] == int(batch["image_grid_thw"].prod(dim=1).sum())
    assert batch["sample_weight"].tolist() == [1.0, 1.0]


def test_truncated_image_tokens_are_caught_before_the_step(tiny_data, processor):
    ds = sft_dataset(load_mixture([DatasetSpec(path=str(tiny_data))]), processor, max_length=512)
    example = dict(ds[0])
    patch = processor.tokenizer.id_of(tokens.IMAGE_PATCH)
    example["input_ids"] = example["input_ids"][example["input_ids"] != patch][:50]  # cut through the image
    with pytest.raises(InputError, match="imagePatch"):
        SFTCollator(processor)([example])


def test_too_long_samples_are_skipped_not_truncated(tiny_data, processor, caplog):
    samples = load_mixture([DatasetSpec(path=str(tiny_data))])
    examples = SFTExamples(samples, processor, max_length=10)
    with pytest.raises(InputError, match="unusable"):
        examples[0]
    assert "never truncated" in caplog.text


def test_missing_image_is_replaced_by_the_next_sample(tmp_path, tiny_data, processor):
    samples = load_mixture([DatasetSpec(path=str(tiny_data))])
    broken = samples[0].media_paths()[0]
    copy = tmp_path / "d"
    import shutil

    shutil.copytree(tiny_data, copy)
    samples = load_mixture([DatasetSpec(path=str(copy))])
    (copy / broken.relative_to(tiny_data)).write_bytes(b"not a png")
    example = SFTExamples(samples, processor, max_length=512)[0]
    assert example["id"] == samples[1].record.id


def test_rl_rows_and_lazy_images(tiny_data, processor):
    samples = load_mixture([DatasetSpec(path=str(tiny_data), max_pixels=28 * 28 * 4)])
    ds = rl_dataset(samples, processor.config)
    row = ds[1]
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["prompt"][1]["content"].endswith("Options:\nA. left\nB. right")
    assert row["answer"] == samples[1].record.answer and row["options"] == ["left", "right"]
    assert len(row["images"]) == 1 and row["images"][0].shape == (56, 56, 3)  # resized to the dataset budget
    assert ds.data.column("task").to_pylist()[:2] == ["camera_distance", "relative_direction"]
    assert ds.data.column("listing").to_pylist()[:2] == ["", ""]  # only counts have a listing


def test_rl_rows_carry_a_counts_listing_as_sft_teaches_it(tmp_path, processor):
    from m2train.data import count_lead, listed_objects
    from tests.train.synthetic import labelled_rooms

    labelled_rooms(tmp_path, n=6, seed=3, objects=(3, 5), tasks=("object_count", "camera_distance"), labels=False)
    samples = load_mixture([DatasetSpec(path=str(tmp_path))])
    listings = rl_dataset(samples, processor.config).data.column("listing").to_pylist()
    for sample, listing in zip(samples, listings, strict=True):
        if sample.record.task != "object_count":
            assert listing == ""
            continue
        assert listing == count_lead(listed_objects(sample.record), "colours") and listing.startswith("by colour: ")
        colours = {o["colour"] for o in sample.record.counted_objects()}
        assert listing.endswith(f" {len(colours)}: ")  # the running count ends at the answer
    assert any(listings)


def test_trl_processor_round_trip_and_ids_match_m2(tiny_data, processor):
    proc = TRLProcessor(processor)
    assert parse_rendered(render("sys", 2, "Q?\nOptions:\nA. x")) == ("sys", 2, "Q?\nOptions:\nA. x")
    image = np.zeros((56, 84, 3), np.uint8)
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "You answer."}]},
        {"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "How far?"}]},
    ]
    encoded = proc.apply_chat_template([messages], tokenize=True, return_dict=True, add_generation_prompt=True)
    direct = processor(image, "How far?", system="You answer.")
    assert encoded["input_ids"][0] == direct.input_ids.tolist()
    text = proc.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    short = [{"role": "system", "content": "You answer."}, {"role": "user", "content": "Hi?"}]
    batch = proc(images=[[image], None], text=[text, proc.apply_chat_template(short, tokenize=False)])
    n = len(direct)
    assert batch["input_ids"].shape[1] == n
    assert batch["input_ids"][0].tolist() == direct.input_ids.tolist()
    assert batch["attention_mask"][1, : n - batch["attention_mask"][1].sum()].sum() == 0  # left padding
    assert torch.equal(batch["mm_token_type_ids"][0], torch.from_numpy(direct.mm_token_type_ids).long())
    assert proc.batch_decode([[processor.tokenizer.id_of("<think>"), processor.tokenizer.eos_id, 5]]) == ["<think>"]


def test_video_samples_train(tmp_path, processor):
    from m2sdk.data import write_video
    from m2sdk.model.presets import build_preset

    frames = [np.full((56, 56, 3), 40 * i, np.uint8) for i in range(6)]
    write_video(tmp_path / "videos/clip.mp4", frames, fps=2.0)
    record = {
        "id": "v1", "task": "appearance_order", "media": ["videos/clip.mp4"], "media_type": "video",
        "question": "Which object appears first?", "options": ["box", "ball"], "answer": "A",
        "answer_type": "choice", "cot": "The box is seen first.",
    }  # fmt: skip
    (tmp_path / "samples.jsonl").write_text(json.dumps(record) + "\n")
    example = encode_sample(load_mixture([DatasetSpec(path=str(tmp_path))])[0], processor, "cot")
    assert example["video_grid_thw"].tolist()[0][0] >= 2 and "pixel_values" not in example
    batch = SFTCollator(processor)([example])
    weights = batch.pop("sample_weight")
    model = build_preset("m2-tiny")
    loss = model(**batch).loss
    assert torch.isfinite(loss) and weights.tolist() == [1.0]


def test_answer_mode_also_teaches_the_empty_think_block(tiny_data, processor):
    """The loss covers the fast prefix, so a fast-trained model answers when asked to reason, too."""
    sample = load_mixture([DatasetSpec(path=str(tiny_data))])[1]
    example = encode_sample(sample, processor, "answer")
    text = processor.tokenizer.decode([int(t) for t in example["labels"] if t != IGNORE_INDEX])
    assert text == f"<think>\n\n</think>\n<answer>\\boxed{{{sample.record.answer}}}</answer>{tokens.IM_END}"
