"""How much does a checkpoint use the image? Answer loss with real vs other rooms' vs blank frames on a dataset
(:mod:`m2train.image_use`).

    python scripts/image_gap.py --model runs/m2-mini/sft/final --data runs/m2-mini/data/heldout --n 100 \
        --tasks camera_distance
"""

from __future__ import annotations

import argparse
import json

import torch

from m2train.config import COUNT_LISTINGS
from m2train.image_use import image_gap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--tasks", nargs="*", default=None)
    parser.add_argument(
        "--count-listing",
        choices=COUNT_LISTINGS,
        default=None,
        help="the data.count_listing the model was trained with (counts are scored with it)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(json.dumps(image_gap(args.model, args.data, args.n, args.tasks, count_listing=args.count_listing)))


if __name__ == "__main__":
    main()
