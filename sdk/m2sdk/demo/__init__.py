"""`m2 demo`: the whole system end to end on this machine (synthetic room → SDK stream → ONNX → ROS 2)."""
