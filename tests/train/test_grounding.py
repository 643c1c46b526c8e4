"""Attention grounding (m2train.grounding): targets from the dense labels, the loss, and SFT with it."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from m2sdk.data.dataset import load_records
from m2sdk.data.labels import object_cells, read_labels
from m2sdk.errors import InputError
from m2train.config import GroundingConfig, ModelConfig, load_config
from m2train.grounding import (
    MAX_GROUPS,
    SINK,
    SPREAD,
    grounding_loss,
    group_cells,
    listing_groups,
    look_plan,
    mention_map,
    mention_phrases,
    ordered_targets,
    target_groups,
)
from m2train.sft import build_sft_trainer
from tests.train.conftest import sft_config
from tests.train.synthetic import labelled_rooms

IMAGE = 5  # token id standing for <imagePatch> in the hand-made batches below


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    tasks = ("camera_distance", "relative_distance", "object_count")
    return labelled_rooms(tmp_path_factory.mktemp("grounded"), n=24, seed=4, objects=(2, 4), tasks=tasks)


def test_target_groups_give_one_head_per_object_and_one_for_all_counted_instances():
    assert target_groups("relative_direction", ["a", "b", "c"]) == [["a"], ["b"], ["c"]]
    assert target_groups("object_count", ["a", "b"]) == [["a", "b"]]
    assert target_groups("camera_distance", []) == []


def test_object_cells_are_the_cells_the_instance_map_shows(labelled):
    records, _ = load_records(labelled / "samples.jsonl")
    record = next(r for r in records if len(r.scene["targets"]) >= 2)
    scene = record.scene
    ids = read_labels(labelled, scene["labels"]).instances  # (84, 112)
    names = [o["name"] for o in scene["objects"]]
    cells = object_cells(scene, labelled, (84, 112), 28, [*scene["targets"], "no such object"])
    assert cells.shape == (12, len(scene["targets"]) + 1) and not cells[:, -1].any()
    blocks = ids.reshape(3, 28, 4, 28).transpose(0, 2, 1, 3).reshape(12, -1)
    for j, name in enumerate(scene["targets"]):
        pixels = (blocks == names.index(name)).sum(axis=1)
        if pixels.max() == 0:
            assert not cells[:, j].any()
            continue
        assert cells[int(pixels.argmax()), j]  # its fullest cell, however small it is
        assert not cells[pixels == 0, j].any()  # never a cell without a pixel of it
    empty = object_cells({**scene, "objects": []}, labelled, (84, 112), 28, scene["targets"])
    assert empty.shape == (12, len(scene["targets"])) and not empty.any()


def test_one_cell_per_object_is_the_centre_cell_the_vision_code_marks(labelled):
    from m2sdk.data.labels import cell_targets

    records, _ = load_records(labelled / "samples.jsonl")
    centres_seen = 0
    for record in records[:12]:
        scene = record.scene
        names = [o["name"] for o in scene["objects"]]
        every = object_cells(scene, labelled, (84, 112), 28, names)
        one = object_cells(scene, labelled, (84, 112), 28, names, one_per_object=True)
        visible = every.any(axis=0)
        np.testing.assert_array_equal(one.sum(axis=0), visible.astype(int))  # one cell per object in view
        assert not (one & ~every).any()  # and a cell that shows it
        colours = sorted({o["colour"] for o in scene["objects"]})
        categories = sorted({o["category"] for o in scene["objects"]})
        marked = cell_targets(scene, labelled, (84, 112), 28, colours=colours, categories=categories).is_centre
        assert not (marked & ~one.any(axis=1)).any()  # every marked centre is some object's one cell
        centres_seen += int(marked.sum())
    assert centres_seen > 0


def test_group_cells_and_phrases_follow_the_question(labelled):
    records, _ = load_records(labelled / "samples.jsonl")
    count = next(r for r in records if r.task == "object_count")
    relative = next(r for r in records if r.task == "relative_distance")
    groups = target_groups(relative.task, relative.scene["targets"])
    cells = group_cells(relative, labelled, (84, 112), 28, groups)
    expected = object_cells(relative.scene, labelled, (84, 112), 28, relative.scene["targets"])
    np.testing.assert_array_equal(cells, expected.astype(np.float32))
    assert mention_phrases(relative, groups) == groups  # objects are named by their names
    category = next(o["category"] for o in count.scene["objects"] if o["name"] == count.scene["targets"][0])
    assert mention_phrases(count, target_groups(count.task, count.scene["targets"])) == [
        sorted({category + "s" if not category.endswith(("s", "x", "ch")) else category + "es", category}, key=len)[
            ::-1
        ]
    ]
    unlabelled = dataclasses.replace(relative, scene={**relative.scene, "labels": None})
    assert group_cells(unlabelled, labelled, (84, 112), 28, groups).sum() == 0


def test_look_plan_at_answer_positions_and_at_mentions():
    ids = np.array([1, 7, 8, 9, 7, 8, 4, 5, 6])
    labels = np.array([-100] * 7 + [5, 6])
    answer = look_plan(ids, labels, groups=2, heads=3, at="answer")
    np.testing.assert_array_equal(answer, [[-1] * 6 + [0, 0, -1], [-1] * 6 + [1, 1, -1], [-1] * 9])
    mentions = look_plan(ids, labels, groups=2, heads=2, at="mentions", phrase_ids=[[[7, 8]], [[9], [8]]])
    # every supervised head plans the same looks; a token keeps the first group that claims it
    np.testing.assert_array_equal(mentions, [[-1, 0, 0, 1, 0, 0, -1, -1, -1]] * 2)
    later = look_plan(ids, labels, groups=2, heads=1, at="mentions", phrase_ids=[[[7, 8]], [[9]]], search_from=2)
    np.testing.assert_array_equal(later, [[-1, -1, -1, 1, 0, 0, -1, -1, -1]])  # words before the image: free


def test_look_plan_marks_spread_looks():
    ids = np.array([1, 7, 8, 9, 7, 8])
    plan = look_plan(ids, np.full(6, -100), groups=1, heads=2, at="mentions", phrase_ids=[[[7, 8]]], spread=True)
    np.testing.assert_array_equal(plan, [[-1, SPREAD, SPREAD, -1, SPREAD, SPREAD]] * 2)


def test_spread_loss_is_least_when_attention_is_even_over_the_cells_and_the_sink():
    input_ids = torch.tensor([[1, IMAGE, IMAGE, IMAGE, 9, 10]])
    targets = torch.zeros(3, 2 * MAX_GROUPS)
    targets[[0, 2], SPREAD] = 1.0  # group 0 counts two objects, one cell each: image tokens 1 and 3
    plan = torch.full((1, 1, 6), -1)
    plan[0, 0, 5] = SPREAD  # the last position (a mention) spreads its look over group 0

    def loss(at_keys: dict[int, float]) -> float:
        weights = torch.zeros(1, 1, 6, 6)
        for key, share in at_keys.items():
            weights[0, 0, 5, key] = share
        return grounding_loss(weights, plan, input_ids, IMAGE, targets).item()

    even = loss({SINK: 1 / 3, 1: 1 / 3, 3: 1 / 3})
    assert even == pytest.approx(-math.log(1 / 3 + 1e-6), rel=1e-5)
    assert loss({1: 0.5, 3: 0.5}) > even + 1  # all on the objects: the sink says nothing
    assert loss({SINK: 0.2, 1: 0.6, 3: 0.2}) > even  # uneven between the objects
    assert loss({SINK: 0.25, 1: 0.25, 3: 0.25, 2: 0.25}) > even  # a share on a cell that is no object


def test_count_mentions_spread_over_one_cell_per_counted_object(labelled, tmp_path):
    grounding = GroundingConfig(at="mentions", heads=2, count="instances")
    trainer = build_sft_trainer(sft_config(labelled, tmp_path / "m", grounding=grounding))
    seen = set()
    for example in trainer.train_dataset:
        record = next(r for r in load_records(labelled / "samples.jsonl")[0] if r.id == example["id"])
        plan, cells = np.asarray(example["grounding_plan"])[0], np.asarray(example["grounding_targets"])
        if record.task == "object_count":
            assert set(np.unique(plan)) == {-1, SPREAD}
            assert cells[:, SPREAD].sum() == int(record.answer)  # every counted instance in view, one cell each
            assert cells[:, 0].sum() >= cells[:, SPREAD].sum()  # the group look's column: all their cells
        else:
            assert plan.max() < SPREAD
        seen.add(record.task)
    assert "object_count" in seen and len(seen) > 1
    with pytest.raises(ValueError, match=r"grounding\.count"):
        GroundingConfig(count="every cell")


def test_sft_examples_plan_mentions_of_the_named_objects(labelled, tmp_path):
    grounding = GroundingConfig(at="mentions", heads=1)
    trainer = build_sft_trainer(sft_config(labelled, tmp_path / "m", grounding=grounding))
    tokenizer = trainer.m2_processor.tokenizer
    for i in range(6):
        example = trainer.train_dataset[i]
        record = next(r for r in load_records(labelled / "samples.jsonl")[0] if r.id == example["id"])
        plan, ids = np.asarray(example["grounding_plan"])[0, 0], np.asarray(example["input_ids"])
        assert np.asarray(example["grounding_targets"]).shape == (12, 2 * MAX_GROUPS)
        named = tokenizer.decode(ids[plan == 0].tolist())
        if record.task == "object_count":
            assert "image" not in named and named.strip()
        else:
            assert named.strip().startswith(record.scene["targets"][0]), (named, record.scene["targets"])


def _batch():
    """Two samples, 8 positions: prompt, 3 image tokens, answer. Sample 1's answer is one token shorter."""
    input_ids = torch.tensor([[1, IMAGE, IMAGE, IMAGE, 9, 10, 11, 12], [1, IMAGE, IMAGE, IMAGE, 9, 10, 11, 0]])
    labels = torch.full_like(input_ids, -100)
    labels[0, 5:8] = input_ids[0, 5:8]
    labels[1, 5:7] = input_ids[1, 5:7]
    targets = torch.tensor([[1.0, 0.0], [0, 0], [0, 1], [0, 0], [1, 0], [0, 0]])  # 6 image tokens, 2 groups
    plan = torch.stack(
        [
            torch.as_tensor(look_plan(ids.numpy(), lab.numpy(), 2, 2, "answer"))
            for ids, lab in zip(input_ids, labels, strict=True)
        ]
    )
    return input_ids, plan, targets


def test_grounding_loss_is_minus_log_attention_mass_on_the_target_cells():
    input_ids, plan, targets = _batch()
    weights = torch.zeros(2, 4, 8, 8)
    weights[..., 0] = 1.0  # every head looks at the first token: no mass on any target
    weights[0, 0, :, 1] = 1.0
    weights[0, 0, :, 0] = 0.0  # sample 0, head 0: all of it on its target cell
    weights[1, 0, :, 0], weights[1, 0, :, 2] = 0.75, 0.25  # sample 1, head 0: a quarter on its target
    # supervised: sample 0 head 0 (3 answer positions) and head 1 (3), sample 1 head 0 (2); group 1 of
    # sample 1 has no cell and heads 2-3 are not planned.
    expected = (3 * -math.log(1e-6 + 1.0) + 3 * -math.log(1e-6) + 2 * -math.log(0.25 + 1e-6)) / 8
    assert grounding_loss(weights, plan, input_ids, IMAGE, targets).item() == pytest.approx(expected, rel=1e-5)
    prefix_apart = weights[:, :, 3:]  # the shared prompt prefix (3 positions) computed apart: same queries
    assert grounding_loss(prefix_apart, plan, input_ids, IMAGE, targets).item() == pytest.approx(expected, rel=1e-5)


def test_grounding_loss_needs_one_row_per_media_token_and_something_to_supervise():
    input_ids, plan, targets = _batch()
    weights = torch.full((2, 4, 8, 8), 1 / 8)
    assert grounding_loss(weights, plan, input_ids, IMAGE, torch.zeros_like(targets)) is None
    assert grounding_loss(weights, torch.full_like(plan, -1), input_ids, IMAGE, targets) is None
    with pytest.raises(InputError, match="grounding rows"):
        grounding_loss(weights, plan, input_ids, IMAGE, targets[:5])


def test_a_look_at_the_words_is_minus_log_attention_mass_on_the_words_naming_its_object():
    input_ids, plan, targets = _batch()  # the answer looks of head g at group g, from positions 4-6 / 4-5
    mentions = torch.tensor([[-1, -1, -1, -1, 0, 1, -1, -1], [-1, -1, -1, -1, 0, -1, -1, -1]])
    weights = torch.zeros(2, 4, 8, 8)
    weights[..., 0] = 1.0
    weights[0, 0, :, 0], weights[0, 0, :, 4] = 0.5, 0.5  # sample 0, head 0: half on the words of group 0
    weights[0, 1, :, 0], weights[0, 1, :, 5] = 0.0, 1.0  # sample 0, head 1: all on the words of group 1
    weights[1, 0, :, 0], weights[1, 0, :, 2] = 0.0, 1.0  # sample 1, head 0: on group 0's *cell*, not its word
    # supervised: sample 0 heads 0 and 1 (3 answer positions each), sample 1 head 0 (2): its group 1 is
    # named nowhere, so head 1 is free however the cells are labelled
    expected = (3 * -math.log(0.5 + 1e-6) + 3 * -math.log(1 + 1e-6) + 2 * -math.log(1e-6)) / 8
    loss = grounding_loss(weights, plan, input_ids, IMAGE, targets, mentions)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert grounding_loss(weights, plan, input_ids, IMAGE, targets).item() != pytest.approx(expected, rel=1e-2)
    assert grounding_loss(weights, plan, input_ids, IMAGE, targets, torch.full_like(mentions, -1)) is None


def test_mention_map_keeps_the_prompt_words_only():
    ids = np.array([1, 7, 8, 9, 4, 7, 8])  # the answer (positions 5-6) repeats group 0's name
    labels = np.array([-100] * 5 + [7, 8])
    named = look_plan(ids, labels, groups=2, heads=1, at="mentions", phrase_ids=[[[7, 8]], [[9]]])[0]
    np.testing.assert_array_equal(named, [-1, 0, 0, 1, -1, 0, 0])
    np.testing.assert_array_equal(mention_map(named, labels), [-1, 0, 0, 1, -1, -1, -1])
    np.testing.assert_array_equal(mention_map(named, np.full(7, -100)), named)  # no answer: all of it is prompt


def test_answer_looks_at_the_words_find_each_role_and_train(labelled, tmp_path):
    """``keys: mentions``: from the answer, head g looks at the words naming the question's g-th object
    (for relative distance: the reference object, then the options in letter order)."""
    words = GroundingConfig(weight=1.0, layer=1, heads=4, at="answer", keys="mentions")
    mentions = GroundingConfig(weight=1.0, layer=0, heads=4, at="mentions")
    model = ModelConfig(freeze_vision=True, freeze_projector=True, shared_prefix=True)
    config = sft_config(labelled, tmp_path / "w", max_steps=20, lr=3e-3, batch=8, model=model,
                        grounding=[mentions, words])  # fmt: skip
    config.data.response = "answer"
    trainer = build_sft_trainer(config)
    tokenizer = trainer.m2_processor.tokenizer
    records = {r.id: r for r in load_records(labelled / "samples.jsonl")[0]}
    checked = counts = 0
    for example in trainer.train_dataset:
        record = records[example["id"]]
        if record.task == "object_count":  # no roles: its answer's looks at layer 1 stay free for the count
            assert (np.asarray(example["grounding_plan"])[1] == -1).all()
            counts += 1
        if record.task != "relative_distance":
            continue
        ids, labels = np.asarray(example["input_ids"]), np.asarray(example["labels"])
        named, plan = np.asarray(example["grounding_mentions"]), np.asarray(example["grounding_plan"])[1]
        roles = ordered_targets(record)
        assert [tokenizer.decode(ids[named == g].tolist()).strip() for g in range(len(roles))] == roles
        assert (named[labels != -100] == -1).all()
        answering = np.flatnonzero(plan[0] >= 0)
        assert len(answering) and all((plan[g, answering] == g).all() for g in range(min(4, len(roles))))
        checked += 1
    assert checked >= 2 and counts >= 1
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(3)])
    assert batch["grounding_mentions"].shape == batch["input_ids"].shape
    trainer.train()
    logged = [r["grounding_loss_1"] for r in trainer.state.log_history if "grounding_loss_1" in r]
    assert len(logged) == 20 and sum(logged[-5:]) < 0.5 * sum(logged[:5]), logged


def _loss_parts(trainer, shared_prefix: bool) -> tuple[float, float]:
    trainer.m2_shared_prefix = shared_prefix
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(6)])
    trainer._metrics["train"].clear()
    with torch.no_grad():
        total = trainer.compute_loss(trainer.model, dict(batch)).item()
    return total, trainer._metrics["train"]["grounding_loss"][-1]


def test_sft_grounding_loss_is_the_same_with_and_without_the_shared_prefix_and_falls(labelled, tmp_path):
    model = ModelConfig(freeze_vision=True, freeze_projector=True, shared_prefix=True)
    config = sft_config(labelled, tmp_path / "g", max_steps=30, lr=3e-3, batch=8, model=model,
                        grounding=GroundingConfig(weight=1.0, layer=1, heads=3, at="answer"))  # fmt: skip
    trainer = build_sft_trainer(config)
    shared, plain = _loss_parts(trainer, True), _loss_parts(trainer, False)
    assert shared == pytest.approx(plain, rel=1e-4) and plain[1] > 0
    trainer.m2_shared_prefix = True
    trainer.train()
    logged = [r["grounding_loss"] for r in trainer.state.log_history if "grounding_loss" in r]
    assert len(logged) == 30 and sum(logged[-5:]) < 0.7 * sum(logged[:5]), logged


def test_recomputed_attention_equals_the_eager_weights(labelled, tmp_path):
    """The capture recomputes one layer's softmax weights from its queries and keys: they must equal what
    eager attention returns, with and without the shared prompt prefix (which reads keys from the cache)."""
    config = sft_config(labelled, tmp_path / "c", grounding=GroundingConfig(layer=1, heads=2, at="answer"))
    trainer = build_sft_trainer(config)
    model = trainer.model
    assert model.config._attn_implementation != "eager"  # the model keeps its fast attention
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(3)])
    model.set_attn_implementation("eager")  # only to have a reference
    eager = {}
    handle = trainer.m2_groundings[0][0].attention.register_forward_hook(lambda _m, _a, out: eager.update(w=out[1]))
    try:
        for shared in (False, True):
            trainer.m2_shared_prefix = shared
            with torch.no_grad():
                trainer.compute_loss(model, dict(batch))
            ours = trainer.m2_groundings[0][0].probabilities(batch["attention_mask"])  # (B, H, Q, S)
            queries, keys = ours.shape[-2:]
            assert (queries < keys) == shared and ours.shape == eager["w"].shape
            real = batch["attention_mask"][:, keys - queries :].bool()  # real query rows
            torch.testing.assert_close(ours.permute(0, 2, 1, 3)[real], eager["w"].float().permute(0, 2, 1, 3)[real])
            future = torch.ones(queries, keys, dtype=torch.bool).triu(keys - queries + 1)
            assert float(ours[..., future].abs().max()) == 0.0
    finally:
        handle.remove()


def test_grounding_config_is_checked(tmp_path, labelled):
    with pytest.raises(ValueError, match=r"grounding\.layer"):
        GroundingConfig(layer=0, at="answer")
    with pytest.raises(ValueError, match=r"grounding\.at"):
        GroundingConfig(at="everywhere")
    with pytest.raises(ValueError, match=r"grounding\.keys"):
        GroundingConfig(layer=1, at="answer", keys="pixels")
    with pytest.raises(ValueError, match="keys: mentions needs at: answer"):
        GroundingConfig(at="mentions", keys="mentions")
    with pytest.raises(InputError, match="attention heads"):
        build_sft_trainer(sft_config(labelled, tmp_path / "h", grounding=GroundingConfig(heads=64)))
    with pytest.raises(InputError, match=r"grounding\.layer 9"):
        build_sft_trainer(sft_config(labelled, tmp_path / "l", grounding=GroundingConfig(layer=9)))
    rl = tmp_path / "rl.yaml"
    rl.write_text(f"data:\n  datasets:\n    - path: {labelled}\ngrounding:\n  weight: 0.3\n")
    with pytest.raises(ValueError, match="grounding is an SFT option"):
        load_config(rl, "rl")
    with pytest.raises(ValueError, match="grounding is an SFT option"):
        load_config(rl, "vision")


def test_grounding_is_one_section_or_a_list_of_sections_on_different_layers(tmp_path, labelled):
    data = f"data:\n  datasets:\n    - path: {labelled}\n"
    one = tmp_path / "one.yaml"
    one.write_text(data + "grounding:\n  weight: 1.0\n  heads: 4\n")
    assert load_config(one, "sft").grounding == [GroundingConfig(weight=1.0, heads=4)]
    two = tmp_path / "two.yaml"
    two.write_text(data + "grounding:\n  - {heads: 4}\n  - {layer: 1, heads: 4, at: answer, count: instances}\n")
    looks = load_config(two, "sft").grounding
    assert [(g.layer, g.at, g.count) for g in looks] == [(0, "mentions", "group"), (1, "answer", "instances")]
    same = tmp_path / "same.yaml"
    same.write_text(data + "grounding:\n  - {layer: 1}\n  - {layer: 1, at: answer}\n")
    with pytest.raises(ValueError, match="same layer"):
        load_config(same, "sft")
    bad = tmp_path / "bad.yaml"
    bad.write_text(data + "grounding:\n  - {layer: 0, colour: red}\n")
    with pytest.raises(ValueError, match=r"grounding\[0\]\.colour"):
        load_config(bad, "sft")


def test_answer_looks_take_the_options_in_letter_order(labelled):
    records, _ = load_records(labelled / "samples.jsonl")
    relative = next(r for r in records if r.task == "relative_distance")
    ordered = ordered_targets(relative)
    assert sorted(ordered) == sorted(relative.scene["targets"])
    assert ordered[-len(relative.options) :] == relative.options  # head g + 1 looks at option letter g
    assert ordered[0] not in relative.options  # the object distances are measured from
    count = next(r for r in records if r.task == "object_count")
    assert ordered_targets(count) == count.scene["targets"]  # no options: as the question names them


def test_two_groundings_supervise_their_own_layers(labelled, tmp_path):
    mentions = GroundingConfig(weight=1.0, layer=0, heads=4, at="mentions")
    answer = GroundingConfig(weight=1.0, layer=1, heads=2, at="answer", count="instances")
    config = sft_config(labelled, tmp_path / "two", max_steps=2, batch=8, grounding=[mentions, answer])
    trainer = build_sft_trainer(config)
    assert [c.attention.layer_idx for c, *_ in trainer.m2_groundings] == [0, 1]
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(8)])
    assert batch["grounding_plan"].shape[:3] == (8, 2, 4)
    answers = batch["grounding_plan"][:, 1]
    assert (answers[:, 2:] == -1).all()  # the answer grounding supervises 2 heads
    counted = [i for i in range(8) if trainer.train_dataset[i]["id"].endswith("object_count")]
    assert counted and all(int(answers[i].max()) == SPREAD for i in counted)  # a count's answer look spreads
    trainer.train()
    logged = {k for r in trainer.state.log_history for k in r}
    assert {"grounding_loss", "grounding_loss_1"} <= logged


def _listed_examples(labelled, tmp_path, listing):
    """(record, ids, fast answer text, plan of head 0, targets, tokenizer) of every SFT example."""
    config = sft_config(labelled, tmp_path / "m", grounding=GroundingConfig(at="mentions", heads=2))
    config.data.response, config.data.count_listing = "answer", listing
    trainer = build_sft_trainer(config)
    tokenizer = trainer.m2_processor.tokenizer
    records = {r.id: r for r in load_records(labelled / "samples.jsonl")[0]}
    for example in trainer.train_dataset:
        ids, labels = np.asarray(example["input_ids"]), np.asarray(example["labels"])
        answer = tokenizer.decode(ids[labels != -100].tolist()).split("<answer>")[-1]
        plan, cells = np.asarray(example["grounding_plan"])[0, 0], np.asarray(example["grounding_targets"])
        yield records[example["id"]], ids, answer, plan, cells, tokenizer


def test_count_listing_names_the_counted_objects_most_visible_first_and_grounds_each_colour(labelled, tmp_path):
    counts = 0
    for record, ids, answer, plan, cells, tokenizer in _listed_examples(labelled, tmp_path, "objects"):
        if record.task != "object_count":
            assert answer.startswith("\\boxed{")  # other tasks answer as before
            continue
        counts += 1
        objects = {o["name"]: o for o in record.scene["objects"]}
        counted = sorted(record.scene["targets"], key=lambda n: -objects[n]["visible_px"])
        category = objects[counted[0]]["category"]
        items = [f"{i} {category} {objects[n]['colour']}" for i, n in enumerate(counted, 1)]
        n = len(counted)
        assert answer.startswith(", ".join([*items, f"{n + 1} {category} none"]) + ": \\boxed{" + str(n) + "}")
        listed = counted[: MAX_GROUPS - 1]
        for g, name in enumerate(listed):  # each listed colour looks at its own object's cells
            assert tokenizer.decode(ids[plan == g].tolist()).split() == [objects[name]["colour"]]
            assert np.array_equal(cells[:, g], group_cells(record, labelled, (84, 112), 28, [[name]])[:, 0])
        words = tokenizer.decode(ids[plan == len(listed)].tolist()).split()
        assert words and all(w.startswith(category.split()[0]) or w in category.split() for w in words)
        assert words.count(category.split()[-1]) >= n + 1  # the category word before every item and "none"
    assert counts >= 3


def test_listing_groups_and_when_a_count_is_not_listed():
    from types import SimpleNamespace as R

    from m2train.data import listed_objects

    pots = [{"name": f"{c} plant pot", "category": "plant pot", "colour": c, "visible_px": px} for c, px in
            (("red", 10), ("blue", 90), ("green", 50), ("pink", 5), ("white", 3), ("black", 1))]  # fmt: skip
    ball = {"name": "cyan ball", "category": "ball", "colour": "cyan", "visible_px": 70}
    scene = {"objects": [ball, *pots], "targets": [o["name"] for o in pots]}
    record = R(task="object_count", scene=scene, counted_objects=lambda: sorted(pots, key=lambda o: -o["visible_px"]))
    listed = listed_objects(record)
    assert [o["colour"] for o in listed] == ["blue", "green", "red", "pink", "white", "black"]
    groups, phrases = listing_groups(record, listed)
    assert groups == [[o["name"]] for o in listed[: MAX_GROUPS - 1]] + [[o["name"] for o in listed]]
    assert phrases == [[o["colour"]] for o in listed[: MAX_GROUPS - 1]] + [["plant pots", "plant pot"]]
    by_colour, colour_phrases = listing_groups(record, listed, by_colour=True)  # every room object, in order
    assert by_colour[:2] == [["cyan ball"], ["red plant pot"]] and colour_phrases[0] == ["cyan"]
    assert len(by_colour) == MAX_GROUPS and by_colour[-1] == [o["name"] for o in listed]
    plain = [{**o, "colour": None} for o in pots]
    assert listed_objects(R(task="object_count", scene=scene, counted_objects=lambda: plain)) is None
    twins = [{**o, "colour": "red"} for o in pots]  # two red pots: "red plant pot" would name both
    assert listed_objects(R(task="object_count", scene=scene, counted_objects=lambda: twins)) is None
    odd = [{**o, "colour": "teal"} for o in pots]  # not a colour of the palette: nothing to go through
    assert listed_objects(R(task="object_count", scene=scene, counted_objects=lambda: odd)) is None
    assert listed_objects(R(task="camera_distance", scene=scene, counted_objects=lambda: pots)) is None


def test_count_by_colour_goes_through_the_palette_with_a_running_count(labelled, tmp_path):
    from m2sdk.data.scene import COLOURS_BGR

    counts = 0
    for record, ids, answer, plan, _, tokenizer in _listed_examples(labelled, tmp_path, "colours"):
        if record.task != "object_count":
            continue
        counts += 1
        objects = {o["name"]: o for o in record.scene["objects"]}
        category = objects[record.scene["targets"][0]]["category"]
        counted = {objects[n]["colour"] for n in record.scene["targets"]}
        running = np.cumsum([c in counted for c in COLOURS_BGR])
        items = [f"{c} {category} {n}" for c, n in zip(COLOURS_BGR, running, strict=True)]
        assert answer.startswith("by colour: " + ", ".join(items) + ": \\boxed{" + str(len(counted)) + "}")
        in_room = [o for o in record.scene["objects"] if o["colour"]]
        for g, obj in enumerate(in_room):  # every room object's colour word looks at it, counted or not
            assert set(tokenizer.decode(ids[plan == g].tolist()).split()) == {obj["colour"]}
        assert int(record.answer) == running[-1]
    assert counts >= 3
    with pytest.raises(ValueError, match=r"data\.count_listing"):
        load_config_text = f"data:\n  datasets:\n    - path: {labelled}\n  response: answer\n  count_listing: names\n"
        (tmp_path / "bad.yaml").write_text(load_config_text)
        load_config(tmp_path / "bad.yaml", "sft")
