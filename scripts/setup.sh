#!/usr/bin/env bash
# Create .venv (if needed) and install m2sdk with every extra needed to develop, test and run the demo.
# torch is pinned to 2.13.0 in pyproject: an unpinned torch would pull GBs of CUDA wheels on CPU machines.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
stamp=".venv/.m2sdk-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -e ".[dev]"
  touch "$stamp"
fi
