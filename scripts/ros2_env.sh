# Source me (bash): keeps every DDS participant on this machine and puts ros2_ws on the path.
#
#   . .venv/bin/activate && bash scripts/ros2_setup.sh && source scripts/ros2_env.sh && pytest tests/ros
#
# Network hygiene: Fast DDS multicasts discovery out of every interface by default. LOCALHOST keeps it on
# loopback, and a random ROS_DOMAIN_ID (unless one is set) keeps parallel runs from seeing each other.
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export RMW_IMPLEMENTATION=rmw_fastrtps_cpp
if [ -z "${ROS_DOMAIN_ID:-}" ]; then
  ROS_DOMAIN_ID=$(( (RANDOM % 100) + 1 ))
fi
export ROS_DOMAIN_ID

_m2_ros_ws="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/ros2_ws"
if [ -f "$_m2_ros_ws/install/setup.bash" ]; then
  # The colcon setup files read unset variables: relax `set -u` around them if the caller uses it.
  case $- in *u*) _m2_ros_had_u=1; set +u ;; *) _m2_ros_had_u=0 ;; esac
  # shellcheck disable=SC1091
  . "$_m2_ros_ws/install/setup.bash"
  [ "$_m2_ros_had_u" = 1 ] && set -u
  unset _m2_ros_had_u
else
  echo "ros2_env.sh: $_m2_ros_ws/install/setup.bash not found; run: bash scripts/ros2_setup.sh" >&2
fi
unset _m2_ros_ws
