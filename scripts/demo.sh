#!/usr/bin/env bash
# The main job out of the box: set up .venv and run `m2 demo` (offline, CPU).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
. .venv/bin/activate
m2 demo "$@"
