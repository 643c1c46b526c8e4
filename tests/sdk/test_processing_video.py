"""m2sdk.processing video path: sampling over the whole clip, frame budget, patch order, file reading.

transformers' Qwen2-VL video processor needs torchvision (not installable here), so the patch order
is checked against an element-by-element reference derived below from its documented layout
(view (gt, tp, C, gh/ms, ms, ps, gw/ms, ms, ps) -> permute to (gt, gh/ms, gw/ms, ms, ms, C, tp, ps, ps)),
and against the image path, which test_processing_image.py pins to transformers' image processor.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from m2sdk.errors import InputError, SourceError
from m2sdk.processing import (
    ImageProcessorConfig,
    preprocess_images,
    preprocess_video,
    read_video,
    sample_frame_indices,
    video_frame_size,
)

# Small frames kept at their own size: 56x84 is a multiple of 28 and inside these pixel bounds.
NO_RESIZE = ImageProcessorConfig(video_min_pixels=4 * 784, video_max_pixels=16 * 784)


# ---------------------------------------------------------------- sampling


@pytest.mark.parametrize(
    ("n_frames", "fps", "count"),
    [
        (300, 30.0, 20),  # 10 s at 2 fps
        (225, 30.0, 14),  # 7.5 s -> 15 -> rounded down to even
        (45, 30.0, 4),  # 1.5 s -> 3 -> raised to the minimum of 4
        (100_000, 30.0, 120),  # 55 min -> capped at 120
        (20, 1.0, 20),  # 20 s at 1 fps: 40 wanted, but never more than the clip holds
        (3, 30.0, 4),  # shorter than the minimum: frames repeat
    ],
)
def test_sampling_count_and_whole_clip_coverage(n_frames: int, fps: float, count: int) -> None:
    indices = sample_frame_indices(n_frames, fps)
    assert indices.dtype == np.int64
    assert len(indices) == count and count % 2 == 0
    assert indices[0] == 0 and indices[-1] == n_frames - 1  # the end of the clip is read too
    assert np.all(np.diff(indices) >= 0)


def test_sampling_is_about_2_fps_and_even_spaced() -> None:
    indices = sample_frame_indices(600, 30.0)  # 20 s -> 40 frames, ~15.4 frames apart
    assert len(indices) == 40
    gaps = np.diff(indices)
    assert gaps.min() >= 15 and gaps.max() <= 16


def test_sampling_respects_config_limits() -> None:
    config = ImageProcessorConfig(video_fps=1.0, video_min_frames=3, video_max_frames=9)
    assert len(sample_frame_indices(30, 30.0, config)) == 4  # 1 s -> 1 -> min 3 rounded up to 4
    assert len(sample_frame_indices(30_000, 30.0, config)) == 8  # max 9 rounded down to 8


@pytest.mark.parametrize(("n_frames", "fps"), [(0, 30.0), (10, 0.0), (10, float("nan")), (10, -5.0)])
def test_sampling_bad_arguments(n_frames: int, fps: float) -> None:
    with pytest.raises(InputError):
        sample_frame_indices(n_frames, fps)


# ---------------------------------------------------------------- frame size budget


def test_video_frame_size_budget() -> None:
    # 4 frames: share 7680*784/4*2 is above the per-frame cap 768*784 -> like an image within 768 tokens.
    assert video_frame_size(480, 640, 4) == (476, 644)
    # 120 frames: share = 128 tokens, below 1.05 * min -> max_pixels = int(128*784*1.05) = 105369.
    assert video_frame_size(480, 640, 120) == (280, 364)
    # 1080p with 20 frames: share = 768 tokens -> 602112 px max -> (560, 1008).
    assert video_frame_size(1080, 1920, 20) == (560, 1008)
    # tiny frames are enlarged to at least video_min_pixels (128 tokens)
    h, w = video_frame_size(48, 64, 8)
    assert h * w >= 128 * 784 and h % 28 == 0 and w % 28 == 0


# ---------------------------------------------------------------- patch order


def reference_video_rows(frames: np.ndarray, config: ImageProcessorConfig) -> np.ndarray:
    """Row r, column k of pixel_values from first principles, by mixed-radix index arithmetic."""
    ps, ms, tp = config.patch_size, config.merge_size, config.temporal_patch_size
    n_frames, height, width, _ = frames.shape
    grid_t, grid_h, grid_w = n_frames // tp, height // ps, width // ps
    mean, std = np.array(config.image_mean), np.array(config.image_std)
    rows = np.empty((grid_t * grid_h * grid_w, 3 * tp * ps * ps), dtype=np.float64)
    row = 0
    for t in range(grid_t):
        for block_h in range(grid_h // ms):
            for block_w in range(grid_w // ms):
                for mh in range(ms):
                    for mw in range(ms):
                        y0, x0 = (block_h * ms + mh) * ps, (block_w * ms + mw) * ps
                        clip = frames[t * tp : (t + 1) * tp, y0 : y0 + ps, x0 : x0 + ps]  # (tp, ps, ps, C)
                        values = (clip.astype(np.float64) / 255 - mean) / std
                        rows[row] = values.transpose(3, 0, 1, 2).reshape(-1)  # (C, tp, ps, ps)
                        row += 1
    return rows


def test_video_patch_order_matches_reference() -> None:
    frames = np.random.default_rng(0).integers(0, 256, (4, 56, 84, 3), dtype=np.uint8)
    pixel_values, grid_thw = preprocess_video(list(frames), NO_RESIZE)
    np.testing.assert_array_equal(grid_thw, [[2, 4, 6]])
    assert pixel_values.shape == (2 * 4 * 6, 1176) and pixel_values.dtype == np.float32
    np.testing.assert_allclose(pixel_values, reference_video_rows(frames, NO_RESIZE), atol=1e-5, rtol=0)


def test_two_equal_frames_equal_the_image_path() -> None:
    frame = np.random.default_rng(1).integers(0, 256, (56, 84, 3), dtype=np.uint8)
    video_values, video_grid = preprocess_video([frame, frame], NO_RESIZE)
    image_values, image_grid = preprocess_images([frame], NO_RESIZE)
    np.testing.assert_array_equal(video_grid, image_grid)
    np.testing.assert_array_equal(video_values, image_values)


def test_odd_frame_count_repeats_the_last_frame() -> None:
    frames = np.random.default_rng(2).integers(0, 256, (3, 56, 84, 3), dtype=np.uint8)
    pixel_values, grid_thw = preprocess_video(list(frames), NO_RESIZE)
    np.testing.assert_array_equal(grid_thw, [[2, 4, 6]])
    padded = np.concatenate([frames, frames[-1:]])
    np.testing.assert_allclose(pixel_values, reference_video_rows(padded, NO_RESIZE), atol=1e-5, rtol=0)
    second = pixel_values[24:].reshape(24, 3, 2, 196)  # temporal patch 2: both halves are frame 2
    np.testing.assert_array_equal(second[:, :, 0], second[:, :, 1])


def test_video_frames_are_resized_to_the_budget() -> None:
    frames = [np.full((480, 640, 3), 40 * i, np.uint8) for i in range(6)]
    pixel_values, grid_thw = preprocess_video(frames)
    h, w = video_frame_size(480, 640, 6)
    np.testing.assert_array_equal(grid_thw, [[3, h // 14, w // 14]])
    assert pixel_values.shape == (3 * (h // 14) * (w // 14), 1176)
    red = pixel_values.reshape(3, -1, 3, 2, 196)[:, :, 0]  # (t, rows, tp, 196) of the red channel
    expected = (np.array([[0, 40], [80, 120], [160, 200]]) / 255 - 0.48145466) / 0.26862954
    np.testing.assert_allclose(red.astype(np.float64).mean(axis=(1, 3)), expected, atol=1e-5)


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([], "no frames"),
        ([np.zeros((56, 84, 3), np.uint8), np.zeros((56, 56, 3), np.uint8)], "frame 1"),
        ([np.zeros((56, 84), np.uint8)], "frame 0"),
    ],
)
def test_bad_frames_are_refused(frames, message: str) -> None:
    with pytest.raises(InputError, match=message):
        preprocess_video(frames)


# ---------------------------------------------------------------- reading files


def write_numbered_clip(path: Path, n_frames: int, fps: float) -> None:
    """MP4 whose frame i shows i in binary as 6 black/white blocks (robust to lossy coding)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (96, 48))
    assert writer.isOpened(), "OpenCV cannot write mp4v here"
    for index in range(n_frames):
        frame = np.zeros((48, 96, 3), np.uint8)
        for bit in range(6):
            if index >> bit & 1:
                frame[:, bit * 16 : (bit + 1) * 16] = 255
        writer.write(frame)
    writer.release()


def decode_number(frame: np.ndarray) -> int:
    return sum(1 << bit for bit in range(6) if frame[8:40, bit * 16 + 4 : bit * 16 + 12].mean() > 128)


def test_read_video_samples_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    write_numbered_clip(path, n_frames=45, fps=10.0)  # 4.5 s
    frames, times_s = read_video(path)
    expected = sample_frame_indices(45, 10.0)  # 9 -> 8 frames over 0..44
    assert len(expected) == 8 and expected[-1] == 44
    assert [decode_number(f) for f in frames] == expected.tolist()
    np.testing.assert_allclose(times_s, expected / 10.0)
    assert times_s[-1] == pytest.approx(4.4)  # the last sampled frame is the clip's end
    assert all(f.shape == (48, 96, 3) and f.dtype == np.uint8 and f.flags.c_contiguous for f in frames)
    pixel_values, grid_thw = preprocess_video(frames)
    assert grid_thw[0, 0] == 4 and pixel_values.shape[0] == int(grid_thw.prod())


def test_read_video_is_rgb(tmp_path: Path) -> None:
    path = tmp_path / "red.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (64, 48))
    for _ in range(10):
        writer.write(np.tile(np.array([0, 0, 255], np.uint8), (48, 64, 1)))  # pure red in BGR
    writer.release()
    frames, _ = read_video(path)
    red, green, blue = frames[0].reshape(-1, 3).mean(axis=0)
    assert red > 200 and green < 50 and blue < 50


def test_read_video_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_video(tmp_path / "nope.mp4")


def test_read_video_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(SourceError, match=r"broken\.mp4"):
        read_video(path)


def test_read_video_truncated_file(tmp_path: Path) -> None:
    good = tmp_path / "good.mp4"
    write_numbered_clip(good, n_frames=30, fps=10.0)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])  # moov atom lost at the end
    with pytest.raises(SourceError):
        read_video(truncated)


def test_read_video_recovers_from_an_overstated_frame_count(tmp_path: Path, monkeypatch, caplog) -> None:
    # Some containers report more frames than decode. Fake such a header (90 frames claimed, 45 real):
    # the sampler must redo the sampling with the real count and still end at the real last frame.
    import m2sdk.processing.video as video

    path = tmp_path / "clip.mp4"
    write_numbered_clip(path, n_frames=45, fps=10.0)
    monkeypatch.setattr(video, "_probe", lambda _path: (90, 10.0))
    frames, times_s = read_video(path)
    expected = sample_frame_indices(45, 10.0)
    assert [decode_number(f) for f in frames] == expected.tolist()
    np.testing.assert_allclose(times_s, expected / 10.0)
    assert "only 45 decode" in caplog.text
