#!/usr/bin/env bash
# The project's test command (README, CI): set up .venv, build the ROS 2 workspace from pinned wheels,
# lint, and run the test suite (slow and GPU tests excluded; run them with `pytest -m slow`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
. .venv/bin/activate
bash scripts/ros2_setup.sh
# DDS stays on loopback in every test: ros2_env.sh sets ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
# and a random ROS_DOMAIN_ID before anything starts a participant.
set +u
. scripts/ros2_env.sh
set -u
ruff check .
python -m pytest -q "$@"
