"""ROS 2 wrapper of m2sdk: stream camera frames in, publish spatial answers out."""
