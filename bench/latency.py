"""Per-stage latency of each backend vs transformers `generate` (same as `m2 bench`).

python bench/latency.py --model m2-tiny --bundle /tmp/tiny-fp32 --new-tokens 32 --runs 5
"""

from __future__ import annotations

import sys

from m2sdk.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
