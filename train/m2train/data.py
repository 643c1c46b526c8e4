"""Training data: dataset mixtures of spatial records → model inputs, with checks that keep a run alive.

Records are read with the data package's loader (:func:`m2sdk.data.dataset.load_records`): a malformed
line or a missing media file is reported with its line number and skipped. Each dataset of a mixture
carries its own pixel budget (``min_pixels``/``max_pixels``) and sample weight.

Two rules guard against the classic VLM training crash, "image features and image tokens do not match":
a sample longer than ``max_length`` is skipped, never cut (a cut can go through its image tokens), and
the collator checks every sample's ``<imagePatch>`` count against its ``grid_thw`` before a step.

Example:
    >>> samples = load_mixture(cfg.data.datasets)
    >>> ds = sft_dataset(samples, processor, max_length=2048)
    >>> batch = SFTCollator(processor)([ds[0], ds[1]])
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from m2sdk import prompt, tokens
from m2sdk.data.dataset import LETTERS
from m2sdk.data.scene import COLOURS_BGR
from m2sdk.errors import InputError, M2Error
from m2sdk.processing import ImageProcessorConfig, num_image_tokens, read_video, smart_resize, to_rgb
from m2sdk.processing.image import resize_rgb
from m2train.config import DatasetSpec, GroundingConfig

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100  # label of tokens outside the loss (transformers' convention)
_MAX_SUBSTITUTIONS = 16  # consecutive unusable samples tolerated before the run stops


@dataclass
class Sample:
    """One record with the settings of the dataset it came from.

    Attributes:
        record: The validated :class:`~m2sdk.data.dataset.SpatialRecord`.
        root: Folder its media paths are relative to.
        weight: Loss weight (dataset weight × the record's own ``weight``, default 1).
        spec: The dataset spec (pixel budget).
    """

    record: Any
    root: Path
    weight: float
    spec: DatasetSpec

    def media_paths(self) -> list[Path]:
        return [self.root / m for m in self.record.media]

    def difficulty(self, default: float) -> float:
        value = self.record.difficulty
        return float(default if value is None else value)


def load_mixture(specs: list[DatasetSpec]) -> list[Sample]:
    """Read every dataset of a mixture; bad lines are logged and skipped.

    Raises:
        InputError: A dataset file is missing, or nothing usable is left.
    """
    from m2sdk.data.dataset import load_records

    samples: list[Sample] = []
    for spec in specs:
        records, problems = load_records(spec.jsonl)
        if problems:
            logger.warning("%s: skipped %d bad line(s), first: %s", spec.jsonl, len(problems), problems[0])
        kept = [r for r in records if spec.tasks is None or r.task in spec.tasks][: spec.max_samples]
        samples += [Sample(r, spec.jsonl.parent, _record_weight(r, spec), spec) for r in kept]
        logger.info("%s: %d samples", spec.jsonl, len(kept))
    if not samples:
        raise InputError(f"no usable samples in {[s.path for s in specs]}")
    return samples


def _record_weight(record: Any, spec: DatasetSpec) -> float:
    own = record.extra.get("weight", 1.0)
    if isinstance(own, bool) or not isinstance(own, int | float) or not math.isfinite(own) or own < 0:
        raise InputError(f"record {record.id!r} in {spec.jsonl}: field 'weight' must be a finite number >= 0")
    return float(spec.weight) * float(own)


def budget_config(base: ImageProcessorConfig, spec: DatasetSpec) -> ImageProcessorConfig:
    """The processor settings of one dataset: its pixel budget over the model's defaults."""
    low = spec.min_pixels or base.min_pixels
    high = spec.max_pixels or base.max_pixels
    return dataclasses.replace(base, min_pixels=min(low, high), max_pixels=high)


def load_images(paths: list[Path], config: ImageProcessorConfig) -> list[np.ndarray]:
    """RGB images from files, already resized to the dataset's budget (multiples of 28 px).

    Resizing here means the processor's own resize is a no-op for any budget within its bounds, so one
    processor serves a mixture of datasets with different budgets (what TRL's rollout path needs).
    """
    images = []
    for path in paths:
        rgb = to_rgb(str(path))  # (H, W, 3) uint8
        height, width = smart_resize(*rgb.shape[:2], config.factor, config.min_pixels, config.max_pixels)
        images.append(resize_rgb(rgb, height, width))
    return images


def target_text(record: Any, mode: str, lead: str = "") -> str:
    """The assistant text SFT teaches: the think block and boxed answer (``cot``) or just the answer,
    after ``lead`` (a count's listing, :func:`count_lead`)."""
    answer = record.answer_text
    if record.answer_type == "numeric" and record.unit:
        answer = f"{answer} {record.unit}"
    if mode == "answer":  # the prompt already ends with the fast prefix "<think>\n\n</think>\n<answer>"
        return lead + prompt.format_fast_answer(answer)
    return prompt.format_response(record.cot or "", answer)


def count_lead(listed: list[dict[str, Any]] | None, listing: str | None) -> str:
    """What a fast count answer says before its count (``data.count_listing``), '' when nothing is listed."""
    if not listed:
        return ""
    category, colours = listed[0]["category"], [o["colour"] for o in listed]
    if listing == "colours":
        return prompt.format_count_by_colour(category, list(COLOURS_BGR), set(colours))
    return prompt.format_count_listing(category, colours)


def listed_objects(record: Any) -> list[dict[str, Any]] | None:
    """The objects a fast count answer lists (``data.count_listing``), the most visible first; None for
    other tasks, and for counts whose objects lack a colour of the synthetic palette, share a colour or
    are not all of one category (nothing to tell them apart by; m2 data synth --unique-colours avoids it).
    """
    if record.task != "object_count":
        return None
    counted = record.counted_objects()
    if not counted or any(o.get("colour") not in COLOURS_BGR or not o.get("category") for o in counted):
        return None
    distinct = len({o["colour"] for o in counted}) == len(counted)
    return counted if distinct and len({o["category"] for o in counted}) == 1 else None


RELATIVE_TASKS = ("relative_distance", "relative_direction")  # answered after a position listing


def position_lead(record: Any) -> str:
    """What a fast relative answer says before its letter (``data.position_listing``): where each object the
    question names is in the camera frame, the options last in letter order (the order of
    :func:`m2train.grounding.ordered_targets`), '' for other tasks and for scenes without objects' centres
    or a camera pose (nothing to list)."""
    from m2sdk.data.labels import centres_in_camera
    from m2train.grounding import ordered_targets

    scene = record.scene or {}
    objects = {o.get("name"): o for o in scene.get("objects", [])}
    names = ordered_targets(record)
    camera = scene.get("camera") or {}
    if record.task not in RELATIVE_TASKS or not names or any("centre_m" not in objects.get(n, {}) for n in names):
        return ""
    if "rotation_cw" not in camera or "position_m" not in camera:
        return ""
    centres = centres_in_camera(scene, [objects[n] for n in names])  # (k, 3): x right, y down, z ahead
    options = list(record.options or [])
    letters = [LETTERS[options.index(n)] if n in options else "" for n in names]
    return prompt.format_position_listing(
        [(letter, name, float(c[0]), float(c[2])) for letter, name, c in zip(letters, names, centres, strict=True)]
    )


def encode_sample(
    sample: Sample,
    processor: Any,
    mode: str,
    vocab: Vocab | None = None,
    grounding: list[GroundingConfig] | None = None,
    count_listing: str | None = None,
    position_listing: bool = False,
    role_code: bool = False,
) -> dict[str, Any]:
    """One SFT example as numpy arrays: ids, labels (loss on the assistant answer only), media, weight.

    With ``vocab`` (colour and category names of the vision code) the example also carries
    ``vision_targets``: one row of dense-label targets per vision token (:func:`vision_targets`). With
    ``grounding`` (one section per supervised layer) it carries ``grounding_targets`` (vision tokens,
    2 * MAX_GROUPS), the cells of each object the question names, and ``grounding_plan`` (groundings,
    heads, S), which target column each supervised head of each grounding looks at from each position
    (:mod:`m2train.grounding`), and ``grounding_mentions`` (S,), the group whose name each prompt token is
    part of (what a ``keys: mentions`` look is at). With ``count_listing`` (``objects`` or ``colours``) a
    fast count answer goes through the objects before the count, and each colour word it names looks at
    the object of that colour.
    With ``position_listing`` a fast relative answer first says where each object it compares is
    (:func:`position_lead`); the names it repeats look at their objects as the question's do. With
    ``role_code`` it carries ``role_targets``/``role_mask``, ``comparison_targets``/``comparison_mask`` and
    ``distance_targets``/``distance_mask``
    (:mod:`m2train.role_code`).
    """
    listed = listed_objects(sample.record) if count_listing and mode == "answer" else None
    lead = count_lead(listed, count_listing)
    if position_listing and mode == "answer":
        lead = lead or position_lead(sample.record)
    config = budget_config(processor.config, sample.spec)
    images, video = None, None
    if sample.record.media_type == "video":
        video, _ = read_video(sample.media_paths()[0], config)
    else:
        images = load_images(sample.media_paths(), config)
    proc = type(processor)(processor.tokenizer, config, processor.max_context)
    inputs = proc(
        images, sample.record.question, video=video, options=sample.record.options,
        reasoning=mode == "cot", response=target_text(sample.record, mode, lead),
    )  # fmt: skip
    labels = np.where(inputs.response_mask, inputs.input_ids, IGNORE_INDEX)  # (S,)
    example = {
        "id": sample.record.id,
        "input_ids": inputs.input_ids,
        "labels": labels,
        "mm_token_type_ids": inputs.mm_token_type_ids,
        "sample_weight": sample.weight,
    }
    for name in ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw", "second_per_grid_ts"):
        if getattr(inputs, name) is not None:
            example[name] = getattr(inputs, name)
    if vocab is not None and inputs.image_grid_thw is not None:
        example["vision_targets"] = vision_targets(sample, inputs.image_grid_thw, processor.config, vocab)
    if grounding is not None:
        example["grounding_targets"], example["grounding_plan"], example["grounding_mentions"] = _grounding(
            sample, inputs, labels, processor, grounding, listed, count_listing == "colours"
        )
    if role_code:
        from m2train.role_code import comparison_targets, distance_targets, role_targets

        example["role_targets"], example["role_mask"] = role_targets(sample.record)
        example["comparison_targets"], example["comparison_mask"] = comparison_targets(sample.record)
        example["distance_targets"], example["distance_mask"] = distance_targets(sample.record)
    return example


def _grounding(
    sample: Sample, inputs: Any, labels: np.ndarray, processor: Any, groundings: list[GroundingConfig],
    listed: list[dict[str, Any]] | None = None, by_colour: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """The sample's grounding targets (media tokens, 2 * MAX_GROUPS), look plans (groundings, heads, S) and
    mention map (S,: :func:`m2train.grounding.mention_map`).

    Only single-image records with instance labels are supervised; the others get all-zero targets (and
    rows for every media token: video patches share the image token id, and the loss matches rows to tokens).
    """
    from m2train import grounding as ground

    config = processor.config
    grids = [g for g in (inputs.image_grid_thw, inputs.video_grid_thw) if g is not None]
    tokens_in_media = sum(sum(num_image_tokens(g, config.merge_size)) for g in grids)
    targets = np.zeros((tokens_in_media, 2 * ground.MAX_GROUPS), np.float32)
    plans = np.full((len(groundings), max(g.heads for g in groundings), len(inputs.input_ids)), -1, np.int64)
    mentions = np.full(len(inputs.input_ids), -1, np.int64)
    if inputs.video_grid_thw is not None or inputs.image_grid_thw is None or len(inputs.image_grid_thw) != 1:
        return targets, plans, mentions
    task = sample.record.task
    if listed:
        groups, phrase_names = ground.listing_groups(sample.record, listed, by_colour)
    else:
        groups = ground.target_groups(task, ground.ordered_targets(sample.record))[: ground.MAX_GROUPS]
        phrase_names = ground.mention_phrases(sample.record, groups)
    _, grid_h, grid_w = (int(v) for v in inputs.image_grid_thw[0])
    hw = (grid_h * config.patch_size, grid_w * config.patch_size)
    cell_px = config.patch_size * config.merge_size
    targets[:, : len(groups)] = ground.group_cells(sample.record, sample.root, hw, cell_px, groups)
    if task in ground.GROUPED_TASKS and any(g.count == "instances" for g in groundings):  # a spread look's cells
        targets[:, ground.SPREAD : ground.SPREAD + len(groups)] = ground.group_cells(
            sample.record, sample.root, hw, cell_px, groups, one_per_object=True
        )
    phrases = [
        [processor.tokenizer.encode_text(" " + phrase) for phrase in names]
        for names in phrase_names
    ]  # fmt: skip
    first_patch = int(np.argmax(np.asarray(inputs.mm_token_type_ids) != 0))  # words before it cannot see it
    for i, grounding in enumerate(groundings):
        if grounding.keys == "mentions" and task in ground.GROUPED_TASKS:
            continue  # a count has no roles to fetch: its answer's looks stay free for its listing
        spread = grounding.count == "instances" and task in ground.GROUPED_TASKS
        plans[i, : grounding.heads] = ground.look_plan(
            inputs.input_ids, labels, len(groups), grounding.heads, grounding.at, phrases, first_patch, spread
        )
    if any(grounding.keys == "mentions" for grounding in groundings):  # only a look at the words reads it
        named = ground.look_plan(inputs.input_ids, labels, len(groups), 1, "mentions", phrases, first_patch)[0]
        mentions = ground.mention_map(named, labels)
    return targets, plans, mentions


Vocab = tuple[list[str], list[str]]  # (colour names, category names) of the vision code


def vision_targets(sample: Sample, grid_thw: np.ndarray, config: ImageProcessorConfig, vocab: Vocab) -> np.ndarray:
    """(vision tokens, len(CellTargets.FIELDS)) float32: the dense-label targets of a sample's image tokens.

    Rows of images without labels (or of multi-image records, whose labels are not per image) are all
    zero, which :class:`m2train.vision_code.VisionCode` leaves unsupervised.
    """
    from m2sdk.data.labels import CellTargets, cell_targets

    cell = config.patch_size * config.merge_size
    sizes = [int(t * h * w) // (config.merge_size**2) for t, h, w in grid_thw]
    scene = sample.record.scene or {}
    if len(grid_thw) != 1 or not scene.get("labels"):
        return np.zeros((sum(sizes), len(CellTargets.FIELDS)), np.float32)
    _, grid_h, grid_w = (int(v) for v in grid_thw[0])
    hw = (grid_h * config.patch_size, grid_w * config.patch_size)
    targets = cell_targets(scene, sample.root, hw, cell, colours=vocab[0], categories=vocab[1])
    return targets.to_array()


class SFTExamples:
    """Encodes SFT examples on the fly (images are read per step, not held in RAM).

    An unusable sample (unreadable media, longer than ``max_length``) is logged and replaced by the next
    one, so one bad file costs one sample, not the run; the substitution is deterministic, so resumed
    runs see the same data.
    """

    def __init__(
        self, samples: list[Sample], processor: Any, *, max_length: int, mode: str = "cot", vocab: Vocab | None = None,
        grounding: list[GroundingConfig] | None = None, count_listing: str | None = None,
        position_listing: bool = False, role_code: bool = False,
    ) -> None:  # fmt: skip
        self.samples = samples
        self.processor = processor
        self.max_length = max_length
        self.mode = mode
        self.vocab = vocab
        self.grounding = grounding
        self.count_listing = count_listing
        self.position_listing = position_listing
        self.role_code = role_code

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        for offset in range(_MAX_SUBSTITUTIONS):
            sample = self.samples[(index + offset) % len(self)]
            try:
                example = encode_sample(
                    sample,
                    self.processor,
                    self.mode,
                    self.vocab,
                    self.grounding,
                    self.count_listing,
                    self.position_listing,
                    self.role_code,
                )
            except M2Error as err:
                logger.error("sample %r skipped: %s", sample.record.id, err)
                continue
            if len(example["input_ids"]) <= self.max_length:
                return example
            logger.warning(
                "sample %r skipped: %d tokens > data.max_length %d (never truncated: it would cut image tokens)",
                sample.record.id, len(example["input_ids"]), self.max_length,
            )  # fmt: skip
        raise InputError(f"{_MAX_SUBSTITUTIONS} consecutive samples from index {index} are unusable; see the log")


def sft_dataset(
    samples: list[Sample], processor: Any, *, max_length: int, mode: str = "cot", vocab: Vocab | None = None,
    grounding: list[GroundingConfig] | None = None, count_listing: str | None = None, position_listing: bool = False,
    role_code: bool = False,
):  # fmt: skip
    """A Hugging Face ``Dataset`` (what ``SFTTrainer`` takes) of row indices, encoded on access.

    Example:
        >>> ds = sft_dataset(load_mixture(specs), processor, max_length=2048)
        >>> ds[0]["input_ids"].shape, ds[0]["labels"][:3]
    """
    from datasets import Dataset

    examples = SFTExamples(
        samples, processor, max_length=max_length, mode=mode, vocab=vocab, grounding=grounding,
        count_listing=count_listing, position_listing=position_listing, role_code=role_code,
    )  # fmt: skip

    def encode(batch: dict[str, list]) -> dict[str, list]:
        rows = [examples[i] for i in batch["index"]]
        return {key: [row.get(key) for row in rows] for key in sorted({k for row in rows for k in row})}

    return Dataset.from_dict({"index": list(range(len(samples)))}).with_transform(encode)


def check_media_tokens(example: dict[str, Any], patch_id: int, merge_size: int) -> None:
    """Raise unless the sample's ``<imagePatch>`` count equals the tokens its grids call for."""
    grids = [example[k] for k in ("image_grid_thw", "video_grid_thw") if example.get(k) is not None]
    expected = sum(sum(num_image_tokens(g, merge_size)) for grid in grids for g in grid)
    found = int(np.sum(np.asarray(example["input_ids"]) == patch_id))
    if found != expected:
        raise InputError(
            f"sample {example.get('id')!r}: {found} <imagePatch> tokens but its grid_thw needs {expected}; "
            "the prompt was truncated or built by hand (rebuild it with M2Processor)"
        )


class SFTCollator:
    """Right-pad a list of examples into a batch; check media tokens before the step.

    Returns tensors ``input_ids``/``labels``/``attention_mask``/``mm_token_type_ids`` (B, S),
    ``pixel_values`` (N_patches, 1176) and ``image_grid_thw`` (N_images, 3) concatenated in batch order,
    and ``sample_weight`` (B,).
    """

    def __init__(self, processor: Any) -> None:
        self.pad_id = processor.tokenizer.pad_id
        self.patch_id = processor.tokenizer.id_of(tokens.IMAGE_PATCH)
        self.merge_size = processor.config.merge_size

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        for example in examples:
            check_media_tokens(example, self.patch_id, self.merge_size)
        length = max(len(e["input_ids"]) for e in examples)
        batch = {
            "input_ids": _pad([e["input_ids"] for e in examples], length, self.pad_id, torch.long),
            "labels": _pad([e["labels"] for e in examples], length, IGNORE_INDEX, torch.long),
            "attention_mask": _pad([np.ones(len(e["input_ids"])) for e in examples], length, 0, torch.long),
            "mm_token_type_ids": _pad([e["mm_token_type_ids"] for e in examples], length, 0, torch.int32),
            "sample_weight": torch.tensor([float(e["sample_weight"]) for e in examples], dtype=torch.float32),
        }
        for name, dtype in (("pixel_values", torch.float32), ("image_grid_thw", torch.long)):
            batch.update(_concat(examples, name, dtype))
        batch.update(_concat(examples, "vision_targets", torch.float32))  # rows in image-token order
        batch.update(_concat(examples, "grounding_targets", torch.float32))  # rows in image-token order
        if any(e.get("grounding_plan") is not None for e in examples):
            plans = [e["grounding_plan"] for e in examples]
            batch["grounding_plan"] = torch.full((len(plans), *plans[0].shape[:2], length), -1, dtype=torch.long)
            for i, plan in enumerate(plans):  # (groundings, heads, S_i)
                batch["grounding_plan"][i, ..., : plan.shape[-1]] = torch.as_tensor(plan)
            batch["grounding_mentions"] = _pad([e["grounding_mentions"] for e in examples], length, -1, torch.long)
        for name, dtype in (("pixel_values_videos", torch.float32), ("video_grid_thw", torch.long)):
            batch.update(_concat(examples, name, dtype))
        batch.update(_concat(examples, "second_per_grid_ts", torch.float32))
        from m2train.role_code import CODES

        for code in CODES:
            for name in (f"{code}_targets", f"{code}_mask"):
                if any(e.get(name) is not None for e in examples):
                    batch[name] = torch.as_tensor(np.stack([e[name] for e in examples]), dtype=torch.float32)
        return batch


def _pad(rows: list[np.ndarray], length: int, value: int, dtype: Any):
    import torch

    out = torch.full((len(rows), length), value, dtype=dtype)  # (B, S)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.as_tensor(np.asarray(row), dtype=dtype)
    return out


def _concat(examples: list[dict[str, Any]], name: str, dtype: Any) -> dict[str, Any]:
    import torch

    parts = [e[name] for e in examples if e.get(name) is not None]
    return {name: torch.as_tensor(np.concatenate(parts, axis=0), dtype=dtype)} if parts else {}


def rl_rows(samples: list[Sample], base: ImageProcessorConfig) -> list[dict[str, Any]]:
    """Rows of the RL dataset: a chat prompt plus the columns rewards read (answers stay strings for Arrow;
    ``listing`` is a count's colour-by-colour listing as SFT teaches it, '' where there is none)."""
    rows = []
    for s in samples:
        if s.record.media_type != "image":
            logger.warning("sample %r skipped: RL rollouts take image samples only", s.record.id)
            continue
        config = budget_config(base, s.spec)
        rows.append({
            "prompt": [
                {"role": "system", "content": prompt.SYSTEM_PROMPT},
                {"role": "user", "content": prompt.format_question(s.record.question, s.record.options)},
            ],
            "id": s.record.id, "task": s.record.task, "answer_type": s.record.answer_type,
            "answer": str(s.record.answer), "unit": s.record.unit, "options": s.record.options,
            "difficulty": s.record.difficulty, "media": [str(p) for p in s.media_paths()],
            "listing": count_lead(listed_objects(s.record), "colours"),  # rewards.listing_weight's steps
            "min_pixels": config.min_pixels, "max_pixels": config.max_pixels,
        })  # fmt: skip
    if not rows:
        raise InputError("no image samples left for RL")
    return rows


def rl_dataset(samples: list[Sample], base: ImageProcessorConfig):
    """A Hugging Face ``Dataset`` for ``GRPOTrainer``; images are decoded lazily, per row, in RGB."""
    from datasets import Dataset

    def add_images(batch: dict[str, list]) -> dict[str, list]:
        images = []
        for media, low, high in zip(batch["media"], batch["min_pixels"], batch["max_pixels"], strict=True):
            config = dataclasses.replace(base, min_pixels=low, max_pixels=high)
            images.append(load_images([Path(m) for m in media], config))
        return {**batch, "images": images}

    return Dataset.from_list(rl_rows(samples, base)).with_transform(add_images)
