"""The launch file, params.yaml and package metadata agree with the node (ROS-free).

``launch``/``launch_ros`` are not installable from PyPI, so the launch file runs against a tiny fake of
the four names it uses; the fakes only record their arguments.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import types
import xml.etree.ElementTree as ET

import pytest
import yaml

from m2_ros.params import NodeParams
from tests.ros.conftest import SRC

PARAMS_YAML = SRC / "config" / "params.yaml"
LAUNCH_FILE = SRC / "launch" / "m2_spatial.launch.py"
FAKE_SHARE = "/fake/share/m2_ros"


class FakeRecord:
    """Fake of a launch action or substitution: keeps its arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class FakeLaunchConfiguration(FakeRecord):
    def __eq__(self, other):
        return isinstance(other, FakeLaunchConfiguration) and self.args == other.args

    __hash__ = None


@pytest.fixture
def launch_description(monkeypatch):
    """Run generate_launch_description() with fake launch modules; returns the list of actions."""
    fakes = {
        "launch": {"LaunchDescription": FakeRecord},
        "launch.actions": {"DeclareLaunchArgument": type("FakeDeclareLaunchArgument", (FakeRecord,), {})},
        "launch.substitutions": {"LaunchConfiguration": FakeLaunchConfiguration},
        "launch_ros": {},
        "launch_ros.actions": {"Node": type("FakeNode", (FakeRecord,), {})},
        "ament_index_python": {},
        "ament_index_python.packages": {"get_package_share_directory": lambda pkg: f"/fake/share/{pkg}"},
    }
    for name, attrs in fakes.items():
        monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(**attrs))
    spec = importlib.util.spec_from_file_location("m2_spatial_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description().args[0]


def node_name_in_source() -> str:
    tree = ast.parse((SRC / "m2_ros" / "node.py").read_text())
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and stmt.targets[0].id == "NODE_NAME":
            return stmt.value.value
    raise AssertionError("NODE_NAME not found in m2_ros/node.py")


def console_scripts() -> dict[str, str]:
    tree = ast.parse((SRC / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "entry_points":
            scripts = ast.literal_eval(node.value)["console_scripts"]
            return dict(s.replace(" ", "").split("=") for s in scripts)
    raise AssertionError("no entry_points in setup.py")


def test_params_yaml_has_exactly_the_declared_parameters_with_their_defaults():
    params = yaml.safe_load(PARAMS_YAML.read_text())
    assert list(params) == [node_name_in_source()]
    values = params[node_name_in_source()]["ros__parameters"]
    assert values == NodeParams.defaults()
    NodeParams(**values)  # and they pass validation


def test_launch_starts_the_installed_node_with_the_params_file(launch_description):
    args = {a.args[0]: a.kwargs for a in launch_description if type(a).__name__ == "FakeDeclareLaunchArgument"}
    [node] = [a for a in launch_description if type(a).__name__ == "FakeNode"]
    assert node.kwargs["package"] == "m2_ros"
    assert console_scripts()[node.kwargs["executable"]] == "m2_ros.main:main"
    assert node.kwargs["name"] == node_name_in_source()
    assert node.kwargs["parameters"] == [FakeLaunchConfiguration("params_file")]
    assert args["params_file"]["default_value"] == f"{FAKE_SHARE}/config/params.yaml"
    used = {node.kwargs["namespace"].args[0], node.kwargs["parameters"][0].args[0]}
    assert used <= set(args), f"launch configurations used but not declared: {used - set(args)}"


def test_package_layout_is_a_standard_ament_python_package():
    xml = ET.parse(SRC / "package.xml").getroot()
    assert xml.findtext("name") == "m2_ros" and xml.findtext("export/build_type") == "ament_python"
    depends = {e.text for e in xml.iter("exec_depend")}
    assert {"rclpy", "sensor_msgs", "std_msgs", "diagnostic_msgs", "m2_interfaces"} <= depends
    assert (SRC / "resource" / "m2_ros").is_file()
    assert "script_dir=$base/lib/m2_ros" in (SRC / "setup.cfg").read_text()
    setup_text = (SRC / "setup.py").read_text()
    for installed in ("resource/{PACKAGE}", "launch/*.launch.py", "config/*.yaml", "package.xml"):
        assert installed in setup_text
