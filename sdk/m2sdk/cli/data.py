"""``m2 data``: synthesise spatial datasets with exact answers, build RGB-D smoke sets, print cards."""

from __future__ import annotations

import argparse

SYNTH_EXAMPLE = """Examples:
  m2 data synth --out data/synth --n 200 --seed 0
  m2 data synth --out data/synth_video --n 400 --video --tasks appearance_order room_size route_plan
  m2 data synth --out data/synth_teacher --n 50 --teacher-url http://127.0.0.1:8000/v1 \\
      --teacher-model Qwen2.5-VL-72B-Instruct --verify"""
RGBD_EXAMPLE = """Examples:
  m2 data rgbd --src ../shared/data/redwood_rgbd --out data/rgbd_smoke
  m2 data rgbd --src my_capture --out data/my_smoke --depth-scale 1000 --fx 600 --fy 600 --cx 320 --cy 240"""


def register(subparsers, name: str, help_text: str, formatter_class) -> None:
    parser = subparsers.add_parser(
        name,
        help=help_text,
        description="Make spatial datasets: procedural scenes with exact geometry (synth), questions on real "
        "RGB-D frames (rgbd), and dataset cards (card).",
        epilog="Example:\n  m2 data synth --out data/synth --n 200 --seed 0",
        formatter_class=formatter_class,
    )
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    _add_synth(sub, formatter_class)
    _add_rgbd(sub, formatter_class)
    card = sub.add_parser(
        "card", help="print the dataset card of a folder", description="Print a dataset card.",
        epilog="Example:\n  m2 data card data/synth", formatter_class=formatter_class,
    )  # fmt: skip
    card.add_argument("dir", help="dataset folder (holds card.json)")
    card.add_argument("--json", action="store_true", help="print the raw card.json")
    card.set_defaults(func=run_card)
    parser.set_defaults(func=lambda args: _no_subcommand(parser))


def _no_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _add_synth(sub, formatter_class) -> None:
    from m2sdk.data.question_base import UNIT_POLICIES
    from m2sdk.data.questions import ALL_TASKS

    p = sub.add_parser(
        "synth", help="procedural indoor scenes -> questions with exact answers (JSONL + images/videos)",
        description="Render random rooms (pinhole camera, numpy ray casting) and ask questions whose answers "
        "follow exactly from the geometry. Same seed, same bytes.",
        epilog=SYNTH_EXAMPLE, formatter_class=formatter_class,
    )  # fmt: skip
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n", type=int, default=200, help="number of samples")
    p.add_argument("--seed", type=int, default=0, help="random seed (fixes every output byte)")
    p.add_argument("--width", type=int, default=640, help="frame width in pixels")
    p.add_argument("--height", type=int, default=480, help="frame height in pixels")
    p.add_argument("--video", action="store_true", help="also render camera walks as mp4 and ask video questions")
    p.add_argument("--video-frames", type=int, default=30, help="frames per video")
    p.add_argument("--fps", type=float, default=10.0, help="video frame rate")
    p.add_argument("--video-fraction", type=float, default=0.4, help="share of scenes that get a video")
    p.add_argument("--tasks", nargs="+", choices=ALL_TASKS, default=list(ALL_TASKS), metavar="TASK",
                   help=f"tasks to ask, from: {' '.join(ALL_TASKS)}")  # fmt: skip
    p.add_argument("--per-scene", type=int, default=3, help="questions per scene (they share its media)")
    p.add_argument(
        "--objects",
        type=int,
        nargs=2,
        default=(6, 12),
        metavar=("MIN", "MAX"),
        help="objects per room (m2-mini trains on 3 5)",
    )
    p.add_argument("--unique-colours", action="store_true", help="one colour per object in a room")
    p.add_argument(
        "--units",
        choices=UNIT_POLICIES,
        default="mixed",
        help="units asked for: a mix (m, cm, ft, ...), each task's usual metric unit, or metres for every length",
    )
    p.add_argument(
        "--labels",
        action="store_true",
        help="also write dense labels per image (instance ids, depth) for m2 train vision",
    )
    p.add_argument("--teacher-url", help="OpenAI-compatible endpoint whose model rewrites each chain of thought")
    p.add_argument("--teacher-model", help="model name to send to --teacher-url")
    p.add_argument("--teacher-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    p.add_argument("--verify", action="store_true", help="drop samples whose chain of thought ends in a wrong answer")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run_synth)


def _add_rgbd(sub, formatter_class) -> None:
    p = sub.add_parser(
        "rgbd", help="questions with checkable answers on real RGB-D frames (smoke set)",
        description="Mark points on real colour frames and ask their metric depth (median over a window of "
        "the registered 16-bit depth map) or which of two is closer.",
        epilog=RGBD_EXAMPLE, formatter_class=formatter_class,
    )  # fmt: skip
    p.add_argument("--src", required=True, help="folder with color/*.jpg|png and depth/*.png")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--depth-scale", type=float, default=1000.0, help="depth units per metre (1000 = millimetres)")
    p.add_argument("--intrinsics", help="intrinsics file (.json with fx/fy/cx/cy or an Open3D matrix, or .txt)")
    for key in ("fx", "fy", "cx", "cy"):
        p.add_argument(f"--{key}", type=float, help=f"intrinsic {key} in pixels (give all four)")
    p.add_argument("--points-per-frame", type=int, default=2, help="depth-at-a-point questions per frame")
    p.add_argument("--pairs-per-frame", type=int, default=2, help="which-point-is-closer questions per frame")
    p.add_argument("--window", type=int, default=5, help="odd side of the depth median window, pixels")
    p.add_argument("--seed", type=int, default=0, help="random seed for point choice")
    p.set_defaults(func=run_rgbd)


def run_synth(args: argparse.Namespace) -> int:
    import time

    from m2sdk.data.synth import SynthConfig, synthesize
    from m2sdk.errors import InputError

    config = _config(SynthConfig, out_dir=args.out, n=args.n, seed=args.seed, width=args.width, height=args.height,
                     video=args.video, tasks=tuple(args.tasks), per_scene=args.per_scene,
                     video_frames=args.video_frames, fps=args.fps, video_fraction=args.video_fraction,
                     objects=tuple(args.objects), unique_colours=args.unique_colours, units=args.units,
                     labels=args.labels)  # fmt: skip
    if bool(args.teacher_url) != bool(args.teacher_model):
        raise InputError("--teacher-url and --teacher-model go together")
    stages = _stages(args)
    start = time.perf_counter()
    records = synthesize(config, progress=not args.no_progress, stages=stages)
    print(f"wrote {len(records)} samples to {config.out_dir} in {time.perf_counter() - start:.1f} s")
    return _print_card(config.out_dir, as_json=False)


def _stages(args: argparse.Namespace) -> list:
    from m2sdk.data.stages import OpenAITeacher, TeacherCoT, VerifyAnswers

    stages: list = []
    if args.teacher_url:
        stages.append(TeacherCoT(OpenAITeacher(args.teacher_url, args.teacher_model, api_key_env=args.teacher_key_env)))
    if args.verify:
        stages.append(VerifyAnswers())
    return stages


def run_rgbd(args: argparse.Namespace) -> int:
    from m2sdk.data.rgbd import Intrinsics, RGBDConfig, build_rgbd_set
    from m2sdk.errors import InputError

    given = [getattr(args, k) for k in ("fx", "fy", "cx", "cy")]
    if any(v is not None for v in given) and not all(v is not None for v in given):
        raise InputError("give all of --fx --fy --cx --cy, or none")
    intrinsics = Intrinsics(*given) if given[0] is not None else None
    if args.intrinsics:
        intrinsics = Intrinsics.from_file(args.intrinsics)
    config = _config(RGBDConfig, src=args.src, out_dir=args.out, intrinsics=intrinsics, depth_scale=args.depth_scale,
                     points_per_frame=args.points_per_frame, pairs_per_frame=args.pairs_per_frame,
                     window_px=args.window, seed=args.seed)  # fmt: skip
    records, problems = build_rgbd_set(config)
    for problem in problems:
        print(f"skipped frame {problem}")
    print(f"wrote {len(records)} samples to {config.out_dir} ({len(problems)} frames skipped)")
    return _print_card(config.out_dir, as_json=False)


def run_card(args: argparse.Namespace) -> int:
    return _print_card(args.dir, as_json=args.json)


def _print_card(out_dir, as_json: bool) -> int:
    import json

    from m2sdk.data.dataset import card_markdown, read_card

    card = read_card(out_dir)
    print(json.dumps(card, indent=2, ensure_ascii=False) if as_json else card_markdown(card))
    return 0


def _config(cls, **kwargs):
    """Build a config dataclass; its ValueError becomes an InputError (exit code 2, clear message)."""
    from m2sdk.errors import InputError

    try:
        return cls(**kwargs)
    except ValueError as err:
        raise InputError(str(err)) from err
