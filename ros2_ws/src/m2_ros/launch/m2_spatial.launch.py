"""Launch m2_spatial_node with its parameters file.

    ros2 launch m2_ros m2_spatial.launch.py
    ros2 launch m2_ros m2_spatial.launch.py params_file:=/path/to/my_params.yaml namespace:=robot1

Copy config/params.yaml, edit it (camera topic, QoS, model) and pass it as params_file.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description() -> LaunchDescription:
    default_params = os.path.join(get_package_share_directory("m2_ros"), "config", "params.yaml")
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "params_file", default_value=default_params, description="YAML with m2_spatial parameters"
            ),
            DeclareLaunchArgument("namespace", default_value="", description="Namespace of the node"),
            Node(
                package="m2_ros",
                executable="m2_spatial_node",
                name="m2_spatial",
                namespace=LaunchConfiguration("namespace"),
                output="screen",
                emulate_tty=True,
                parameters=[LaunchConfiguration("params_file")],
            ),
        ]
    )
