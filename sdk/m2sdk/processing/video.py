"""Video clips → sampled RGB frames → ``pixel_values`` + ``grid_thw`` (numpy and OpenCV only).

Follows qwen-vl-utils, which M2-Reasoning's video data was prepared with: 2 fps spread over the
**whole** clip (the released M2 code reads only the start of a clip; this module does not), an even
frame count in [4, 120], a per-frame pixel range of 128…768 tokens and a clip budget of 7680 tokens,
two consecutive frames per temporal patch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from m2sdk.errors import InputError, SourceError
from m2sdk.processing.config import ImageProcessorConfig
from m2sdk.processing.image import check_rgb_uint8, patch_dim, patchify_normalize, resize_rgb, smart_resize

logger = logging.getLogger(__name__)

_FALLBACK_FPS = 30.0  # used when a file reports no frame rate


def sample_frame_indices(n_frames: int, video_fps: float, config: ImageProcessorConfig | None = None) -> np.ndarray:
    """Indices of the frames to keep: ``config.video_fps`` per second, first to last frame.

    The count is clip length × ``config.video_fps`` (never more than the clip has), clamped to
    [``video_min_frames``, ``video_max_frames``] and rounded down to a multiple of
    ``temporal_patch_size`` (even). A clip shorter than ``video_min_frames`` repeats frames, so every
    clip gives at least the minimum.

    Args:
        n_frames: Frames in the clip.
        video_fps: The clip's own frame rate (frames per second).
        config: Processor settings.

    Returns:
        int64 ``(count,)`` non-decreasing indices, the first 0 and the last ``n_frames - 1``.

    Example:
        >>> sample_frame_indices(300, 30.0).tolist()  # 10 s at 30 fps -> 20 frames at 2 fps
        [0, 16, 31, 47, 63, 79, 94, 110, 126, 142, 157, 173, 189, 205, 220, 236, 252, 268, 283, 299]
    """
    config = config or ImageProcessorConfig()
    if n_frames < 1:
        raise InputError(f"the video has {n_frames} frames; nothing to sample")
    if not (math.isfinite(video_fps) and video_fps > 0):
        raise InputError(f"video_fps must be a positive number, got {video_fps!r}")
    step = config.temporal_patch_size
    max_count = max(step, config.video_max_frames // step * step)
    min_count = min(math.ceil(config.video_min_frames / step) * step, max_count)
    wanted = min(n_frames / video_fps * config.video_fps, n_frames)
    count = int(min(max(wanted, min_count), max_count)) // step * step
    count = max(count, min_count)
    return np.round(np.linspace(0, n_frames - 1, count)).astype(np.int64)


def video_frame_size(
    height: int, width: int, n_frames: int, config: ImageProcessorConfig | None = None
) -> tuple[int, int]:
    """Resized (height, width) of every frame of an ``n_frames`` clip, as qwen-vl-utils computes it.

    Each frame gets an even share of ``video_total_pixels`` per temporal patch, capped at
    ``video_max_pixels`` and floored at 1.05 × ``video_min_pixels``; then :func:`smart_resize`.

    Example:
        >>> video_frame_size(480, 640, 4)    # few frames: the per-frame cap rules
        (476, 644)
        >>> video_frame_size(480, 640, 120)  # many frames: the clip budget rules
        (280, 364)
    """
    config = config or ImageProcessorConfig()
    if n_frames < 1:
        raise InputError(f"a video needs at least one frame, got {n_frames}")
    share = config.video_total_pixels / n_frames * config.temporal_patch_size
    max_pixels = max(min(config.video_max_pixels, share), int(config.video_min_pixels * 1.05))
    return smart_resize(height, width, config.factor, config.video_min_pixels, max_pixels)


def preprocess_video(
    frames: Sequence[np.ndarray], config: ImageProcessorConfig | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Resize, normalise and patchify one clip of sampled RGB frames.

    Args:
        frames: ``(H, W, 3)`` uint8 **RGB** frames of one size, in time order (e.g. from
            :func:`read_video`). An odd count repeats the last frame to fill the last temporal patch.
        config: Processor settings.

    Returns:
        ``pixel_values`` float32 ``(grid_t * grid_h * grid_w, 1176)`` in the order of transformers'
        Qwen2-VL video processor, and ``grid_thw`` int64 ``(1, 3)``.

    Raises:
        InputError: no frames, a frame that is not ``(H, W, 3)`` uint8, or frames of different sizes.

    Example:
        >>> frames, times_s = read_video("walkthrough.mp4")
        >>> pixel_values, grid_thw = preprocess_video(frames)
    """
    config = config or ImageProcessorConfig()
    if len(frames) == 0:
        raise InputError("preprocess_video got no frames")
    first_shape = _check_frames(frames)
    height, width = video_frame_size(first_shape[0], first_shape[1], len(frames), config)
    tp, ps = config.temporal_patch_size, config.patch_size
    padded = math.ceil(len(frames) / tp) * tp
    stack = np.empty((padded, height, width, 3), dtype=np.uint8)  # (T, h, w, 3)
    for index, frame in enumerate(frames):
        resize_rgb(frame, height, width, out=stack[index])
    stack[len(frames) :] = stack[len(frames) - 1]  # odd count: repeat the last frame
    grid_thw = np.array([[padded // tp, height // ps, width // ps]], dtype=np.int64)
    pixel_values = np.empty((int(grid_thw.prod()), patch_dim(config)), dtype=np.float32)
    patchify_normalize(stack, config, pixel_values)
    return pixel_values, grid_thw


def read_video(path: str | Path, config: ImageProcessorConfig | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Decode a video file and keep ``config.video_fps`` frames per second over the whole clip.

    Frames are decoded in order (no seeking, so no keyframe drift); a wrong frame count in the file's
    header is detected and the sampling redone with the real count.

    Args:
        path: Video file OpenCV's FFmpeg backend can read (mp4, mkv, avi, ...).
        config: Processor settings (sampling rate and frame limits).

    Returns:
        The sampled frames as ``(H, W, 3)`` uint8 RGB arrays at full resolution, and their
        timestamps in seconds (float64 ``(count,)``).

    Raises:
        InputError: the file does not exist.
        SourceError: the file cannot be opened or decoded (corrupt, unsupported codec).

    Example:
        >>> frames, times_s = read_video("walkthrough.mp4")
        >>> len(frames), times_s[-1]
        (20, 9.966666666666667)
    """
    config = config or ImageProcessorConfig()
    path = Path(path)
    if not path.is_file():
        raise InputError(f"video file not found: {path}")
    n_frames, fps = _probe(path)
    indices = sample_frame_indices(n_frames, fps, config)
    frames, decoded = _decode_at(path, indices)
    if len(frames) < len(indices):  # the header overstated the frame count
        if decoded == 0:
            raise SourceError(f"video {path} has no decodable frames")
        logger.warning("%s: header says %d frames, only %d decode; resampling", path, n_frames, decoded)
        indices = sample_frame_indices(decoded, fps, config)
        frames, _ = _decode_at(path, indices)
    return frames, indices / fps


def _check_frames(frames: Sequence[np.ndarray]) -> tuple[int, ...]:
    first_shape = getattr(frames[0], "shape", None)
    for index, frame in enumerate(frames):
        check_rgb_uint8(frame, f"video frame {index}")
        if frame.shape != first_shape:
            raise InputError(f"video frame {index} has shape {frame.shape}, frame 0 has {first_shape}")
    return first_shape


def _open(path: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SourceError(f"cannot open video {path}: corrupt file or unsupported container/codec")
    return capture


def _probe(path: Path) -> tuple[int, float]:
    """Frame count and frame rate; counts by decoding when the header has no count."""
    capture = _open(path)
    try:
        n_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        if n_frames <= 0:
            n_frames = 0
            while capture.grab():
                n_frames += 1
    finally:
        capture.release()
    if n_frames == 0:
        raise SourceError(f"video {path} has no decodable frames")
    if not (math.isfinite(fps) and fps > 0):
        logger.warning("%s reports no frame rate; assuming %.0f fps", path, _FALLBACK_FPS)
        fps = _FALLBACK_FPS
    return n_frames, fps


def _decode_at(path: Path, indices: np.ndarray) -> tuple[list[np.ndarray], int]:
    """RGB frames at the sorted ``indices``, and how many frames were decoded before stopping."""
    capture = _open(path)
    frames: list[np.ndarray] = []
    position = 0  # index of the next frame grab() returns
    try:
        for index in indices.tolist():
            if frames and index < position:  # repeated index (clip shorter than the minimum)
                frames.append(frames[-1])
                continue
            while position <= index:
                if not capture.grab():
                    return frames, position
                position += 1
            ok, bgr = capture.retrieve()
            if not ok:
                raise SourceError(f"cannot decode frame {index} of video {path}")
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    if not frames:
        raise SourceError(f"video {path} has no decodable frames")
    return frames, position
