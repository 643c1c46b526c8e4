"""Does `m2 stream` keep up with a video file in real time, with flat memory? (issue 7 benchmark)

Writes a synthetic room video (the data issue's renderer), streams it through the SDK at the file's
own frame rate (looping it for --minutes), and samples the process RSS every few seconds. Prints the
answer rate, the drop count, whether capture kept pace with the file's clock, and the RSS trend.

    python bench/stream_soak.py --minutes 5 --model m2-tiny
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_video(path: Path, fps: float, seconds: float, width: int, height: int) -> None:
    from m2sdk.data import render_views, write_video

    frames = [frame for frame, _ in render_views(seed=0, n_frames=int(fps * seconds), width=width, height=height)]
    write_video(path, frames, fps)


def looped_frames(path: Path, minutes: float):
    """The file's frames at its own rate, looped until ``minutes`` have passed (a camera that never ends)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = [f for ok, f in iter(lambda: cap.read(), (False, None)) if ok]
    start = time.monotonic()
    for i in itertools.count():
        t = i / fps
        if t > minutes * 60:
            return
        delay = start + t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield frames[i % len(frames)], t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="m2-tiny")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--question", default="How far is the nearest chair from the camera, in metres?")
    args = parser.parse_args()
    import m2sdk

    width, height = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "room.mp4"
        make_video(video, args.fps, 10.0, width, height)
        model = m2sdk.load(args.model)
        stream = model.stream(looped_frames(video, args.minutes), args.question, max_new_tokens=16)
        samples, last_sample, lags = [], 0.0, []
        t0 = time.monotonic()
        for answer in stream:
            lags.append((time.monotonic() - t0) - answer.frame_timestamps_s[-1])
            if time.monotonic() - last_sample > 5:
                samples.append(rss_mb())
                last_sample = time.monotonic()
        s = stream.stats
    elapsed = time.monotonic() - t0
    half = max(len(samples) // 2, 1)
    print(f"model {args.model}: {elapsed:.0f} s, {s.frames_captured} frames at {args.fps:g} fps "
          f"({s.frames_captured / elapsed:.1f} fps captured), {s.answers} answers ({s.answers / elapsed:.2f}/s), "
          f"{s.frames_dropped} dropped, {s.bad_frames} bad")  # fmt: skip
    print(f"answer lag behind the camera clock: median {1e3 * np.median(lags):.0f} ms, max {1e3 * max(lags):.0f} ms")
    print(f"RSS MB: first half mean {np.mean(samples[:half]):.1f}, second half mean {np.mean(samples[half:]):.1f}, "
          f"max {max(samples):.1f} ({len(samples)} samples)")  # fmt: skip


if __name__ == "__main__":
    main()
