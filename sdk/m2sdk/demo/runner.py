"""The stages of ``m2 demo``, each shown with a progress line, and the closing summary."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from m2sdk.answer import Answer
from m2sdk.demo.scenario import Scenario, make_scenario
from m2sdk.eval.metrics import mean_relative_accuracy

console = Console()


@dataclass
class DemoConfig:
    """Settings of one demo run (defaults finish in a few minutes on 2 CPU cores).

    The rooms (``width`` x ``height`` frames, ``objects`` per room, ``unique_colours``, ``units``) default
    to the ones m2-mini was trained and measured on (scripts/train_m2_mini.sh).
    """

    out: Path = Path("m2-demo")
    model: str = "m2-mini"
    camera: int | None = None
    ros: bool = False
    seed: int = 11
    n_frames: int = 30
    fps: float = 10.0
    width: int = 224
    height: int = 168
    objects: tuple[int, int] = (3, 5)
    unique_colours: bool = True
    units: str = "metres"
    eval_samples: int = 60
    export: bool = True
    fallback_model: str | None = "m2-tiny"  # used, loudly, when ``model`` cannot be loaded

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.n_frames < 4 or self.fps <= 0:
            raise ValueError(f"n_frames must be >= 4 and fps > 0, got {self.n_frames}, {self.fps}")
        if self.eval_samples < 0:
            raise ValueError(f"eval_samples must be >= 0, got {self.eval_samples}")


@dataclass
class StreamRun:
    """Answers of one backend on the demo video, with their ground truth."""

    backend: str
    answers: list[Answer] = field(default_factory=list)
    truths: list[float | None] = field(default_factory=list)
    dropped: int = 0

    @property
    def mra(self) -> float:
        scored = [(a.value, t) for a, t in zip(self.answers, self.truths, strict=True) if t is not None]
        return sum(mean_relative_accuracy(v, t) for v, t in scored) / max(len(scored), 1)

    @property
    def mean_ms(self) -> float:
        return sum(a.timings.total_ms for a in self.answers) / max(len(self.answers), 1)


def stream_scenario(model: Any, scenario: Scenario, frames_dir: Path | None) -> StreamRun:
    """Stream the demo video at its own frame rate through ``model``; print each answer beside the truth."""
    from m2sdk.runtime.overlay import annotate

    run = StreamRun(model.backend_name)
    model.query(scenario.frames_bgr[0], scenario.question, reasoning=False, max_new_tokens=24)  # warm-up
    stream = model.stream(str(scenario.video), scenario.question, max_new_tokens=24)
    for answer in stream:
        truth = scenario.truth_at(answer.frame_timestamps_s[-1])
        run.answers.append(answer)
        run.truths.append(truth)
        value = f"{answer.value:.2f} m" if answer.value is not None else answer.text[:18]
        true_text = f"{truth:.2f} m" if truth is not None else "(not visible)"
        console.print(f"  t={answer.frame_timestamps_s[-1]:5.2f}s  answer {value:>14s}   truth {true_text:>13s}"
                      f"   {answer.timings.total_ms:6.0f} ms")  # fmt: skip
        if frames_dir is not None and stream.last_frame is not None:
            frames_dir.mkdir(parents=True, exist_ok=True)
            image = annotate(stream.last_frame.image, answer, f"truth {true_text}")
            _write_png(frames_dir / f"answer_{len(run.answers):04d}.png", image)
    run.dropped = stream.stats.frames_dropped
    return run


def _write_png(path: Path, image: Any) -> None:
    import cv2

    cv2.imwrite(str(path), image)


def stage(title: str):
    """A context manager that prints a stage header and its duration."""
    return _Stage(title)


class _Stage:
    def __init__(self, title: str) -> None:
        self.title = title

    def __enter__(self) -> _Stage:
        self.t0 = time.perf_counter()
        console.rule(f"[bold]{self.title}")
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            console.print(f"[green]✓[/green] {self.title} ({time.perf_counter() - self.t0:.1f} s)")


def summary_table(runs: list[StreamRun], speedup: float | None) -> Table:
    table = Table(title="demo summary: streaming the synthetic room")
    for column in ("backend", "answers", "dropped", "MRA vs truth", "mean latency ms"):
        table.add_column(column, justify="right")
    for run in runs:
        table.add_row(run.backend, str(len(run.answers)), str(run.dropped), f"{run.mra:.2f}", f"{run.mean_ms:.0f}")
    if speedup is not None:
        table.caption = f"ONNX Runtime speed-up over torch: {speedup:.2f}x per answer"
    return table


def run_demo(config: DemoConfig) -> list[StreamRun]:
    """Run every stage; returns the stream runs (torch, then ONNX Runtime when exported)."""
    import m2sdk

    config.out.mkdir(parents=True, exist_ok=True)
    with stage(f"1. load {config.model}"):
        model = load_demo_model(config)
    if config.camera is not None:
        return [camera_loop(model, config)]
    with stage("2. render a synthetic room walk with exact ground truth"):
        scenario = make_scenario(config.out, seed=config.seed, n_frames=config.n_frames, fps=config.fps,
                                 width=config.width, height=config.height, objects=config.objects,
                                 unique_colours=config.unique_colours)  # fmt: skip
        console.print(f"  {scenario.video}  question: {scenario.question!r}")
    runs = []
    with stage("3. stream it through the SDK (torch)"):
        runs.append(stream_scenario(model, scenario, config.out / "frames_torch"))
    if config.export:
        bundle = config.out / "bundle-fp32"
        with stage("4. export to ONNX (fp32) with a parity check"):
            export(config.model, bundle, (28 * max(1, config.width // 28), 28 * max(1, config.height // 28)))
        with stage("5. stream the same video on ONNX Runtime"):
            runs.append(stream_scenario(m2sdk.load(bundle, backend="onnxruntime"), scenario, None))
    if config.eval_samples:
        with stage("6. quality on a held-out synthetic set, with baselines"):
            quality(model, config)
    if config.ros:
        with stage("7. ROS 2: the node on loopback, fed by a camera bag"):
            from m2sdk.demo.ros import run_ros_demo

            run_ros_demo(config, question=scenario.question)
    speedup = runs[0].mean_ms / runs[1].mean_ms if len(runs) > 1 else None
    if len(runs) > 1:
        same, common = agreement(runs[0], runs[1])
        console.print(f"  torch and ONNX Runtime answered {common} frames in common; identical answers on {same}")
    console.print(summary_table(runs, speedup))
    return runs


def agreement(a: StreamRun, b: StreamRun) -> tuple[int, int]:
    """(identical, common): answers of two backends on the frames both of them answered."""
    by_time = {ans.frame_timestamps_s[-1]: ans.raw for ans in b.answers}
    common = [ans for ans in a.answers if ans.frame_timestamps_s[-1] in by_time]
    return sum(ans.raw == by_time[ans.frame_timestamps_s[-1]] for ans in common), len(common)


def load_demo_model(config: DemoConfig) -> Any:
    """The demo's model; when it is missing, the fallback preset, with a warning that says what that means."""
    import m2sdk

    try:
        return m2sdk.load(config.model, backend="torch")
    except m2sdk.M2Error as err:
        if not config.fallback_model:
            raise
        console.print(
            f"[yellow]! {config.model} cannot be loaded ({err}).\n  Falling back to {config.fallback_model}: "
            "random weights, so its answers are noise; the pipeline still runs."
        )
        config.model = config.fallback_model
        return m2sdk.load(config.model, backend="torch")


def export(model: str, bundle: Path, image_size: tuple[int, int]) -> None:
    from m2export.bundle import export_bundle
    from m2export.export_config import ExportConfig

    export_bundle(ExportConfig(checkpoint=model, out=bundle, precision="fp32", image_size=image_size, force=True,
                               eval_samples=0))  # fmt: skip
    console.print(f"  wrote {bundle} (parity: {bundle / 'parity.json'})")


def quality(model: Any, config: DemoConfig) -> None:
    """m2 eval's engine on a held-out synthetic set (other seeds than training), beside the baselines."""
    from m2sdk.data import SynthConfig, load_records, synthesize
    from m2sdk.eval.predictors import ConstantPredictor, ModelPredictor, RandomChoicePredictor
    from m2sdk.eval.report import print_table
    from m2sdk.eval.runner import evaluate

    tasks = ("camera_distance", "relative_distance", "relative_direction", "object_count", "object_size")
    val, train = config.out / "heldout", config.out / "baseline-train"
    rooms = dict(width=config.width, height=config.height, tasks=tasks, objects=config.objects,
                 unique_colours=config.unique_colours, units=config.units, per_scene=2)  # fmt: skip
    synthesize(SynthConfig(out_dir=val, n=config.eval_samples, seed=90_001, **rooms))
    synthesize(SynthConfig(out_dir=train, n=500, seed=0, **rooms))
    records, problems = load_records(val / "samples.jsonl")
    train_records, _ = load_records(train / "samples.jsonl")
    predictor = ModelPredictor(model, val, reasoning=False)  # the fast budget: a count lists its objects first
    results = [evaluate(predictor, records, name=config.model, problems=problems)]
    for baseline in (ConstantPredictor(train_records), RandomChoicePredictor(train_records)):
        results.append(evaluate(baseline, records, name=baseline.name, progress=False))
    print_table(results)


def camera_loop(model: Any, config: DemoConfig) -> StreamRun:
    """``--camera N``: answer live on a real camera until Ctrl-C."""
    run = StreamRun(model.backend_name)
    question = "How far is the nearest object in front of me, in metres?"
    try:
        for answer in model.stream(config.camera, question, every_s=1.0, max_new_tokens=24):
            run.answers.append(answer)
            run.truths.append(None)
            console.print(f"  {answer.text[:40]:40s} {answer.timings.total_ms:6.0f} ms")
    except KeyboardInterrupt:
        pass
    return run
