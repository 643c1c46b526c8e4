"""Image preprocessing speed: m2sdk.processing vs transformers' Qwen2-VL PIL image processor.

Both get the same 640×480 RGB uint8 frame and the same settings (M2 defaults) and produce the same
(1564, 1176) pixel_values; each is timed as the median of --runs calls after --warmup calls.

Usage:
    python bench/processor_speed.py [--runs 50] [--warmup 5] [--width 640] [--height 480]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from m2sdk.processing import ImageProcessorConfig, preprocess_images


def median_ms(fn: Callable[[], object], runs: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    args = parser.parse_args()

    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    config = ImageProcessorConfig()
    reference = Qwen2VLImageProcessorPil(min_pixels=config.min_pixels, max_pixels=config.max_pixels)
    frame = np.random.default_rng(0).integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)

    def ours() -> tuple[np.ndarray, np.ndarray]:
        return preprocess_images([frame], config)

    def theirs() -> dict:
        return reference(images=[frame], return_tensors="np", input_data_format="channels_last")

    ours_values, ours_grid = ours()
    ref = theirs()
    assert ours_values.shape == ref["pixel_values"].shape and (ours_grid == ref["image_grid_thw"]).all()
    ours_ms = median_ms(ours, args.runs, args.warmup)
    theirs_ms = median_ms(theirs, args.runs, args.warmup)
    print(f"frame {args.width}x{args.height} -> pixel_values {ours_values.shape}, grid_thw {ours_grid.tolist()}")
    print(f"m2sdk.processing.preprocess_images   {ours_ms:8.2f} ms  (median of {args.runs})")
    print(f"transformers Qwen2VLImageProcessorPil {theirs_ms:8.2f} ms  (median of {args.runs})")
    print(f"speed-up                              {theirs_ms / ours_ms:8.1f}x")


if __name__ == "__main__":
    main()
