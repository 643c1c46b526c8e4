"""``m2 stream``: answer a question continuously from a camera, video file or URL."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers, name: str, help_text: str, formatter_class) -> None:
    p = subparsers.add_parser(
        name,
        help=help_text,
        description=(
            "Stream frames through the model with latest-frame semantics: capture runs on its own thread, "
            "inference always takes the newest frame and drops the rest (counted). Video questions (room size, "
            "appearance order, route) use a sliding clip sampled at 2 fps."
        ),
        epilog=(
            "Example:\n  m2 stream room.mp4 'How far is the sofa from the camera, in metres?' --save out.mp4\n"
            "  m2 stream 0 'How many chairs are there?' --every 2"
        ),
        formatter_class=formatter_class,
    )
    p.add_argument("source", help="camera index (0), video file, or rtsp/http URL")
    p.add_argument("question", help="the question to answer on every frame")
    p.add_argument("--model", default="m2-mini", help="checkpoint folder, bundle folder, preset or bundled model name")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime", "tensorrt"])
    p.add_argument("--every", type=float, default=0.0, help="seconds between answers (0 = as fast as possible)")
    p.add_argument("--clip", type=float, default=4.0, help="clip length in seconds for video questions")
    p.add_argument("--reasoning", action="store_true", help="full chain of thought (default: answer only)")
    p.add_argument("--max-answers", type=int, default=None, help="stop after this many answers")
    p.add_argument("--no-realtime", action="store_true", help="read files as fast as possible, not at their fps")
    p.add_argument("--save", type=Path, default=None, help="write annotated frames: a .mp4 file or a folder of PNGs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import m2sdk
    from m2sdk.runtime.streaming import Stream

    source = int(args.source) if args.source.isdigit() else args.source
    model = m2sdk.load(args.model, backend=args.backend)
    stream = Stream(
        model, source, args.question, every_s=args.every, clip_s=args.clip, realtime=not args.no_realtime,
        max_answers=args.max_answers, reasoning=args.reasoning,
    )  # fmt: skip
    writer = _Saver(args.save) if args.save else None
    for answer in stream:
        s = stream.stats
        value = f"{answer.value:g} {answer.unit or ''}" if answer.value is not None else answer.choice or answer.text
        print(
            f"t={answer.frame_timestamps_s[-1]:7.2f}s  {str(value)[:40]:40s} {answer.timings.total_ms:6.0f} ms  "
            f"{s.answers_per_s:5.1f} ans/s  captured {s.frames_captured}  dropped {s.frames_dropped}",
            flush=True,
        )
        if writer and stream.last_frame is not None:
            writer.write(stream.last_frame.image, answer)
    if writer:
        writer.close()
    s = stream.stats
    print(f"done: {s.answers} answers, {s.frames_captured} frames captured, {s.frames_dropped} dropped, "
          f"{s.bad_frames} bad")  # fmt: skip
    return 0


class _Saver:
    """Annotated output: an mp4 (2 fps, one frame per answer) or numbered PNGs in a folder."""

    def __init__(self, path: Path) -> None:
        self.path, self._writer, self._n = path, None, 0
        if path.suffix.lower() != ".mp4":
            path.mkdir(parents=True, exist_ok=True)

    def write(self, frame, answer) -> None:
        import cv2
        import numpy as np

        from m2sdk.processing import to_rgb
        from m2sdk.runtime.overlay import annotate

        image = annotate(np.ascontiguousarray(to_rgb(frame)[..., ::-1]), answer)
        if self.path.suffix.lower() == ".mp4":
            if self._writer is None:
                h, w = image.shape[:2]
                self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), 2.0, (w, h))
            self._writer.write(image)
        else:
            cv2.imwrite(str(self.path / f"answer_{self._n:05d}.png"), image)
        self._n += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
