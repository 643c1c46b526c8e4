"""Camera walks through one synthetic room as frames plus metadata, and an mp4 writer.

Used by the video questions of the synthesiser and by tools that need a moving camera with known
poses (for example the ROS 2 camera-bag maker).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from m2sdk.data.layout import sample_scene
from m2sdk.data.render import RenderResult, render
from m2sdk.data.scene import Camera, Scene
from m2sdk.errors import InputError, M2Error


def render_views(
    seed: int,
    n_frames: int,
    width: int = 320,
    height: int = 240,
    objects: tuple[int, int] = (6, 12),
    unique_colours: bool = False,
) -> list[tuple[np.ndarray, dict]]:
    """Frames of a camera walking smoothly through one random room, with per-frame ground truth.

    Args:
        seed: Picks the room; the same seed gives the same frames.
        n_frames: Number of frames along the walk (the walk's length does not depend on it).
        width, height: Frame size in pixels.
        objects, unique_colours: The room's object count range and colour rule (see ``sample_scene``).

    Returns:
        ``(frame, meta)`` pairs: ``frame`` is (height, width, 3) uint8 BGR; ``meta`` holds ``frame``
        (index), ``camera`` (intrinsics fx, fy, cx, cy, ``position_m``, ``yaw_deg``, ``pitch_deg`` and the
        world-to-camera ``rotation_cw``), ``room_m`` and ``visible_objects`` (name, category, colour,
        centre_m, size_m, ``visible_px``, ``bbox_xyxy``), in the world frame of :mod:`m2sdk.data.scene`.

    Example:
        >>> views = render_views(seed=3, n_frames=40)
        >>> write_video("walk.mp4", [frame for frame, _ in views], fps=10)
    """
    if n_frames < 1 or width < 16 or height < 16:
        raise InputError(
            f"render_views needs n_frames >= 1 and a size of at least 16x16, got {n_frames}, {width}x{height}"
        )
    scene = sample_scene(np.random.default_rng(seed), width, height, n_frames, objects, unique_colours)
    out = []
    for i, camera in enumerate(scene.path):
        result = render(scene, camera)
        out.append((result.image_bgr, view_meta(scene, camera, result, frame=i)))
    return out


def view_meta(scene: Scene, camera: Camera, result: RenderResult, frame: int = 0) -> dict[str, Any]:
    """JSON-ready ground truth of one rendered view: camera, room and the objects it shows."""
    visible = []
    for k, obj in enumerate(scene.objects):
        if result.visible_px[k] == 0:
            continue
        vs, us = np.nonzero(result.instance_ids == k)
        bbox = [int(us.min()), int(vs.min()), int(us.max()) + 1, int(vs.max()) + 1]
        visible.append({**obj.to_dict(), "visible_px": result.visible_px[k], "bbox_xyxy": bbox})
    return {"frame": frame, "camera": camera.to_dict(), "room_m": scene.to_dict()["room_m"], "visible_objects": visible}


def write_video(path: str | Path, frames: list[np.ndarray], fps: float) -> Path:
    """Write BGR uint8 frames of one size to an mp4 (MPEG-4 part 2, readable by OpenCV and ffmpeg).

    Example:
        >>> write_video("out/walk.mp4", frames, fps=10)
    """
    import cv2

    if not frames:
        raise InputError(f"write_video({path}): no frames given")
    height, width = frames[0].shape[:2]
    if fps <= 0:
        raise InputError(f"write_video({path}): fps must be > 0, got {fps}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
    if not writer.isOpened():
        raise M2Error(f"write_video: OpenCV cannot open an mp4 writer for {path} (is the folder writable?)")
    try:
        for i, frame in enumerate(frames):
            if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
                raise InputError(
                    f"write_video({path}): frame {i} is {frame.shape} {frame.dtype}, "
                    f"expected ({height}, {width}, 3) uint8 like frame 0"
                )
            writer.write(frame)
    finally:
        writer.release()
    return path
