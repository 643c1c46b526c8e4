"""ament_python package of the M2 spatial node; `colcon build` installs it (see ros2_ws/README.md)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "m2_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="m2sdk maintainers",
    maintainer_email="maintainers@m2sdk.invalid",
    description="ROS 2 node answering spatial questions about a camera stream with m2sdk.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "m2_spatial_node = m2_ros.main:main",
            "m2_bag_camera = m2_ros.bag_camera:main",
            "m2_ask = m2_ros.ask:main",
        ],
    },
)
