"""`colcon test --packages-select m2_ros`: the shipped params.yaml matches the node's parameters.

The end-to-end tests over DDS live in the m2sdk repository's tests/ros (run by its CI).
"""

from pathlib import Path

import yaml

from m2_ros.params import NodeParams

PARAMS_YAML = Path(__file__).resolve().parents[1] / "config" / "params.yaml"


def test_params_yaml_lists_every_parameter_with_its_default():
    values = yaml.safe_load(PARAMS_YAML.read_text())["m2_spatial"]["ros__parameters"]
    assert values == NodeParams.defaults()
    NodeParams(**values)
