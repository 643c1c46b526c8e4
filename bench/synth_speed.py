"""How long `m2 data synth` takes: prints seconds for N samples (default 200 at 640x480, images only).

Usage:
    python bench/synth_speed.py                 # n=200, 640x480
    python bench/synth_speed.py --video --n 200
"""

from __future__ import annotations

import argparse
import tempfile
import time

from m2sdk.data.synth import SynthConfig, synthesize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--video", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        config = SynthConfig(out, n=args.n, seed=args.seed, width=args.width, height=args.height, video=args.video)
        start = time.perf_counter()
        records = synthesize(config)
        seconds = time.perf_counter() - start
    kind = "images + videos" if args.video else "images"
    print(f"synth: {len(records)} samples ({kind}, {args.width}x{args.height}) in {seconds:.1f} s "
          f"({1000 * seconds / len(records):.0f} ms/sample)")  # fmt: skip


if __name__ == "__main__":
    main()
