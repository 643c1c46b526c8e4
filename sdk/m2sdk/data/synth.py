"""The synthesiser: random rooms → rendered images / videos → questions with exact answers → JSONL.

Scene ``i`` is drawn from ``np.random.default_rng([seed, i])`` and every later draw of that scene
(views, questions, phrasing) uses the same generator in a fixed order, so a seed fixes every byte of
the output: no timestamps, stable key order, deterministic PNG and mp4 encoders.
Each scene gets up to ``per_scene`` questions; tasks are tried least-asked first, which balances them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from m2sdk.data.dataset import SpatialRecord, build_card, write_card, write_records
from m2sdk.data.labels import write_labels
from m2sdk.data.layout import sample_scene
from m2sdk.data.question_base import UNIT_POLICIES, Question, View, image_view, video_view
from m2sdk.data.questions import ALL_TASKS, TASKS, choose_view, generate
from m2sdk.data.render import render
from m2sdk.data.scene import Scene
from m2sdk.data.stages import Stage, run_stages
from m2sdk.data.views import write_video
from m2sdk.errors import M2Error

log = logging.getLogger(__name__)

GENERATOR_VERSION = "1.0.0"
MIN_VISIBLE_AREA = 0.003  # an object must cover this fraction of the frame to be asked about


@dataclass
class SynthConfig:
    """Settings of one synthetic dataset.

    Attributes:
        out_dir: Output folder (samples.jsonl, images/, videos/, card.json, README.md).
        n: Number of samples. seed: Fixes every byte of the output.
        width, height: Frame size in pixels. video: Also make videos (and video questions).
        tasks: Task ids to ask (default: all). per_scene: Questions per scene (they share its media).
        video_frames, fps: Video length; 30 frames at 10 fps is a 3 s walk.
        objects: (min, max) objects per room. unique_colours: One colour per object, so a colour word
            alone names it. Few objects with unique colours make the simpler rooms m2-mini learns on.
        units: ``mixed`` (metres, centimetres, feet, ...), ``metric`` (each task's usual unit only) or
            ``metres`` (metres for every length, sizes included; m2-mini's data).
        labels: Also write each image's dense labels (see :mod:`m2sdk.data.labels`): per-pixel instance
            ids and depth, the supervision of ``m2 train vision`` for models without a pretrained ViT.
    """

    out_dir: Path
    n: int = 200
    seed: int = 0
    width: int = 640
    height: int = 480
    video: bool = False
    tasks: tuple[str, ...] = ALL_TASKS
    per_scene: int = 3
    video_frames: int = 30
    fps: float = 10.0
    video_fraction: float = 0.4
    objects: tuple[int, int] = (6, 12)
    unique_colours: bool = False
    units: str = "mixed"
    labels: bool = False

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        self.tasks = tuple(self.tasks)
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.width < 32 or self.height < 32:
            raise ValueError(f"width/height must be >= 32, got {self.width}x{self.height}")
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown or not self.tasks:
            raise ValueError(f"tasks has unknown or no task ids {unknown}; known: {list(TASKS)}")
        self.objects = (int(self.objects[0]), int(self.objects[1]))
        if not 1 <= self.objects[0] <= self.objects[1] <= 12:
            raise ValueError(f"objects must be (min, max) with 1 <= min <= max <= 12, got {self.objects}")
        if self.units not in UNIT_POLICIES:
            raise ValueError(f"units must be one of {UNIT_POLICIES}, got {self.units!r}")
        if self.per_scene < 1:
            raise ValueError(f"per_scene must be >= 1, got {self.per_scene}")
        if not 0 < self.video_fraction <= 1:
            raise ValueError(f"video_fraction must be in (0, 1], got {self.video_fraction}")
        if self.video_frames < 4 or self.fps <= 0:
            raise ValueError(f"video_frames must be >= 4 and fps > 0, got {self.video_frames}, {self.fps}")

    @property
    def min_px(self) -> int:
        return max(60, round(MIN_VISIBLE_AREA * self.width * self.height))

    def usable_tasks(self) -> list[str]:
        """The tasks this config can ask (video-only tasks need ``video``)."""
        usable = [t for t in self.tasks if self.video or TASKS[t].still is not None]
        if not usable:
            raise ValueError(f"tasks {list(self.tasks)} all need videos: pass video=True (--video)")
        return usable

    def to_info(self) -> dict[str, Any]:
        keys = ("width", "height", "video", "per_scene", "video_frames", "fps", "video_fraction")
        info = {k: getattr(self, k) for k in keys} | {"tasks": list(self.tasks)}
        if self.objects != (6, 12) or self.unique_colours or self.units != "mixed":  # older cards stay identical
            info |= {"objects": list(self.objects), "unique_colours": self.unique_colours, "units": self.units}
        if self.labels:
            info["labels"] = True
        return info


@dataclass
class _SceneMedia:
    """Renders a scene's views on first use and writes their media files."""

    scene: Scene
    index: int
    config: SynthConfig
    views: dict[str, View] = field(default_factory=dict)

    def view(self, kind: str) -> View:
        if kind not in self.views:
            self.views[kind] = self._make(kind)
        return self.views[kind]

    def _make(self, kind: str) -> View:
        import cv2

        cfg, stem = self.config, f"{self.index:06d}"
        if kind == "video":
            cams = self.scene.path
            frames = [_render_frame(self.scene, cam) for cam in cams]
            rel = f"videos/{stem}.mp4"
            write_video(cfg.out_dir / rel, [f[0] for f in frames], cfg.fps)
            return video_view([f[1] for f in frames], [f[2] for f in frames], cams, rel, cfg.min_px, cfg.fps)
        camera = self.scene.camera if kind == "image" else self.scene.wide_camera
        result = render(self.scene, camera)
        name = f"{stem}{'' if kind == 'image' else '_wide'}"
        rel = f"images/{name}.png"
        if not cv2.imwrite(str(cfg.out_dir / rel), result.image_bgr):
            raise M2Error(f"could not write {cfg.out_dir / rel}")
        view = image_view(result, camera, rel, cfg.min_px)
        if cfg.labels:
            view.labels = write_labels(cfg.out_dir, f"labels/{name}", result.instance_ids, result.depth_m)
        return view


def _render_frame(scene: Scene, camera) -> tuple[np.ndarray, list[int], list[int]]:
    """One video frame and its per-object pixel counts."""
    result = render(scene, camera)
    return result.image_bgr, result.visible_px, result.full_px


def synthesize(config: SynthConfig, progress: bool = False, stages: Sequence[Stage] = ()) -> list[SpatialRecord]:
    """Generate the dataset described by ``config`` into ``config.out_dir``; returns its records.

    ``stages`` (see :mod:`m2sdk.data.stages`: teacher cot, verification, pass-rate difficulty) run on
    the records before they are written.

    Example:
        >>> records = synthesize(SynthConfig("data/synth", n=200, seed=0))
        >>> records[0].task, records[0].answer, records[0].unit
    """
    from tqdm import tqdm

    tasks = config.usable_tasks()
    for sub in ("images", "videos") if config.video else ("images",):
        (config.out_dir / sub).mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(tasks, 0)
    records: list[SpatialRecord] = []
    with tqdm(total=config.n, desc="synth", unit="sample", disable=not progress) as bar:
        for index in range(_max_scenes(config)):
            new = _scene_records(config, index, tasks, counts, config.n - len(records))
            records += new
            bar.update(len(new))
            if len(records) >= config.n:
                break
        else:
            raise M2Error(f"only {len(records)} of {config.n} samples could be made for tasks {tasks}")
    records = run_stages(records, stages, config.out_dir)
    write_records(config.out_dir / "samples.jsonl", records)
    info = {"name": f"m2sdk synthetic spatial set (seed {config.seed})", "generator": "m2sdk.data.synth"}
    info |= {"generator_version": GENERATOR_VERSION, "seed": config.seed, "config": config.to_info()}
    write_card(config.out_dir, build_card(records, info))
    return records


def _max_scenes(config: SynthConfig) -> int:
    return 20 * config.n + 50


def _scene_records(config: SynthConfig, index: int, tasks: list[str], counts: dict[str, int], room: int):
    """Up to ``per_scene`` records about scene ``index``, least-asked tasks first."""
    rng = np.random.default_rng([config.seed, index])
    scene = sample_scene(rng, config.width, config.height, config.video_frames, config.objects, config.unique_colours)
    media = _SceneMedia(scene, index, config)
    with_video = config.video and rng.random() < config.video_fraction
    out: list[SpatialRecord] = []
    for task in sorted(tasks, key=lambda t: (counts[t], tasks.index(t))):
        if len(out) >= min(config.per_scene, room):
            break
        kind = choose_view(task, with_video)
        if kind is None:
            continue
        view = media.view(kind)
        question = generate(task, scene, view, rng, config.units)
        if question is not None:
            out.append(_record(config, index, scene, view, question))
            counts[task] += 1
    return out


def _record(config: SynthConfig, index: int, scene: Scene, view: View, q: Question) -> SpatialRecord:
    return SpatialRecord(
        id=f"synth-s{config.seed}-{index:06d}-{q.task}",
        task=q.task,
        media=list(view.media),
        media_type=view.media_type,
        question=q.question,
        options=q.options,
        answer=q.answer,
        answer_type=q.answer_type,
        unit=q.unit,
        cot=q.cot,
        difficulty=q.difficulty,
        scene={**view.to_meta(scene), "targets": q.targets},
        source="synth",
    )
