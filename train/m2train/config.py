"""Typed run configs for ``m2 train sft`` and ``m2 train rl``, loaded from YAML.

A run config is a tree of small dataclasses; each ``__post_init__`` raises ``ValueError`` naming the bad
field, and unknown YAML keys are errors too (a typo must not silently fall back to a default). The
sections map onto what TRL needs (``optim`` → ``TrainingArguments``, ``rollout`` → ``GRPOConfig``) plus
M2's own pieces (``curriculum``, ``kl``, ``weights``, ``rewards``). Relative paths are relative to the
directory the command runs in.

Example:
    >>> cfg = load_config("train/configs/rl_tiny.yaml", "rl")
    >>> cfg = apply_overrides(cfg, output_dir="runs/rl", max_steps=10, init="runs/sft/final")
    >>> cfg.kl.beta_start
    0.01
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DTYPES = ("float32", "bfloat16", "float16")
NUMERIC_REWARDS = ("ednm", "mra")
ROUTES = ("ednm", "mra", "choice", "math")


def _positive(owner: str, name: str, value: Any, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{owner}.{name} must be a finite number {bound}, got {value!r}")


def _choice(owner: str, name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{owner}.{name} must be one of {list(allowed)}, got {value!r}")


def _fraction(owner: str, name: str, value: Any) -> None:
    _positive(owner, name, value, allow_zero=True)
    if value > 1:
        raise ValueError(f"{owner}.{name} must be in [0, 1], got {value!r}")


@dataclass
class ModelConfig:
    """Which weights to start from and how to hold them.

    Attributes:
        init: A preset name (``m2-tiny``, ``m2-7b``) or a checkpoint folder.
        dtype: Weight dtype while training (``bfloat16`` on GPUs, ``float32`` on CPU).
        freeze_vision: Keep the ViT fixed (the projector and the LLM still train).
        freeze_projector: Keep the projector fixed too; with ``freeze_vision`` the image tokens are exactly
            what an earlier stage made them (``m2 train vision``), so the decoder learns to read a fixed code.
        gradient_checkpointing: Trade compute for activation memory (on for 7B).
        shared_prefix: SFT computes the prompt prefix all samples share (the system turn) once per batch
            instead of once per sample (:mod:`m2train.prefix`; single process or DeepSpeed only).
    """

    init: str = "m2-tiny"
    dtype: str = "float32"
    freeze_vision: bool = False
    freeze_projector: bool = False
    gradient_checkpointing: bool = False
    shared_prefix: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.init, str) or not self.init:
            raise ValueError(f"model.init must be a preset name or a checkpoint folder, got {self.init!r}")
        _choice("model", "dtype", self.dtype, DTYPES)


@dataclass
class DatasetSpec:
    """One dataset of a mixture: a ``samples.jsonl`` (or its folder) in the ``m2 data synth`` format.

    Attributes:
        path: The JSONL file or the folder holding ``samples.jsonl``.
        weight: Per-sample loss weight (SFT) of this dataset's samples, times each record's own ``weight``.
        min_pixels, max_pixels: Image budget of this dataset (None: the model processor's).
        max_samples: Use only the first N samples (None: all).
        tasks: Keep only these task ids (None: all).
    """

    path: str
    weight: float = 1.0
    min_pixels: int | None = None
    max_pixels: int | None = None
    max_samples: int | None = None
    tasks: list[str] | None = None

    def __post_init__(self) -> None:
        where = f"data.datasets[{self.path!r}]"
        _positive(where, "weight", self.weight, allow_zero=True)
        for name in ("min_pixels", "max_pixels", "max_samples"):
            if getattr(self, name) is not None:
                _positive(where, name, getattr(self, name))
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise ValueError(f"{where}.min_pixels ({self.min_pixels}) must be <= max_pixels ({self.max_pixels})")

    @property
    def jsonl(self) -> Path:
        path = Path(self.path)
        return path / "samples.jsonl" if path.is_dir() or path.suffix != ".jsonl" else path


COUNT_LISTINGS = ("objects", "colours")  # data.count_listing: how a fast count answer goes through the objects


@dataclass
class DataConfig:
    """The training mixture.

    Attributes:
        datasets: One or more :class:`DatasetSpec`.
        max_length: Longest sequence in tokens; longer samples are skipped (never cut through image tokens).
        response: SFT target: ``cot`` (think block with the record's chain of thought) or ``answer``
            (empty think block, the fast answer-only mode).
        count_listing: With ``response: answer``, a count's answer first goes through the objects, so that
            the count becomes a series of lookups of one object each, which a small decoder can learn where
            one look at every chair cannot count them (docs/m2_mini.md, "Counting by listing"):
            ``objects`` names the counted ones ("1 chair yellow, 2 chair cyan, 3 chair none: \\boxed{2}",
            :func:`m2sdk.prompt.format_count_listing`; m2-mini learnt the first, not when to stop);
            ``colours`` asks about every colour with a running count ("by colour: red chair 0, ...,
            yellow chair 1, ...: \\boxed{2}", :func:`m2sdk.prompt.format_count_by_colour`; m2-mini's counting
            stage, train/configs/m2_mini_sft_count.yaml, uses it).
        position_listing: With ``response: answer``, a relative question's answer first says where each object
            it names is ("where: red bin left 0.4 at 3.1, A blue bed right 1.2 at 2.0, ...: \\boxed{A}",
            :func:`m2train.data.position_lead`): one lookup per object and the comparison left in the text.
            m2-mini reads the position of a name it is given but does not copy the names from the question,
            so its recipe does not use it (docs/m2_mini.md, "Comparing by listing positions").
    """

    datasets: list[DatasetSpec] = field(default_factory=list)
    max_length: int = 4096
    response: str = "cot"
    count_listing: str | None = None
    position_listing: bool = False

    def __post_init__(self) -> None:
        if not self.datasets:
            raise ValueError("data.datasets must list at least one dataset (path: DIR_OR_JSONL)")
        _positive("data", "max_length", self.max_length)
        _choice("data", "response", self.response, ("cot", "answer"))
        if self.count_listing is not None:
            _choice("data", "count_listing", self.count_listing, COUNT_LISTINGS)
        if self.count_listing and self.response != "answer":
            raise ValueError("data.count_listing needs data.response: answer (a cot already lists what it counts)")
        if self.position_listing and self.response != "answer":
            raise ValueError("data.position_listing needs data.response: answer (a cot already says where things are)")


@dataclass
class OptimConfig:
    """Optimiser, batch and schedule (``max_steps`` > 0 wins over ``num_epochs``).

    ``adam_epsilon`` can matter for models trained from scratch: behind M2's L2-normalised projector the
    vision tower's per-element gradients shrink as the projector's output grows, down to about AdamW's
    default epsilon (1e-8), which then damps the tower's updates (m2-mini's recipe uses 1e-12).
    """

    learning_rate: float = 1e-5
    weight_decay: float = 0.0
    adam_epsilon: float = 1e-8
    warmup_ratio: float = 0.0
    lr_scheduler: str = "cosine"
    per_device_batch_size: int = 1
    gradient_accumulation_steps: int = 1
    max_steps: int = -1
    num_epochs: float = 1.0
    max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        _positive("optim", "learning_rate", self.learning_rate)
        _positive("optim", "weight_decay", self.weight_decay, allow_zero=True)
        _positive("optim", "adam_epsilon", self.adam_epsilon)
        _fraction("optim", "warmup_ratio", self.warmup_ratio)
        _choice("optim", "lr_scheduler", self.lr_scheduler, ("cosine", "linear", "constant", "constant_with_warmup"))
        for name in ("per_device_batch_size", "gradient_accumulation_steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"optim.{name} must be an int >= 1, got {getattr(self, name)!r}")
        if not isinstance(self.max_steps, int) or self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"optim.max_steps must be -1 (use num_epochs) or an int >= 1, got {self.max_steps!r}")
        _positive("optim", "num_epochs", self.num_epochs)
        _positive("optim", "max_grad_norm", self.max_grad_norm, allow_zero=True)


@dataclass
class LoggingConfig:
    """Where metrics go: TensorBoard and ``logs/metrics.jsonl`` under the output folder (no network)."""

    every_steps: int = 1
    tensorboard: bool = True
    jsonl: bool = True
    completions_every_steps: int = 10
    num_completions: int = 4
    progress_bar: bool = True

    def __post_init__(self) -> None:
        for name in ("every_steps", "completions_every_steps", "num_completions"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"logging.{name} must be an int >= 1, got {getattr(self, name)!r}")


@dataclass
class CheckpointConfig:
    """Checkpoint cadence and resume.

    Attributes:
        save_steps: Save every N optimizer steps (and always at the end).
        save_total_limit: Keep at most N step checkpoints (None: all).
        resume: ``auto`` (latest complete checkpoint in the output folder, if any), ``never``, or a folder.
    """

    save_steps: int = 500
    save_total_limit: int | None = 3
    resume: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.save_steps, int) or self.save_steps < 1:
            raise ValueError(f"checkpoint.save_steps must be an int >= 1, got {self.save_steps!r}")
        limit = self.save_total_limit
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ValueError(f"checkpoint.save_total_limit must be null or an int >= 1, got {self.save_total_limit!r}")
        if not isinstance(self.resume, str) or not self.resume:
            raise ValueError(f"checkpoint.resume must be 'auto', 'never' or a folder, got {self.resume!r}")


@dataclass
class DistributedConfig:
    """Scaling hooks. Multi-GPU runs go through ``accelerate launch --config_file train/configs/...``;
    ``deepspeed`` may instead name a DeepSpeed JSON given straight to ``TrainingArguments``."""

    deepspeed: str | None = None


@dataclass
class RolloutConfig:
    """GRPO rollouts and objective (TRL's ``GRPOConfig`` names; M2 used 16 rollouts per prompt).

    ``reasoning: false`` rolls out in fast answer-only mode: the prompt ends with the empty think block
    (as ``m2sdk.query(..., reasoning=False)`` builds it) and rewards score the prefix plus the completion;
    the RL stage for a model that was fine-tuned with ``data.response: answer``.
    """

    num_generations: int = 8
    reasoning: bool = True
    max_completion_length: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    loss_type: str = "dapo"
    scale_rewards: str = "group"
    epsilon: float = 0.2
    num_iterations: int = 1
    mask_truncated_completions: bool = False
    use_vllm: bool = False
    vllm_mode: str = "colocate"
    vllm_server_base_url: str | None = None
    vllm_gpu_memory_utilization: float = 0.3

    def __post_init__(self) -> None:
        for name in ("num_generations", "max_completion_length", "num_iterations"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"rollout.{name} must be an int >= 1, got {getattr(self, name)!r}")
        if not isinstance(self.reasoning, bool):
            raise ValueError(f"rollout.reasoning must be true or false, got {self.reasoning!r}")
        if self.num_generations < 2:
            raise ValueError("rollout.num_generations must be >= 2: GRPO compares completions within a group")
        _positive("rollout", "temperature", self.temperature)
        _fraction("rollout", "top_p", self.top_p)
        _choice("rollout", "loss_type", self.loss_type, ("grpo", "dr_grpo", "dapo", "bnpo"))
        _choice("rollout", "scale_rewards", self.scale_rewards, ("group", "batch", "none"))
        _positive("rollout", "epsilon", self.epsilon)
        _choice("rollout", "vllm_mode", self.vllm_mode, ("colocate", "server"))
        _fraction("rollout", "vllm_gpu_memory_utilization", self.vllm_gpu_memory_utilization)


@dataclass
class KLConfig:
    """KL penalty β(t): cosine-annealed from ``beta_start`` to ``beta_end`` (see :mod:`m2train.kl`)."""

    schedule: str = "cosine"
    beta_start: float = 0.01
    beta_end: float = 0.0

    def __post_init__(self) -> None:
        _choice("kl", "schedule", self.schedule, ("cosine", "constant"))
        # beta_start > 0: TRL creates the reference model only for a non-zero β at start.
        _positive("kl", "beta_start", self.beta_start)
        _positive("kl", "beta_end", self.beta_end, allow_zero=True)


@dataclass
class RewardsConfig:
    """Task rewards routed by each sample (see :mod:`m2train.rewards`).

    Attributes:
        format_weight: Weight of the think/answer/boxed format reward (added for every sample).
        task_weight: Weight of the task reward (EDNM/MRA, choice match or math-verify).
        numeric: Reward of numeric answers: ``ednm`` (continuous) or ``mra`` (VSI-Bench's steps).
        ednm_decay: λ of EDNM, r = exp(−λ·|ŷ−y|/|y|).
        routes: Per-task override, task id → one of ``ednm``, ``mra``, ``choice``, ``math``.
        gate_on_format: Give the task reward only to well-formed completions. The answer parser is
            lenient (it reads the boxed answer out of broken text, as evaluation should), so without the
            gate a policy can earn task reward with malformed guesses (several ``\\boxed{}``, no tags).
        listing_weight: Weight of the **listing** reward of counts answered colour by colour (the SFT option
            ``data.count_listing: colours``; fast-mode rollouts): the share of the listing's steps whose
            colour, category and increment match the scene (:func:`m2train.rewards.listing_reward`). The
            count's MRA is one number for ten decisions; this scores each decision (on m2-mini it did not
            raise the count; docs/m2_mini.md). 0 turns it off.
    """

    format_weight: float = 0.5
    task_weight: float = 1.0
    numeric: str = "ednm"
    ednm_decay: float = 2.0
    routes: dict[str, str] = field(default_factory=dict)
    gate_on_format: bool = True
    listing_weight: float = 0.0

    def __post_init__(self) -> None:
        _positive("rewards", "format_weight", self.format_weight, allow_zero=True)
        _positive("rewards", "listing_weight", self.listing_weight, allow_zero=True)
        _positive("rewards", "task_weight", self.task_weight)
        _choice("rewards", "numeric", self.numeric, NUMERIC_REWARDS)
        _positive("rewards", "ednm_decay", self.ednm_decay)
        for task, route in self.routes.items():
            _choice("rewards.routes", str(task), route, ROUTES)


@dataclass
class WeightsConfig:
    """Dynamic sample weights from group pass rates (formula in :mod:`m2train.weights`)."""

    enabled: bool = True
    pass_threshold: float = 0.5
    gamma: float = 1.0
    normalise: bool = True

    def __post_init__(self) -> None:
        _fraction("weights", "pass_threshold", self.pass_threshold)
        _positive("weights", "gamma", self.gamma, allow_zero=True)


@dataclass
class Stage:
    """A curriculum stage: until this fraction of training, draw samples of difficulty <= max_difficulty."""

    until: float
    max_difficulty: float

    def __post_init__(self) -> None:
        _fraction("curriculum.stages", "until", self.until)
        _fraction("curriculum.stages", "max_difficulty", self.max_difficulty)


@dataclass
class CurriculumConfig:
    """Easy-to-hard ordering (see :mod:`m2train.curriculum`).

    Attributes:
        kind: ``none`` (shuffled), ``stages`` (difficulty ceiling per stage) or ``window`` (a difficulty
            window of ``window_width`` sliding from easy to hard over training).
        default_difficulty: Used for records without a difficulty.
    """

    kind: str = "window"
    stages: list[Stage] = field(default_factory=list)
    window_width: float = 0.4
    default_difficulty: float = 0.5

    def __post_init__(self) -> None:
        _choice("curriculum", "kind", self.kind, ("none", "stages", "window"))
        _fraction("curriculum", "window_width", self.window_width)
        _fraction("curriculum", "default_difficulty", self.default_difficulty)
        if self.kind == "window" and self.window_width == 0:
            raise ValueError("curriculum.window_width must be > 0 for kind 'window'")
        if self.kind == "stages":
            ends = [s.until for s in self.stages]
            if not ends or ends != sorted(ends) or ends[-1] < 1:
                raise ValueError(f"curriculum.stages must be sorted by 'until' and end at 1.0, got until={ends}")


@dataclass
class VisionCodeConfig:
    """Dense supervision of the vision tokens through the vision code (see :mod:`m2train.vision_code`).

    Only records whose scene names dense labels (``m2 data synth --labels``) are supervised.

    Attributes:
        weight: Weight of the code loss (``m2 train vision`` trains on it alone; in SFT it is added to
            the language-model loss, 0 switches it off).
        seed: Seed of the code's random directions: the vision stage and SFT must use the same one.
        colours, categories: Object vocabularies (default: the synthetic generator's).
        depth_offset_m: Typical depth; log-depths are centred on it (3.3 m suits rooms).
        size_offset_m: Typical object size (0.6 m), for the log-size channel.
    """

    weight: float = 1.0
    seed: int = 0
    colours: list[str] | None = None
    categories: list[str] | None = None
    depth_offset_m: float = 3.3
    size_offset_m: float = 0.6

    def __post_init__(self) -> None:
        _positive("vision_code", "weight", self.weight, allow_zero=True)
        _positive("vision_code", "depth_offset_m", self.depth_offset_m)
        _positive("vision_code", "size_offset_m", self.size_offset_m)
        for name in ("colours", "categories"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
                raise ValueError(f"vision_code.{name} must be a list of names, got {value!r}")


@dataclass
class GroundingConfig:
    """Attention grounding in SFT (see :mod:`m2train.grounding`): heads of one decoder layer learn to look at
    the cells of the objects the question names, from the dense labels.

    Attributes:
        weight: Weight of the grounding loss added to the language-model loss (0 switches it off).
        layer: The decoder layer whose heads are supervised.
        heads: How many heads to supervise, from head 0; the others stay free.
        at: Where the looks are supervised. ``"mentions"``: at each token of a phrase naming an object
            ("the *white cabinet*"), every supervised head looks at that object; layer 0 works, its keys
            being the vision tokens themselves. ``"answer"``: at every answer position head ``g`` looks
            at the question's ``g``-th object; needs layer >= 1 (at layer 0 the answer position has not
            read which object the question names).
        count: How a count question's looks look. ``"group"``: at every cell of every counted object,
            like any other look. ``"instances"``: evenly at one cell per counted object and the prompt's
            first token, so the share left on that token says how many there are (a look at every cell
            averages the objects and loses their number; :mod:`m2train.grounding`).
        keys: What a look is at. ``"cells"``: the object's vision tokens. ``"mentions"`` (with
            ``at: answer``): the prompt's words that name the object, which a grounded layer below has
            already made hold its code; the look then binds the object's role in the question (head ``g``,
            the ``g``-th object named) to what was looked up there, which an answer look at the cells has
            to do in one hop.
    """

    weight: float = 0.3
    layer: int = 0
    heads: int = 1
    at: str = "mentions"
    count: str = "group"
    keys: str = "cells"

    def __post_init__(self) -> None:
        _positive("grounding", "weight", self.weight, allow_zero=True)
        _choice("grounding", "at", self.at, ("answer", "mentions"))
        _choice("grounding", "count", self.count, ("group", "instances"))
        _choice("grounding", "keys", self.keys, ("cells", "mentions"))
        if self.keys == "mentions" and self.at != "answer":
            raise ValueError("grounding.keys: mentions needs at: answer (a mention looking at itself teaches nothing)")
        lowest = 1 if self.at == "answer" else 0
        if isinstance(self.layer, bool) or not isinstance(self.layer, int) or self.layer < lowest:
            raise ValueError(f"grounding.layer must be an int >= {lowest} with at: {self.at}, got {self.layer!r}")
        if isinstance(self.heads, bool) or not isinstance(self.heads, int) or self.heads < 1:
            raise ValueError(f"grounding.heads must be an int >= 1, got {self.heads!r}")


@dataclass
class RoleCodeConfig:
    """Supervision of what the answer position holds about each object the question names (see
    :mod:`m2train.role_code`): one decoder layer's output, at every answer position, must hold each role's
    camera-frame lateral offset and log depth in fixed directions.

    Attributes:
        weight: Weight of the role-code loss added to the language-model loss (0 switches it off).
        layer: The decoder layer whose output is supervised (above the layer whose answer looks fetch the
            roles: ``grounding`` with ``at: answer, keys: mentions``).
        seed: Seed of the fixed directions.
        comparison_layer: A decoder layer whose output, at every answer position, must also hold what the
            question compares, computed from the roles (:func:`m2train.role_code.comparison_targets`: the
            third object's offsets left and ahead for relative direction, each option's distance for
            relative distance), from which the letter is a sign or the least of a few numbers; null: not
            supervised.
        distance_layer: A decoder layer below ``comparison_layer`` whose output, at every answer position,
            must hold each option's distance from the reference object before the question's polarity
            (:func:`m2train.role_code.distance_targets`), so that the comparison layer only applies the
            flip for "closest"; null: not supervised.
        polarity: Whether ``layer``'s output must also hold the question's polarity (a relative distance
            question asking for the farthest option or the closest; :func:`m2train.role_code.asks_farthest`),
            which the comparison layer needs to flip the options' scores.
    """

    weight: float = 1.0
    layer: int = 1
    seed: int = 0
    comparison_layer: int | None = None
    distance_layer: int | None = None
    polarity: bool = False

    def __post_init__(self) -> None:
        _positive("role_code", "weight", self.weight, allow_zero=True)
        if isinstance(self.layer, bool) or not isinstance(self.layer, int) or self.layer < 0:
            raise ValueError(f"role_code.layer must be an int >= 0, got {self.layer!r}")
        for name in ("comparison_layer", "distance_layer"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"role_code.{name} must be null or an int >= 0, got {value!r}")
        if self.distance_layer is not None and not (
            self.comparison_layer is not None and self.distance_layer < self.comparison_layer
        ):
            raise ValueError(
                f"role_code.distance_layer ({self.distance_layer}) must be below comparison_layer "
                f"({self.comparison_layer}): the comparison applies the polarity to the distances"
            )
        if not isinstance(self.polarity, bool):
            raise ValueError(f"role_code.polarity must be true or false, got {self.polarity!r}")


@dataclass
class SFTRunConfig:
    """A cold-start SFT run (``m2 train sft``)."""

    data: DataConfig
    output_dir: str = "runs/sft"
    seed: int = 0
    check_finite: bool = True
    cpu_threads: int | None = None  # torch intra-op threads on CPU; 1 suits tiny models on shared machines
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    vision_code: VisionCodeConfig | None = None  # dense vision supervision (needs labelled data)
    # Attention supervision of decoder layers (needs labelled data): one section, or a list of them, each
    # supervising its own layer (e.g. layer 0 at the mentions, a later layer at the answer).
    grounding: list[GroundingConfig] | None = None
    role_code: RoleCodeConfig | None = None  # what the answer holds about each named object (labelled data)

    def __post_init__(self) -> None:
        if isinstance(self.grounding, GroundingConfig):
            self.grounding = [self.grounding]
        if self.grounding is not None and not all(isinstance(g, GroundingConfig) for g in self.grounding):
            raise ValueError(f"grounding must be a section or a list of sections, got {self.grounding!r}")
        if self.grounding is not None and len({g.layer for g in self.grounding}) < len(self.grounding):
            raise ValueError("grounding: two sections supervise the same layer; give each its own layer")
        if not isinstance(self.output_dir, str) or not self.output_dir:
            raise ValueError(f"output_dir must be a folder path, got {self.output_dir!r}")
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        if self.cpu_threads is not None and (not isinstance(self.cpu_threads, int) or self.cpu_threads < 1):
            raise ValueError(f"cpu_threads must be null or an int >= 1, got {self.cpu_threads!r}")
        code_on = self.vision_code is not None and self.vision_code.weight > 0
        if code_on and self.model.freeze_vision and self.model.freeze_projector:
            raise ValueError(
                "vision_code.weight > 0 with model.freeze_vision and model.freeze_projector: the code loss would "
                "train nothing; set vision_code: null (or unfreeze the projector)"
            )


@dataclass
class RLRunConfig(SFTRunConfig):
    """An RLVR run (``m2 train rl``): SFT's sections plus rollouts, rewards, weights, curriculum and KL."""

    output_dir: str = "runs/rl"
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    rewards: RewardsConfig = field(default_factory=RewardsConfig)
    weights: WeightsConfig = field(default_factory=WeightsConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    kl: KLConfig = field(default_factory=KLConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.grounding is not None:
            raise ValueError("grounding is an SFT option: RL has no answer labels to ground; remove the section")
        if self.role_code is not None:
            raise ValueError("role_code is an SFT option: RL has no answer labels to supervise; remove the section")
        if self.rewards.listing_weight and self.rollout.reasoning:
            raise ValueError(
                "rewards.listing_weight scores the fast answer's count listing: set rollout.reasoning: false"
            )


@dataclass
class VisionRunConfig(SFTRunConfig):
    """A vision pre-training run (``m2 train vision``): the vision tower and projector learn the vision code
    from dense labels; the language model is not run. ``vision_code`` defaults to weight 1."""

    output_dir: str = "runs/vision"
    vision_code: VisionCodeConfig | None = field(default_factory=VisionCodeConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.vision_code is None or self.vision_code.weight == 0:
            raise ValueError("vision_code.weight must be > 0 for a vision run: it is the only loss")
        if self.grounding is not None:
            raise ValueError("grounding is an SFT option: a vision run does not run the decoder; remove the section")
        if self.role_code is not None:
            raise ValueError("role_code is an SFT option: a vision run does not run the decoder; remove the section")


KINDS: dict[str, type[SFTRunConfig]] = {"sft": SFTRunConfig, "rl": RLRunConfig, "vision": VisionRunConfig}


def load_config(path: str | Path, kind: str) -> SFTRunConfig:
    """Read a YAML run config of ``kind`` (``vision``, ``sft`` or ``rl``); errors name the file and the bad field.

    Example:
        >>> load_config("train/configs/sft_tiny.yaml", "sft").optim.max_steps
        120
    """
    import yaml

    path = Path(path)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    if not path.is_file():
        raise ValueError(f"config file {path} does not exist")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a run config must be a YAML mapping, got {type(data).__name__}")
    declared = data.pop("kind", kind)
    if declared != kind:
        raise ValueError(f"{path} is a {declared!r} config; use `m2 train {declared}` for it")
    try:
        return from_dict(KINDS[kind], data)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: {err}") from err


def from_dict(cls: type, data: Any, where: str = "") -> Any:
    """Build dataclass ``cls`` from plain YAML data, recursing into nested sections and lists of them."""
    if not isinstance(data, dict):
        raise ValueError(f"{where or cls.__name__} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown field(s) {[_join(where, k) for k in unknown]}; known: {sorted(names)}")
    kwargs = {name: _convert(hints[name], value, _join(where, name)) for name, value in data.items()}
    return cls(**kwargs)


def _convert(hint: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    args = typing.get_args(hint)
    optional = [a for a in args if dataclasses.is_dataclass(a)] if type(None) in args else []
    if optional:  # ``Section | None``: null keeps None, a mapping builds the section
        return None if value is None else from_dict(optional[0], value, where)
    sections = [a for a in args if typing.get_origin(a) is list and dataclasses.is_dataclass(typing.get_args(a)[0])]
    if sections and type(None) in args and value is not None:  # ``list[Section] | None``: a list, or one section
        return _convert(sections[0], value if isinstance(value, list) else [value], where)
    if typing.get_origin(hint) is list and args and dataclasses.is_dataclass(args[0]):
        if not isinstance(value, list):
            raise ValueError(f"{where} must be a list, got {value!r}")
        return [from_dict(args[0], item, f"{where}[{i}]") for i, item in enumerate(value)]
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def apply_overrides(
    config: SFTRunConfig, *, output_dir: str | None = None, max_steps: int | None = None, init: str | None = None
) -> SFTRunConfig:
    """Command-line overrides (``--output-dir``, ``--max-steps``, ``--init``) on top of the YAML values."""
    if output_dir is not None:
        config = dataclasses.replace(config, output_dir=str(output_dir))
    if max_steps is not None:
        config = dataclasses.replace(config, optim=dataclasses.replace(config.optim, max_steps=int(max_steps)))
    if init is not None:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, init=str(init)))
    return config
