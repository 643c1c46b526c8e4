"""``python -m m2export CKPT --out BUNDLE ...`` is ``m2 export CKPT --out BUNDLE ...``."""

import sys

from m2sdk.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
